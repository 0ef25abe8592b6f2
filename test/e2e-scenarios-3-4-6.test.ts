/**
 * scenarios 3-hosted, 4-subdomains and 6-edge end to end, one after the other in one file because
 * 3 and 4 both put mailhost.test's smtp1 at 127.40.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scenarioDns } from './helpers/postern.ts';
import { eventually, inboxSubjects, send, startNode, type LabNode } from './helpers/lab.ts';
import type { RunningPostern } from '../src/main.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const ALICE = 'alice@sender.test';

/** A scenario's DNS, a sender that is primary for sender.test (so bounces come home), and nodes. */
function scenario(name: string) {
  const ctx = { dns: null as RunningPostern | null, resolver: '', sender: null as LabNode | null, nodes: [] as LabNode[] };
  before(async () => {
    const d = await scenarioDns(name);
    ctx.dns = d.postern;
    ctx.resolver = d.resolver;
    ctx.sender = await startNode({ hostname: 'mx.sender.test', domains: [['sender.test', 'primary']], accounts: [ALICE] }, ctx.resolver);
  });
  after(async () => {
    for (const n of [ctx.sender, ...ctx.nodes]) await n?.postern.stop();
    await ctx.dns?.stop();
  });
  return {
    ctx,
    async node(hostname: string, address: string, domain: string | string[], account: string | string[]): Promise<LabNode> {
      const domains = (Array.isArray(domain) ? domain : [domain]).map((d): [string, 'primary'] => [d, 'primary']);
      const n = await startNode({ hostname, address, domains, accounts: Array.isArray(account) ? account : [account] }, ctx.resolver);
      ctx.nodes.push(n);
      return n;
    },
    sender: () => {
      if (ctx.sender === null) throw new Error('no sender');
      return ctx.sender;
    },
  };
}

async function bounceFor(sender: LabNode, subject: string): Promise<string> {
  return eventually(
    async () => {
      const list = (await sender.postern.store.listMessages({ address: ALICE })) ?? [];
      for (const m of list) {
        const text = new TextDecoder().decode((await sender.postern.store.readMessage({ address: ALICE, uid: m.uid })) ?? new Uint8Array());
        if (text.includes('Undelivered Mail Returned to Sender') && text.includes(`Subject: ${subject}`)) return text;
      }
      return null;
    },
    15_000,
    `a bounce of "${subject}" in alice's INBOX`,
  );
}

describe('scenario 3-hosted, end to end', () => {
  const s = scenario('3-hosted');
  it('finds the hosting servers through mailhost.test and delivers there', async () => {
    const smtp1 = await s.node('smtp1.mailhost.test', '127.40.0.1', 'domain.test', 'user@domain.test');
    const smtp2 = await s.node('smtp2.mailhost.test', '127.40.0.2', 'domain.test', 'user@domain.test');
    for (let i = 0; i < 20; i++) await send(s.sender(), 'user@domain.test', `hosted ${i}`);
    const [a, b] = await eventually(
      async () => {
        const x = await inboxSubjects(smtp1, 'user@domain.test');
        const y = await inboxSubjects(smtp2, 'user@domain.test');
        return x.length + y.length >= 20 ? [x, y] : null;
      },
      20_000,
      '20 messages at the hosting servers',
    );
    assert.equal(a.length + b.length, 20);
    assert.ok(a.length > 0 && b.length > 0, `both equal-preference hosts take mail (${a.length} / ${b.length})`);
  });
});

