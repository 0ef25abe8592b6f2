import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect } from 'node:tls';
import { before, describe, it } from 'node:test';
import { isPosternError } from '../core/errors.ts';
import { memoryLogger, silentLogger } from '../core/logger.ts';
import { secureContextFor } from './context.ts';
import { ensureSelfSignedCertificate } from './self-signed.ts';
import { createTlsSource } from './source.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'postern-tls-source-'));

describe('TLS source', () => {
  let one: { key: string; cert: string; fingerprint: string };
  let two: { key: string; cert: string; fingerprint: string };
  before(async () => {
    one = await ensureSelfSignedCertificate(tmp(), 'mail.example.test');
    two = await ensureSelfSignedCertificate(tmp(), 'mail.example.test');
  });

  const files = (pair: { key: string; cert: string }): { dir: string; cert: string; key: string } => {
    const dir = tmp();
    writeFileSync(join(dir, 'cert.pem'), pair.cert);
    writeFileSync(join(dir, 'key.pem'), pair.key);
    return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  };

  it('generates a self-signed certificate for the host once into data_dir and reuses it on the next start', async () => {
    const dataDir = tmp();
    const first = await createTlsSource({ dataDir, hostname: 'mx.example.test', logger: silentLogger });
    assert.equal(first.selfSigned, true);
    const x509 = new X509Certificate(first.current().cert);
    assert.equal(x509.checkHost('mx.example.test'), 'mx.example.test');
    assert.equal(first.fingerprint, x509.fingerprint256);
    assert.match(first.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const again = await createTlsSource({ dataDir, hostname: 'mx.example.test', logger: silentLogger });
    assert.equal(again.fingerprint, first.fingerprint);
    assert.equal(again.current().key, first.current().key);
  });

  it('serves the configured files, with the fingerprint of that certificate', async () => {
    const f = files(one);
    const source = await createTlsSource({ cert: f.cert, key: f.key, dataDir: f.dir, hostname: 'mail.example.test', logger: silentLogger });
    assert.equal(source.selfSigned, false);
    assert.equal(source.fingerprint, one.fingerprint);
    assert.equal(source.current().cert, one.cert);
  });

  it('reloads new files: a new material object and fingerprint', async () => {
    const f = files(one);
    const source = await createTlsSource({ cert: f.cert, key: f.key, dataDir: f.dir, hostname: 'mail.example.test', logger: silentLogger });
    const before = source.current();
    assert.deepEqual(await source.reload(), { ok: true, fingerprint: one.fingerprint });
    assert.equal(source.current(), before, 'unchanged files keep the same object (and cached contexts)');
    writeFileSync(f.cert, two.cert);
    writeFileSync(f.key, two.key);
    assert.deepEqual(await source.reload(), { ok: true, fingerprint: two.fingerprint });
    assert.notEqual(source.current(), before);
    assert.equal(source.fingerprint, two.fingerprint);
  });

  it('keeps the current certificate when a reload finds a bad one, and says which file and why', async () => {
    const f = files(one);
    const logger = memoryLogger();
    const source = await createTlsSource({ cert: f.cert, key: f.key, dataDir: f.dir, hostname: 'mail.example.test', logger });
    writeFileSync(f.cert, 'not a certificate\n');
    const r = await source.reload();
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, new RegExp(`tls\\.cert ${f.cert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not PEM`));
    assert.equal(source.fingerprint, one.fingerprint);
    assert.equal(source.current().cert, one.cert);
    assert.ok(logger.entries.some((e) => e.level === 'error' && (e.obj as { event?: string }).event === 'tls.reload_failed'));

    // A key of another certificate.
    writeFileSync(f.cert, one.cert);
    writeFileSync(f.key, two.key);
    const mismatch = await source.reload();
    assert.match(mismatch.ok ? '' : mismatch.error, /tls\.key .*key\.pem: does not belong to the certificate in .*cert\.pem/);
    assert.equal(source.fingerprint, one.fingerprint);
  });

  const startCases: Array<[string, (f: { cert: string; key: string }) => { cert?: string; key?: string }, RegExp]> = [
    ['a missing certificate file', (f) => ({ cert: `${f.cert}.missing`, key: f.key }), /^tls\.cert .*cert\.pem\.missing: cannot read: no such file$/],
    ['a key file that is no key', (f) => (writeFileSync(f.key, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), f), /^tls\.key .*key\.pem: not a PEM private key/],
    ['a certificate without its key', (f) => ({ cert: f.cert }), /give both cert and key/],
  ];
  for (const [what, make, want] of startCases) {
    it(`refuses to start with ${what}, naming the problem`, async () => {
      const f = files(one);
      const given = make(f);
      await assert.rejects(
        createTlsSource({ ...given, dataDir: f.dir, hostname: 'mail.example.test', logger: silentLogger }),
        (err: unknown) => isPosternError(err, 'POSTERN_CONFIG') && want.test((err as Error).message),
      );
    });
  }

  it('hands a reload to new handshakes through secureContextFor', async () => {
    const f = files(one);
    const source = await createTlsSource({ cert: f.cert, key: f.key, dataDir: f.dir, hostname: 'mail.example.test', logger: silentLogger });
    const context = secureContextFor(source);
    assert.equal(context(), context(), 'cached while the material is the same');
    const server = createServer({ SNICallback: (_name, cb) => cb(null, context()) }, (s) => s.end());
    // A default context is needed when the client sends no SNI: the same function serves it.
    server.setSecureContext({ key: source.current().key, cert: source.current().cert });
    await new Promise<void>((resolve) => server.listen(0, '127.0.26.1', resolve));
    const port = (server.address() as { port: number }).port;
    const peer = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const c = connect({ host: '127.0.26.1', port, servername: 'mail.example.test', rejectUnauthorized: false }, () => {
          resolve(c.getPeerX509Certificate()?.fingerprint256 ?? '');
          c.destroy();
        });
        c.on('error', reject);
      });
    try {
      assert.equal(await peer(), one.fingerprint);
      writeFileSync(f.cert, two.cert);
      writeFileSync(f.key, two.key);
      await source.reload();
      assert.equal(await peer(), two.fingerprint);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
