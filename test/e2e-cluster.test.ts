/**
 * scenarios/2-datacenters as a cluster (issue 7): Washington's smtp1 (127.20.20.1), smtp2
 * (127.20.20.2) and imap (127.20.20.10) are three `postern start` processes sharing one PostgreSQL
 * database, each with its own config. Mail accepted by either MX is read over IMAP on the third;
 * outbound work claimed by a node killed with SIGKILL is delivered by another once its lease runs
 * out; concurrent deliveries from the three nodes into one mailbox get unique UIDs, committed in
 * UID order. Runs when POSTERN_TEST_PG is set; each run creates its own database and drops it.
 *
 * The nodes listen on port 2828: the 2-datacenters and check tests use 2525 and 2626 on the same
 * addresses, `postern lab` (cli-lab.test.ts) picks from 2700-2799, and test files run in parallel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { ImapFlow } from 'imapflow';
import { openPostgresStore } from '../src/store/postgres/index.ts';
import type { Store } from '../src/store/types.ts';
import type { RunningPostern } from '../src/main.ts';
import { eventually, type NodeSpec } from './helpers/lab.ts';
import { runCommand } from './helpers/postern.ts';
import { RawSmtpClient } from './helpers/smtp-socket-client.ts';
import { startSmtpLoad } from './helpers/smtp-load.ts';
import { createTestDatabase, startProcessNode, startSmtpSink, stopProcessNode, zonesDns, type ProcessNode, type SmtpSink } from './helpers/cluster.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const base = process.env['POSTERN_TEST_PG'];

const PORT = 2828;
const IMAP_PORT = 1143;
const SMTP1 = '127.20.20.1';
const SMTP2 = '127.20.20.2';
const IMAP = '127.20.20.10';
/** remote.test's MX, the sink outbound mail goes to. */
const SINK = '127.20.21.1';
const USER = 'user@domain.test';
const PASS = 'user-pw';
/**
 * Short, so a dead node's work comes back within the test, yet long enough that no live node's
 * claim runs out between its send and its record on a loaded machine (with 3 s, CI once saw a
 * message sent twice without a crash: a claim ran out under load and another node sent it too).
 */
const LEASE_MS = 10_000;
/** The sink sees at most this many connections from the three nodes together. */
const MAX_PER_HOST = 4;

const REMOTE_ZONE = `$ORIGIN remote.test.
$TTL 300
@    IN SOA ns1.domain.test. hostmaster.remote.test. ( 1 7200 3600 1209600 300 )
     IN NS  ns1.domain.test.
@    IN MX  10 mx
mx   IN A   ${SINK}
`;

/** One SMTP dialogue up to the RCPT reply; returns that reply's first line. */
async function rcptReply(address: string, rcpt: string): Promise<string> {
  const c = await RawSmtpClient.connect(address, PORT);
  try {
    await c.reply('220');
    await c.send('EHLO tester.test', '250');
    await c.send('MAIL FROM:<alice@sender.test>', '250');
    return (await c.send(`RCPT TO:<${rcpt}>`)).split('\r\n')[0] ?? '';
  } finally {
    c.close();
  }
}

/** `count` messages to `to`, spread over `sessions` SMTP sessions at `host`; resolves with how many got 250. */
async function load(host: string, to: string, count: number, sessions: number, messageId: (i: number) => string): Promise<number> {
  const run = startSmtpLoad({
    host,
    port: PORT,
    sessions,
    total: count,
    deadlineMs: 60_000,
    maxConnectFailures: 5,
    message: (i) => ({
      sender: 'alice@sender.test',
      recipient: to,
      data: `From: alice@sender.test\r\nTo: ${to}\r\nSubject: ${messageId(i)}\r\nMessage-ID: ${messageId(i)}\r\n\r\nhello ${i}\r\n`,
    }),
  });
  const result = await run.done;
  assert.deepEqual(result.refusals, {}, `${host}: refusals`);
  return result.accepted.length;
}

