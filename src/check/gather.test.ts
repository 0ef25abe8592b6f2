import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reply } from '../core/smtp-reply.ts';
import { checkDomain, gatherFacts, reverseName } from './gather.ts';
import type { SmtpProbeRequest, SmtpProbeResult, SmtpProber } from './types.ts';
import { tableResolver } from '../../test/helpers/table-resolver.ts';

/** Answers every probe with an open session; a RCPT gets `rcptCode`. Records the requests. */
function fakeProber(rcptCode = 550): SmtpProber & { requests: SmtpProbeRequest[] } {
  const requests: SmtpProbeRequest[] = [];
  return {
    requests,
    async probe(request): Promise<SmtpProbeResult> {
      requests.push(request);
      return {
        kind: 'open',
        greeting: reply(220, null, `${request.host} ESMTP`),
        esmtp: true,
        extensions: [],
        startTlsOffered: false,
        tls: false,
        tlsFailure: null,
        openMs: 1,
        certificate: null,
        rcpt: request.rcpt === null ? null : { kind: 'reply', recipient: request.rcpt, reply: reply(rcptCode, null, 'x'), ms: 1 },
      };
    },
  };
}

const ZONE = [
  'd.test MX 10 a.d.test',
  'd.test MX 10 b.d.test',
  'd.test MX 20 backup.d.test',
  'a.d.test A 192.0.2.1',
  'b.d.test A 192.0.2.2',
  'backup.d.test A 192.0.2.3',
  'backup.d.test AAAA 2001:db8::3',
  '1.2.0.192.in-addr.arpa PTR a.d.test',
  '2.2.0.192.in-addr.arpa PTR elsewhere.d.test',
  'd.test TXT v=spf1 mx -all',
  '_dmarc.d.test TXT v=DMARC1; p=none',
];

describe('gathering the facts', () => {
  it('probes every address, by preference then name, and asks RCPT only of the backups', async () => {
    const smtp = fakeProber();
    const facts = await gatherFacts('D.TEST.', { resolver: tableResolver(ZONE), smtp, port: 2626, helo: 'checker.test', timeoutMs: 1000, token: () => 'abc' });
    assert.equal(facts.domain, 'd.test');
    assert.deepEqual(
      smtp.requests.map((r) => [r.host, r.address, r.port, r.helo, r.rcpt]),
      [
        ['a.d.test', '192.0.2.1', 2626, 'checker.test', null],
        ['b.d.test', '192.0.2.2', 2626, 'checker.test', null],
        ['backup.d.test', '2001:db8::3', 2626, 'checker.test', 'postern-check-abc@d.test'],
        ['backup.d.test', '192.0.2.3', 2626, 'checker.test', 'postern-check-abc@d.test'],
      ],
    );
    assert.deepEqual(facts.hosts.map((h) => [h.host, h.backup]), [['a.d.test', false], ['b.d.test', false], ['backup.d.test', true]]);
    assert.deepEqual(facts.spf, { kind: 'records', texts: ['v=spf1 mx -all'] });
    assert.deepEqual(facts.dmarc, { kind: 'records', texts: ['v=DMARC1; p=none'] });
  });

  it('looks up each PTR name forward, to confirm it points back', async () => {
    const facts = await gatherFacts('d.test', { resolver: tableResolver(ZONE), smtp: fakeProber(), port: 25, helo: 'c.test', timeoutMs: 1000 });
    const ptrs = facts.hosts.flatMap((h) => h.addresses.map((a) => [a.address, a.ptr]));
    assert.deepEqual(ptrs, [
      ['192.0.2.1', { kind: 'names', names: [{ name: 'a.d.test', addresses: ['192.0.2.1'], problem: null }] }],
      ['192.0.2.2', { kind: 'names', names: [{ name: 'elsewhere.d.test', addresses: [], problem: null }] }],
      ['2001:db8::3', { kind: 'none' }],
      ['192.0.2.3', { kind: 'none' }],
    ]);
  });

  it('announces each network step before it waits', async () => {
    const steps: string[] = [];
    await gatherFacts('d.test', { resolver: tableResolver(ZONE), smtp: fakeProber(), port: 25, helo: 'c.test', timeoutMs: 1000, progress: (s) => steps.push(s) });
    assert.deepEqual(steps, [
      'MX records of d.test',
      'PTR of 192.0.2.1',
      'SMTP a.d.test 192.0.2.1:25',
      'PTR of 192.0.2.2',
      'SMTP b.d.test 192.0.2.2:25',
      'PTR of 2001:db8::3',
      'SMTP backup.d.test [2001:db8::3]:25 (with a made-up recipient)',
      'PTR of 192.0.2.3',
      'SMTP backup.d.test 192.0.2.3:25 (with a made-up recipient)',
      'SPF (TXT) of d.test',
      'DMARC (TXT) of _dmarc.d.test',
    ]);
  });

  it('talks to no host when the domain has a null MX', async () => {
    const smtp = fakeProber();
    const facts = await gatherFacts('n.test', { resolver: tableResolver(['n.test MX 0 .']), smtp, port: 25, helo: 'c.test', timeoutMs: 1000 });
    assert.equal(facts.plan.kind, 'null-mx');
    assert.equal(smtp.requests.length, 0);
  });

  it('keeps a TXT lookup that fails for now apart from a missing record', async () => {
    const facts = await gatherFacts('d.test', { resolver: tableResolver(ZONE, ['_dmarc.d.test TXT']), smtp: fakeProber(), port: 25, helo: 'c.test', timeoutMs: 1000 });
    assert.equal(facts.dmarc.kind, 'temporary');
  });

  it('ends in a failing report when a backup accepts the made-up recipient', async () => {
    const report = await checkDomain('d.test', { resolver: tableResolver(ZONE), smtp: fakeProber(250), port: 25, helo: 'c.test', timeoutMs: 1000, now: () => new Date('2026-11-29T00:00:00Z') });
    assert.equal(report.verdict, 'fail');
    assert.deepEqual(report.rows.filter((r) => r.check === 'backup.rcpt').map((r) => r.verdict), ['fail', 'fail']);
  });
});

describe('reverse lookup names', () => {
  const cases: Array<[string, string | null]> = [
    ['192.0.2.1', '1.2.0.192.in-addr.arpa'],
    ['::ffff:192.0.2.1', '1.2.0.192.in-addr.arpa'],
    ['2001:db8::3', '3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
    ['::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa'],
    ['fe80::', '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa'],
    ['mail.example.com', null],
  ];
  for (const [address, want] of cases) it(`${address} → ${want}`, () => assert.equal(reverseName(address), want));
});
