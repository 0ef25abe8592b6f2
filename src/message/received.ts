/**
 * The `Received:` trace field each SMTP hop puts on top of a message it accepts (RFC 5321 §4.4),
 * and dates as messages write them (RFC 5322 §3.3).
 */
import { isIP } from 'node:net';
import { foldHeaderField } from './headers.ts';

/**
 * The `with` clause (RFC 3848): ESMTP, plus S for TLS, plus A for an authenticated client; LMTP
 * for local delivery (RFC 2033); SMTP after HELO.
 */
export const ReceivedProtocols = ['SMTP', 'ESMTP', 'ESMTPS', 'ESMTPA', 'ESMTPSA', 'LMTP', 'LMTPS', 'LMTPA', 'LMTPSA'] as const;
export type ReceivedProtocol = (typeof ReceivedProtocols)[number];

/** The protocol name for a session: "ESMTPSA" for EHLO + TLS + AUTH (RFC 3848 §1). */
export function receivedProtocol(session: { ehlo: boolean; tls: boolean; authenticated: boolean; lmtp?: boolean }): ReceivedProtocol {
  if (session.lmtp === true) return `LMTP${session.tls ? 'S' : ''}${session.authenticated ? 'A' : ''}` as ReceivedProtocol;
  if (!session.ehlo && !session.tls && !session.authenticated) return 'SMTP';
  return `ESMTP${session.tls ? 'S' : ''}${session.authenticated ? 'A' : ''}` as ReceivedProtocol;
}

export interface ReceivedOptions {
  /** What the client said in EHLO/HELO: untrusted, so it is sanitised. */
  helo: string;
  /** The client's IP address, as the socket reports it. */
  remoteAddress: string;
  /** The client's name from a verified reverse lookup, when there is one. */
  remoteHost?: string;
  /** Our host name. */
  by: string;
  with: ReceivedProtocol;
  /** Our queue id for the message. */
  id: string;
  /** The recipient, when the message has exactly one (more would tell each about the others). */
  for?: string;
  date: Date;
  /** A comment after `with`, e.g. the TLS version and cipher: "(TLSv1.3 TLS_AES_256_GCM_SHA384)". */
  tls?: string;
  /** Minutes east of UTC for the date; default 0. */
  offsetMinutes?: number;
}

/**
 * The whole field, "Received: from … ; date", folded at 78 columns, without its final CRLF:
 * `from HELO (host [ip])` (RFC 5321 §4.4 TCP-info), `by`, `with`, `id`, `for <addr>`, `; date`.
 */
export function receivedHeader(o: ReceivedOptions): string {
  const helo = sanitize(o.helo) || 'unknown';
  const literal = addressLiteral(o.remoteAddress);
  const tcpInfo = o.remoteHost === undefined || o.remoteHost === '' ? literal : `${sanitize(o.remoteHost)} ${literal}`;
  const clauses = [`from ${helo} (${tcpInfo})`, `by ${sanitize(o.by)}`, `with ${o.with}`];
  if (o.tls !== undefined && o.tls !== '') clauses.push(`(${sanitizeComment(o.tls)})`);
  clauses.push(`id ${sanitize(o.id)}`);
  if (o.for !== undefined && o.for !== '') clauses.push(`for <${sanitize(o.for.replace(/^<|>$/g, ''))}>`);
  const value = `${clauses.join(' ')}; ${formatRfc5322Date(o.date, { offsetMinutes: o.offsetMinutes ?? 0 })}`;
  return foldHeaderField('Received', value);
}

/** RFC 5321 §4.1.3: "[192.0.2.1]", "[IPv6:2001:db8::1]". */
function addressLiteral(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped?.[1] ?? address;
  const family = isIP(a);
  if (family === 4) return `[${a}]`;
  if (family === 6) return `[IPv6:${a}]`;
  return `[${sanitize(a)}]`;
}

// Keeps what a domain, an address literal, a mailbox or a queue id can hold, and nothing that
// could close the comment, end the clause list, or break the line.
function sanitize(text: string): string {
  return text.replace(/[^\p{L}\p{N}.\-_:[\]@+=!#$%&'*/?^`{|}~]/gu, '?');
}

function sanitizeComment(text: string): string {
  return text.replace(/[^\p{L}\p{N} .\-_:/=+]/gu, '?');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/**
 * RFC 5322 §3.3: "Tue, 1 Dec 2026 09:05:03 +0000", with a numeric zone (never "GMT" or "UT").
 * `offsetMinutes` is minutes east of UTC (default 0); the date is rendered in that zone, so the
 * output does not depend on the machine's time zone.
 */
export function formatRfc5322Date(date: Date, options: { offsetMinutes?: number } = {}): string {
  const offset = Math.trunc(options.offsetMinutes ?? 0);
  const t = Number.isFinite(date.getTime()) ? date.getTime() : 0;
  const d = new Date(t + offset * 60_000);
  const two = (n: number): string => String(n).padStart(2, '0');
  const abs = Math.abs(offset);
  const zone = `${offset < 0 ? '-' : '+'}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${zone}`
  );
}
