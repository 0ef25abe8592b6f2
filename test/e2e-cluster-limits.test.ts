/**
 * Cluster-wide limits (issue 7): three `postern start` nodes on one PostgreSQL database hold
 * `delivery.max_connections_per_host`, a backup drain's `drain_concurrency` and `drain_rate`, and
 * the POP3 maildrop lock together, not each on its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { openPostgresStore } from '../src/store/postgres/index.ts';
import type { Store } from '../src/store/types.ts';
import type { RunningPostern } from '../src/main.ts';
import { eventually, type NodeSpec } from './helpers/lab.ts';
import { runCommand } from './helpers/postern.ts';
import { createTestDatabase, startProcessNode, stopProcessNode, zonesDns, type ProcessNode } from './helpers/cluster.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const base = process.env['POSTERN_TEST_PG'];

const PORT = 2829;
const POP3_PORT = 9955;
const NODES = ['127.20.30.1', '127.20.30.2', '127.20.30.3'];
/** remote.test's MX (plain outbound mail) and held.test's primary (backup drains). */
const SINK = '127.20.31.1';
const PRIMARY = '127.20.31.2';
const MAX_PER_HOST = 2;
const DRAIN_CONCURRENCY = 1;
const DRAIN_RATE = 10;

const zone = (name: string, address: string) => `$ORIGIN ${name}.
$TTL 300
@    IN SOA ns1.domain.test. hostmaster.${name}. ( 1 7200 3600 1209600 300 )
     IN NS  ns1.domain.test.
@    IN MX  10 mx
mx   IN A   ${address}
`;

interface Sink {
  /** Message-IDs in arrival order (end of data), with when. */
  received: Array<{ id: string; at: number }>;
  /** Most sockets open at once (idle kept connections included). */
  peakConnections: number;
  /** Most transactions (MAIL to the reply after data) at once. */
  peakTransactions: number;
  close(): Promise<void>;
}

/** An SMTP server that takes everything, slowly (`delayMs` before each 250 after data), and counts. */
async function startSink(host: string, delayMs: number): Promise<Sink> {
  const sockets = new Set<Socket>();
  let transactions = 0;
  const sink: Sink = { received: [], peakConnections: 0, peakTransactions: 0, close: async () => undefined };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    sink.peakConnections = Math.max(sink.peakConnections, sockets.size);
    let inTransaction = false;
    const end = () => {
      if (inTransaction) transactions--;
      inTransaction = false;
    };
    socket.on('close', () => {
      sockets.delete(socket);
      end();
    });
    socket.on('error', () => undefined);
    const say = (line: string) => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };
    let buffer = '';
    let data: string[] | null = null;
    say('220 sink.test ESMTP');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (data !== null) {
          if (line !== '.') {
            data.push(line);
            continue;
          }
          sink.received.push({ id: /^Message-ID:\s*(<[^>]*>)/im.exec(data.join('\r\n'))?.[1] ?? '(none)', at: Date.now() });
          data = null;
          setTimeout(() => {
            end();
            say('250 2.0.0 taken');
          }, delayMs);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'MAIL') {
          if (!inTransaction) transactions++;
          inTransaction = true;
          sink.peakTransactions = Math.max(sink.peakTransactions, transactions);
          say('250 ok');
        } else if (verb === 'DATA') {
          data = [];
          say('354 go ahead');
        } else if (verb === 'RSET') {
          end();
          say('250 ok');
        } else if (verb === 'QUIT') {
          say('221 bye');
          socket.end();
        } else if (verb === 'EHLO' || verb === 'HELO') say('250 sink.test');
        else say('250 ok');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, host, () => resolve());
  });
  sink.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return sink;
}

/** A POP3 client over implicit TLS: one command, one reply line. */
class Pop3Line {
  readonly #socket: TLSSocket;
  #buffer = '';
  #waiting: ((line: string) => void) | null = null;
  #lines: string[] = [];

