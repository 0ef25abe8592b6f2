import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { certificatePaths, ensureSelfSignedCertificate } from './self-signed.ts';

describe('ensureSelfSignedCertificate', () => {
  it('generates a certificate for the host once, with the key readable by the owner only, and reuses it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'postern-cert-')), 'tls');
    const first = await ensureSelfSignedCertificate(dir, 'mx.example.test');
    const x509 = new X509Certificate(first.cert);
    assert.equal(x509.checkHost('mx.example.test'), 'mx.example.test');
    assert.equal(first.fingerprint, x509.fingerprint256);
    const paths = certificatePaths(dir, 'mx.example.test');
    assert.equal(statSync(paths.key).mode & 0o777, 0o600);
    const again = await ensureSelfSignedCertificate(dir, 'mx.example.test');
    assert.equal(again.fingerprint, first.fingerprint);
    const other = await ensureSelfSignedCertificate(dir, 'mx2.example.test');
    assert.notEqual(other.fingerprint, first.fingerprint);
  });

  it('renews a certificate that is about to expire', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-cert-'));
    const first = await ensureSelfSignedCertificate(dir, 'mx.example.test');
    const later = new Date(Date.now() + 820 * 86_400_000);
    const renewed = await ensureSelfSignedCertificate(dir, 'mx.example.test', later);
    assert.notEqual(renewed.fingerprint, first.fingerprint);
  });
});
