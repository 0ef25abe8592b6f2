/**
 * The authoritative DNS server against a real client: BIND's `dig`, asking over UDP and TCP on
 * loopback, for every scenario zone and for the size limits (TC, the TCP retry, EDNS payload).
 * Skipped, with the reason printed, where dig is not installed.
 */
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { buildZoneSet } from '../src/dns/authority.ts';
import { startDnsServer } from '../src/dns/server.ts';
import type { DnsServer } from '../src/dns/server.ts';
import type { HostPort } from '../src/core/host-port.ts';
import { silentLogger } from '../src/core/logger.ts';
import { A, TXT, apex, makeZone, malformedPackets } from './helpers/dns-zones.ts';
import { udpExchange } from './helpers/dns-client.ts';
import { expectedRRsets, loadScenarios, normalizeLine, ttlOf } from './helpers/dns-scenarios.ts';

const SKIP_REASON = 'dig not installed: apt-get install bind9-dnsutils';

function digInstalled(): boolean {
  try {
    execFileSync('dig', ['-v'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
const HAVE_DIG = digInstalled();

/** dig's default output, read back: status, flags, sections, the transport of the last reply. */
interface DigResult {
  status: string;
  flags: string[];
  answer: string[];
  authority: string[];
  additional: string[];
  /** The EDNS line of the OPT pseudosection, or null without one. */
  edns: string | null;
  transport: 'UDP' | 'TCP' | null;
  retriedOverTcp: boolean;
  size: number;
  raw: string;
}

function parseDig(raw: string): DigResult {
  const result: DigResult = {
    status: '',
    flags: [],
    answer: [],
    authority: [],
    additional: [],
    edns: null,
    transport: null,
    retriedOverTcp: raw.includes('Truncated, retrying in TCP mode'),
    size: 0,
    raw,
  };
  let section: 'answer' | 'authority' | 'additional' | null = null;
  for (const line of raw.split('\n')) {
    const status = /status: (\w+)/.exec(line);
    if (status) result.status = status[1] ?? '';
    const flags = /^;; flags: ([^;]*);/.exec(line);
    if (flags) result.flags = (flags[1] ?? '').trim().split(/\s+/);
    const edns = /^; EDNS: (.*)$/.exec(line);
    if (edns) result.edns = edns[1] ?? '';
    const server = /^;; SERVER: .*\((UDP|TCP)\)/.exec(line);
    if (server) result.transport = server[1] === 'TCP' ? 'TCP' : 'UDP';
    const size = /MSG SIZE\s+rcvd: (\d+)/.exec(line);
    if (size) result.size = Number(size[1]);
    if (/^;; ANSWER SECTION:/.test(line)) section = 'answer';
    else if (/^;; AUTHORITY SECTION:/.test(line)) section = 'authority';
    else if (/^;; ADDITIONAL SECTION:/.test(line)) section = 'additional';
    else if (line.trim() === '' || line.startsWith(';')) section = line.trim() === '' ? null : section;
    else if (section !== null) result[section].push(line);
  }
  return result;
}

function dig(at: HostPort, args: readonly string[]): Promise<DigResult> {
  // Only ever a server of ours on loopback; +time/+tries bound every wait.
  assert.ok(at.host.startsWith('127.') || at.host === '::1', 'dig only asks servers on loopback');
  return new Promise((resolve, reject) => {
    execFile(
      'dig',
      [`@${at.host}`, '-p', String(at.port), '+norecurse', '+time=2', '+tries=1', ...args],
      { timeout: 10_000 },
      (err, stdout) => (err ? reject(err) : resolve(parseDig(stdout))),
    );
  });
}

function needDig(t: TestContext): boolean {
  if (!HAVE_DIG) t.skip(SKIP_REASON);
  return HAVE_DIG;
}

const sorted = (lines: readonly string[]): string[] => lines.map(normalizeLine).sort();

describe('dig against every scenario zone', () => {
  loadScenarios().forEach((scenario, n) => {
    describe(scenario.name, () => {
      let server: DnsServer;
      let at: HostPort;
      const expected = expectedRRsets(scenario.zones);
      before(async () => {
        const host = `127.0.54.${n + 10}`;
        server = await startDnsServer({ listen: [{ host, port: 0 }], zones: buildZoneSet(scenario.zones), transferAllow: [], logger: silentLogger });
        at = server.addresses[0] ?? { host, port: 0 };
      });
      after(() => server.close());

      it('answers MX with the records of the zone file and the addresses we serve', async (t) => {
        if (!needDig(t)) return;
        let asked = 0;
        for (const [owner, byType] of expected) {
          const mx = byType.get('MX');
          if (mx === undefined) continue;
          asked++;
          const r = await dig(at, [owner, 'MX']);
          assert.equal(r.status, 'NOERROR', r.raw);
          assert.ok(r.flags.includes('aa'), 'authoritative');
          assert.ok(!r.flags.includes('ra'), 'no recursion available');
          assert.deepEqual(sorted(r.answer), [...mx].sort(), r.raw);
          const addresses = mx
            .map((line) => line.split(' ').at(-1) ?? '')
            .flatMap((target) => [...(expected.get(target)?.get('A') ?? []), ...(expected.get(target)?.get('AAAA') ?? [])]);
          assert.deepEqual(sorted(r.additional), addresses.sort(), r.raw);
        }
        assert.ok(asked > 0, 'the scenario has MX records');
      });

      it('answers A for every name that has one, over UDP and over TCP', async (t) => {
        if (!needDig(t)) return;
        for (const [owner, byType] of expected) {
          const a = byType.get('A');
          if (a === undefined) continue;
          for (const transport of ['+notcp', '+tcp']) {
            const r = await dig(at, [owner.toUpperCase(), 'A', transport]);
            assert.equal(r.status, 'NOERROR');
            assert.equal(r.transport, transport === '+tcp' ? 'TCP' : 'UDP');
            assert.deepEqual(sorted(r.answer), [...a].sort(), r.raw);
            // The owner comes back as asked.
            assert.ok(r.answer.every((line) => line.startsWith(`${owner.toUpperCase()}.`)), r.raw);
          }
        }
      });

      it('answers NXDOMAIN and NODATA with the SOA, and REFUSED outside its zones', async (t) => {
        if (!needDig(t)) return;
        for (const zone of scenario.zones) {
          const soa = expected.get(zone.origin)?.get('SOA');
          const nx = await dig(at, [`nosuch.${zone.origin}`, 'MX']);
          assert.equal(nx.status, 'NXDOMAIN', nx.raw);
          assert.deepEqual(sorted(nx.authority), soa);
          assert.equal(ttlOf(nx.authority[0] ?? ''), 300, 'min(SOA TTL, MINIMUM)');
          const nodata = await dig(at, [`ns1.${zone.origin}`, 'MX']);
          assert.equal(nodata.status, 'NOERROR');
          assert.deepEqual(nodata.answer, []);
          assert.deepEqual(sorted(nodata.authority), soa);
        }
        const refused = await dig(at, ['www.example.org', 'A']);
        assert.equal(refused.status, 'REFUSED');
        assert.deepEqual(refused.answer, []);
      });
    });
  });
});

describe('dig and the size of replies', () => {
  let server: DnsServer;
  let at: HostPort;
  // 40 TXT records of about 70 bytes: no UDP reply holds them.
  const big = Array.from({ length: 40 }, (_, i) => ['big', TXT(`record ${String(i).padStart(2, '0')} ${'z'.repeat(50)}`)] as const);
  // 25 A records of about 40 bytes: about 1,000 bytes, more than 512 and less than 1232.
  const medium = Array.from({ length: 25 }, (_, i) => ['medium', A(`127.0.9.${i}`)] as const);

  before(async () => {
    const zones = buildZoneSet([makeZone('size.test', [...apex(), ...big, ...medium])]);
    server = await startDnsServer({ listen: [{ host: '127.0.54.2', port: 0 }], zones, transferAllow: [], logger: silentLogger });
    at = server.addresses[0] ?? { host: '127.0.54.2', port: 0 };
  });
  after(() => server.close());

  it('makes dig retry over TCP after TC, and the retry gets the whole answer', async (t) => {
    if (!needDig(t)) return;
    const r = await dig(at, ['big.size.test', 'TXT', '+bufsize=512']);
    assert.equal(r.retriedOverTcp, true, r.raw);
    assert.equal(r.transport, 'TCP');
    assert.equal(r.answer.length, 40);
  });

  it('sets TC with empty sections when dig does not retry', async (t) => {
    if (!needDig(t)) return;
    const r = await dig(at, ['big.size.test', 'TXT', '+ignore', '+bufsize=512']);
    assert.ok(r.flags.includes('tc'), r.raw);
    assert.deepEqual(r.answer, []);
    assert.ok(r.size <= 512);
  });

  it('honours the EDNS payload size dig announces', async (t) => {
    if (!needDig(t)) return;
    const fits = await dig(at, ['medium.size.test', 'A', '+bufsize=1232', '+ignore']);
    assert.ok(!fits.flags.includes('tc'), fits.raw);
    assert.equal(fits.answer.length, 25);
    assert.equal(fits.transport, 'UDP');
    assert.ok(fits.size > 512 && fits.size <= 1232, `${fits.size} bytes`);
    assert.match(fits.edns ?? '', /version: 0/);
    assert.match(fits.edns ?? '', /udp: 1232/);
    const small = await dig(at, ['medium.size.test', 'A', '+bufsize=600', '+ignore']);
    assert.ok(small.flags.includes('tc'), small.raw);
  });

  it('keeps to 512 bytes and sends no OPT when dig sends none', async (t) => {
    if (!needDig(t)) return;
    const r = await dig(at, ['medium.size.test', 'A', '+noedns', '+ignore']);
    assert.equal(r.edns, null, r.raw);
    assert.ok(r.flags.includes('tc'));
    const retried = await dig(at, ['medium.size.test', 'A', '+noedns']);
    assert.equal(retried.transport, 'TCP');
    assert.equal(retried.answer.length, 25);
  });

  it('still answers dig after a volley of malformed packets', async (t) => {
    if (!needDig(t)) return;
    for (const [, bytes] of malformedPackets()) await udpExchange(at, bytes, 20);
    const r = await dig(at, ['size.test', 'SOA']);
    assert.equal(r.status, 'NOERROR');
    assert.equal(r.answer.length, 1);
  });
});