  private constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buffer += d.toString('latin1');
      for (let i = this.#buffer.indexOf('\r\n'); i >= 0; i = this.#buffer.indexOf('\r\n')) {
        this.#lines.push(this.#buffer.slice(0, i));
        this.#buffer = this.#buffer.slice(i + 2);
      }
      this.#deliver();
    });
    socket.on('error', () => undefined);
  }

  static async open(host: string, port: number): Promise<Pop3Line> {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host, port, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new Pop3Line(socket);
    await c.line();
    return c;
  }

  #deliver(): void {
    const next = this.#lines.shift();
    if (next === undefined || this.#waiting === null) {
      if (next !== undefined) this.#lines.unshift(next);
      return;
    }
    const w = this.#waiting;
    this.#waiting = null;
    w(next);
  }

  line(): Promise<string> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#deliver();
    });
  }

  async send(command: string): Promise<string> {
    this.#socket.write(`${command}\r\n`);
    return this.line();
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe('cluster-wide limits: three nodes on one PostgreSQL database', { skip: base === undefined ? 'POSTERN_TEST_PG not set: cluster-wide limits (several nodes on PostgreSQL) are not tested' : false }, () => {
  let db: { url: string; drop(): Promise<void> } | undefined;
  let dns: RunningPostern | undefined;
  let resolver = '';
  let sink: Sink | undefined;
  let primary: Sink | undefined;
  let nodes: ProcessNode[] = [];
  let store: Store | undefined;

  const spec = (i: number): NodeSpec => {
    const address = NODES[i] ?? '';
    return {
      hostname: `node${i + 1}.domain.test`,
      address,
      domains: [['domain.test', 'primary']],
      config: {
        storage: { url: db?.url ?? '' },
        smtp: { listen: [`${address}:${PORT}`], outbound_port: PORT, source_address: address },
        pop3: { tls_listen: [`${address}:${POP3_PORT}`] },
        delivery: { max_connections_per_host: MAX_PER_HOST },
        backup: { drain_concurrency: DRAIN_CONCURRENCY, drain_rate: DRAIN_RATE },
      },
    };
  };

  before(async () => {
    db = await createTestDatabase(base ?? '', 'postern_limits');
    ({ postern: dns, resolver } = await zonesDns('2-datacenters', { 'remote.test.zone': zone('remote.test', SINK), 'held.test.zone': zone('held.test', PRIMARY) }, '127.20.30.53'));
    sink = await startSink(SINK, 30);
    primary = await startSink(PRIMARY, 10);
    nodes = await Promise.all([0, 1, 2].map((i) => startProcessNode(spec(i), resolver)));
    store = await openPostgresStore({ url: db.url });
  });
  after(async () => {
    await Promise.all(nodes.map((n) => stopProcessNode(n)));
    await store?.close();
    await sink?.close();
    await primary?.close();
    await dns?.stop();
    await db?.drop();
  });

  async function queue(prefix: string, count: number, domain: string, route: 'remote' | 'backup'): Promise<string[]> {
    const at = Date.now();
    const ids = Array.from({ length: count }, (_, i) => `<${prefix}${i}@domain.test>`);
    // In the shared database at once, as `postern sendmail` (or a backup MX's SMTP server) would
    // queue them: every node's runner claims from the one queue.
    await Promise.all(
      ids.map((id, i) =>
        store?.enqueue({
          id: `${prefix}${i}`,
          receivedAt: at + i,
          sender: 'alice@domain.test',
          data: new TextEncoder().encode(`From: alice@domain.test\r\nTo: u${i}@${domain}\r\nSubject: ${prefix} ${i}\r\nMessage-ID: ${id}\r\n\r\nhello\r\n`),
          source: 'local',
          recipients: [{ address: `u${i}@${domain}`, domain, route }],
        }),
      ),
    );
    return ids;
  }

  it(`delivers everything with never more than max_connections_per_host = ${MAX_PER_HOST} connections open at the sink across the three nodes`, async (t) => {
    const ids = await queue('out', 60, 'remote.test', 'remote');
    await eventually(() => new Set(sink?.received.map((m) => m.id)).size >= ids.length, 60_000, 'all at the sink');
    assert.deepEqual([...new Set(sink?.received.map((m) => m.id))].sort(), [...ids].sort());
    assert.ok((sink?.peakConnections ?? 0) <= MAX_PER_HOST, `at most ${MAX_PER_HOST} connections at once, saw ${sink?.peakConnections}`);
    assert.ok((sink?.peakConnections ?? 0) >= 1);
    t.diagnostic(`peak connections at the sink: ${sink?.peakConnections}, ${sink?.received.length} messages`);
  });

  it(`drains backup mail at most drain_concurrency = ${DRAIN_CONCURRENCY} at once and drain_rate = ${DRAIN_RATE}/s across the three nodes`, async (t) => {
    const count = 15;
    const ids = await queue('held', count, 'held.test', 'backup');
    await eventually(() => new Set(primary?.received.map((m) => m.id)).size >= count, 60_000, 'all held mail drained');
    assert.deepEqual([...new Set(primary?.received.map((m) => m.id))].sort(), [...ids].sort());
    assert.ok((primary?.peakTransactions ?? 0) <= DRAIN_CONCURRENCY, `at most ${DRAIN_CONCURRENCY} forwards at once, saw ${primary?.peakTransactions}`);
    // Starts are spaced 1/rate apart cluster-wide, so the arrivals span at least about that
    // (a tolerance for the connection each arrival rides on); three nodes pacing apart would
    // take a third of it.
    const at = (primary?.received ?? []).map((m) => m.at);
    const span = Math.max(...at) - Math.min(...at);
    const paced = ((count - 1) * 1000) / DRAIN_RATE;
    assert.ok(span >= paced * 0.8, `${count} forwards over ${span} ms: faster than ${DRAIN_RATE}/s`);
    t.diagnostic(`${count} drained over ${span} ms (paced at least ${paced} ms), peak forwards at once ${primary?.peakTransactions}`);
  });

  it('refuses a second POP3 login to one maildrop on another node while the first session is open', async () => {
    const added = await runCommand(['account', 'add', 'pop@domain.test', '--password', 'pop-pw', '--config', nodes[0]?.config ?? '']);
    assert.equal(added.status, 0, added.stderr);
    const first = await Pop3Line.open(NODES[0] ?? '', POP3_PORT);
    const second = await Pop3Line.open(NODES[1] ?? '', POP3_PORT);
    try {
      assert.match(await first.send('USER pop@domain.test'), /^\+OK/);
      assert.match(await first.send('PASS pop-pw'), /^\+OK/);
      assert.match(await second.send('USER pop@domain.test'), /^\+OK/);
      assert.match(await second.send('PASS pop-pw'), /^-ERR \[IN-USE\]/);
      assert.match(await first.send('QUIT'), /^\+OK/);
      // Released at QUIT (the row goes a moment after the reply): the third node then opens it.
      await eventually(async () => {
        const third = await Pop3Line.open(NODES[2] ?? '', POP3_PORT);
        try {
          await third.send('USER pop@domain.test');
          return (await third.send('PASS pop-pw')).startsWith('+OK');
        } finally {
          third.close();
        }
      }, 10_000, 'the maildrop free again after QUIT');
    } finally {
      first.close();
      second.close();
    }
  });
});