describe('scenario 4-subdomains, end to end', () => {
  const s = scenario('4-subdomains');
  it('takes each subdomain\'s mail where its MX records say, and bounces the one that does not exist', async () => {
    const owner = await s.node('mail.planespotting.test', '127.50.0.1', 'planespotting.test', 'anyone@planespotting.test');
    const mailhost = await s.node('smtp1.mailhost.test', '127.40.0.1', 'bill.planespotting.test', 'info@bill.planespotting.test');
    const andy = await s.node('mail.andy.planespotting.test', '127.50.0.12', 'andy.planespotting.test', 'info@andy.planespotting.test');
    const terry = await s.node('terry.planespotting.test', '127.50.0.13', 'terry.planespotting.test', 'info@terry.planespotting.test');
    await send(s.sender(), 'anyone@planespotting.test', 'to the owner');
    await send(s.sender(), 'info@bill.planespotting.test', 'to bill');
    await send(s.sender(), 'info@andy.planespotting.test', 'to andy');
    await send(s.sender(), 'info@terry.planespotting.test', 'to terry');
    await send(s.sender(), 'nobody@nosuch.planespotting.test', 'to nobody');
    const arrived = async (n: LabNode, address: string, subject: string) =>
      eventually(async () => (await inboxSubjects(n, address)).includes(subject), 15_000, `"${subject}" at ${n.spec.hostname}`);
    await arrived(owner, 'anyone@planespotting.test', 'to the owner');
    await arrived(mailhost, 'info@bill.planespotting.test', 'to bill');
    await arrived(andy, 'info@andy.planespotting.test', 'to andy');
    await arrived(terry, 'info@terry.planespotting.test', 'to terry');
    const bounce = await bounceFor(s.sender(), 'to nobody');
    assert.match(bounce, /Final-Recipient: rfc822; ?nobody@nosuch\.planespotting\.test/);
    assert.match(bounce, /Status: 5\.1\.2/);
    for (const n of [owner, mailhost, andy, terry]) {
      await eventually(async () => (await n.postern.store.listQueue()).length === 0, 10_000, `${n.spec.hostname}'s queue empty`);
    }
  });
});

describe('scenario 6-edge, end to end', () => {
  const s = scenario('6-edge');
  it('bounces a null MX at once, skips a host without an address, follows a CNAME, retries a lame domain and bounces a missing one', async () => {
    // real.edge.test is the mail host of two domains: skip.edge.test and alias.edge.test.
    const real = await s.node('real.edge.test', '127.70.0.2', ['skip.edge.test', 'alias.edge.test'], ['x@skip.edge.test', 'x@alias.edge.test']);
    await send(s.sender(), 'x@nullmx.edge.test', 'to nullmx');
    await send(s.sender(), 'x@skip.edge.test', 'to skip');
    await send(s.sender(), 'x@lame.edge.test', 'to lame');
    await send(s.sender(), 'x@nosuch.edge.test', 'to nosuch');
    await eventually(async () => (await inboxSubjects(real, 'x@skip.edge.test')).includes('to skip'), 15_000, 'skip delivered to real');
    const nullBounce = await bounceFor(s.sender(), 'to nullmx');
    assert.match(nullBounce, /Status: 5\.1\.10/);
    assert.match(nullBounce, /null MX/);
    const missing = await bounceFor(s.sender(), 'to nosuch');
    assert.match(missing, /Status: 5\.1\.2/);
    const lame = await eventually(
      async () => {
        const q = await s.sender().postern.store.listQueue();
        const m = q.find((x) => x.recipients.some((r) => r.address === 'x@lame.edge.test'));
        return m !== undefined && m.recipients[0]!.attempts >= 3 ? m : null;
      },
      15_000,
      'three attempts for the lame domain',
    );
    assert.equal(lame.recipients[0]?.state, 'queued', 'a DNS server that does not answer means retry, never bounce');
    assert.match(lame.recipients[0]?.lastReply ?? '', /^451 4\.4\.3 /);
  });

  it('delivers through an MX that names a CNAME', async () => {
    const realAlias = s.ctx.nodes.find((n) => n.spec.hostname === 'real.edge.test');
    assert.ok(realAlias);
    await send(s.sender(), 'x@alias.edge.test', 'to alias');
    await eventually(async () => (await inboxSubjects(realAlias, 'x@alias.edge.test')).includes('to alias'), 15_000, 'alias delivered to real');
  });
});
