import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { isPosternError } from '../core/errors.ts';
import type { HostPort } from '../core/host-port.ts';
import { startFakeDnsServer, rr } from '../../test/helpers/fake-dns-server.ts';
import type { FakeDnsServer, FakeHandler } from '../../test/helpers/fake-dns-server.ts';
import { canonicalAddress, createResolver } from './resolver.ts';
import type { LookupResult, ResolverOptions } from './resolver.ts';

const started: FakeDnsServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function server(handler: FakeHandler): Promise<FakeDnsServer> {
  const s = await startFakeDnsServer({ handler });
  started.push(s);
  return s;
}

function resolverFor(servers: HostPort[], more: Partial<ResolverOptions> = {}) {
  return createResolver({ servers, timeoutMs: 200, attempts: 1, ...more });
}

/** A clock the test moves by hand. */
function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => void (t += seconds * 1000) };
}

const SOA = rr.soa('example.test', 60, 3600);

describe('the stub resolver over UDP', () => {
  it('returns the records of the asked type with their TTL and the smallest TTL overall', async () => {
    const s = await server(() => ({ kind: 'reply', answers: [rr.a('www.example.test', '127.0.0.9', 120), rr.a('www.example.test', '127.0.0.10', 90)] }));
    const result = await resolverFor([s.address]).lookup('www.example.test', 'A');
    assert.deepEqual(result, {
      kind: 'records',
      records: [
        { name: 'www.example.test', ttl: 120, data: { type: 'A', address: '127.0.0.9' } },
        { name: 'www.example.test', ttl: 90, data: { type: 'A', address: '127.0.0.10' } },
      ],
      cnames: [],
      ttl: 90,
    });
  });

  it('sends one question with RD set, class IN, the injected ID and an EDNS0 OPT offering 1232 bytes', async () => {
    const s = await server(() => ({ kind: 'reply', answers: [rr.mx('example.test', 10, 'mail.example.test')] }));
    const result = await resolverFor([s.address], { randomId: () => 0x4242 }).lookup('example.test', 'MX');
    assert.equal(result.kind, 'records');
    assert.equal(s.queries.length, 1);
    const q = s.queries[0];
    assert.ok(q);
    assert.deepEqual(
      { id: q.id, name: q.name, type: q.type, class: q.class, rd: q.recursionDesired, edns: q.ednsPayload, transport: q.transport },
      { id: 0x4242, name: 'example.test', type: 'MX', class: 'IN', rd: true, edns: 1232, transport: 'udp' },
    );
  });

  it('asks from a different source port each time', async () => {
    const s = await server((q) => ({ kind: 'reply', answers: [rr.a(q.name, '127.0.0.9', 0)] }));
    const resolver = resolverFor([s.address]);
    for (let i = 0; i < 5; i++) await resolver.lookup(`h${i}.example.test`, 'A');
    const ports = new Set(s.queries.map((q) => q.from.port));
    assert.ok(ports.size >= 4, `source ports: ${[...ports].join(', ')}`);
  });

  it('reports NXDOMAIN as nxdomain and NOERROR without records as nodata', async () => {
    const s = await server((q) =>
      q.name === 'nosuch.example.test'
        ? { kind: 'reply', rcode: 'NXDOMAIN', authorities: [SOA] }
        : { kind: 'reply', authorities: [SOA] },
    );
    const resolver = resolverFor([s.address]);
    assert.deepEqual(await resolver.lookup('nosuch.example.test', 'A'), { kind: 'nxdomain', cnames: [] });
    assert.deepEqual(await resolver.lookup('example.test', 'AAAA'), { kind: 'nodata', cnames: [] });
  });

  it('returns temporary, naming the server, when no reply comes before the timeout', async () => {
    const s = await server(() => ({ kind: 'drop' }));
    const t0 = Date.now();
    const result = await resolverFor([s.address], { timeoutMs: 150 }).lookup('example.test', 'MX');
    const elapsed = Date.now() - t0;
    assert.equal(result.kind, 'temporary');
    assert.match(result.kind === 'temporary' ? result.reason : '', new RegExp(`127\\.0\\.0\\.1:${s.address.port} timed out after 150 ms`));
    assert.ok(elapsed >= 140 && elapsed < 1000, `took ${elapsed} ms`);
  });

  it('returns temporary at once when nothing listens on the server port (ICMP port unreachable)', async () => {
    // An address of its own in 127/8, so no other test file can be listening there.
    const address = { host: '127.211.83.2', port: 53 };
    const t0 = Date.now();
    const result = await resolverFor([address], { timeoutMs: 2000 }).lookup('example.test', 'MX');
    assert.equal(result.kind, 'temporary');
    assert.match(result.kind === 'temporary' ? result.reason : '', /ECONNREFUSED/);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('falls over to the second server after SERVFAIL from the first', async () => {
    const bad = await server(() => ({ kind: 'reply', rcode: 'SERVFAIL' }));
    const good = await server(() => ({ kind: 'reply', answers: [rr.a('example.test', '127.0.0.5')] }));
    const result = await resolverFor([bad.address, good.address]).lookup('example.test', 'A');
    assert.equal(result.kind, 'records');
    assert.equal(bad.queries.length, 1);
    assert.equal(good.queries.length, 1);
  });

  it('falls over to the second server after a timeout from the first', async () => {
    const silent = await server(() => ({ kind: 'drop' }));
    const good = await server(() => ({ kind: 'reply', answers: [rr.a('example.test', '127.0.0.5')] }));
    const result = await resolverFor([silent.address, good.address], { timeoutMs: 150 }).lookup('example.test', 'A');
    assert.equal(result.kind, 'records');
    assert.equal(silent.queries.length, 1);
  });

  it('names every server and what it said when all fail, and asks a REFUSED server only once', async () => {
    const refusing = await server(() => ({ kind: 'reply', rcode: 'REFUSED' }));
    const failing = await server(() => ({ kind: 'reply', rcode: 'SERVFAIL' }));
    const result = await resolverFor([refusing.address, failing.address], { attempts: 3 }).lookup('example.test', 'MX');
    assert.equal(result.kind, 'temporary');
    const reason = result.kind === 'temporary' ? result.reason : '';
    assert.match(reason, new RegExp(`127\\.0\\.0\\.1:${refusing.address.port} REFUSED`));
    assert.match(reason, new RegExp(`127\\.0\\.0\\.1:${failing.address.port} SERVFAIL`));
    assert.equal(refusing.queries.length, 1, 'REFUSED will not change on the next round');
    assert.equal(failing.queries.length, 3, 'SERVFAIL may be passing: asked once per round');
  });

  it('asks again without EDNS when a server answers FORMERR to the OPT record (RFC 6891 §7)', async () => {
    const s = await server((q) => (q.ednsPayload !== null ? { kind: 'reply', rcode: 'FORMERR' } : { kind: 'reply', answers: [rr.a(q.name, '127.0.0.5')] }));
    const result = await resolverFor([s.address]).lookup('example.test', 'A');
    assert.equal(result.kind, 'records');
    assert.deepEqual(s.queries.map((q) => q.ednsPayload), [1232, null]);
  });

  it('treats a referral from a non-recursive server as that server failing', async () => {
    const s = await server(() => ({ kind: 'reply', authorities: [rr.ns('test', 'ns.test')] }));
    const result = await resolverFor([s.address]).lookup('example.test', 'A');
    assert.equal(result.kind, 'temporary');
    assert.match(result.kind === 'temporary' ? result.reason : '', /referral/);
  });
});

describe('answers that do not match the query', () => {
  const good = rr.a('example.test', '127.0.0.5');

  it('ignores a reply with the wrong ID and accepts the right one that follows', async () => {
    const s = await server((q) => [
      { kind: 'reply', id: (q.id + 1) & 0xffff, answers: [rr.a('example.test', '127.66.6.6')] },
      { kind: 'reply', answers: [good], delayMs: 30 },
    ]);
    const result = await resolverFor([s.address]).lookup('example.test', 'A');
    assert.deepEqual(result.kind === 'records' ? result.records.map((r) => r.data) : result, [{ type: 'A', address: '127.0.0.5' }]);
  });

  it('ignores a reply to another question (name or type) and accepts the right one', async () => {
    const s = await server(() => [
      { kind: 'reply', question: { name: 'evil.test', type: 'A' }, answers: [rr.a('evil.test', '127.66.6.6')] },
      { kind: 'reply', question: { name: 'example.test', type: 'AAAA' }, answers: [rr.a('example.test', '127.66.6.6')] },
      { kind: 'reply', answers: [good], delayMs: 30 },
    ]);
    const result = await resolverFor([s.address]).lookup('example.test', 'A');
    assert.deepEqual(result.kind === 'records' ? result.records.map((r) => r.data) : result, [{ type: 'A', address: '127.0.0.5' }]);
  });

  it('accepts the question echoed in another letter case', async () => {
    const s = await server(() => ({ kind: 'reply', question: { name: 'ExAmPlE.TeSt', type: 'A' }, answers: [good] }));
    const result = await resolverFor([s.address]).lookup('example.test', 'A');
    assert.equal(result.kind, 'records');
  });

  it('ignores a reply from another source port', async () => {
    const s = await server(() => [
      { kind: 'reply', fromOtherPort: true, answers: [rr.a('example.test', '127.66.6.6')] },
      { kind: 'reply', answers: [good], delayMs: 30 },
    ]);
    const result = await resolverFor([s.address]).lookup('example.test', 'A');
    assert.deepEqual(result.kind === 'records' ? result.records.map((r) => r.data) : result, [{ type: 'A', address: '127.0.0.5' }]);
  });

  it('times out when only spoofed and malformed replies arrive', async () => {
    const s = await server((q) => [
      { kind: 'reply', id: (q.id + 1) & 0xffff, answers: [good] },
      { kind: 'reply', question: { name: 'other.test', type: 'A' }, answers: [good] },
      { kind: 'raw', bytes: Buffer.from([(q.id >> 8) & 0xff, q.id & 0xff, 0x81, 0x80, 0, 1]) },
    ]);
    const result = await resolverFor([s.address], { timeoutMs: 150 }).lookup('example.test', 'A');
    assert.equal(result.kind, 'temporary');
    assert.match(result.kind === 'temporary' ? result.reason : '', /timed out after 150 ms \(3 unmatched replies ignored\)/);
  });
});

describe('truncated replies', () => {
  it('asks the same server again over TCP when the UDP reply has TC set', async () => {
    const many = Array.from({ length: 40 }, (_, i) => rr.mx('big.example.test', i, `mx${i}.example.test`));
    const s = await server((q) => (q.transport === 'udp' ? { kind: 'reply', truncated: true } : { kind: 'reply', answers: many }));
    const result = await resolverFor([s.address]).lookup('big.example.test', 'MX');
    assert.equal(result.kind, 'records');
    assert.equal(result.kind === 'records' ? result.records.length : 0, 40);
    assert.deepEqual(s.queries.map((q) => q.transport), ['udp', 'tcp']);
    assert.equal(s.tcpConnections(), 1);
  });

  it('keeps EDNS off for the TCP retry when the server refused EDNS with FORMERR (RFC 6891 §7)', async () => {
    const s = await server((q) => {
      if (q.ednsPayload !== null) return { kind: 'reply', rcode: 'FORMERR' };
      return q.transport === 'udp' ? { kind: 'reply', truncated: true } : { kind: 'reply', answers: [rr.a(q.name, '127.0.0.5')] };
    });
    const result = await resolverFor([s.address]).lookup('example.test', 'A');
    assert.equal(result.kind, 'records');
    assert.deepEqual(
      s.queries.map((q) => [q.transport, q.ednsPayload]),
      [
        ['udp', 1232],
        ['udp', null],
        ['tcp', null],
      ],
    );
  });

  it('tries the next server when the TCP retry gets no answer', async () => {
    const tcpSilent = await server((q) => (q.transport === 'udp' ? { kind: 'reply', truncated: true } : { kind: 'drop' }));
    const good = await server(() => ({ kind: 'reply', answers: [rr.a('example.test', '127.0.0.5')] }));
    const result = await resolverFor([tcpSilent.address, good.address], { timeoutMs: 150 }).lookup('example.test', 'A');
    assert.equal(result.kind, 'records');
  });
});

describe('CNAME chains', () => {
  it('follows a chain given whole in one answer and reports it in order', async () => {
    const s = await server(() => ({
      kind: 'reply',
      answers: [rr.cname('www.example.test', 'web.example.test', 50), rr.cname('web.example.test', 'host.example.test', 70), rr.a('host.example.test', '127.0.0.7', 100)],
    }));
    const result = await resolverFor([s.address]).lookup('WWW.example.test.', 'A');
    assert.deepEqual(result, {
      kind: 'records',
      records: [{ name: 'host.example.test', ttl: 100, data: { type: 'A', address: '127.0.0.7' } }],
      cnames: [
        { name: 'www.example.test', ttl: 50, data: { type: 'CNAME', target: 'web.example.test' } },
        { name: 'web.example.test', ttl: 70, data: { type: 'CNAME', target: 'host.example.test' } },
      ],
      ttl: 50,
    });
    assert.equal(s.queries.length, 1);
  });

  it('asks for the target when the answer stops at a CNAME', async () => {
    const s = await server((q) =>
      q.name === 'alias.example.test'
        ? { kind: 'reply', answers: [rr.cname('alias.example.test', 'real.other.test')] }
        : { kind: 'reply', answers: [rr.a('real.other.test', '127.0.0.8')] },
    );
    const result = await resolverFor([s.address]).lookup('alias.example.test', 'A');
    assert.equal(result.kind, 'records');
    assert.deepEqual(result.kind === 'records' ? [result.records.map((r) => r.name), result.cnames.map((c) => c.name)] : null, [['real.other.test'], ['alias.example.test']]);
    assert.deepEqual(s.queries.map((q) => q.name), ['alias.example.test', 'real.other.test']);
  });

  it('takes a CNAME whose target the reply says has no data as nodata, without asking again', async () => {
    const s = await server(() => ({ kind: 'reply', answers: [rr.cname('alias.example.test', 'real.example.test')], authorities: [SOA] }));
    const result = await resolverFor([s.address]).lookup('alias.example.test', 'AAAA');
    assert.equal(result.kind, 'nodata');
    assert.equal(result.kind === 'nodata' ? result.cnames.length : -1, 1);
    assert.equal(s.queries.length, 1);
  });

  it('returns nxdomain for a CNAME whose target does not exist', async () => {
    const s = await server(() => ({ kind: 'reply', rcode: 'NXDOMAIN', answers: [rr.cname('alias.example.test', 'gone.example.test')], authorities: [SOA] }));
    const result = await resolverFor([s.address]).lookup('alias.example.test', 'A');
    assert.deepEqual(result, { kind: 'nxdomain', cnames: [{ name: 'alias.example.test', ttl: 300, data: { type: 'CNAME', target: 'gone.example.test' } }] });
  });

  it('returns the CNAME itself when CNAME is the type asked', async () => {
    const s = await server(() => ({ kind: 'reply', answers: [rr.cname('alias.example.test', 'real.example.test')] }));
    const result = await resolverFor([s.address]).lookup('alias.example.test', 'CNAME');
    assert.equal(result.kind === 'records' ? result.records[0]?.data.type : result.kind, 'CNAME');
  });

  it('reports a loop across queries as temporary', async () => {
    const s = await server((q) =>
      q.name === 'a.example.test'
        ? { kind: 'reply', answers: [rr.cname('a.example.test', 'b.example.test')] }
        : { kind: 'reply', answers: [rr.cname('b.example.test', 'a.example.test')] },
    );
    const result = await resolverFor([s.address]).lookup('a.example.test', 'A');
    assert.equal(result.kind, 'temporary');
    assert.match(result.kind === 'temporary' ? result.reason : '', /CNAME loop/);
    assert.equal(s.queries.length, 2);
  });

  it('reports a loop inside one answer as temporary', async () => {
    const s = await server(() => ({ kind: 'reply', answers: [rr.cname('a.example.test', 'a.example.test')] }));
    const result = await resolverFor([s.address]).lookup('a.example.test', 'A');
    assert.equal(result.kind, 'temporary');
  });

  for (const [hops, want] of [[8, 'records'], [9, 'temporary']] as const) {
    it(`${want === 'records' ? 'follows' : 'gives up on'} a chain of ${hops} CNAMEs asked one query at a time`, async () => {
      const s = await server((q) => {
        const n = Number(/^c(\d+)\./.exec(q.name)?.[1] ?? '-1');
        return n < hops
          ? { kind: 'reply', answers: [rr.cname(q.name, `c${n + 1}.example.test`)] }
          : { kind: 'reply', answers: [rr.a(q.name, '127.0.0.9')] };
      });
      const result = await resolverFor([s.address]).lookup('c0.example.test', 'A');
      assert.equal(result.kind, want);
      if (result.kind === 'records') assert.equal(result.cnames.length, hops);
    });
  }
});

describe('the cache', () => {
  it('answers a repeated lookup from the cache with the TTL counted down, and asks again after it expires', async () => {
    const clock = fakeClock();
    const s = await server(() => ({ kind: 'reply', answers: [rr.a('example.test', '127.0.0.5', 300)] }));
    const resolver = resolverFor([s.address], { now: clock.now });
    await resolver.lookup('example.test', 'A');
    clock.advance(100);
    const again = await resolver.lookup('EXAMPLE.test', 'A');
    assert.equal(s.queries.length, 1);
    assert.equal(again.kind === 'records' ? again.ttl : -1, 200);
    assert.equal(again.kind === 'records' ? again.records[0]?.ttl : -1, 200);
    clock.advance(199);
    await resolver.lookup('example.test', 'A');
    assert.equal(s.queries.length, 1, 'still valid one second before expiry');
    clock.advance(1);
    await resolver.lookup('example.test', 'A');
    assert.equal(s.queries.length, 2, 'expired after 300 s');
  });

  it('keeps types apart', async () => {
    const s = await server((q) => ({ kind: 'reply', answers: q.type === 'A' ? [rr.a('example.test', '127.0.0.5')] : [], authorities: q.type === 'A' ? [] : [SOA] }));
    const resolver = resolverFor([s.address]);
    assert.equal((await resolver.lookup('example.test', 'A')).kind, 'records');
    assert.equal((await resolver.lookup('example.test', 'AAAA')).kind, 'nodata');
    assert.equal(s.queries.length, 2);
  });

  it('caches a negative answer for min(SOA TTL, SOA MINIMUM) (RFC 2308 §5)', async () => {
    const clock = fakeClock();
    const s = await server(() => ({ kind: 'reply', rcode: 'NXDOMAIN', authorities: [rr.soa('example.test', 60, 3600)] }));
    const resolver = resolverFor([s.address], { now: clock.now });
    await resolver.lookup('nosuch.example.test', 'MX');
    clock.advance(59);
    assert.equal((await resolver.lookup('nosuch.example.test', 'MX')).kind, 'nxdomain');
    assert.equal(s.queries.length, 1);
    clock.advance(1);
    await resolver.lookup('nosuch.example.test', 'MX');
    assert.equal(s.queries.length, 2);
  });

  it('uses the SOA record TTL when it is below the minimum', async () => {
    const clock = fakeClock();
    const s = await server(() => ({ kind: 'reply', authorities: [rr.soa('example.test', 3600, 30)] }));
    const resolver = resolverFor([s.address], { now: clock.now });
    await resolver.lookup('example.test', 'AAAA');
    clock.advance(29);
    await resolver.lookup('example.test', 'AAAA');
    assert.equal(s.queries.length, 1);
    clock.advance(1);
    await resolver.lookup('example.test', 'AAAA');
    assert.equal(s.queries.length, 2);
  });

  it('does not cache a negative answer without an SOA', async () => {
    const s = await server(() => ({ kind: 'reply', rcode: 'NXDOMAIN' }));
    const resolver = resolverFor([s.address]);
    await resolver.lookup('nosuch.example.test', 'A');
    await resolver.lookup('nosuch.example.test', 'A');
    assert.equal(s.queries.length, 2);
  });

  it('caps a long TTL at one day', async () => {
    const clock = fakeClock();
    const s = await server(() => ({ kind: 'reply', answers: [rr.a('example.test', '127.0.0.5', 7 * 86_400)] }));
    const resolver = resolverFor([s.address], { now: clock.now });
    await resolver.lookup('example.test', 'A');
    clock.advance(86_399);
    await resolver.lookup('example.test', 'A');
    assert.equal(s.queries.length, 1);
    clock.advance(1);
    await resolver.lookup('example.test', 'A');
    assert.equal(s.queries.length, 2);
  });

  it('does not cache temporary failures', async () => {
    let fail = true;
    const s = await server(() => (fail ? { kind: 'reply', rcode: 'SERVFAIL' } : { kind: 'reply', answers: [rr.a('example.test', '127.0.0.5')] }));
    const resolver = resolverFor([s.address]);
    assert.equal((await resolver.lookup('example.test', 'A')).kind, 'temporary');
    fail = false;
    assert.equal((await resolver.lookup('example.test', 'A')).kind, 'records');
  });

  it('caches the target of a followed CNAME under its own name too', async () => {
    const s = await server((q) =>
      q.name === 'alias.example.test'
        ? { kind: 'reply', answers: [rr.cname('alias.example.test', 'real.other.test')] }
        : { kind: 'reply', answers: [rr.a('real.other.test', '127.0.0.8')] },
    );
    const resolver = resolverFor([s.address]);
    await resolver.lookup('alias.example.test', 'A');
    await resolver.lookup('real.other.test', 'A');
    await resolver.lookup('alias.example.test', 'A');
    assert.equal(s.queries.length, 2);
  });

  it('lets concurrent identical lookups share one query', async () => {
    const s = await server(() => ({ kind: 'reply', answers: [rr.a('example.test', '127.0.0.5')], delayMs: 50 }));
    const resolver = resolverFor([s.address]);
    const results = await Promise.all(Array.from({ length: 5 }, () => resolver.lookup('Example.test', 'A')));
    assert.equal(s.queries.length, 1);
    for (const r of results) assert.equal(r.kind, 'records');
  });

  it('evicts the oldest entries beyond maxCacheEntries', async () => {
    const s = await server((q) => ({ kind: 'reply', answers: [rr.a(q.name, '127.0.0.5')] }));
    const resolver = resolverFor([s.address], { maxCacheEntries: 2 });
    for (const name of ['a.test', 'b.test', 'c.test', 'a.test']) await resolver.lookup(name, 'A');
    assert.equal(s.count('a.test'), 2);
  });
});

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-resolver-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the nameservers of the resolv.conf file when no servers are given', async () => {
    const path = join(dir, 'resolv.conf');
    // Port 53 on an unused loopback address: nothing listens, so the query is refused at once.
    writeFileSync(path, '# test\nnameserver 127.211.83.1\n');
    const result: LookupResult = await createResolver({ servers: null, resolvConfPath: path, timeoutMs: 500, attempts: 1 }).lookup('example.test', 'A');
    assert.equal(result.kind, 'temporary');
    assert.match(result.kind === 'temporary' ? result.reason : '', /127\.211\.83\.1:53/);
  });

  for (const [what, options] of [
    ['an empty server list', { servers: [] }],
    ['a zero timeout', { timeoutMs: 0 }],
    ['zero attempts', { attempts: 0 }],
    ['a server that is not an IP address', { servers: [{ host: 'dns.example.test', port: 53 }] }],
  ] as const) {
    it(`refuses ${what} at construction`, () => {
      assert.throws(
        () => createResolver({ servers: [{ host: '127.0.0.1', port: 53 }], timeoutMs: 100, attempts: 1, ...options }),
        (err: unknown) => isPosternError(err, 'POSTERN_CONFIG'),
      );
    });
  }

  it('rejects a name that cannot be a DNS name', async () => {
    const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: 53 }], timeoutMs: 100, attempts: 1 });
    await assert.rejects(resolver.lookup(`${'a'.repeat(64)}.test`, 'A'), (err: unknown) => isPosternError(err, 'POSTERN_DNS_PERMANENT'));
    await assert.rejects(resolver.lookup('a..test', 'A'), (err: unknown) => isPosternError(err, 'POSTERN_DNS_PERMANENT'));
  });
});

describe('canonicalAddress', () => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['not an address', 'not an address'],
  ];
  for (const [input, want] of cases) {
    it(`writes ${input} as ${want}`, () => assert.equal(canonicalAddress(input), want));
  }
});
