import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reply } from '../core/smtp-reply.ts';
import type { MxPlan, MxTarget } from '../dns/mx.ts';
import { backupRow, certificateRow, greetingName, judge, mxRows, ptrRow, worst } from './judge.ts';
import type { CertificateInfo, CheckFacts, CheckRow, PtrFacts, SmtpProbeResult, Verdict } from './types.ts';

const NOW = new Date('2026-11-29T12:00:00Z');

function target(host: string, preference: number, addresses: string[], extra: Partial<MxTarget> = {}): MxTarget {
  return { host, preference, addresses, viaCname: false, canonicalHost: host, problems: [], ...extra };
}

function mx(...records: Array<[number, string]>): Array<{ exchange: string; preference: number; ttl: number }> {
  return records.map(([preference, exchange]) => ({ exchange, preference, ttl: 300 }));
}

/** [check, subject, verdict] of each row. */
function verdicts(rows: CheckRow[]): Array<[string, string, Verdict]> {
  return rows.map((r) => [r.check, r.subject, r.verdict]);
}

describe('MX verdicts', () => {
  const cases: Array<[string, MxPlan, Array<[string, string, Verdict]>]> = [
    ['fails a domain that does not exist', { kind: 'no-such-domain', domain: 'x.test' }, [['mx.records', 'x.test', 'fail']]],
    ['fails a null MX (RFC 7505)', { kind: 'null-mx', domain: 'x.test', mx: mx([0, '.']) }, [['mx.records', 'x.test', 'fail']]],
    ['fails when the MX lookup itself fails for now', { kind: 'temporary', domain: 'x.test', reason: 'SERVFAIL', mx: [], skipped: [] }, [['mx.records', 'x.test', 'fail']]],
    ['fails a domain with neither MX nor address', { kind: 'no-mail-host', domain: 'x.test', implicit: true, mx: [], skipped: [] }, [['mx.records', 'x.test', 'fail']]],
    [
      'warns about an implicit MX',
      { kind: 'targets', domain: 'x.test', implicit: true, mx: [], targets: [target('x.test', 0, ['192.0.2.1'])], skipped: [], selfPreference: null },
      [['mx.records', 'x.test', 'warn']],
    ],
    [
      'passes one MX host with an address, as the only group',
      { kind: 'targets', domain: 'x.test', implicit: false, mx: mx([10, 'mx.x.test']), targets: [target('mx.x.test', 10, ['192.0.2.1'])], skipped: [], selfPreference: null },
      [
        ['mx.records', 'x.test', 'ok'],
        ['mx.group', 'preference 10', 'ok'],
        ['mx.host', 'mx.x.test', 'ok'],
      ],
    ],
    [
      'warns about an MX naming a CNAME (RFC 2181 §10.3)',
      { kind: 'targets', domain: 'x.test', implicit: false, mx: mx([10, 'alias.x.test']), targets: [target('alias.x.test', 10, ['192.0.2.1'], { viaCname: true, canonicalHost: 'real.x.test' })], skipped: [], selfPreference: null },
      [
        ['mx.records', 'x.test', 'ok'],
        ['mx.group', 'preference 10', 'ok'],
        ['mx.host', 'alias.x.test', 'warn'],
      ],
    ],
    [
      'warns about a host without an address when another host has one',
      {
        kind: 'targets',
        domain: 'x.test',
        implicit: false,
        mx: mx([10, 'ghost.x.test'], [20, 'real.x.test']),
        targets: [target('real.x.test', 20, ['192.0.2.2'])],
        skipped: [{ host: 'ghost.x.test', preference: 10, reason: 'no-address' }],
        selfPreference: null,
      },
      [
        ['mx.records', 'x.test', 'ok'],
        ['mx.group', 'preference 10', 'ok'],
        ['mx.group', 'preference 20', 'ok'],
        ['mx.host', 'ghost.x.test', 'warn'],
        ['mx.host', 'real.x.test', 'ok'],
      ],
    ],
    [
      'fails hosts without addresses when no host has one',
      { kind: 'no-mail-host', domain: 'x.test', implicit: false, mx: mx([10, 'ghost.x.test']), skipped: [{ host: 'ghost.x.test', preference: 10, reason: 'no-address' }] },
      [
        ['mx.records', 'x.test', 'fail'],
        ['mx.group', 'preference 10', 'ok'],
        ['mx.host', 'ghost.x.test', 'fail'],
      ],
    ],
    [
      'fails a host whose lookup fails for now when it is the only one (a lame delegation)',
      { kind: 'temporary', domain: 'x.test', reason: 'no address for now', mx: mx([10, 'mx.lame.test']), skipped: [{ host: 'mx.lame.test', preference: 10, reason: 'temporary', detail: 'REFUSED' }] },
      [
        ['mx.records', 'x.test', 'fail'],
        ['mx.group', 'preference 10', 'ok'],
        ['mx.host', 'mx.lame.test', 'fail'],
      ],
    ],
    [
      'fails an IP address where a host name belongs, even beside a good host',
      {
        kind: 'targets',
        domain: 'x.test',
        implicit: false,
        mx: mx([10, '192.0.2.9'], [10, 'mx.x.test']),
        targets: [target('mx.x.test', 10, ['192.0.2.1'])],
        skipped: [{ host: '192.0.2.9', preference: 10, reason: 'ip-literal' }],
        selfPreference: null,
      },
      [
        ['mx.records', 'x.test', 'ok'],
        ['mx.group', 'preference 10', 'ok'],
        ['mx.host', '192.0.2.9', 'fail'],
        ['mx.host', 'mx.x.test', 'ok'],
      ],
    ],
    [
      'warns about a "." beside real MX hosts (RFC 7505 §3)',
      {
        kind: 'targets',
        domain: 'x.test',
        implicit: false,
        mx: mx([0, '.'], [10, 'mx.x.test']),
        targets: [target('mx.x.test', 10, ['192.0.2.1'])],
        skipped: [{ host: '.', preference: 0, reason: 'null-mx-among-others' }],
        selfPreference: null,
      },
      [
        ['mx.records', 'x.test', 'ok'],
        ['mx.group', 'preference 10', 'ok'],
        ['mx.host', '.', 'warn'],
        ['mx.host', 'mx.x.test', 'ok'],
      ],
    ],
  ];
  for (const [name, plan, want] of cases) it(name, () => assert.deepEqual(verdicts(mxRows(plan)), want));

  it('explains preference groups: a load-balanced pair, then a backup group', () => {
    const plan: MxPlan = {
      kind: 'targets',
      domain: 'x.test',
      implicit: false,
      mx: mx([10, 'a.x.test'], [10, 'b.x.test'], [20, 'c.x.test']),
      targets: [target('a.x.test', 10, ['192.0.2.1']), target('b.x.test', 10, ['192.0.2.2']), target('c.x.test', 20, ['192.0.2.3'])],
      skipped: [],
      selfPreference: null,
    };
    const groups = mxRows(plan).filter((r) => r.check === 'mx.group');
    assert.match(groups[0]?.finding ?? '', /^a\.x\.test, b\.x\.test: primary, load-balanced/);
    assert.match(groups[1]?.finding ?? '', /^c\.x\.test: backup: used only when no host of preference 10 answers/);
  });
});

