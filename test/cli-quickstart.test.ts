/**
 * `postern quickstart`, run in-process into temporary folders: what it writes loads as a config and
 * a zone (ours and BIND's named-checkzone), it never overwrites without --force, it refuses bad
 * input with clear messages, the postmaster's printed password verifies, and the written config,
 * moved onto loopback test ports, starts and publishes the domain's MX.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { reverseName, zoneSerial } from '../src/cli/quickstart.ts';
import { loadConfig } from '../src/config/load.ts';
import { formatHostPort } from '../src/core/host-port.ts';
import { silentLogger } from '../src/core/logger.ts';
import { createResolver } from '../src/dns/resolver.ts';
import { loadZoneFile } from '../src/dns/zone/load.ts';
import type { RData, Zone } from '../src/dns/zone/types.ts';
import { openConfiguredStore, startPostern } from '../src/main.ts';
import { verifyPassword } from '../src/store/password.ts';
import { runCommand, tempDir, type CommandResult } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

const run = promisify(execFile);
const NAMED_CHECKZONE = '/usr/bin/named-checkzone';
const noBind = existsSync(NAMED_CHECKZONE) ? false : `${NAMED_CHECKZONE} not installed: apt-get install bind9-utils`;

// A documentation address (RFC 5737): public in form, so the config is what production gets.
const IP = '203.0.113.25';

async function quickstart(args: string[], dir = tempDir('quickstart')): Promise<CommandResult & { dir: string; config: string; zone: (domain: string) => string }> {
  const r = await runCommand(['quickstart', ...args, '--dir', dir]);
  return { ...r, dir, config: join(dir, 'postern.toml'), zone: (domain) => join(dir, 'zones', `${domain}.zone`) };
}

/** "name TYPE value" for each record, in file order, to compare with what the tutorial asks for. */
function recordLines(zone: Zone): string[] {
  const value = (d: RData): string => {
    switch (d.type) {
      case 'A':
      case 'AAAA':
        return d.address;
      case 'NS':
        return d.host;
      case 'MX':
        return `${d.preference} ${d.exchange}`;
      case 'TXT':
        return d.strings.map((s) => new TextDecoder().decode(s)).join('');
      case 'SOA':
        return `${d.mname} ${d.rname} ${d.serial}`;
      default:
        return d.type;
    }
  };
  return zone.records.map((r) => `${r.name} ${r.data.type} ${value(r.data)}`);
}

/** The password from "created the account … with password X". */
function printedPassword(stdout: string): string {
  const m = /created the account \S+ with password (\S+)/.exec(stdout);
  assert.ok(m?.[1] !== undefined, `no password in:\n${stdout}`);
  return m[1];
}

