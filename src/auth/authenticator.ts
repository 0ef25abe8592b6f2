/**
 * Password logins against the store's accounts, with the defences a login service on the Internet
 * needs against guessing: every failure makes the next answer slower (per client address and per
 * account name), and enough failures lock the address and the account out for a while, answering
 * "locked" without looking at the password. Unknown accounts cost the same as wrong passwords (a
 * scrypt against a dummy hash) and count the same, so neither the answer nor its timing says
 * whether an account exists. The failure tables are capped, so a spray of addresses cannot grow
 * memory without bound.
 */
import { isIP } from 'node:net';
import type { Logger } from '../core/logger.ts';
import { hashPassword, verifyPassword } from '../store/password.ts';
import type { AccountStore } from '../store/types.ts';
import type { AuthRequest, AuthResult, Authenticator } from './types.ts';

export interface AuthenticatorOptions {
  store: Pick<AccountStore, 'getAccount'>;
  /** Failures (per client address, and per account name) that lock it out. */
  maxFailures: number;
  lockoutMs: number;
  /** Each failure adds this much delay to the next answer… */
  delayStepMs: number;
  /** …up to this much. */
  maxDelayMs: number;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Entries kept per table (addresses, accounts); the least recently failed go first. */
  maxEntries?: number;
  /** The check itself: tests count calls. Default `verifyPassword` (scrypt). */
  verify?: (password: string, hash: string) => Promise<boolean>;
  /** The hash unknown accounts are checked against. Default: made once, with the default scrypt cost. */
  dummyHash?: string;
}

interface Failures {
  count: number;
  /** The last failure: counts are forgotten `lockoutMs` after it. */
  last: number;
  /** 0 when not locked. */
  lockedUntil: number;
}

const DEFAULT_MAX_ENTRIES = 10_000;

/** A bounded table of failure counts, least recently failed first (Map insertion order). */
class FailureTable {
  readonly #entries = new Map<string, Failures>();
  readonly #max: number;
  readonly #forgetMs: number;

  constructor(max: number, forgetMs: number) {
    this.#max = Math.max(1, max);
    this.#forgetMs = forgetMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live entry for `key`, or null (an expired one is dropped). */
  get(key: string, now: number): Failures | null {
    const e = this.#entries.get(key);
    if (e === undefined) return null;
    if (this.#expired(e, now)) {
      this.#entries.delete(key);
      return null;
    }
    return e;
  }

  fail(key: string, now: number, maxFailures: number, lockoutMs: number): Failures {
    const e = this.get(key, now) ?? { count: 0, last: now, lockedUntil: 0 };
    e.count++;
    e.last = now;
    if (e.count >= maxFailures && e.lockedUntil <= now) e.lockedUntil = now + lockoutMs;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    this.#trim(now);
    return e;
  }

  clear(key: string): void {
    this.#entries.delete(key);
  }

  #expired(e: Failures, now: number): boolean {
    if (e.lockedUntil > now) return false;
    return e.lockedUntil > 0 || now - e.last >= this.#forgetMs;
  }

