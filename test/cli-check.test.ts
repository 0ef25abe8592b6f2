/**
 * `postern check` end to end, against real Postern nodes resolving through a Postern DNS server
 * that publishes a scenario's zones: 2-datacenters with all four hosts up (and then with smtp4
 * replaced by a backup that accepts every recipient), and 6-edge's odd domains. One file, one
 * scenario after the other: the zones fix the hosts' addresses, which other test files use too (on
 * port 2525; these nodes listen on 2626).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer } from 'smtp-server';
import { runCommand, scenarioDns } from './helpers/postern.ts';
import { silentListener, startNode, type LabNode, type NodeSpec } from './helpers/lab.ts';
import { startFakeSmtpServer } from './helpers/fake-smtp-server.ts';
import { tempDir } from './helpers/postern.ts';
import type { RunningPostern } from '../src/main.ts';
import { ensureSelfSignedCertificate } from '../src/tls/index.ts';
import { judge, probeSmtp } from '../src/check/index.ts';
import type { CheckRow, SmtpProbeResult, Verdict } from '../src/check/index.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const PORT = 2626;
const USER = 'user@domain.test';

interface JsonReport {
  domain: string;
  verdict: Verdict;
  rows: CheckRow[];
}

async function check(domain: string, resolver: string, ...extra: string[]): Promise<{ status: number; report: JsonReport; stderr: string }> {
  const r = await runCommand(['check', domain, '--resolver', resolver, '--port', String(PORT), '--timeout', '5000', '--json', ...extra]);
  assert.equal(r.stderr.includes('postern:'), false, r.stderr);
  return { status: r.status, report: JSON.parse(r.stdout) as JsonReport, stderr: r.stderr };
}

/** The verdict of the one row of `check` whose subject includes `subject`. */
function verdictOf(report: JsonReport, check: CheckRow['check'], subject: string): Verdict {
  const rows = report.rows.filter((r) => r.check === check && r.subject.includes(subject));
  assert.equal(rows.length, 1, `one ${check} row for ${subject}, in ${JSON.stringify(report.rows, null, 1)}`);
  return rows[0]?.verdict ?? 'ok';
}

function rowsOf(report: JsonReport, check: CheckRow['check']): CheckRow[] {
  return report.rows.filter((r) => r.check === check);
}

function onPort(spec: NodeSpec): NodeSpec {
  const address = spec.address ?? '';
  return { ...spec, config: { ...spec.config, smtp: { listen: [`${address}:${PORT}`], outbound_port: PORT } } };
}

