/**
 * The SMTP listener with a TlsSource: implicit TLS (RFC 8314) from the first byte, a reload that
 * reaches new connections on both STARTTLS and implicit-TLS listeners without a restart, fixed
 * `{key, cert}` material still accepted, and clients that fail the handshake ending only
 * themselves.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { before, describe, it } from 'node:test';
import { silentLogger } from '../src/core/logger.ts';
import { startSmtpServer } from '../src/smtp/server/server.ts';
import { createTlsSource } from '../src/tls/source.ts';
import { ensureSelfSignedCertificate } from '../src/tls/self-signed.ts';
import { recordingHooks } from './helpers/smtp-transcript.ts';

const HOST = '127.0.58.2';
const tmp = (): string => mkdtempSync(join(tmpdir(), 'postern-tls-listener-'));

/** Connects with TLS at once; resolves with the socket and the certificate's fingerprint. */
function implicit(port: number): Promise<{ socket: TLSSocket; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: HOST, port, rejectUnauthorized: false, servername: 'mx.test' }, () => {
      resolve({ socket, fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? '' });
    });
    socket.on('error', reject);
  });
}

function readLine(socket: TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let buffer = '';
    const onData = (d: Buffer): void => {
      buffer += d.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end >= 0) {
        socket.off('data', onData);
        resolve(buffer.slice(0, end));
      }
    };
    socket.on('data', onData);
  });
}

describe('SMTP listener TLS', () => {
  let one: { key: string; cert: string; fingerprint: string };
  let two: { key: string; cert: string; fingerprint: string };
  before(async () => {
    one = await ensureSelfSignedCertificate(tmp(), 'mx.test');
    two = await ensureSelfSignedCertificate(tmp(), 'mx.test');
  });

  it('greets inside TLS on a tlsListen address and marks the session as TLS', async () => {
    const hooks = recordingHooks();
    const srv = await startSmtpServer({ listen: [], tlsListen: [{ host: HOST, port: 0 }], hostname: 'mx.test', hooks, tls: { key: one.key, cert: one.cert } });
    try {
      const { socket, fingerprint } = await implicit(srv.tlsAddresses[0]?.port ?? 0);
      assert.equal(fingerprint, one.fingerprint);
      assert.equal(await readLine(socket), '220 mx.test ESMTP Postern');
      socket.write('EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<bob@mx.test>\r\nDATA\r\n');
      let text = '';
      await new Promise<void>((resolve) => {
        socket.on('data', (d: Buffer) => {
          text += d.toString('utf8');
          if (text.includes('354')) resolve();
        });
      });
      assert.doesNotMatch(text, /STARTTLS/, 'no STARTTLS inside TLS');
      socket.write('Subject: implicit\r\n\r\nhi\r\n.\r\nQUIT\r\n');
      await new Promise<void>((resolve) => socket.on('close', () => resolve()));
      assert.equal(hooks.delivered.length, 1);
      assert.equal(hooks.delivered[0]?.session.tls, true);
      assert.match(new TextDecoder().decode(hooks.delivered[0]?.message.data), /with ESMTPS id/);
    } finally {
      await srv.close();
    }
  });

  it('serves a reloaded certificate to new connections on both listeners, without a restart', async () => {
    const dir = tmp();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    writeFileSync(cert, one.cert);
    writeFileSync(key, one.key);
    const source = await createTlsSource({ cert, key, dataDir: dir, hostname: 'mx.test', logger: silentLogger });
    const srv = await startSmtpServer({ listen: [{ host: HOST, port: 0 }], tlsListen: [{ host: HOST, port: 0 }], hostname: 'mx.test', hooks: recordingHooks(), tls: source });
    const starttlsFingerprint = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const plain = netConnect({ host: HOST, port: srv.addresses[0]?.port ?? 0 });
        plain.on('error', reject);
        let said = '';
        let asked = false;
        const onData = (d: Buffer): void => {
          said += d.toString('utf8');
          if (!asked && said.startsWith('220 mx.test') && said.endsWith('\r\n')) {
            asked = true;
            said = '';
            plain.write('STARTTLS\r\n');
          } else if (asked && said.startsWith('220 2.0.0') && said.endsWith('\r\n')) {
            plain.off('data', onData);
            const secure = tlsConnect({ socket: plain, rejectUnauthorized: false }, () => {
              resolve(secure.getPeerX509Certificate()?.fingerprint256 ?? '');
              secure.destroy();
            });
            secure.on('error', reject);
          }
        };
        plain.on('data', onData);
      });
    try {
      const before = await implicit(srv.tlsAddresses[0]?.port ?? 0);
      assert.equal(before.fingerprint, one.fingerprint);
      before.socket.destroy();
      assert.equal(await starttlsFingerprint(), one.fingerprint);
      writeFileSync(cert, two.cert);
      writeFileSync(key, two.key);
      assert.deepEqual(await source.reload(), { ok: true, fingerprint: two.fingerprint });
      const after = await implicit(srv.tlsAddresses[0]?.port ?? 0);
      assert.equal(after.fingerprint, two.fingerprint);
      after.socket.destroy();
      assert.equal(await starttlsFingerprint(), two.fingerprint);
    } finally {
      await srv.close();
    }
  });

  it('survives clients that send garbage or nothing on the implicit-TLS port, and closes with them pending', async () => {
    const srv = await startSmtpServer({ listen: [], tlsListen: [{ host: HOST, port: 0 }], hostname: 'mx.test', hooks: recordingHooks(), tls: { key: one.key, cert: one.cert }, idleTimeoutMs: 60_000 });
    const port = srv.tlsAddresses[0]?.port ?? 0;
    try {
      // Plain SMTP spoken to a TLS port: the handshake fails and only that connection ends.
      const plain = netConnect({ host: HOST, port });
      plain.on('error', () => {});
      await new Promise<void>((resolve) => plain.once('connect', () => resolve()));
      plain.write('EHLO plain.test\r\n');
      await new Promise<void>((resolve) => plain.once('close', () => resolve()));
      // A client that connects and says nothing is still counted while it waits.
      const silent = netConnect({ host: HOST, port });
      silent.on('error', () => {});
      await new Promise<void>((resolve) => silent.once('connect', () => resolve()));
      for (let i = 0; i < 50 && srv.connectionCount === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(srv.connectionCount, 1);
      const { socket } = await implicit(port);
      assert.equal(await readLine(socket), '220 mx.test ESMTP Postern');
      socket.destroy();
    } finally {
      await srv.close();
    }
  });

  it('refuses to start implicit-TLS listeners without a certificate', async () => {
    await assert.rejects(startSmtpServer({ listen: [], tlsListen: [{ host: HOST, port: 0 }], hostname: 'mx.test', hooks: recordingHooks() }), /tls_listen needs a certificate/);
  });
});