  #trim(now: number): void {
    if (this.#entries.size <= this.#max) return;
    // Expired entries go first; then the least recently failed, locked or not: a table that
    // forgets is better than one that grows until the process dies.
    for (const [k, e] of this.#entries) if (this.#expired(e, now)) this.#entries.delete(k);
    for (const k of this.#entries.keys()) {
      if (this.#entries.size <= this.#max) break;
      this.#entries.delete(k);
    }
  }
}

export interface CountingAuthenticator extends Authenticator {
  /** Entries in the failure tables now (for tests and metrics). */
  readonly tableSizes: { addresses: number; accounts: number };
}

export function createAuthenticator(o: AuthenticatorOptions): CountingAuthenticator {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const verify = o.verify ?? verifyPassword;
  const log = o.logger.child({ component: 'auth' });
  const maxEntries = o.maxEntries ?? DEFAULT_MAX_ENTRIES;
  // Counts that never reached a lockout are forgotten after as long as a lockout lasts.
  const addresses = new FailureTable(maxEntries, o.lockoutMs);
  const accounts = new FailureTable(maxEntries, o.lockoutMs);
  let dummy: Promise<string> | null = o.dummyHash === undefined ? null : Promise.resolve(o.dummyHash);
  const dummyHash = (): Promise<string> => (dummy ??= hashPassword(`dummy ${Math.random()}`));

  return {
    get tableSizes() {
      return { addresses: addresses.size, accounts: accounts.size };
    },

    async authenticate(request: AuthRequest): Promise<AuthResult> {
      const ipKey = addressKey(request.remoteAddress);
      const accountKey = request.username.trim().toLowerCase();
      const started = now();
      const ip = addresses.get(ipKey, started);
      const account = accounts.get(accountKey, started);
      const failures = Math.max(ip?.count ?? 0, account?.count ?? 0);
      const delay = Math.min(o.maxDelayMs, failures * o.delayStepMs);
      if (delay > 0) await sleep(delay);

      const lockedIp = (ip?.lockedUntil ?? 0) > started;
      const lockedAccount = (account?.lockedUntil ?? 0) > started;
      if (lockedIp || lockedAccount) {
        log.info({ event: 'auth.locked', service: request.service, remote: request.remoteAddress, username: request.username, by: lockedIp ? 'address' : 'account' }, 'login refused: locked out');
        return { ok: false, locked: true };
      }

      let found: Awaited<ReturnType<AccountStore['getAccount']>>;
      try {
        found = await o.store.getAccount(request.username.trim());
      } catch (err) {
        // Not the client's fault: a temporary refusal, not counted.
        log.error({ event: 'auth.store_failed', error: err instanceof Error ? err.message : String(err) }, 'cannot look up the account');
        return { ok: false, locked: true };
      }
      // The same work whether or not the account exists or can log in.
      const hash = found?.passwordHash ?? (await dummyHash());
      const matches = await verify(request.password, hash);
      if (found !== null && found.passwordHash !== null && matches) {
        addresses.clear(ipKey);
        log.info({ event: 'auth.ok', service: request.service, remote: request.remoteAddress, address: found.address }, 'login');
        return { ok: true, address: found.address };
      }
      const at = now();
      const ipAfter = addresses.fail(ipKey, at, o.maxFailures, o.lockoutMs);
      const accountAfter = accounts.fail(accountKey, at, o.maxFailures, o.lockoutMs);
      log.info(
        { event: 'auth.failed', service: request.service, remote: request.remoteAddress, username: request.username, ipFailures: ipAfter.count, accountFailures: accountAfter.count },
        'login failed',
      );
      if (ipAfter.lockedUntil > at && ipAfter.count === o.maxFailures) log.warn({ event: 'auth.lockout', remote: request.remoteAddress, untilMs: ipAfter.lockedUntil }, 'client address locked out');
      if (accountAfter.lockedUntil > at && accountAfter.count === o.maxFailures) log.warn({ event: 'auth.lockout', username: request.username, untilMs: accountAfter.lockedUntil }, 'account locked out');
      return { ok: false, locked: false };
    },
  };
}

/**
 * The key a client address counts under. An IPv6 client usually holds a whole /64, so its
 * addresses count as one; IPv4 addresses count one by one.
 */
export function addressKey(address: string): string {
  const plain = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;
  if (isIP(plain) !== 6) return plain.toLowerCase();
  const groups = expandIpv6(plain);
  return groups === null ? plain.toLowerCase() : `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] | null {
  const [head = '', tail] = address.split('%')[0]?.split('::') ?? [];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  if (t.some((g) => g.includes('.')) || h.some((g) => g.includes('.'))) return null;
  const missing = 8 - h.length - t.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  return [...h, ...Array<string>(missing).fill('0'), ...t].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}