const greeting = reply(220, null, 'mx.x.test ESMTP');
function open(extra: Partial<Extract<SmtpProbeResult, { kind: 'open' }>> = {}): SmtpProbeResult {
  return { kind: 'open', greeting, esmtp: true, extensions: ['STARTTLS', 'PIPELINING'], startTlsOffered: true, tls: true, tlsFailure: null, openMs: 12, certificate: null, rcpt: null, ...extra };
}

describe('backup MX sanity', () => {
  const recipient = 'postern-check-abc@x.test';
  const cases: Array<[string, SmtpProbeResult, Verdict]> = [
    ['fails a backup that accepts a made-up recipient', open({ rcpt: { kind: 'reply', recipient, reply: reply(250, '2.1.5', 'ok'), ms: 3 } }), 'fail'],
    ['passes a backup that refuses it with 550', open({ rcpt: { kind: 'reply', recipient, reply: reply(550, '5.1.1', 'no such user'), ms: 3 } }), 'ok'],
    ['warns when the backup defers it (it cannot tell for now)', open({ rcpt: { kind: 'reply', recipient, reply: reply(451, '4.4.3', 'try later'), ms: 3 } }), 'warn'],
    ['warns when the conversation broke before the answer', open({ rcpt: { kind: 'error', recipient, reason: 'connection closed' } }), 'warn'],
    ['warns when the backup did not answer at all', { kind: 'failed', stage: 'connect', reason: 'refused', reply: null, ms: 1 }, 'warn'],
  ];
  for (const [name, probe, want] of cases) it(name, () => assert.equal(backupRow('b.x.test', '192.0.2.3', 25, probe).verdict, want));

  it('says why an accepting backup is dangerous', () => {
    const row = backupRow('b.x.test', '192.0.2.3', 25, open({ rcpt: { kind: 'reply', recipient, reply: reply(250, null, 'ok'), ms: 1 } }));
    assert.match(row.finding, /backscatter source and the spammers' way round your checks/);
    assert.match(row.fix ?? '', /refuse unknown recipients at RCPT/);
  });
});

describe('certificate verdicts', () => {
  const good: CertificateInfo = {
    names: ['mx.x.test'],
    issuer: 'R11',
    validFrom: '2026-10-01T00:00:00.000Z',
    validTo: '2027-01-01T00:00:00.000Z',
    selfSigned: false,
    trusted: true,
    trustError: null,
    nameMatches: true,
    protocol: 'TLSv1.3',
    handshakeMs: 5,
  };
  const row = (check: CheckRow['check'], verdict: Verdict, finding: string, fix: string | null): CheckRow => ({ check, section: 's', subject: 'a', verdict, finding, fix });
  const cases: Array<[string, Partial<CertificateInfo>, Verdict, RegExp]> = [
    ['passes a trusted certificate for the host with time left', {}, 'ok', /valid until 2027-01-01 \(32 days\)/],
    ['fails an expired certificate', { validTo: '2026-11-01T00:00:00.000Z' }, 'fail', /EXPIRED on 2026-11-01/],
    ['fails a certificate not valid yet', { validFrom: '2026-12-01T00:00:00.000Z' }, 'fail', /not valid before 2026-12-01/],
    ['warns about a certificate that expires within two weeks', { validTo: '2026-12-05T00:00:00.000Z' }, 'warn', /\(5 days\)/],
    ['warns about a certificate for other names', { names: ['www.x.test'], nameMatches: false }, 'warn', /does not cover mx\.x\.test/],
    ['warns about a self-signed certificate', { trusted: false, selfSigned: true, trustError: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'warn', /self-signed/],
    ['warns about an untrusted issuer', { trusted: false, trustError: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }, 'warn', /not trusted \(UNABLE_TO_GET_ISSUER_CERT_LOCALLY\)/],
  ];
  for (const [name, change, want, finding] of cases) {
    it(name, () => {
      const r = certificateRow({ ...good, ...change }, 'mx.x.test', NOW, row);
      assert.equal(r.verdict, want);
      assert.match(r.finding, finding);
      assert.equal(r.fix === null, want === 'ok');
    });
  }
});

describe('reverse DNS against the greeting', () => {
  const row = (check: CheckRow['check'], verdict: Verdict, finding: string, fix: string | null): CheckRow => ({ check, section: 's', subject: 'a', verdict, finding, fix });
  const confirmed: PtrFacts = { kind: 'names', names: [{ name: 'mx.x.test', addresses: ['192.0.2.1'], problem: null }] };
  const cases: Array<[string, PtrFacts, string | null, Verdict]> = [
    ['passes a forward-confirmed PTR that matches the greeting', confirmed, 'mx.x.test', 'ok'],
    ['passes a forward-confirmed PTR when the host did not greet', confirmed, null, 'ok'],
    ['warns when the greeting names another host', confirmed, 'other.x.test', 'warn'],
    ['warns when the PTR name does not resolve back', { kind: 'names', names: [{ name: 'mx.x.test', addresses: ['192.0.2.99'], problem: null }] }, 'mx.x.test', 'warn'],
    ['warns when there is no PTR', { kind: 'none' }, 'mx.x.test', 'warn'],
    ['warns when the PTR lookup fails', { kind: 'temporary', reason: 'SERVFAIL' }, 'mx.x.test', 'warn'],
  ];
  for (const [name, ptr, greets, want] of cases) it(name, () => assert.equal(ptrRow('192.0.2.1', 'mx.x.test', ptr, greets, row).verdict, want));

  const names: Array<[string, string | null]> = [
    ['mx.x.test ESMTP Postern', 'mx.x.test'],
    ['MX.X.TEST. ready', 'mx.x.test'],
    ['', null],
  ];
  for (const [line, want] of names) it(`reads the greeting name of "${line}"`, () => assert.equal(greetingName(reply(220, null, line)), want));
});

describe('the whole report', () => {
  const plan: MxPlan = {
    kind: 'targets',
    domain: 'x.test',
    implicit: false,
    mx: mx([10, 'mx.x.test'], [20, 'b.x.test']),
    targets: [target('mx.x.test', 10, ['192.0.2.1']), target('b.x.test', 20, ['192.0.2.2'])],
    skipped: [],
    selfPreference: null,
  };
  const ptr: PtrFacts = { kind: 'none' };
  const facts = (backupReply: number): CheckFacts => ({
    domain: 'x.test',
    port: 25,
    plan,
    hosts: [
      { host: 'mx.x.test', preference: 10, backup: false, addresses: [{ address: '192.0.2.1', ptr, smtp: open({ startTlsOffered: false, tls: false, extensions: [] }) }] },
      {
        host: 'b.x.test',
        preference: 20,
        backup: true,
        addresses: [{ address: '192.0.2.2', ptr, smtp: open({ startTlsOffered: false, tls: false, rcpt: { kind: 'reply', recipient: 'postern-check-1@x.test', reply: reply(backupReply, null, 'x'), ms: 1 } }) }],
      },
    ],
    spf: { kind: 'records', texts: ['v=spf1 mx -all'] },
    dmarc: { kind: 'records', texts: ['v=DMARC1; p=reject; rua=mailto:d@x.test'] },
  });

  it('orders rows: MX, then each address, then backups, then SPF and DMARC', () => {
    const report = judge(facts(550), { now: NOW });
    assert.deepEqual(
      report.rows.map((r) => r.check),
      ['mx.records', 'mx.group', 'mx.group', 'mx.host', 'mx.host', 'smtp.connect', 'smtp.tls', 'smtp.ptr', 'smtp.connect', 'smtp.tls', 'smtp.ptr', 'backup.rcpt', 'spf', 'dmarc'],
    );
    assert.equal(report.verdict, 'warn');
    assert.equal(report.rows.find((r) => r.check === 'spf')?.verdict, 'ok');
    assert.equal(report.rows.find((r) => r.check === 'dmarc')?.verdict, 'ok');
  });

  it('is a fail as soon as one row fails', () => {
    assert.equal(judge(facts(250), { now: NOW }).verdict, 'fail');
  });

  it('takes the worst verdict', () => {
    assert.equal(worst([]), 'ok');
    assert.equal(worst(['ok', 'warn', 'ok']), 'warn');
    assert.equal(worst(['warn', 'fail', 'ok']), 'fail');
  });
});

describe('SMTP and TLS verdicts of one address', () => {
  const plan: MxPlan = { kind: 'targets', domain: 'x.test', implicit: false, mx: mx([10, 'mx.x.test']), targets: [target('mx.x.test', 10, ['192.0.2.1'])], skipped: [], selfPreference: null };
  const rowsFor = (smtp: SmtpProbeResult): Array<[string, Verdict]> =>
    judge(
      { domain: 'x.test', port: 25, plan, hosts: [{ host: 'mx.x.test', preference: 10, backup: false, addresses: [{ address: '192.0.2.1', ptr: { kind: 'none' }, smtp }] }], spf: { kind: 'none' }, dmarc: { kind: 'none' } },
      { now: NOW },
    )
      .rows.filter((r) => r.check === 'smtp.connect' || r.check === 'smtp.tls')
      .map((r) => [r.check, r.verdict]);
  const cert: CertificateInfo = { names: ['mx.x.test'], issuer: 'R11', validFrom: '2026-01-01T00:00:00Z', validTo: '2027-06-01T00:00:00Z', selfSigned: false, trusted: true, trustError: null, nameMatches: true, protocol: 'TLSv1.3', handshakeMs: 4 };
  const cases: Array<[string, SmtpProbeResult, Array<[string, Verdict]>]> = [
    ['fails a host that refuses the connection, with no TLS row', { kind: 'failed', stage: 'connect', reason: 'ECONNREFUSED', reply: null, ms: 1 }, [['smtp.connect', 'fail']]],
    ['fails a host that greets with 554', { kind: 'failed', stage: 'greeting', reason: 'server refused the connection', reply: reply(554, null, 'go away'), ms: 1 }, [['smtp.connect', 'fail']]],
    ['passes ESMTP with STARTTLS and a good certificate', open({ certificate: { kind: 'certificate', certificate: cert } }), [['smtp.connect', 'ok'], ['smtp.tls', 'ok']]],
    ['warns about a host that only knows HELO', open({ esmtp: false, extensions: [], startTlsOffered: false, tls: false }), [['smtp.connect', 'warn'], ['smtp.tls', 'warn']]],
    ['warns about a slow greeting', open({ openMs: 9_000, certificate: { kind: 'certificate', certificate: cert } }), [['smtp.connect', 'warn'], ['smtp.tls', 'ok']]],
    ['warns when STARTTLS is not offered', open({ startTlsOffered: false, tls: false }), [['smtp.connect', 'ok'], ['smtp.tls', 'warn']]],
    ['fails STARTTLS that is offered and breaks', open({ tls: false, tlsFailure: 'TLS handshake failed: wrong version number' }), [['smtp.connect', 'ok'], ['smtp.tls', 'fail']]],
    ['warns when the certificate could not be read', open({ certificate: { kind: 'failed', reason: 'no reply to EHLO' } }), [['smtp.connect', 'ok'], ['smtp.tls', 'warn']]],
  ];
  for (const [name, smtp, want] of cases) it(name, () => assert.deepEqual(rowsFor(smtp), want));
});
