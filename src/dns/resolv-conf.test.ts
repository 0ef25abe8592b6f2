import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseResolvConf, readResolvConf, resolvConfServers } from './resolv-conf.ts';

describe('parseResolvConf', () => {
  const cases: Array<[string, string, Array<string>]> = [
    ['one IPv4 nameserver', 'nameserver 127.0.0.53\n', ['127.0.0.53:53']],
    ['several, in file order', 'nameserver 127.0.0.2\nnameserver ::1\nnameserver 127.0.0.3\n', ['127.0.0.2:53', '::1:53', '127.0.0.3:53']],
    ['comments with # and ;', '# generated\n; also a comment\nnameserver 127.0.0.9\n', ['127.0.0.9:53']],
    ['a trailing comment and extra words', 'nameserver 127.0.0.9 # the local cache\n', ['127.0.0.9:53']],
    ['tabs, indentation and CRLF', '  nameserver\t127.0.0.9\r\n', ['127.0.0.9:53']],
    ['an IPv6 address with a zone suffix, kept for the socket', 'nameserver fe80::1%eth0\n', ['fe80::1%eth0:53']],
    ['search, domain and options lines ignored', 'search example.test\ndomain example.test\noptions ndots:2 edns0\nnameserver 127.0.0.9\n', ['127.0.0.9:53']],
    ['no nameserver at all', 'search example.test\n', []],
    ['an empty file', '', []],
  ];
  for (const [what, text, want] of cases) {
    it(`reads ${what}`, () => {
      const conf = parseResolvConf(text);
      assert.deepEqual(conf.nameservers.map((s) => `${s.host}:${s.port}`), want);
      assert.deepEqual(conf.problems, []);
    });
  }

  const broken: Array<[string, string, string]> = [
    ['a host name', 'nameserver dns.example.test\n', 'nameserver "dns.example.test" is not an IP address'],
    ['a missing address', 'nameserver\n', 'nameserver without an address'],
    ['an address with a port', 'nameserver 127.0.0.1:5353\n', 'nameserver "127.0.0.1:5353" is not an IP address'],
  ];
  for (const [what, text, message] of broken) {
    it(`skips ${what} and reports its line`, () => {
      const conf = parseResolvConf(`nameserver 127.0.0.2\n${text}`);
      assert.deepEqual(conf.nameservers, [{ host: '127.0.0.2', port: 53 }]);
      assert.deepEqual(conf.problems, [{ line: 2, message }]);
    });
  }

  it('reads the timeout and attempts options', () => {
    const conf = parseResolvConf('options rotate timeout:3 attempts:4\n');
    assert.deepEqual([conf.timeoutSeconds, conf.attempts], [3, 4]);
    assert.deepEqual([parseResolvConf('').timeoutSeconds, parseResolvConf('').attempts], [null, null]);
  });

  it('falls back to 127.0.0.1 port 53 when the file names no nameserver, as glibc does', () => {
    assert.deepEqual(resolvConfServers(parseResolvConf('')), [{ host: '127.0.0.1', port: 53 }]);
    assert.deepEqual(resolvConfServers(parseResolvConf('nameserver ::1')), [{ host: '::1', port: 53 }]);
  });
});

describe('readResolvConf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-resolv-conf-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file', () => {
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, 'nameserver 127.0.0.53\n');
    const conf = readResolvConf(path);
    assert.equal(conf.missing, false);
    assert.deepEqual(conf.nameservers, [{ host: '127.0.0.53', port: 53 }]);
  });

  it('treats a missing file as one without nameservers', () => {
    const conf = readResolvConf(join(dir, 'nope.conf'));
    assert.equal(conf.missing, true);
    assert.deepEqual(resolvConfServers(conf), [{ host: '127.0.0.1', port: 53 }]);
  });

  it('throws for a path it cannot read for another reason', () => {
    assert.throws(() => readResolvConf(dir), /EISDIR/);
  });
});
