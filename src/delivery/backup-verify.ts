/**
 * A backup MX must never accept what its primary would refuse: mail it accepts for an unknown
 * recipient comes back as a bounce to a forged sender (backscatter), and a backup that accepts
 * everything is how spammers get round the primary's checks. So before a backup domain's RCPT is
 * accepted, the recipient is verified: from `backup.recipients` (a list of addresses and `@domain`
 * wildcards, re-read when the file changes) or by asking the primary itself, a RCPT callout to the
 * MX hosts more preferred than us (MAIL FROM:<>, RCPT, RSET: never DATA). Answers are cached,
 * positive for days and negative for an hour. While no primary answers, a recipient verified
 * before is accepted and an unknown one gets 451 4.4.3, so the sender tries again later.
 */
import { readFileSync, statSync } from 'node:fs';
import { errorText } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { Reply, replyText, withText, type SmtpReply } from '../core/smtp-reply.ts';
import { mxTargets, type MxOptions } from '../dns/mx.ts';
import type { ConnectionPool } from './connection-pool.ts';

export type Verdict = { kind: 'accept' } | { kind: 'reject'; reply: SmtpReply };

export interface BackupVerifierOptions {
  mx: MxOptions;
  port: number;
  pool: ConnectionPool;
  recipientsFile: string | null;
  positiveTtlMs: number;
  negativeTtlMs: number;
  logger: Logger;
  now?: () => number;
}

interface CacheEntry {
  ok: boolean;
  until: number;
  reply: string;
}

interface RecipientList {
  mtimeMs: number;
  addresses: Set<string>;
  domains: Set<string>;
}

/** Parses a recipients file: one address or `@domain` per line; `#` comments. */
export function parseRecipientList(text: string): { addresses: Set<string>; domains: Set<string> } {
  const addresses = new Set<string>();
  const domains = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim().toLowerCase();
    if (line === '') continue;
    if (line.startsWith('@')) domains.add(line.slice(1).replace(/\.$/, ''));
    else addresses.add(line);
  }
  return { addresses, domains };
}

export class BackupVerifier {
  readonly #o: BackupVerifierOptions;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  #list: RecipientList | null = null;
  #listCheckedAt = -Infinity;

  constructor(options: BackupVerifierOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async check(address: string, domain: string): Promise<Verdict> {
    const key = address.toLowerCase();
    if (this.#o.recipientsFile !== null) return this.#fromList(key, domain.toLowerCase());
    const now = this.#now();
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.until > now) return cached.ok ? { kind: 'accept' } : { kind: 'reject', reply: withText(Reply.NoSuchUser, `no such user here (verified with the primary: ${cached.reply})`) };
    const asked = await this.#callout(address, domain);
    if (asked.kind === 'answer') {
      this.#cache.set(key, { ok: asked.ok, until: now + (asked.ok ? this.#o.positiveTtlMs : this.#o.negativeTtlMs), reply: asked.reply });
      return asked.ok ? { kind: 'accept' } : { kind: 'reject', reply: withText(Reply.NoSuchUser, `no such user here (verified with the primary: ${asked.reply})`) };
    }
    if (cached?.ok === true) return { kind: 'accept' };
    return { kind: 'reject', reply: { code: 451, enhanced: '4.4.3', lines: [`cannot verify ${address} with the primary MX now; try again later`] } };
  }

  #fromList(key: string, domain: string): Verdict {
    const file = this.#o.recipientsFile;
    if (file === null) return { kind: 'accept' };
    const now = this.#now();
    if (this.#list === null || now - this.#listCheckedAt > 1000) {
      this.#listCheckedAt = now;
      try {
        const mtimeMs = statSync(file).mtimeMs;
        if (this.#list === null || this.#list.mtimeMs !== mtimeMs) {
          this.#list = { mtimeMs, ...parseRecipientList(readFileSync(file, 'utf8')) };
          this.#o.logger.info({ event: 'backup.recipients.loaded', file, addresses: this.#list.addresses.size, domains: this.#list.domains.size }, 'backup recipient list loaded');
        }
      } catch (err) {
        // Keep the list we had; without one, accept nothing we cannot vouch for.
        this.#o.logger.error({ event: 'backup.recipients.unreadable', file, error: errorText(err) }, 'backup recipient list unreadable');
        if (this.#list === null) return { kind: 'reject', reply: { code: 451, enhanced: '4.3.0', lines: ['recipient list unavailable; try again later'] } };
      }
    }
    const list = this.#list;
    if (list !== null && (list.addresses.has(key) || list.domains.has(domain))) return { kind: 'accept' };
    return { kind: 'reject', reply: withText(Reply.NoSuchUser, 'no such user here') };
  }

  async #callout(address: string, domain: string): Promise<{ kind: 'answer'; ok: boolean; reply: string } | { kind: 'unknown'; why: string }> {
    const plan = await mxTargets(domain, this.#o.mx);
    if (plan.kind !== 'targets') return { kind: 'unknown', why: plan.kind };
    const why: string[] = [];
    for (const target of plan.targets) {
      for (const ip of target.addresses) {
        let lease;
        try {
          lease = await this.#o.pool.acquire(ip, this.#o.port, target.host);
        } catch (err) {
          why.push(`${target.host} [${ip}]: ${errorText(err)}`);
          continue;
        }
        try {
          const [r] = await lease.connection.verify('', [address]);
          lease.release(true);
          if (r === undefined) continue;
          if (r.code >= 200 && r.code < 300) return { kind: 'answer', ok: true, reply: replyText(r) };
          if (r.code >= 500) return { kind: 'answer', ok: false, reply: replyText(r) };
          why.push(`${target.host} [${ip}]: ${replyText(r)}`);
        } catch (err) {
          lease.release(false);
          why.push(`${target.host} [${ip}]: ${errorText(err)}`);
        }
      }
    }
    this.#o.logger.info({ event: 'backup.callout.unanswered', address, why }, 'no primary answered the recipient check');
    return { kind: 'unknown', why: why.join('; ') };
  }
}