describe('postern check against scenario 2-datacenters', () => {
  let dns: RunningPostern;
  let resolver: string;
  const nodes = new Map<string, LabNode>();
  const washington = (n: string, address: string): NodeSpec => onPort({ hostname: `${n}.domain.test`, address, domains: [['domain.test', 'primary']], accounts: [USER] });
  const dallas = (hostname: string, address: string): NodeSpec => onPort({ hostname, address, domains: [['domain.test', 'backup']] });

  before(async () => {
    ({ postern: dns, resolver } = await scenarioDns('2-datacenters'));
    nodes.set('smtp1', await startNode(washington('smtp1', '127.20.20.1'), resolver));
    nodes.set('smtp2', await startNode(washington('smtp2', '127.20.20.2'), resolver));
    // Dallas verifies recipients with Washington by RCPT callout, as the tutorial's backup MX should.
    nodes.set('smtp3', await startNode(dallas('smtp3.domain.test', '127.30.30.1'), resolver));
    nodes.set('smtp4', await startNode(dallas('smtp4.otherdomain.test', '127.30.30.2'), resolver));
  });
  after(async () => {
    for (const n of nodes.values()) await n.postern.stop();
    await dns?.stop();
  });

  it('passes the MX records, both groups, every host, and the backups that refuse unknown recipients', async () => {
    const { status, report, stderr } = await check('domain.test', resolver);
    assert.equal(report.verdict, 'warn', JSON.stringify(report.rows, null, 1));
    assert.equal(status, 0);
    assert.equal(verdictOf(report, 'mx.records', 'domain.test'), 'ok');
    const groups = rowsOf(report, 'mx.group');
    assert.deepEqual(groups.map((g) => [g.subject, g.verdict]), [['preference 10', 'ok'], ['preference 20', 'ok']]);
    assert.match(groups[0]?.finding ?? '', /smtp1\.domain\.test, smtp2\.domain\.test: primary, load-balanced/);
    assert.match(groups[1]?.finding ?? '', /backup group: used only when no host of preference 10 answers/);
    for (const host of ['smtp1.domain.test', 'smtp2.domain.test', 'smtp3.domain.test', 'smtp4.otherdomain.test']) assert.equal(verdictOf(report, 'mx.host', host), 'ok');
    for (const address of ['127.20.20.1', '127.20.20.2', '127.30.30.1', '127.30.30.2']) {
      assert.equal(verdictOf(report, 'smtp.connect', address), 'ok');
      // A Postern node without a configured certificate makes a self-signed one for its hostname.
      const tls = report.rows.find((r) => r.check === 'smtp.tls' && r.subject.includes(address));
      assert.equal(tls?.verdict, 'warn');
      assert.match(tls?.finding ?? '', /self-signed/);
      assert.doesNotMatch(tls?.finding ?? '', /does not cover/);
      // The scenario publishes no PTR records: the reverse lookup is refused.
      assert.equal(verdictOf(report, 'smtp.ptr', address), 'warn');
    }
    const backups = rowsOf(report, 'backup.rcpt');
    assert.deepEqual(backups.map((b) => [b.subject, b.verdict]), [
      [`smtp3.domain.test [127.30.30.1]:${PORT}`, 'ok'],
      [`smtp4.otherdomain.test [127.30.30.2]:${PORT}`, 'ok'],
    ]);
    for (const b of backups) assert.match(b.finding, /refuses a made-up recipient \(RCPT TO:<postern-check-[0-9a-f]+@domain\.test> → 550/);
    assert.equal(verdictOf(report, 'spf', 'domain.test'), 'warn');
    assert.equal(verdictOf(report, 'dmarc', '_dmarc.domain.test'), 'warn');
    assert.match(stderr, /checking MX records of domain\.test/);
    assert.match(stderr, /checking SMTP smtp3\.domain\.test 127\.30\.30\.1:2626 \(with a made-up recipient\)/);
  });

  it('prints a readable table, a verdict per line, with what to change', async () => {
    const r = await runCommand(['check', 'domain.test', '--resolver', resolver, '--port', String(PORT), '--timeout', '5000']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Mail health check of domain\.test \(SMTP port 2626\)$/m);
    assert.match(r.stdout, /^ {2}ok {4}MX records +domain\.test +10 smtp1\.domain\.test, 10 smtp2\.domain\.test, 20 smtp3\.domain\.test, 20 smtp4\.otherdomain\.test$/m);
    assert.match(r.stdout, /^smtp1\.domain\.test \[127\.20\.20\.1\]:2626$/m);
    assert.match(r.stdout, /^ {2}WARN {2}SPF .*no SPF record/m);
    assert.match(r.stdout, /→ publish TXT "v=spf1 mx -all"/);
    assert.match(r.stdout, /^WARN: \d+ ok, \d+ warnings, 0 failures$/m);
  });

  it('takes the resolvers, the SMTP port and its EHLO name from a config', async () => {
    const config = `${nodes.get('smtp1')?.dir ?? ''}/postern.toml`;
    const r = await runCommand(['check', 'domain.test', '--json'], { POSTERN_CONFIG: config });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as JsonReport & { port: number };
    assert.equal(report.port, PORT);
    assert.equal(verdictOf(report, 'smtp.connect', '127.30.30.2'), 'ok');
  });

  it('refuses a malformed --resolver or --port with a usage message', async () => {
    const bad = await runCommand(['check', 'domain.test', '--resolver', 'dns.example:53']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--resolver: .*not an IP address/);
    const port = await runCommand(['check', 'domain.test', '--resolver', resolver, '--port', '99999']);
    assert.equal(port.status, 1);
    assert.match(port.stderr, /--port: expected a whole number from 1 to 65535/);
  });

  it('fails the backup row when a backup MX accepts any recipient', async () => {
    await nodes.get('smtp4')?.postern.stop();
    nodes.delete('smtp4');
    const rcpts: string[] = [];
    const acceptAll = new SMTPServer({
      banner: 'open backup',
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        rcpts.push(address.address);
        callback();
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(new Error('no DATA expected')));
      },
    });
    await new Promise<void>((resolve, reject) => {
      acceptAll.once('error', reject);
      acceptAll.listen(PORT, '127.30.30.2', () => resolve());
    });
    try {
      const { status, report } = await check('domain.test', resolver);
      assert.equal(status, 1);
      assert.equal(report.verdict, 'fail');
      assert.equal(verdictOf(report, 'backup.rcpt', '127.30.30.1'), 'ok');
      const open = report.rows.find((r) => r.check === 'backup.rcpt' && r.subject.includes('127.30.30.2'));
      assert.equal(open?.verdict, 'fail');
      assert.match(open?.finding ?? '', /accepts a made-up recipient .*backscatter/);
      assert.equal(rcpts.length, 1);
      assert.match(rcpts[0] ?? '', /^postern-check-[0-9a-f]+@domain\.test$/);
      assert.equal(verdictOf(report, 'smtp.tls', '127.30.30.2'), 'warn');
      assert.equal(verdictOf(report, 'smtp.connect', '127.30.30.2'), 'ok');
    } finally {
      await new Promise<void>((resolve) => acceptAll.close(() => resolve()));
    }
  });
});

