/**
 * Envelope addresses as MAIL FROM and RCPT TO carry them (RFC 5321 §4.1.2): `<>`, `<local@domain>`,
 * quoted local parts, address literals, source routes (accepted and dropped, RFC 5321 §4.1.1.3 and
 * Appendix C) and, when the transaction uses SMTPUTF8, UTF-8 local parts and domains (RFC 6531
 * §3.3). The domain is kept twice: as written (in `raw`) and normalised for comparison (IDNA A-labels,
 * lower case, no trailing dot), so routing and recipient checks compare one spelling while the
 * address is still shown the way the sender wrote it.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export interface Mailbox {
  /** The local part, unquoted (`"john doe"@x` gives `john doe`). Case is kept: only the receiving
   *  domain may decide what case means (RFC 5321 §2.4). */
  local: string;
  /** Normalised: ASCII (IDNA), lower case, no trailing dot; `[127.0.0.1]` or `[IPv6:…]` for an
   *  address literal; empty only for the bare `<Postmaster>` recipient (RFC 5321 §4.1.1.3). */
  domain: string;
  /** The mailbox as written, without angle brackets or source route. */
  raw: string;
}

export interface PathOptions {
  /** UTF-8 allowed in the local part and domain (the transaction carries SMTPUTF8, RFC 6531). */
  utf8: boolean;
  /** `<>` allowed (MAIL FROM only). */
  allowNull: boolean;
  /** `<Postmaster>` without a domain allowed (RCPT TO only, RFC 5321 §4.1.1.3). */
  allowPostmaster: boolean;
}

export type PathResult =
  | { ok: true; mailbox: Mailbox | null; end: number; nonAscii: boolean }
  | { ok: false; reason: string };

const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]$/;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_DOMAIN = 255;

function isUtf8Char(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  // Non-ASCII, but not the C1 controls (RFC 6532 §3.2 keeps controls out).
  return cp >= 0xa0;
}

/**
 * Reads `<…>` starting at `start` (which must be `<`). `end` is the index just past `>`.
 * Never throws.
 */
export function parsePath(text: string, start: number, options: PathOptions): PathResult {
  let i = start;
  if (text[i] !== '<') return { ok: false, reason: 'the address must be enclosed in <>' };
  i++;
  if (text[i] === '>') {
    if (!options.allowNull) return { ok: false, reason: 'a null address <> is not allowed here' };
    return { ok: true, mailbox: null, end: i + 1, nonAscii: false };
  }
  let nonAscii = false;
  // RFC 5321 §4.1.1.3: a source route is accepted and ignored.
  if (text[i] === '@') {
    for (;;) {
      if (text[i] !== '@') return { ok: false, reason: 'bad source route' };
      i++;
      const from = i;
      while (i < text.length && text[i] !== ',' && text[i] !== ':' && text[i] !== '>') i++;
      const hop = checkDomain(text.slice(from, i), options.utf8);
      if (!hop.ok) return { ok: false, reason: `bad source route: ${hop.reason}` };
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ':') {
        i++;
        break;
      }
      return { ok: false, reason: 'bad source route' };
    }
  }
  const localStart = i;
  let local: string;
  if (text[i] === '"') {
    i++;
    let value = '';
    for (;;) {
      const ch = text[i];
      if (ch === undefined) return { ok: false, reason: 'unterminated quoted local part' };
      if (ch === '"') {
        i++;
        break;
      }
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === undefined) return { ok: false, reason: 'unterminated quoted local part' };
        const code = text.codePointAt(i + 1) ?? 0;
        if (code >= 32 && code <= 126) {
          value += next;
          i += 2;
          continue;
        }
        const full = String.fromCodePoint(code);
        if (options.utf8 && isUtf8Char(full)) {
          nonAscii = true;
          value += full;
          i += 1 + full.length;
          continue;
        }
        return { ok: false, reason: 'bad character in quoted local part' };
      }
      const code = text.codePointAt(i) ?? 0;
      if (code === 32 || code === 33 || (code >= 35 && code <= 91) || (code >= 93 && code <= 126)) {
        value += ch;
        i++;
        continue;
      }
      const full = String.fromCodePoint(code);
      if (isUtf8Char(full)) {
        if (!options.utf8) return nonAsciiError();
        nonAscii = true;
        value += full;
        i += full.length;
        continue;
      }
      return { ok: false, reason: 'bad character in quoted local part' };
    }
    local = value;
  } else {
    const from = i;
    while (i < text.length && text[i] !== '@' && text[i] !== '>') {
      const code = text.codePointAt(i) ?? 0;
      const full = String.fromCodePoint(code);
      if (full === '.' || ATEXT.test(full)) {
        i++;
        continue;
      }
      if (isUtf8Char(full)) {
        if (!options.utf8) return nonAsciiError();
        nonAscii = true;
        i += full.length;
        continue;
      }
      return { ok: false, reason: `bad character ${JSON.stringify(full)} in local part` };
    }
    local = text.slice(from, i);
    if (local === '') return { ok: false, reason: 'empty local part' };
    if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
      return { ok: false, reason: 'bad dots in local part' };
    }
  }
  if (text[i] === '>' && options.allowPostmaster && /^postmaster$/i.test(text.slice(localStart, i))) {
    return { ok: true, mailbox: { local, domain: '', raw: text.slice(localStart, i) }, end: i + 1, nonAscii: false };
  }
  if (text[i] !== '@') return { ok: false, reason: 'the address needs a domain (local@domain)' };
  i++;
  const domainStart = i;
  if (text[i] === '[') {
    const close = text.indexOf(']', i);
    if (close < 0) return { ok: false, reason: 'unterminated address literal' };
    const literal = checkAddressLiteral(text.slice(i + 1, close));
    if (literal === null) return { ok: false, reason: 'bad address literal' };
    i = close + 1;
    if (text[i] !== '>') return { ok: false, reason: 'the address must end with >' };
    return { ok: true, mailbox: { local, domain: literal, raw: text.slice(localStart, i) }, end: i + 1, nonAscii };
  }
  while (i < text.length && text[i] !== '>') i++;
  if (text[i] !== '>') return { ok: false, reason: 'the address must end with >' };
  const domain = checkDomain(text.slice(domainStart, i), options.utf8);
  if (!domain.ok) return domain.nonAscii ? nonAsciiError() : { ok: false, reason: domain.reason };
  return {
    ok: true,
    mailbox: { local, domain: domain.ascii, raw: text.slice(localStart, i) },
    end: i + 1,
    nonAscii: nonAscii || domain.nonAscii,
  };
}

