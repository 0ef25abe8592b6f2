/**
 * A self-signed certificate for STARTTLS when none is configured. Between mail servers TLS is
 * opportunistic (RFC 3207, RFC 7435): senders encrypt without checking the certificate, so a
 * self-signed one still keeps the message off the wire in clear text. It is generated once into a
 * directory (the key readable by us alone) and reused on every start, renewed when it is about to
 * expire or names another host.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface SelfSignedCertificate {
  /** PEM. */
  key: string;
  /** PEM. */
  cert: string;
  /** SHA-256 of the certificate, "AB:CD:…". */
  fingerprint: string;
}

/** Renew when fewer days than this are left. */
const RENEW_DAYS = 30;
const VALID_DAYS = 825;

export function certificatePaths(dir: string, hostname: string): { key: string; cert: string } {
  const safe = hostname.toLowerCase().replace(/[^a-z0-9.-]/g, '_');
  return { key: join(dir, `${safe}.key.pem`), cert: join(dir, `${safe}.cert.pem`) };
}

export async function ensureSelfSignedCertificate(dir: string, hostname: string, now: Date = new Date()): Promise<SelfSignedCertificate> {
  const paths = certificatePaths(dir, hostname);
  const existing = await readUsable(paths, hostname, now);
  if (existing !== null) return existing;

  const notAfter = new Date(now.getTime() + VALID_DAYS * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Written aside and renamed, so a reader never sees half a file and two starts racing each
  // leave a complete pair.
  const tag = `${process.pid}.${Date.now()}`;
  await writeFile(`${paths.key}.${tag}`, pems.private, { mode: 0o600 });
  await chmod(`${paths.key}.${tag}`, 0o600);
  await writeFile(`${paths.cert}.${tag}`, pems.cert, { mode: 0o644 });
  await rename(`${paths.key}.${tag}`, paths.key);
  await rename(`${paths.cert}.${tag}`, paths.cert);
  return { key: pems.private, cert: pems.cert, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

async function readUsable(paths: { key: string; cert: string }, hostname: string, now: Date): Promise<SelfSignedCertificate | null> {
  let key: string;
  let cert: string;
  try {
    [key, cert] = await Promise.all([readFile(paths.key, 'utf8'), readFile(paths.cert, 'utf8')]);
  } catch {
    return null;
  }
  try {
    const x509 = new X509Certificate(cert);
    const expires = new Date(x509.validTo).getTime();
    if (expires - now.getTime() < RENEW_DAYS * 86_400_000) return null;
    if (x509.checkHost(hostname) === undefined) return null;
    if (!x509.checkPrivateKey(createPrivateKey(key))) return null;
    return { key, cert, fingerprint: x509.fingerprint256 };
  } catch {
    return null;
  }
}
