/**
 * The server's TLS material from the config: the `[tls] cert` and `key` PEM files, or, when none are
 * configured, the self-signed certificate for `hostname` generated once into `data_dir`. Every
 * listener reads it through one `TlsSource`, so `reload()` (on SIGHUP) reaches them all at once;
 * a reload that finds bad files keeps what it had and says what is wrong with which file.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { errorText, ErrorCode, PosternError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { ensureSelfSignedCertificate } from './self-signed.ts';
import type { TlsMaterial, TlsSource } from './types.ts';

export interface TlsSourceOptions {
  /** PEM certificate (then its chain). Give both cert and key, or neither for a self-signed one. */
  cert?: string;
  /** PEM private key. */
  key?: string;
  /** Where the self-signed certificate lives. */
  dataDir: string;
  /** The name the self-signed certificate is for; also checked against a configured one. */
  hostname: string;
  logger: Logger;
  /** The clock, for expiry checks and renewal. */
  now?: () => number;
}

export type TlsReloadResult = { ok: true; fingerprint: string } | { ok: false; error: string };

export interface ReloadableTlsSource extends TlsSource {
  /** SHA-256 of the current certificate, "AB:CD:…", as clients show it. */
  readonly fingerprint: string;
  /** True when the certificate is the generated self-signed one. */
  readonly selfSigned: boolean;
  /** Reads the files again (or renews the self-signed certificate when due). A failure keeps the
   *  current material and never throws. */
  reload(): Promise<TlsReloadResult>;
}

interface Loaded {
  material: TlsMaterial;
  fingerprint: string;
  notAfter: number;
}

/** Loads the material; throws a POSTERN_CONFIG error naming the file and the problem. */
export async function createTlsSource(options: TlsSourceOptions): Promise<ReloadableTlsSource> {
  const log = options.logger.child({ component: 'tls' });
  const now = options.now ?? Date.now;
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new PosternError(ErrorCode.Config, 'tls: give both cert and key, or neither for a self-signed certificate');
  }
  const selfSigned = options.cert === undefined;
  const load = async (): Promise<Loaded> => {
    if (options.cert === undefined || options.key === undefined) {
      const generated = await ensureSelfSignedCertificate(options.dataDir, options.hostname, new Date(now()));
      return { material: { key: generated.key, cert: generated.cert }, fingerprint: generated.fingerprint, notAfter: new Date(new X509Certificate(generated.cert).validTo).getTime() };
    }
    return loadPemFiles(options.cert, options.key);
  };

  let current = await load();
  warnAbout(current, options, now(), log);
  log.info(
    { event: 'tls.loaded', fingerprint: current.fingerprint, ...(selfSigned ? { selfSigned: true } : { cert: options.cert }) },
    selfSigned ? 'TLS with a self-signed certificate (set [tls] cert and key for your own)' : 'TLS certificate loaded',
  );

  return {
    current: () => current.material,
    get fingerprint() {
      return current.fingerprint;
    },
    selfSigned,
    async reload() {
      let next: Loaded;
      try {
        next = await load();
      } catch (err) {
        const error = errorText(err);
        log.error({ event: 'tls.reload_failed', error }, 'TLS reload failed: keeping the current certificate');
        return { ok: false, error };
      }
      // Same bytes: keep the same object, so servers keep their cached SecureContext.
      if (next.material.cert !== current.material.cert || next.material.key !== current.material.key) current = next;
      warnAbout(current, options, now(), log);
      log.info({ event: 'tls.reloaded', fingerprint: current.fingerprint }, 'TLS certificate loaded');
      return { ok: true, fingerprint: current.fingerprint };
    },
  };
}

/** Reads and checks a configured pair: each file readable and PEM, the key matching the certificate. */
async function loadPemFiles(certPath: string, keyPath: string): Promise<Loaded> {
  const cert = await readPem(certPath, 'tls.cert');
  const key = await readPem(keyPath, 'tls.key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw configError(`tls.cert ${certPath}: not a PEM certificate (${errorText(err)})`, err);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw configError(`tls.key ${keyPath}: not a PEM private key, or one protected by a passphrase (${errorText(err)})`, err);
  }
  if (!x509.checkPrivateKey(privateKey)) throw configError(`tls.key ${keyPath}: does not belong to the certificate in ${certPath}`);
  try {
    // What every listener will do with it: fails on anything node:tls itself refuses.
    createSecureContext({ key, cert });
  } catch (err) {
    throw configError(`tls.cert ${certPath} with tls.key ${keyPath}: refused by TLS (${errorText(err)})`, err);
  }
  return { material: { key, cert }, fingerprint: x509.fingerprint256, notAfter: new Date(x509.validTo).getTime() };
}

async function readPem(path: string, key: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorText(err);
    throw configError(`${key} ${path}: cannot read: ${why}`, err);
  }
  if (!text.includes('-----BEGIN ')) throw configError(`${key} ${path}: not PEM (no "-----BEGIN" line)`);
  return text;
}

function configError(message: string, cause?: unknown): PosternError {
  return new PosternError(ErrorCode.Config, message, cause === undefined ? undefined : { cause });
}

/** An expired or soon-expiring certificate, or one for another name, still serves; it is logged. */
function warnAbout(loaded: Loaded, options: TlsSourceOptions, now: number, log: Logger): void {
  const days = Math.floor((loaded.notAfter - now) / 86_400_000);
  if (loaded.notAfter <= now) log.warn({ event: 'tls.expired', fingerprint: loaded.fingerprint }, 'the TLS certificate has expired');
  else if (days < 14) log.warn({ event: 'tls.expiring', days, fingerprint: loaded.fingerprint }, 'the TLS certificate expires soon');
  try {
    if (new X509Certificate(loaded.material.cert).checkHost(options.hostname) === undefined) {
      log.warn({ event: 'tls.name_mismatch', hostname: options.hostname }, 'the TLS certificate does not name this host');
    }
  } catch {
    // Checked when loaded.
  }
}
