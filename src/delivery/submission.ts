/**
 * Message submission (RFC 6409): the policy for mail our own users send after logging in. They may
 * send to any domain (the inbound hooks with `source: 'submission'`), but only as themselves: the
 * envelope sender and every address in the header `From:` must be the user's own address or one of
 * their aliases (553 5.7.1 otherwise), so an account cannot be used to forge another's mail. As
 * RFC 6409 §8.2 and §8.3 allow, a message without `Date:` or `Message-ID:` gets them here.
 */
import { normalizeDomain } from '../core/domain-name.ts';
import { reply, Reply, SmtpReplyError, withText } from '../core/smtp-reply.ts';
import type { SmtpReply } from '../core/smtp-reply.ts';
import { headerValues, parseHeaderFields, splitMessage } from '../message/headers.ts';
import { newMessageId } from '../message/message-id.ts';
import { formatRfc5322Date } from '../message/received.ts';
import { concatBytes } from '../smtp/proto/bytes.ts';
import type { SmtpHooks } from '../smtp/server/types.ts';
import type { AccountStore } from '../store/types.ts';
import { inboundHooks } from './inbound.ts';
import type { InboundOptions } from './inbound.ts';

export interface SubmissionOptions extends Omit<InboundOptions, 'source' | 'store'> {
  store: InboundOptions['store'] & Pick<AccountStore, 'getAccount' | 'lookupAlias'>;
  /** Our name: the right-hand side of the Message-IDs we add. */
  hostname: string;
}

const Refuse = {
  NotLoggedIn: withText(Reply.AuthRequired, 'Authentication required'),
  Sender: (address: string, user: string): SmtpReply => reply(553, '5.7.1', `sender address <${address}> is not yours (logged in as ${user})`),
  NullSender: (user: string): SmtpReply => reply(553, '5.7.1', `a null sender <> is not allowed here (logged in as ${user})`),
  HeaderFrom: (address: string, user: string): SmtpReply => reply(553, '5.7.1', `From: address <${address}> is not yours (logged in as ${user})`),
  UnreadableFrom: reply(553, '5.7.1', 'cannot read the addresses in the From: header'),
} as const;

/** The hooks for a server in mode 'submission'. */
export function submissionHooks(o: SubmissionOptions): SmtpHooks {
  const inner = inboundHooks({ ...o, source: 'submission' });
  const now = o.now ?? Date.now;
  const log = o.logger.child({ component: 'submission' });
  const mayUse = (address: string, user: string): Promise<boolean> => addressBelongsTo(address, user, o.store);

  return {
    async checkSender(tx, session) {
      const user = session.authenticated;
      if (user === null) throw new SmtpReplyError(Refuse.NotLoggedIn);
      if (tx.sender === null) throw new SmtpReplyError(Refuse.NullSender(user));
      const address = `${tx.sender.local}@${tx.sender.domain}`;
      if (!(await mayUse(address, user))) {
        log.info({ event: 'submission.sender_refused', user, sender: address }, 'MAIL FROM is not the user');
        throw new SmtpReplyError(Refuse.Sender(address, user));
      }
      await inner.checkSender?.(tx, session);
    },

    async checkRecipient(recipient, tx, session) {
      if (session.authenticated === null) throw new SmtpReplyError(Refuse.NotLoggedIn);
      await inner.checkRecipient(recipient, tx, session);
    },

    async deliver(message, session) {
      const user = session.authenticated;
      if (user === null) throw new SmtpReplyError(Refuse.NotLoggedIn);
      const fields = parseHeaderFields(message.data);
      for (const value of headerValues(fields, 'From')) {
        const addresses = headerAddresses(value);
        if (addresses === null) throw new SmtpReplyError(Refuse.UnreadableFrom);
        for (const address of addresses) {
          if (!(await mayUse(address, user))) {
            log.info({ event: 'submission.from_refused', user, from: address, id: message.id }, 'header From is not the user');
            throw new SmtpReplyError(Refuse.HeaderFrom(address, user));
          }
        }
      }
      const missing: string[] = [];
      // RFC 6409 §8.3 and §8.2.
      if (headerValues(fields, 'Message-ID').length === 0) missing.push(`Message-ID: ${newMessageId({ hostname: o.hostname, now: now() })}`);
      if (headerValues(fields, 'Date').length === 0) missing.push(`Date: ${formatRfc5322Date(new Date(now()))}`);
      const data = missing.length === 0 ? message.data : appendHeaderFields(message.data, missing);
      return inner.deliver({ ...message, data }, session);
    },
  };
}

/**
 * Whether `user` (an account's address) may send as `address`: it is the account itself, or an alias
 * whose targets include the account. A catch-all alias (`@domain`) covers only addresses that are no
 * account of their own, so it never lets one user send as another.
 */