describe('postern quickstart DOMAIN --ip ADDRESS', () => {
  it('writes a config on the standard ports that loadConfig accepts', async () => {
    const q = await quickstart(['Example.COM', '--ip', IP]);
    assert.equal(q.status, 0, q.stderr);
    const config = loadConfig(q.config);
    assert.equal(config.hostname, 'mail.example.com');
    assert.equal(config.dataDir, join(q.dir, 'data'));
    assert.equal(config.dns.zonesDir, join(q.dir, 'zones'));
    // Production lookups go to the system's recursive resolver, not to our authoritative server.
    assert.equal(config.dns.resolvers, null);
    assert.match(readFileSync(q.config, 'utf8'), /^# resolvers = /m);
    const at = (list: readonly { host: string; port: number }[]): string[] => list.map(formatHostPort);
    assert.deepEqual(at(config.dns.listen), [`${IP}:53`]);
    assert.deepEqual(at(config.smtp.listen), [`${IP}:25`]);
    assert.deepEqual(at(config.submission.listen), [`${IP}:587`]);
    assert.deepEqual(at(config.submission.tlsListen), [`${IP}:465`]);
    assert.deepEqual(at(config.imap.listen), [`${IP}:143`]);
    assert.deepEqual(at(config.imap.tlsListen), [`${IP}:993`]);
    assert.deepEqual(at(config.pop3.listen), [`${IP}:110`]);
    assert.deepEqual(at(config.pop3.tlsListen), [`${IP}:995`]);
    assert.deepEqual(config.domains, [{ name: 'example.com', role: 'primary' }]);
  });

  it('writes the tutorial\'s basic zone with SPF and DMARC, which loadZoneFile and check-zone accept', async () => {
    const before = zoneSerial(new Date());
    const q = await quickstart(['example.com', '--ip', IP]);
    assert.equal(q.status, 0, q.stderr);
    const after = zoneSerial(new Date());
    const zone = loadZoneFile(q.zone('example.com'));
    const lines = recordLines(zone);
    const soa = lines[0] ?? '';
    assert.match(soa, /^example\.com SOA ns1\.example\.com postmaster\.example\.com (\d{10})$/);
    assert.ok([before, after].includes(soa.split(' ').at(-1) ?? ''), `serial YYYYMMDD01 of today: ${soa}`);
    assert.deepEqual(lines.slice(1), [
      'example.com NS ns1.example.com',
      `ns1.example.com A ${IP}`,
      `example.com A ${IP}`,
      `www.example.com A ${IP}`,
      `mail.example.com A ${IP}`,
      'example.com MX 10 mail.example.com',
      'example.com TXT v=spf1 mx -all',
      '_dmarc.example.com TXT v=DMARC1; p=none; rua=mailto:postmaster@example.com',
    ]);
    const check = await runCommand(['check-zone', '-c', q.config]);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^ok +example\.com\.zone/);
  });

  it('writes a zone named-checkzone accepts', { skip: noBind }, async () => {
    const q = await quickstart(['example.com', '--ip', IP]);
    assert.equal(q.status, 0, q.stderr);
    // -i local: no lookups of out-of-zone names through the system resolver.
    const r = await run(NAMED_CHECKZONE, ['-i', 'local', 'example.com', q.zone('example.com')], { timeout: 30_000 });
    assert.match(r.stdout, /loaded serial \d{10}\nOK\n$/);
  });

  it('creates postmaster with the printed password, stored as a hash that verifies', async () => {
    const q = await quickstart(['example.com', '--ip', IP]);
    assert.equal(q.status, 0, q.stderr);
    const password = printedPassword(q.stdout);
    assert.ok(password.length >= 16, 'a password worth its name');
    const store = await openConfiguredStore(loadConfig(q.config), silentLogger);
    try {
      const account = await store.getAccount('postmaster@example.com');
      assert.ok(account?.passwordHash);
      assert.ok(!account.passwordHash.includes(password));
      assert.equal(await verifyPassword(password, account.passwordHash), true);
      assert.equal(await verifyPassword(`${password}x`, account.passwordHash), false);
    } finally {
      await store.close();
    }
  });

  it('prints the records for a DNS provider, the PTR to ask for, and the next steps', async () => {
    const q = await quickstart(['example.com', '--ip', IP]);
    assert.equal(q.status, 0, q.stderr);
    const table = q.stdout.split('\n').map((l) => l.trim().split(/\s{2,}/));
    for (const row of [
      ['NAME', 'TYPE', 'VALUE'],
      ['example.com', 'A', IP],
      ['www.example.com', 'A', IP],
      ['mail.example.com', 'A', IP],
      ['example.com', 'MX', '10 mail.example.com'],
      ['example.com', 'TXT', 'v=spf1 mx -all'],
      ['_dmarc.example.com', 'TXT', 'v=DMARC1; p=none; rua=mailto:postmaster@example.com'],
    ]) {
      assert.ok(table.some((cells) => JSON.stringify(cells) === JSON.stringify(row)), `row ${row.join(' | ')} in:\n${q.stdout}`);
    }
    assert.match(q.stdout, /glue address 203\.0\.113\.25/);
    assert.match(q.stdout, /25\.113\.0\.203\.in-addr\.arpa +PTR +mail\.example\.com/);
    assert.match(q.stdout, /setcap 'cap_net_bind_service=\+ep' \S*node/);
    assert.match(q.stdout, /AmbientCapabilities=CAP_NET_BIND_SERVICE/);
    assert.ok(q.stdout.includes(`postern start --config ${q.config}`), q.stdout);
    assert.match(q.stdout, /postern check example\.com/);
    assert.match(q.stdout, /TLS certificate for mail\.example\.com/);
    // A documentation address works, and is named for what it is.
    assert.match(q.stderr, /warning: 203\.0\.113\.25 is a documentation address/);
  });

  it('refuses to overwrite either file, naming them, and replaces both with --force', async () => {
    const first = await quickstart(['example.com', '--ip', IP]);
    assert.equal(first.status, 0, first.stderr);
    const zoneBefore = readFileSync(first.zone('example.com'), 'utf8');
    writeFileSync(first.config, '# my edits\n');

    const again = await quickstart(['example.com', '--ip', '198.51.100.7'], first.dir);
    assert.equal(again.status, 1);
    assert.ok(again.stderr.includes(first.config) && again.stderr.includes(first.zone('example.com')), again.stderr);
    assert.match(again.stderr, /refusing to overwrite .* \(add --force to replace them\)/);
    assert.equal(readFileSync(first.config, 'utf8'), '# my edits\n');
    assert.equal(readFileSync(first.zone('example.com'), 'utf8'), zoneBefore);

    const forced = await quickstart(['example.com', '--ip', '198.51.100.7', '--force'], first.dir);
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(loadConfig(first.config).smtp.listen, [{ host: '198.51.100.7', port: 25 }]);
    assert.ok(recordLines(loadZoneFile(first.zone('example.com'))).includes('mail.example.com A 198.51.100.7'));
    // The account from the first run stays, with its password.
    assert.match(forced.stdout, /the account postmaster@example\.com already exists .*: its password is unchanged/);
    assert.doesNotMatch(forced.stdout, /with password/);
  });

  it('refuses when only one of the files exists, and names just that one', async () => {
    const dir = tempDir('quickstart');
    writeFileSync(join(dir, 'postern.toml'), '# mine\n');
    const q = await quickstart(['example.com', '--ip', IP], dir);
    assert.equal(q.status, 1);
    assert.match(q.stderr, /refusing to overwrite \S+postern\.toml \(add --force to replace it\)/);
    assert.equal(existsSync(q.zone('example.com')), false);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['a domain with an empty label', ['bad..example', '--ip', IP], /the domain "bad\.\.example" has an empty label/],
    ['a single-label domain', ['com', '--ip', IP], /the domain "com" is a single label/],
    ['an address given as the domain', ['192.0.2.1', '--ip', IP], /the domain "192\.0\.2\.1" is an IP address, not a domain name/],
    ['a domain with an underscore', ['my_domain.example', '--ip', IP], /has an underscore/],
    ['a domain ending in a number', ['example.123', '--ip', IP], /ends in a number/],
    ['a bad --hostname', ['example.com', '--ip', IP, '--hostname', 'mail..example.com'], /--hostname "mail\.\.example\.com" has an empty label/],
    ['an IPv4 address out of range', ['example.com', '--ip', '300.1.2.3'], /--ip "300\.1\.2\.3" is not an IP address/],
    ['a name given as the address', ['example.com', '--ip', 'mail.example.com'], /--ip "mail\.example\.com" is not an IP address/],
    ['the unspecified IPv4 address', ['example.com', '--ip', '0.0.0.0'], /--ip 0\.0\.0\.0 is the unspecified address/],
    ['the unspecified IPv6 address', ['example.com', '--ip', '::'], /--ip :: is the unspecified address/],
    ['a multicast address', ['example.com', '--ip', '224.0.0.251'], /--ip 224\.0\.0\.251 is a multicast address/],
    ['an IPv6 multicast address', ['example.com', '--ip', 'ff02::1'], /--ip ff02::1 is a multicast address/],
    ['an address with a zone index', ['example.com', '--ip', 'fe80::1%eth0'], /has a zone index/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what} and writes nothing`, async () => {
      const q = await quickstart(args);
      assert.equal(q.status, 1);
      assert.match(q.stderr, message);
      assert.equal(q.stdout, '');
      assert.equal(existsSync(q.config), false);
    });
  }

  it('wants --ip', async () => {
    const q = await quickstart(['example.com']);
    assert.equal(q.status, 1);
    assert.match(q.stderr, /required option '--ip <address>'/);
    assert.equal(existsSync(q.config), false);
  });

  it('writes AAAA records, bracketed listen addresses and an ip6.arpa PTR for an IPv6 address', async () => {
    const q = await quickstart(['example.net', '--ip', '2001:DB8:0:0::25']);
    assert.equal(q.status, 0, q.stderr);
    const lines = recordLines(loadZoneFile(q.zone('example.net')));
    assert.deepEqual(
      lines.filter((l) => / A{1,4} /.test(l)),
      ['ns1.example.net AAAA 2001:db8::25', 'example.net AAAA 2001:db8::25', 'www.example.net AAAA 2001:db8::25', 'mail.example.net AAAA 2001:db8::25'],
    );
    const config = loadConfig(q.config);
    assert.deepEqual(config.smtp.listen, [{ host: '2001:db8::25', port: 25 }]);
    assert.match(readFileSync(q.config, 'utf8'), /listen = \["\[2001:db8::25\]:53"\]/);
    assert.ok(q.stdout.includes('5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa  PTR  mail.example.net'), q.stdout);
  });

  it('points the MX at --hostname, and gives an in-zone one its address', async () => {
    const q = await quickstart(['example.com', '--ip', IP, '--hostname', 'MX1.example.com']);
    assert.equal(q.status, 0, q.stderr);
    assert.equal(loadConfig(q.config).hostname, 'mx1.example.com');
    const lines = recordLines(loadZoneFile(q.zone('example.com')));
    assert.ok(lines.includes(`mx1.example.com A ${IP}`) && lines.includes('example.com MX 10 mx1.example.com'), lines.join('\n'));
    assert.ok(!lines.some((l) => l.startsWith('mail.')), 'no mail host that nothing names');
  });

  it('points the MX at a --hostname in another domain, and says where its address must go', async () => {
    const q = await quickstart(['example.com', '--ip', IP, '--hostname', 'mail.hosting.example']);
    assert.equal(q.status, 0, q.stderr);
    assert.ok(recordLines(loadZoneFile(q.zone('example.com'))).includes('example.com MX 10 mail.hosting.example'));
    assert.match(q.stderr, /mail\.hosting\.example is not in example\.com: .*an A record for 203\.0\.113\.25 in its own zone/);
  });

  it('writes an internationalised domain as its A-label', async () => {
    const q = await quickstart(['bücher.example', '--ip', IP]);
    assert.equal(q.status, 0, q.stderr);
    assert.deepEqual(loadConfig(q.config).domains, [{ name: 'xn--bcher-kva.example', role: 'primary' }]);
    assert.equal(loadZoneFile(q.zone('xn--bcher-kva.example')).origin, 'xn--bcher-kva.example');
  });

  it('produces a config that starts and publishes the MX, once moved onto loopback test ports', async () => {
    const q = await quickstart(['example.com', '--ip', IP]);
    assert.equal(q.status, 0, q.stderr);
    // Only the addresses change: every listener on 127.0.97.1 with a port the kernel picks, and a
    // resolver that is never asked (none of /etc/resolv.conf's servers is loopback).
    const text = readFileSync(q.config, 'utf8');
    const moved = text.replaceAll(`"${IP}:`, '"127.0.97.1:').replace(/"127\.0\.97\.1:\d+"/g, '"127.0.97.1:0"').replace(/^# resolvers = .*$/m, 'resolvers = ["127.0.97.1:53"]');
    assert.equal((moved.match(/"127\.0\.97\.1:0"/g) ?? []).length, 8, moved);
    const testConfig = join(q.dir, 'postern-test.toml');
    writeFileSync(testConfig, moved);
    const postern = await startPostern(loadConfig(testConfig), silentLogger);
    try {
      const services = postern.endpoints().map((e) => e.service);
      assert.ok(services.includes('dns') && services.includes('smtp'), services.join(', '));
      const dns = postern.endpoints().find((e) => e.service === 'dns');
      assert.ok(dns !== undefined);
      const resolver = createResolver({ servers: [dns.address], timeoutMs: 5000, attempts: 2 });
      const mx = await resolver.lookup('example.com', 'MX');
      assert.equal(mx.kind, 'records');
      assert.deepEqual(mx.records.map((r) => r.data), [{ type: 'MX', preference: 10, exchange: 'mail.example.com' }]);
      const a = await resolver.lookup('mail.example.com', 'A');
      assert.equal(a.kind, 'records');
      assert.deepEqual(a.records.map((r) => r.data), [{ type: 'A', address: IP }]);
      const spf = await resolver.lookup('example.com', 'TXT');
      assert.equal(spf.kind, 'records');
      assert.deepEqual(spf.records.map((r) => (r.data.type === 'TXT' ? Buffer.concat(r.data.strings).toString() : '')), ['v=spf1 mx -all']);
    } finally {
      await postern.stop();
    }
  });
});

describe('reverseName', () => {
  const cases: Array<[string, string]> = [
    ['203.0.113.25', '25.113.0.203.in-addr.arpa'],
    ['10.0.0.1', '1.0.0.10.in-addr.arpa'],
    ['::ffff:192.0.2.1', '1.2.0.192.in-addr.arpa'],
    ['2001:db8::567:89ab', 'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
    ['2001:DB8:0:0:1:0:0:1', '1.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
    ['::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa'],
    ['fe80::', '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa'],
    ['64:ff9b::192.0.2.33', '1.2.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa'],
  ];
  for (const [address, name] of cases) {
    it(`puts the PTR for ${address} at ${name}`, () => assert.equal(reverseName(address), name));
  }
});