describe('postern check against scenario 6-edge', () => {
  let dns: RunningPostern;
  let resolver: string;
  let real: LabNode;

  before(async () => {
    ({ postern: dns, resolver } = await scenarioDns('6-edge'));
    real = await startNode(onPort({ hostname: 'real.edge.test', address: '127.70.0.2', domains: [['skip.edge.test', 'primary'], ['alias.edge.test', 'primary']], accounts: ['x@skip.edge.test', 'x@alias.edge.test'] }), resolver);
  });
  after(async () => {
    await real?.postern.stop();
    await dns?.stop();
  });

  it('fails a null MX, with nothing to connect to', async () => {
    const { status, report } = await check('nullmx.edge.test', resolver);
    assert.equal(status, 1);
    assert.equal(verdictOf(report, 'mx.records', 'nullmx.edge.test'), 'fail');
    assert.match(rowsOf(report, 'mx.records')[0]?.finding ?? '', /null MX .*RFC 7505/);
    assert.equal(rowsOf(report, 'smtp.connect').length, 0);
  });

  it('warns about an MX host without an address and checks the one that has one', async () => {
    const { status, report } = await check('skip.edge.test', resolver);
    assert.equal(status, 0, JSON.stringify(report.rows, null, 1));
    assert.equal(verdictOf(report, 'mx.records', 'skip.edge.test'), 'ok');
    assert.equal(verdictOf(report, 'mx.host', 'ghost.edge.test'), 'warn');
    assert.equal(verdictOf(report, 'mx.host', 'real.edge.test'), 'ok');
    assert.equal(verdictOf(report, 'smtp.connect', '127.70.0.2'), 'ok');
    // With the preference 10 host unusable, real is the primary in all but name: no backup probe.
    assert.equal(rowsOf(report, 'backup.rcpt').length, 0);
  });

  it('warns about an MX that names a CNAME (RFC 2181 §10.3) and still checks the host behind it', async () => {
    const { status, report } = await check('alias.edge.test', resolver);
    assert.equal(status, 0);
    assert.equal(verdictOf(report, 'mx.host', 'mx-alias.edge.test'), 'warn');
    assert.match(rowsOf(report, 'mx.host')[0]?.finding ?? '', /alias \(CNAME\) of real\.edge\.test.*RFC 2181 §10\.3/);
    assert.equal(verdictOf(report, 'smtp.connect', '127.70.0.2'), 'ok');
  });

  it('fails a domain whose only MX host cannot be resolved for now (lame delegation)', async () => {
    const { status, report } = await check('lame.edge.test', resolver);
    assert.equal(status, 1);
    assert.equal(verdictOf(report, 'mx.records', 'lame.edge.test'), 'fail');
    assert.equal(verdictOf(report, 'mx.host', 'mx.lame.test'), 'fail');
    assert.match(rowsOf(report, 'mx.host')[0]?.finding ?? '', /address lookup failed/);
  });

  it('warns about an implicit MX and fails the host that does not answer SMTP', async () => {
    // ns1.edge.test has an A record and no MX: its own mail host, where nothing listens on 2626.
    const { status, report } = await check('ns1.edge.test', resolver);
    assert.equal(status, 1);
    assert.equal(verdictOf(report, 'mx.records', 'ns1.edge.test'), 'warn');
    assert.equal(verdictOf(report, 'smtp.connect', '127.0.0.53'), 'fail');
  });

  it('fails a domain that does not exist', async () => {
    const { status, report } = await check('nosuch.edge.test', resolver);
    assert.equal(status, 1);
    assert.equal(verdictOf(report, 'mx.records', 'nosuch.edge.test'), 'fail');
    assert.match(rowsOf(report, 'mx.records')[0]?.finding ?? '', /NXDOMAIN/);
  });
});

