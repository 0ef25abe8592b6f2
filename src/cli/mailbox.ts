/**
 * `postern mailbox list ADDRESS`: what is in an account's INBOX, read from the header fields of
 * each stored message (Date, From, To, Subject, Message-ID), so an operator can see whether mail
 * arrived without logging in as the user.
 */
import { headerValue, parseHeaderFields } from '../message/headers.ts';
import { fail, formatSize, formatTable, formatTime, printable, printJson, truncate, withStore } from './format.ts';
import type { Io } from './io.ts';

export interface MailboxMessageJson {
  uid: number;
  /** When we filed it. */
  internalDate: string;
  /** The Date field as the message has it, or null. */
  date: string | null;
  from: string | null;
  to: string | null;
  subject: string | null;
  messageId: string | null;
  size: number;
}

export async function mailboxListCommand(address: string, options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const account = await store.getAccount(address);
    if (account === null) return fail(io, `no account ${address}`);
    const ref = { address: account.address, mailbox: 'INBOX' };
    const messages: MailboxMessageJson[] = [];
    for (const m of (await store.listMessages(ref)) ?? []) {
      const data = await store.readMessage({ ...ref, uid: m.uid });
      const fields = data === null ? [] : parseHeaderFields(data);
      const field = (name: string): string | null => {
        const v = headerValue(fields, name);
        return v === undefined ? null : decodeEncodedWords(v);
      };
      messages.push({
        uid: m.uid,
        internalDate: formatTime(m.internalDate),
        date: field('Date'),
        from: field('From'),
        to: field('To'),
        subject: field('Subject'),
        messageId: field('Message-ID'),
        size: m.size,
      });
    }
    if (options.json === true) {
      printJson(io, messages);
      return 0;
    }
    if (messages.length === 0) {
      io.stdout.write(`${account.address}: INBOX is empty\n`);
      return 0;
    }
    const cell = (text: string | null, max: number): string => truncate(printable(text ?? '-'), max);
    io.stdout.write(
      formatTable(
        ['UID', 'DATE', 'SIZE', 'FROM', 'TO', 'SUBJECT', 'MESSAGE-ID'],
        messages.map((m) => [String(m.uid), shownDate(m), formatSize(m.size), cell(m.from, 32), cell(m.to, 32), cell(m.subject, 40), cell(m.messageId, 80)]),
      ),
    );
    io.stdout.write(`${messages.length} message${messages.length === 1 ? '' : 's'} in ${account.address} INBOX\n`);
    return 0;
  });
}

/** The Date field in UTC when it parses, else when we filed the message. */
function shownDate(m: MailboxMessageJson): string {
  const t = m.date === null ? NaN : Date.parse(m.date);
  return Number.isFinite(t) ? formatTime(t) : m.internalDate;
}

// RFC 2047 §2: =?charset?B|Q?text?=, where charset may carry a language (RFC 2231 §5: "utf-8*en").
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g;

/**
 * Header text with its encoded words decoded, for display. A word in an unknown charset or
 * malformed is left as it was; white space between two encoded words is dropped (RFC 2047 §6.2).
 */
export function decodeEncodedWords(value: string): string {
  const joined = value.replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)[ \t]+(?==\?[^?\s]+\?[BbQq]\?)/g, '$1');
  return joined.replace(ENCODED_WORD, (whole, charset: string, encoding: string, text: string) => {
    let bytes: Uint8Array;
    if (encoding === 'B' || encoding === 'b') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return whole;
      bytes = new Uint8Array(Buffer.from(text, 'base64'));
    } else {
      // RFC 2047 §4.2: "_" is a space, =XX a byte.
      const out: number[] = [];
      for (let i = 0; i < text.length; i++) {
        const c = text[i] ?? '';
        const hex = text.slice(i + 1, i + 3);
        if (c === '_') out.push(0x20);
        else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
          out.push(parseInt(hex, 16));
          i += 2;
        } else out.push(c.charCodeAt(0) & 0xff);
      }
      bytes = new Uint8Array(out);
    }
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      return whole;
    }
  });
}
