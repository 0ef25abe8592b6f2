import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { createResolver } from '../dns/resolver.ts';
import { isPosternError } from './errors.ts';
import { assertDestinationAllowed, isLoopbackAddress, loopbackOnly } from './loopback.ts';

describe('isLoopbackAddress', () => {
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.20.20.1', true],
    ['127.255.255.254', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['::FFFF:127.9.8.7', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['192.0.2.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['2001:db8::1', false],
    ['::ffff:10.0.0.1', false],
    ['localhost', false],
    ['127.0.0.1.example.test', false],
    ['', false],
  ];
  for (const [address, want] of cases) {
    it(`${want ? 'accepts' : 'refuses'} ${JSON.stringify(address)}`, () => assert.equal(isLoopbackAddress(address), want));
  }
});

describe('loopbackOnly', () => {
  const cases: Array<[string | undefined, boolean]> = [
    ['1', true],
    ['yes', true],
    ['true', true],
    [undefined, false],
    ['', false],
    ['0', false],
    ['false', false],
    ['FALSE', false],
  ];
  for (const [value, want] of cases) {
    it(`reads POSTERN_LOOPBACK_ONLY=${JSON.stringify(value)} as ${want ? 'on' : 'off'}`, () => {
      assert.equal(loopbackOnly(value === undefined ? {} : { POSTERN_LOOPBACK_ONLY: value }), want);
    });
  }
});

describe('assertDestinationAllowed', () => {
  const on = { POSTERN_LOOPBACK_ONLY: '1' };

  it('lets loopback destinations through when the guard is on', () => {
    assert.doesNotThrow(() => assertDestinationAllowed('127.0.0.53', 'DNS query to', on));
    assert.doesNotThrow(() => assertDestinationAllowed('::1', 'DNS query to', on));
  });

  it('refuses anything else with POSTERN_LOOPBACK_ONLY and says where it was going', () => {
    assert.throws(
      () => assertDestinationAllowed('192.0.2.1', 'DNS query to', on),
      (err: unknown) => isPosternError(err, 'POSTERN_LOOPBACK_ONLY') && /DNS query to 192\.0\.2\.1 refused/.test(err.message),
    );
  });

  it('lets everything through when the guard is off', () => {
    assert.doesNotThrow(() => assertDestinationAllowed('192.0.2.1', 'DNS query to', {}));
  });
});

describe('the resolver under POSTERN_LOOPBACK_ONLY=1', () => {
  const saved = process.env['POSTERN_LOOPBACK_ONLY'];
  const dir = mkdtempSync(join(tmpdir(), 'postern-loopback-'));
  let sockets = 0;
  // Counts every UDP socket and TCP connection the process creates, and closes each at once, so
  // that even a broken guard could not send anything off the machine during these tests.
  const onUdp = (message: unknown): void => {
    sockets++;
    (message as { socket: UdpSocket }).socket.close();
  };
  const onTcp = (message: unknown): void => {
    sockets++;
    (message as { socket: Socket }).socket.destroy();
  };

  beforeEach(() => {
    process.env['POSTERN_LOOPBACK_ONLY'] = '1';
    sockets = 0;
    subscribe('udp.socket', onUdp);
    subscribe('net.client.socket', onTcp);
  });
  afterEach(() => {
    unsubscribe('udp.socket', onUdp);
    unsubscribe('net.client.socket', onTcp);
    if (saved === undefined) delete process.env['POSTERN_LOOPBACK_ONLY'];
    else process.env['POSTERN_LOOPBACK_ONLY'] = saved;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const refused: Array<[string, Array<{ host: string; port: number }>]> = [
    ['a server 192.0.2.1', [{ host: '192.0.2.1', port: 53 }]],
    ['an IPv6 server 2001:db8::53', [{ host: '2001:db8::53', port: 53 }]],
    ['a non-loopback server after a loopback one', [{ host: '127.0.0.1', port: 5353 }, { host: '192.0.2.1', port: 53 }]],
  ];
  for (const [what, servers] of refused) {
    it(`makes createResolver throw for ${what}, before anything is sent`, () => {
      assert.throws(
        () => createResolver({ servers, timeoutMs: 100, attempts: 1 }),
        (err: unknown) => isPosternError(err, 'POSTERN_LOOPBACK_ONLY') && /DNS query to/.test(err.message),
      );
      assert.equal(sockets, 0);
    });
  }

  it('makes createResolver throw for a resolv.conf that names a non-loopback nameserver', () => {
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, 'nameserver 127.0.0.53\nnameserver 192.0.2.1\n');
    assert.throws(
      () => createResolver({ servers: null, resolvConfPath: path, timeoutMs: 100, attempts: 1 }),
      (err: unknown) => isPosternError(err, 'POSTERN_LOOPBACK_ONLY'),
    );
    assert.equal(sockets, 0);
  });

  it('accepts loopback servers', () => {
    assert.doesNotThrow(() => createResolver({ servers: [{ host: '127.0.0.53', port: 5353 }, { host: '::1', port: 5353 }], timeoutMs: 100, attempts: 1 }));
  });

  it('checks again before each query: a lookup rejects when the guard was switched on after construction', async () => {
    delete process.env['POSTERN_LOOPBACK_ONLY'];
    const resolver = createResolver({ servers: [{ host: '192.0.2.1', port: 53 }], timeoutMs: 100, attempts: 1 });
    process.env['POSTERN_LOOPBACK_ONLY'] = '1';
    await assert.rejects(resolver.lookup('example.test', 'MX'), (err: unknown) => isPosternError(err, 'POSTERN_LOOPBACK_ONLY'));
    assert.equal(sockets, 0);
  });
});