describe('2-datacenters as a cluster on one PostgreSQL database', { skip: base === undefined ? 'POSTERN_TEST_PG not set: the cluster (several nodes on PostgreSQL) is not tested' : false }, () => {
  let db: { url: string; drop(): Promise<void> } | undefined;
  let dns: RunningPostern | undefined;
  let resolver = '';
  let sink: SmtpSink | undefined;
  let smtp1: ProcessNode | undefined;
  let smtp2: ProcessNode | undefined;
  let imap: ProcessNode | undefined;
  /** The test's own view of the shared database: what any node would see. */
  let store: Store | undefined;
  let sql: pg.Client | undefined;
  const clients: ImapFlow[] = [];

  const washington = (name: string, address: string, extra: NodeSpec['config'] = {}): NodeSpec => ({
    hostname: `${name}.domain.test`,
    address,
    domains: [['domain.test', 'primary']],
    config: {
      storage: { url: db?.url ?? '' },
      smtp: { listen: [`${address}:${PORT}`], outbound_port: PORT, source_address: address },
      queue: { lease: `${LEASE_MS}ms` },
      // A killed node's connection slots block the sink this long: short, like the queue lease.
      delivery: { max_connections_per_host: MAX_PER_HOST, slot_lease: `${LEASE_MS}ms` },
      ...extra,
    },
  });
  // The tutorial's IMAP host; it lists [smtp] too, so part (c) has a third node accepting mail.
  const imapSpec = () => washington('imap', IMAP, { imap: { listen: [`${IMAP}:${IMAP_PORT}`] } });

  before(async () => {
    db = await createTestDatabase(base ?? '', 'postern_cluster');
    ({ postern: dns, resolver } = await zonesDns('2-datacenters', { 'remote.test.zone': REMOTE_ZONE }));
    sink = await startSmtpSink(SINK, PORT, 100);
    // All three at once on the empty database: the migrations must not race.
    [smtp1, smtp2, imap] = await Promise.all([startProcessNode(washington('smtp1', SMTP1), resolver), startProcessNode(washington('smtp2', SMTP2), resolver), startProcessNode(imapSpec(), resolver)]);
    store = await openPostgresStore({ url: db.url });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all([smtp1, smtp2, imap].map((n) => stopProcessNode(n)));
    await sql?.end();
    await store?.close();
    await sink?.close();
    await dns?.stop();
    await db?.drop();
  });

  async function imapClient(user = USER): Promise<ImapFlow> {
    const client = new ImapFlow({
      host: IMAP,
      port: IMAP_PORT,
      secure: false,
      doSTARTTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user, pass: PASS },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
    });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  }

  it('an account added or removed through the CLI on one node is known to the others at once, without a restart', async () => {
    const added = await runCommand(['account', 'add', USER, '--password', PASS, '--config', imap?.config ?? '']);
    assert.equal(added.status, 0, added.stderr);
    assert.match(await rcptReply(SMTP1, USER), /^250 /);
    assert.match(await rcptReply(SMTP2, USER), /^250 /);

    assert.equal((await runCommand(['account', 'add', 'late@domain.test', '--password', 'x', '--config', smtp1?.config ?? ''])).status, 0);
    assert.match(await rcptReply(SMTP2, 'late@domain.test'), /^250 /);
    assert.equal((await runCommand(['account', 'remove', 'late@domain.test', '--config', smtp2?.config ?? ''])).status, 0);
    assert.match(await rcptReply(SMTP1, 'late@domain.test'), /^550 5\.1\.1 /);
  });

  it('a domain added, re-roled and removed through the CLI on one node is served that way by the others, without a restart', async () => {
    const hosted = 'info@hosted.test';
    assert.match(await rcptReply(SMTP1, hosted), /^550 5\.7\.1 /);
    const added = await runCommand(['domain', 'add', 'hosted.test', '--config', imap?.config ?? '']);
    assert.equal(added.status, 0, added.stderr);
    assert.match(added.stdout, /added hosted\.test as a primary domain/);
    const account = await runCommand(['account', 'add', hosted, '--password', 'x', '--config', smtp2?.config ?? '']);
    assert.equal(account.status, 0, account.stderr);
    // Each node reads the store's domains again when its list is a second old.
    for (const node of [SMTP1, SMTP2]) await eventually(async () => /^250 /.test(await rcptReply(node, hosted)), 5000, `${node} to accept ${hosted}`);
    assert.match(await rcptReply(SMTP1, 'nobody@hosted.test'), /^550 5\.1\.1 /);

    const listed = await runCommand(['domain', 'list', '--json', '--config', smtp1?.config ?? '']);
    assert.equal(listed.status, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as Array<{ name: string; role: string; source: string; accounts: number }>;
    assert.deepEqual(
      rows.map((d) => [d.name, d.role, d.source]),
      [
        ['domain.test', 'primary', 'config'],
        ['hosted.test', 'primary', 'store'],
      ],
    );
    assert.equal(rows[1]?.accounts, 1);

    // As a backup domain, a recipient is checked with the domain's primary MX, which hosted.test
    // (no DNS zone here) does not have: the node says 4xx instead of filing the mail.
    // --force: the domain has an account, whose mail a backup domain would hold instead of filing.
    const role = await runCommand(['domain', 'role', 'hosted.test', 'backup', '--force', '--config', smtp2?.config ?? '']);
    assert.equal(role.status, 0, role.stderr);
    assert.equal(role.stdout, 'hosted.test is now a backup domain (was primary)\n');
    await eventually(async () => /^451 4\.4\.3 /.test(await rcptReply(SMTP1, hosted)), 5000, `smtp1 to treat ${hosted} as a backup domain's`);
    assert.equal((await runCommand(['domain', 'role', 'hosted.test', 'primary', '--config', smtp2?.config ?? ''])).status, 0);
    await eventually(async () => /^250 /.test(await rcptReply(SMTP1, hosted)), 5000, `smtp1 to accept ${hosted} again`);

    // Removal with an account left is refused, then forced; the account stays, its mail is refused.
    const refused = await runCommand(['domain', 'remove', 'hosted.test', '--config', smtp1?.config ?? '']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /hosted\.test still has 1 account and 0 aliases/);
    assert.equal((await runCommand(['domain', 'remove', 'hosted.test', '--force', '--config', smtp1?.config ?? ''])).status, 0);
    for (const node of [SMTP1, SMTP2]) await eventually(async () => /^550 5\.7\.1 /.test(await rcptReply(node, hosted)), 5000, `${node} to refuse ${hosted}`);
    assert.notEqual(await store?.getAccount(hosted), null);
    assert.equal((await runCommand(['account', 'remove', hosted, '--config', smtp1?.config ?? ''])).status, 0);
  });

  it('an IMAP session in IDLE on imap wakes for a message accepted by smtp1 (LISTEN/NOTIFY), unprompted', async (t) => {
    const idler = 'idle@domain.test';
    assert.equal((await runCommand(['account', 'add', idler, '--password', PASS, '--config', imap?.config ?? ''])).status, 0);
    const client = await imapClient(idler);
    const box = await client.mailboxOpen('INBOX');
    assert.equal(box.exists, 0);
    const exists = new Promise<{ count: number }>((resolve) => client.on('exists', resolve));
    void client.idle();
    await eventually(() => client.idling, 5000, 'the session to enter IDLE');
    assert.equal(await load(SMTP1, idler, 1, 1, () => '<idle1@load.test>'), 1);
    const accepted = Date.now();
    const woke = await Promise.race([exists, new Promise<null>((r) => setTimeout(() => r(null), 10_000).unref())]);
    assert.ok(woke !== null, 'no EXISTS within 10 s of the 250 from smtp1');
    assert.equal(woke.count, 1);
    assert.equal(client.idling, true, 'still idling: the EXISTS came unprompted');
    // The issue asks for "within a second"; the bound above is loose because the machine is shared.
    t.diagnostic(`EXISTS on imap ${Date.now() - accepted} ms after smtp1 answered 250`);
    await client.logout();
  });

  it('(a) 1,000 messages split across smtp1 and smtp2 are all readable over IMAP on imap, each once', async (t) => {
    const started = Date.now();
    const id = (host: string) => (i: number) => `<m${i}.${host}@load.test>`;
    const [a, b] = await Promise.all([load(SMTP1, USER, 500, 4, id('smtp1')), load(SMTP2, USER, 500, 4, id('smtp2'))]);
    assert.equal(a + b, 1000, `250s: smtp1 ${a}, smtp2 ${b}`);
    const accepted = Date.now() - started;

    const client = await imapClient();
    await eventually(async () => {
      const status = await client.status('INBOX', { messages: true });
      return status !== false && (status.messages ?? 0) >= 1000;
    }, 30_000, 'all 1,000 in the INBOX as seen over IMAP');
    const lock = await client.getMailboxLock('INBOX');
    const ids: string[] = [];
    try {
      for await (const m of client.fetch('1:*', { envelope: true, uid: true })) ids.push(m.envelope?.messageId ?? '');
    } finally {
      lock.release();
    }
    await client.logout();
    const expected = [...Array.from({ length: 500 }, (_, i) => id('smtp1')(i)), ...Array.from({ length: 500 }, (_, i) => id('smtp2')(i))].sort();
    assert.equal(ids.length, 1000, 'each message once');
    assert.deepEqual([...ids].sort(), expected, 'every message, none twice');
    t.diagnostic(`1,000 accepted by smtp1 and smtp2 in ${accepted} ms, all readable over IMAP after ${Date.now() - started} ms`);
  });

  it('(b) smtp1 killed with SIGKILL mid-queue: smtp2 delivers the rest once the leases run out, nothing lost', async (t) => {
    const total = 200;
    const messageId = (i: number) => `<out${i}@domain.test>`;
    const queuedAt = Date.now();
    // Queued in the shared database as `postern sendmail` on any node would, all at once (one
    // group commit) so the runners find a queue, not a trickle: every node's runner claims from it.
    await Promise.all(Array.from({ length: total }, (_, i) => {
      const to = `r${i % 7}@remote.test`;
      return store?.enqueue({
        id: `out${i}`,
        receivedAt: queuedAt + i,
        sender: 'alice@domain.test',
        data: new TextEncoder().encode(`From: alice@domain.test\r\nTo: ${to}\r\nSubject: out ${i}\r\nMessage-ID: ${messageId(i)}\r\n\r\nhello\r\n`),
        source: 'local',
        recipients: [{ address: to, domain: 'remote.test', route: 'remote' }],
      });
    }));
    const enqueuedIn = Date.now() - queuedAt;
    const smtp1Leases = async () => (await sql?.query<{ n: string }>(`SELECT count(*) AS n FROM queue_recipients WHERE state = 'queued' AND lease_owner LIKE 'smtp1.domain.test/%'`))?.rows[0]?.n ?? '0';
    // Mid-queue: the sink has taken some, and smtp1 holds claims on more.
    await eventually(async () => (sink?.received.length ?? 0) >= 30 && Number(await smtp1Leases()) > 0, 20_000, 'smtp1 delivering');
    smtp1?.child.kill('SIGKILL');
    await smtp1?.exited;
    const killedAt = Date.now();
    const sentBeforeKill = sink?.received.length ?? 0;
    // Whatever smtp1 held when it died stays claimed by it until the lease ends.
    const orphans = (
      await sql?.query<{ message_id: string; lease_until: string }>(`SELECT message_id, lease_until FROM queue_recipients WHERE state = 'queued' AND lease_owner LIKE 'smtp1.domain.test/%'`)
    )?.rows ?? [];
    assert.ok(orphans.length > 0, 'smtp1 died holding claims');

    await eventually(() => new Set(sink?.received.map((m) => m.messageId)).size >= total, 60_000, `all ${total} at the sink`);
    await eventually(async () => (await sql?.query(`SELECT 1 FROM queue_recipients WHERE state <> 'delivered'`))?.rowCount === 0, 10_000, 'every recipient delivered');
    // A message smtp1 recorded as delivered but had not yet deleted stays in the queue, finished,
    // until a node's runner starts again (QueueRunner#recover): counted, not failed on.
    const finishedLeft = (await sql?.query(`SELECT DISTINCT message_id FROM queue_recipients`))?.rowCount ?? 0;

    const received = sink?.received ?? [];
    const times = new Map<string, number[]>();
    for (const m of received) times.set(m.messageId, [...(times.get(m.messageId) ?? []), m.at]);
    const expected = Array.from({ length: total }, (_, i) => messageId(i)).sort();
    assert.deepEqual([...times.keys()].sort(), expected, 'nothing lost, nothing unknown');

    // Each orphan reached the sink (again) only after its lease ended: smtp2 waited for it.
    for (const o of orphans) {
      const last = Math.max(...(times.get(messageId(Number(o.message_id.slice(3)))) ?? [0]));
      assert.ok(last >= Number(o.lease_until) - 20, `${o.message_id} delivered at ${last}, before smtp1's lease ended at ${o.lease_until}`);
    }
    // At-least-once: a message smtp1 had handed over (the sink took its data) but had not yet
    // recorded when it died is delivered again once its lease ends. Only messages smtp1 still held
    // claims on can come twice, and each at most twice; every other message went out once (one
    // claim, one attempt). How many of the claimed ones is a matter of timing: on a loaded machine
    // a connection may be on its next message while the last one's 250 waits to be recorded.
    const orphanIds = new Set(orphans.map((o) => messageId(Number(o.message_id.slice(3)))));
    const twice = [...times].filter(([, at]) => at.length > 1).map(([id]) => id);
    for (const id of twice) {
      const seen = received.filter((m) => m.messageId === id).map((m) => `${m.from} at +${m.at - killedAt} ms`);
      assert.ok(orphanIds.has(id), `${id} delivered twice (${seen.join(', ')}; kill at +0) but smtp1 held no claim on it at the kill`);
    }
    for (const [id, at] of times) assert.ok(at.length <= 2, `${id} delivered ${at.length} times`);
    assert.ok((sink?.peakConnections ?? 0) <= MAX_PER_HOST, `${sink?.peakConnections} connections at once at the sink, over the cluster-wide ${MAX_PER_HOST}`);
    t.diagnostic(
      `${total} queued in ${enqueuedIn} ms; ${sentBeforeKill} at the sink when smtp1 was killed ${killedAt - queuedAt} ms in, holding ${orphans.length} claims; ` +
        `all delivered ${Date.now() - killedAt} ms after the kill; ${twice.length} of those claims delivered twice (at-least-once); ` +
        `${finishedLeft} finished messages left in the queue; peak connections at the sink ${sink?.peakConnections} (max_connections_per_host ${MAX_PER_HOST}, cluster-wide)`,
    );
  });

  it('(c) concurrent deliveries from three nodes into one mailbox: UIDs unique, committed in increasing order', async (t) => {
    smtp1 = await startProcessNode(smtp1?.spec ?? washington('smtp1', SMTP1), resolver, smtp1?.dir);
    const target = 'uids@domain.test';
    assert.equal((await runCommand(['account', 'add', target, '--password', 'x', '--config', smtp2?.config ?? ''])).status, 0);
    const mailbox = (await sql?.query<{ id: string }>(`SELECT m.id FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE a.address_key = $1 AND m.name = 'INBOX'`, [target]))?.rows[0]?.id;
    assert.ok(mailbox !== undefined);

    // A reader polling the mailbox as an IMAP session would: a UID it learns of later than another
    // must be the greater one, or a client fetching "UID n:*" misses it for good.
    const perNode = 100;
    let done = false;
    let seenMax = 0;
    const late: string[] = [];
    let snapshots = 0;
    const poller = (async () => {
      const seen = new Set<number>();
      while (!done) {
        const uids = (await sql?.query<{ uid: string }>('SELECT uid FROM messages WHERE mailbox_id = $1', [mailbox]))?.rows.map((r) => Number(r.uid)) ?? [];
        snapshots++;
        const fresh = uids.filter((u) => !seen.has(u));
        for (const u of fresh) {
          if (u <= seenMax) late.push(`UID ${u} appeared after UID ${seenMax}`);
          seen.add(u);
        }
        seenMax = Math.max(seenMax, ...fresh);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const id = (host: string) => (i: number) => `<u${i}.${host}@load.test>`;
    const counts = await Promise.all([load(SMTP1, target, perNode, 3, id('smtp1')), load(SMTP2, target, perNode, 3, id('smtp2')), load(IMAP, target, perNode, 3, id('imap'))]);
    assert.deepEqual(counts, [perNode, perNode, perNode]);
    await eventually(async () => ((await store?.countMessages({ address: target })) ?? 0) >= 3 * perNode, 30_000, 'all filed');
    done = true;
    await poller;

    const uids = ((await sql?.query<{ uid: string }>('SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid', [mailbox]))?.rows ?? []).map((r) => Number(r.uid));
    assert.equal(uids.length, 3 * perNode);
    assert.equal(new Set(uids).size, uids.length, 'UIDs unique');
    assert.deepEqual(late, [], 'no UID committed after a greater one');
    const next = (await sql?.query<{ uid_next: string }>('SELECT uid_next FROM mailboxes WHERE id = $1', [mailbox]))?.rows[0]?.uid_next;
    assert.ok(Number(next) > (uids.at(-1) ?? 0), 'UIDNEXT past every UID');
    t.diagnostic(`${uids.length} UIDs from ${uids[0]} to ${uids.at(-1)}${uids.at(-1) === uids.length ? ' (no gaps)' : ''}; ${snapshots} snapshots read while delivering`);
  });
});