export async function addressBelongsTo(address: string, user: string, store: Pick<AccountStore, 'getAccount' | 'lookupAlias'>): Promise<boolean> {
  const a = address.toLowerCase();
  const u = user.toLowerCase();
  if (a === u) return true;
  const match = await store.lookupAlias(address);
  if (match === null || !match.targets.some((t) => t.toLowerCase() === u)) return false;
  if (!match.catchAll) return true;
  return (await store.getAccount(address)) === null;
}

/** The fields added at the end of the header section, after whatever the message had. */
function appendHeaderFields(message: Uint8Array, fields: readonly string[]): Uint8Array {
  const { header, separator, body } = splitMessage(message);
  const enc = new TextEncoder();
  const endsWithNewline = header.length > 0 && header[header.length - 1] === 0x0a;
  const added = enc.encode((endsWithNewline || header.length === 0 ? '' : '\r\n') + fields.map((f) => `${f}\r\n`).join(''));
  return concatBytes([header, added, separator.length > 0 ? separator : enc.encode('\r\n'), body]);
}

/**
 * The addr-specs of an address list as in a From: field (RFC 5322 §3.4): display names, comments,
 * quoted strings and groups skipped. Null when the text is no address list. Never throws.
 */
export function headerAddresses(value: string): string[] | null {
  const out: string[] = [];
  // Tokenise: quoted strings and comments are atoms of their own; everything else is split at
  // the specials that matter here.
  const tokens: string[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(') {
      let depth = 0;
      for (; i < value.length; i++) {
        const d = value[i];
        if (d === '\\') i++;
        else if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
      }
      if (depth !== 0) return null;
      i++;
    } else if (c === '"') {
      let j = i + 1;
      let text = '"';
      for (; j < value.length && value[j] !== '"'; j++) {
        if (value[j] === '\\') j++;
        text += value[j] ?? '';
      }
      if (j >= value.length) return null;
      tokens.push(`${text}"`);
      i = j + 1;
    } else if (c === ')') {
      return null;
    } else if ('<>,:;@'.includes(c)) {
      tokens.push(c);
      i++;
    } else {
      let j = i;
      while (j < value.length && !' \t\r\n()"<>,:;@'.includes(value[j] as string)) j++;
      tokens.push(value.slice(i, j));
      i = j;
    }
  }
  // Each mailbox is either "phrase <addr-spec>" or a bare addr-spec; groups "name: list ;".
  let k = 0;
  const mailbox = (): string | null => {
    const angle = tokens.indexOf('<', k);
    const end = nextOf([',', ';'], k);
    if (angle >= 0 && (end < 0 || angle < end)) {
      const close = tokens.indexOf('>', angle);
      if (close < 0 || (end >= 0 && close > end)) return null;
      const spec = addrSpec(tokens.slice(angle + 1, close));
      k = close + 1;
      return spec;
    }
    const stop = end < 0 ? tokens.length : end;
    const spec = addrSpec(tokens.slice(k, stop));
    k = stop;
    return spec;
  };
  const nextOf = (set: string[], from: number): number => {
    for (let j = from; j < tokens.length; j++) if (set.includes(tokens[j] as string)) return j;
    return -1;
  };
  let inGroup = false;
  while (k < tokens.length) {
    const t = tokens[k];
    if (t === ',') {
      k++;
      continue;
    }
    if (t === ';' && inGroup) {
      inGroup = false;
      k++;
      continue;
    }
    // A group: "display-name :" before any "<" or "@".
    const colon = tokens.indexOf(':', k);
    const nextMailboxMark = nextOf(['<', '@', ','], k);
    if (!inGroup && colon >= 0 && (nextMailboxMark < 0 || colon < nextMailboxMark)) {
      inGroup = true;
      k = colon + 1;
      continue;
    }
    const spec = mailbox();
    if (spec === null) return null;
    out.push(spec);
    if (k < tokens.length && tokens[k] !== ',' && tokens[k] !== ';') return null;
  }
  if (inGroup) return null;
  return out;
}

/** local-part "@" domain from its tokens, the local part unquoted (as the envelope's is). */
function addrSpec(tokens: string[]): string | null {
  const at = tokens.lastIndexOf('@');
  if (at <= 0 || at !== tokens.length - 2) return null;
  const local = tokens
    .slice(0, at)
    .map((t) => (t.startsWith('"') ? t.slice(1, -1) : t))
    .join('');
  const domain = normalizeDomain(tokens[at + 1] as string);
  if (local === '' || domain === '' || /[<>,:;@]/.test(domain) || tokens.slice(0, at).some((t) => ['<', '>', ',', ':', ';', '@'].includes(t))) return null;
  return `${local}@${domain}`;
}