/** The reason string that tells the command parser to answer 553 5.6.7 (RFC 6531 §3.6.1). */
export const NON_ASCII_REASON = 'non-ASCII address without SMTPUTF8';

function nonAsciiError(): PathResult {
  return { ok: false, reason: NON_ASCII_REASON };
}

type DomainCheck = { ok: true; ascii: string; nonAscii: boolean } | { ok: false; reason: string; nonAscii: boolean };

/** A domain as RFC 5321 §4.1.2 writes it (LDH labels), or with U-labels under SMTPUTF8. */
export function checkDomain(written: string, utf8: boolean): DomainCheck {
  const name = written.endsWith('.') ? written.slice(0, -1) : written;
  if (name === '') return { ok: false, reason: 'empty domain', nonAscii: false };
  const nonAscii = /[^\x00-\x7f]/.test(name);
  if (nonAscii && !utf8) return { ok: false, reason: NON_ASCII_REASON, nonAscii: true };
  let ascii = name.toLowerCase();
  if (nonAscii) {
    if (/[\s\u0000-\u001f\u007f-\u009f]/.test(name)) return { ok: false, reason: 'bad character in domain', nonAscii };
    ascii = domainToASCII(name);
    if (ascii === '') return { ok: false, reason: 'not a valid internationalised domain name', nonAscii };
  }
  if (ascii.length > MAX_DOMAIN) return { ok: false, reason: 'domain longer than 255 characters', nonAscii };
  for (const label of ascii.split('.')) {
    if (!LDH_LABEL.test(label)) return { ok: false, reason: `bad domain label ${JSON.stringify(label)}`, nonAscii };
  }
  return { ok: true, ascii, nonAscii };
}

/** `127.0.0.1` or `IPv6:…` (RFC 5321 §4.1.3), normalised with brackets; null when not one. */
function checkAddressLiteral(inner: string): string | null {
  if (isIP(inner) === 4 && /^\d{1,3}(\.\d{1,3}){3}$/.test(inner)) return `[${inner}]`;
  const v6 = /^ipv6:(.+)$/i.exec(inner);
  if (v6 !== null && v6[1] !== undefined && isIP(v6[1]) === 6) return `[IPv6:${v6[1].toLowerCase()}]`;
  return null;
}

/** `local@domain` for display and headers, quoting the local part when it needs it. */
export function formatMailbox(m: Mailbox | null): string {
  if (m === null) return '';
  if (m.domain === '') return m.local;
  const dotAtom = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u{a0}-\u{10ffff}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u{a0}-\u{10ffff}]+)*$/u.test(m.local);
  const local = dotAtom ? m.local : `"${m.local.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return `${local}@${m.domain}`;
}