describe('the SMTP probe over real sockets', () => {
  const HOST = '127.68.0.1';
  const now = new Date();
  /** The smtp.connect and smtp.tls verdicts a probe result gets for mx.check.test. */
  const verdictsFor = (smtp: SmtpProbeResult): Array<[string, Verdict]> =>
    judge(
      {
        domain: 'check.test',
        port: 25,
        plan: { kind: 'targets', domain: 'check.test', implicit: false, mx: [{ exchange: 'mx.check.test', preference: 10, ttl: 300 }], targets: [{ host: 'mx.check.test', preference: 10, addresses: [HOST], viaCname: false, canonicalHost: 'mx.check.test', problems: [] }], skipped: [], selfPreference: null },
        hosts: [{ host: 'mx.check.test', preference: 10, backup: false, addresses: [{ address: HOST, ptr: { kind: 'none' }, smtp }] }],
        spf: { kind: 'none' },
        dmarc: { kind: 'none' },
      },
      { now },
    )
      .rows.filter((r) => r.check === 'smtp.connect' || r.check === 'smtp.tls')
      .map((r) => [r.check, r.verdict]);

  it('reads an expired certificate for another name and fails it', async () => {
    // Made as of 2020: long expired now, and it names other.test, not mx.check.test.
    const old = await ensureSelfSignedCertificate(tempDir('check-cert'), 'other.test', new Date('2020-01-01T00:00:00Z'));
    const server = await startFakeSmtpServer({ host: HOST, extensions: ['STARTTLS', 'PIPELINING'], starttls: { key: old.key, cert: old.cert } });
    try {
      const result = await probeSmtp({ host: 'mx.check.test', address: HOST, port: server.port, helo: 'checker.test', timeoutMs: 5000, rcpt: null });
      assert.equal(result.kind, 'open');
      if (result.kind !== 'open') return;
      assert.equal(result.tls, true);
      assert.equal(result.certificate?.kind, 'certificate');
      if (result.certificate?.kind !== 'certificate') return;
      const c = result.certificate.certificate;
      assert.deepEqual(c.names, ['other.test']);
      assert.equal(c.nameMatches, false);
      assert.equal(c.selfSigned, true);
      assert.equal(c.trusted, false);
      assert.ok(new Date(c.validTo).getTime() < now.getTime());
      assert.deepEqual(verdictsFor(result), [['smtp.connect', 'ok'], ['smtp.tls', 'fail']]);
      // One session through the SMTP client, one more for the certificate; neither sent MAIL.
      assert.equal(server.sessions.length, 2);
      assert.equal(server.sessions.flatMap((s) => s.commands).some((c) => c.startsWith('MAIL')), false);
    } finally {
      await server.close();
    }
  });

  it('fails a STARTTLS that is offered and then breaks', async () => {
    const server = await startFakeSmtpServer({ host: HOST, extensions: ['STARTTLS'], starttls: 'garbage' });
    try {
      const result = await probeSmtp({ host: 'mx.check.test', address: HOST, port: server.port, helo: 'checker.test', timeoutMs: 5000, rcpt: null });
      assert.equal(result.kind, 'open');
      if (result.kind !== 'open') return;
      assert.equal(result.tls, false);
      assert.notEqual(result.tlsFailure, null);
      assert.deepEqual(verdictsFor(result), [['smtp.connect', 'ok'], ['smtp.tls', 'fail']]);
    } finally {
      await server.close();
    }
  });

  it('gives up on a host that never greets, within its timeout', async () => {
    const silent = await silentListener(HOST, 2626);
    try {
      const started = Date.now();
      const result = await probeSmtp({ host: 'mx.check.test', address: HOST, port: 2626, helo: 'checker.test', timeoutMs: 300, rcpt: null });
      assert.equal(result.kind, 'failed');
      if (result.kind !== 'failed') return;
      assert.equal(result.stage, 'greeting');
      assert.ok(Date.now() - started < 10_000);
      assert.deepEqual(verdictsFor(result), [['smtp.connect', 'fail']]);
    } finally {
      await silent.close();
    }
  });
});
