/**
 * The system's resolver configuration, resolv.conf(5): where lookups go when `dns.resolvers` is not
 * set. Only `nameserver` lines matter to us (and `options timeout:`/`attempts:`, reported for
 * callers that want the system's own pacing); `search`/`domain` do not apply, because a mail
 * system only ever looks up fully qualified names.
 *
 * Parsing is pure (`parseResolvConf`); `readResolvConf` is the small reader around it. Like glibc,
 * a missing file or a file without nameservers means the local host (127.0.0.1, port 53).
 */
import { ErrorCode, PosternError } from '../core/errors.ts';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { HostPort } from '../core/host-port.ts';

export const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';
export const DNS_PORT = 53;

/** What glibc falls back to when no nameserver is configured (resolv.conf(5), "nameserver"). */
export const FALLBACK_NAMESERVER: HostPort = { host: '127.0.0.1', port: DNS_PORT };

export interface ResolvConfProblem {
  line: number;
  message: string;
}

export interface ResolvConf {
  /** In file order; each on port 53. IPv6 zone suffixes ("fe80::1%eth0") are kept: sockets need them. */
  nameservers: HostPort[];
  /** `options timeout:N` in seconds, when given. */
  timeoutSeconds: number | null;
  /** `options attempts:N`, when given. */
  attempts: number | null;
  /** Lines we could not use, for a warning: they are skipped, never fatal. */
  problems: ResolvConfProblem[];
}

export function parseResolvConf(text: string): ResolvConf {
  const result: ResolvConf = { nameservers: [], timeoutSeconds: null, attempts: null, problems: [] };
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    // resolv.conf(5): a ';' or '#' in the first column starts a comment. glibc reads only the first
    // word after "nameserver", so trailing text is ignored there too.
    const content = raw.replace(/[#;].*$/, '').trim();
    if (content === '') continue;
    const [keyword, ...args] = content.split(/\s+/);
    if (keyword === 'nameserver') {
      const address = args[0];
      if (address === undefined) {
        result.problems.push({ line, message: 'nameserver without an address' });
        continue;
      }
      if (isIP(address) === 0) {
        result.problems.push({ line, message: `nameserver "${address}" is not an IP address` });
        continue;
      }
      result.nameservers.push({ host: address, port: DNS_PORT });
    } else if (keyword === 'options') {
      for (const option of args) {
        const m = /^(timeout|attempts):(\d+)$/.exec(option);
        if (m === null) continue;
        const value = Number(m[2]);
        if (m[1] === 'timeout') result.timeoutSeconds = value;
        else result.attempts = value;
      }
    }
  }
  return result;
}

/**
 * Reads the file synchronously: the resolver checks its servers against the loopback guard when it
 * is built, so that a misconfiguration fails at start rather than at the first lookup.
 */
export function readResolvConf(path: string = DEFAULT_RESOLV_CONF): ResolvConf & { missing: boolean } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { nameservers: [], timeoutSeconds: null, attempts: null, problems: [], missing: true };
    }
    throw new PosternError(ErrorCode.Config, `${path}: cannot read the system resolver configuration: ${(err as Error).message} (set dns.resolvers in the config instead)`, { cause: err });
  }
  return { ...parseResolvConf(text), missing: false };
}

/** The servers to ask: those of the file, or glibc's fallback when it names none. */
export function resolvConfServers(conf: ResolvConf): HostPort[] {
  return conf.nameservers.length > 0 ? conf.nameservers : [FALLBACK_NAMESERVER];
}

export function withoutZone(address: string): string {
  const percent = address.indexOf('%');
  return percent < 0 ? address : address.slice(0, percent);
}
