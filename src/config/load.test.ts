import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configPathFrom, loadConfig, parseConfig } from './load.ts';
import { ErrorCode, isPosternError } from '../core/errors.ts';

const FILE = '/etc/postern/postern.toml';

const contract = `
hostname = "smtp1.domain.test"
data_dir = "data"

[dns]
listen = ["127.0.0.53:5353"]
zones_dir = "zones"
resolvers = ["127.0.0.53:5353"]

[smtp]
listen = ["127.20.20.1:2525"]
outbound_port = 2525
source_address = "127.20.20.1"

[[domain]]
name = "domain.test"
role = "primary"
`;

function configError(text: string): string {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    assert.ok(isPosternError(err, ErrorCode.Config), `expected a config error, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

describe('config', () => {
  it('reads every key of the documented contract into a typed config', () => {
    const c = parseConfig(contract, FILE);
    assert.equal(c.hostname, 'smtp1.domain.test');
    assert.equal(c.dataDir, '/etc/postern/data');
    assert.deepEqual(c.dns.listen, [{ host: '127.0.0.53', port: 5353 }]);
    assert.equal(c.dns.zonesDir, '/etc/postern/zones');
    assert.deepEqual(c.dns.resolvers, [{ host: '127.0.0.53', port: 5353 }]);
    assert.deepEqual(c.smtp.listen, [{ host: '127.20.20.1', port: 2525 }]);
    assert.equal(c.smtp.outboundPort, 2525);
    assert.equal(c.smtp.sourceAddress, '127.20.20.1');
    assert.deepEqual(c.domains, [{ name: 'domain.test', role: 'primary' }]);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.dns.listen));
  });

  it('fills sane defaults for an empty file', () => {
    const c = parseConfig('', FILE);
    assert.equal(c.dataDir, '/etc/postern/data');
    assert.deepEqual(c.dns.listen, []);
    assert.equal(c.dns.resolvers, null);
    assert.equal(c.smtp.outboundPort, 25);
    assert.deepEqual(c.domains, []);
    assert.ok(c.hostname.length > 0);
  });

  it('gives the mail path the defaults the RFCs and Postfix use', () => {
    const c = parseConfig('', FILE);
    assert.equal(c.smtp.maxRecipients, 100);
    assert.equal(c.smtp.maxConnectionsPerIp, 20);
    assert.equal(c.smtp.idleTimeoutMs, 300_000);
    assert.deepEqual(c.queue.retryScheduleMs, [0, 300_000, 600_000, 1_200_000, 2_400_000, 3_600_000]);
    assert.equal(c.queue.delayWarningMs, 4 * 3_600_000);
    assert.equal(c.queue.maxAgeMs, 5 * 86_400_000);
    assert.equal(c.queue.leaseMs, 30 * 60_000);
    assert.equal(c.backup.maxHoldMs, 10 * 86_400_000);
    assert.equal(c.backup.probeIntervalMs, 60_000);
    assert.equal(c.backup.drainConcurrency, 2);
    assert.equal(c.backup.drainRate, 20);
    assert.equal(c.backup.recipientsFile, null);
    assert.equal(c.delivery.maxConnectionsPerHost, 10);
    assert.equal(c.delivery.timeouts.dataEndMs, 600_000);
    assert.equal(c.tls, null);
    assert.deepEqual(c.imap, { listen: [], tlsListen: [], idleTimeoutMs: 1_800_000, maxConnections: 2000, maxConnectionsPerIp: 50 });
    assert.deepEqual(c.auth, { maxFailures: 10, lockoutMs: 900_000, delayStepMs: 500, maxDelayMs: 5000 });
  });

  it('reads the access services\' listeners', () => {
    const c = parseConfig('[submission]\nlisten = ["127.0.0.1:5870"]\ntls_listen = ["127.0.0.1:4650"]\n[imap]\nlisten = ["127.0.0.1:1143"]\n[pop3]\ntls_listen = ["[::1]:9950"]', FILE);
    assert.deepEqual(c.submission, { listen: [{ host: '127.0.0.1', port: 5870 }], tlsListen: [{ host: '127.0.0.1', port: 4650 }] });
    assert.deepEqual(c.imap.listen, [{ host: '127.0.0.1', port: 1143 }]);
    assert.deepEqual(c.pop3.tlsListen, [{ host: '::1', port: 9950 }]);
  });

  it('reads durations and sizes with units, so tests can shrink days to seconds', () => {
    const c = parseConfig('[smtp]\nmax_message_size = "10MiB"\nidle_timeout = "2s"\n[queue]\nretry_schedule = ["0s", "200ms"]\nmax_age = "3s"\n[backup]\nrecipients = "backup-rcpts.txt"\n[tls]\ncert = "c.pem"\nkey = "k.pem"', FILE);
    assert.equal(c.smtp.maxMessageSize, 10 * 1024 * 1024);
    assert.equal(c.smtp.idleTimeoutMs, 2000);
    assert.deepEqual(c.queue.retryScheduleMs, [0, 200]);
    assert.equal(c.queue.maxAgeMs, 3000);
    assert.equal(c.backup.recipientsFile, '/etc/postern/backup-rcpts.txt');
    assert.deepEqual(c.tls, { cert: '/etc/postern/c.pem', key: '/etc/postern/k.pem' });
  });

  it('gives a resolver without a port the DNS port 53, and reads IPv6 endpoints', () => {
    const c = parseConfig('[dns]\nresolvers = ["127.0.0.1", "[::1]:5300", "::1"]\nlisten = ["[::1]:5353"]', FILE);
    assert.deepEqual(c.dns.resolvers, [
      { host: '127.0.0.1', port: 53 },
      { host: '::1', port: 5300 },
      { host: '::1', port: 53 },
    ]);
    assert.deepEqual(c.dns.listen, [{ host: '::1', port: 5353 }]);
  });

  it('normalises domain names: case and trailing dot', () => {
    const c = parseConfig('hostname = "Mail.Domain.TEST."\n[[domain]]\nname = "Domain.Test."\nrole = "backup"', FILE);
    assert.equal(c.hostname, 'mail.domain.test');
    assert.deepEqual(c.domains, [{ name: 'domain.test', role: 'backup' }]);
  });

  const errors: Array<[string, string, RegExp]> = [
    ['a listen address without a port', '[dns]\nlisten = ["127.0.0.1"]', /^postern\.toml: dns\.listen\[0\]: "127\.0\.0\.1" needs a port$/],
    ['a listen address that is a name', '[dns]\nlisten = ["localhost:53"]', /^postern\.toml: dns\.listen\[0\]: "localhost:53" is not an IP address and port/],
    ['a port out of range', '[smtp]\nlisten = ["127.0.0.1:70000"]', /^postern\.toml: smtp\.listen\[0\]: "127\.0\.0\.1:70000": port must be a number from 0 to 65535$/],
    ['an unknown top-level key', 'hostnme = "x.test"', /^postern\.toml: hostnme: unknown key/],
    ['an unknown key in a section', '[dns]\nzone_dir = "zones"', /^postern\.toml: dns\.zone_dir: unknown key/],
    ['an unknown section', '[dnss]\nlisten = []', /^postern\.toml: dnss: unknown key/],
    ['an unknown key in a [[domain]]', '[[domain]]\nname = "a.test"\nrole = "primary"\nrloe = "x"', /^postern\.toml: domain\[0\]\.rloe: unknown key/],
    ['a role that does not exist', '[[domain]]\nname = "a.test"\nrole = "secondary"', /^postern\.toml: domain\[0\]\.role: must be one of "primary", "backup", not "secondary"$/],
    ['a domain without a role', '[[domain]]\nname = "a.test"', /^postern\.toml: domain\[0\]\.role: is required$/],
    ['a bad domain name', '[[domain]]\nname = "a..test"\nrole = "primary"', /^postern\.toml: domain\[0\]\.name: "a\.\.test" has an empty label/],
    ['the same domain twice', '[[domain]]\nname = "a.test"\nrole = "primary"\n[[domain]]\nname = "A.test."\nrole = "backup"', /^postern\.toml: domain\[1\]\.name: "a\.test" is already configured as domain\[0\]/],
    ['a string where a number belongs', '[smtp]\noutbound_port = "25"', /^postern\.toml: smtp\.outbound_port: must be a number$/],
    ['a list where a string belongs', 'data_dir = ["a"]', /^postern\.toml: data_dir: must be a string/],
    ['an empty resolver list', '[dns]\nresolvers = []', /^postern\.toml: dns\.resolvers: needs at least one server/],
    ['a source address that is not an IP', '[smtp]\nsource_address = "mail.test"', /^postern\.toml: smtp\.source_address: must be an IP address$/],
    ['a duration without units', '[queue]\nmax_age = "5"', /^postern\.toml: queue\.max_age: "5" is not a duration \(write it with units/],
    ['a bad entry in the retry schedule', '[queue]\nretry_schedule = ["0s", "5 min"]', /^postern\.toml: queue\.retry_schedule\[1\]: "5 min" is not a duration/],
    ['a size with an unknown unit', '[smtp]\nmax_message_size = "10 parsecs"', /^postern\.toml: smtp\.max_message_size: "10 parsecs" is not a size/],
    ['a certificate without its key', '[tls]\ncert = "c.pem"', /^postern\.toml: tls\.key: is required when tls\.cert or tls\.key is set/],
    ['an unknown delivery TLS mode', '[delivery]\ntls = "always"', /^postern\.toml: delivery\.tls: must be one of "opportunistic", "none", "required", not "always"$/],
    ['a wildcard DNS listen address', '[dns]\nlisten = ["0.0.0.0:53"]', /^postern\.toml: dns\.listen\[0\]: 0\.0\.0\.0 is a wildcard: list each address/],
    ['a resolver on port 0', '[dns]\nresolvers = ["127.0.0.1:0"]', /^postern\.toml: dns\.resolvers\[0\]: "127\.0\.0\.1:0": port 0 is no server's port$/],
    ['a storage URL that is not PostgreSQL', '[storage]\nurl = "mysql://db"', /^postern\.toml: storage\.url: must be a postgres:\/\/ URL/],
    ['TOML that does not parse', 'hostname = "x.test"\n[dns\n', /^postern\.toml:2:\d+: /],
  ];
  for (const [what, text, want] of errors) {
    it(`refuses ${what}, naming the key`, () => {
      assert.match(configError(text), want);
    });
  }

  it('reports every problem at once, one per line', () => {
    const msg = configError('[dns]\nlisten = ["127.0.0.1"]\nbogus = 1');
    assert.equal(msg.split('\n').length, 2, msg);
  });

  it('resolves relative paths against the config file, not the working directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-config-'));
    const path = join(dir, 'postern.toml');
    writeFileSync(path, 'data_dir = "var/data"\n[dns]\nzones_dir = "../zones"\n');
    const c = loadConfig(path);
    assert.equal(c.file, path);
    assert.equal(c.dataDir, join(dir, 'var/data'));
    assert.equal(c.dns.zonesDir, join(dir, '../zones'));
  });

  it('says how to point at a config when the file is missing', () => {
    assert.throws(() => loadConfig('/nonexistent/postern.toml'), (err: unknown) => {
      assert.ok(isPosternError(err, ErrorCode.Config));
      assert.match(err.message, /\/nonexistent\/postern\.toml: cannot read the config: no such file \(pass --config FILE or set POSTERN_CONFIG\)/);
      return true;
    });
  });

  it('takes --config first, then $POSTERN_CONFIG, then ./postern.toml', () => {
    assert.equal(configPathFrom('/a.toml', { POSTERN_CONFIG: '/b.toml' }), '/a.toml');
    assert.equal(configPathFrom(undefined, { POSTERN_CONFIG: '/b.toml' }), '/b.toml');
    assert.equal(configPathFrom(undefined, {}), join(process.cwd(), 'postern.toml'));
  });
});
