/**
 * Writing response values (RFC 3501 §4): strings quoted when they can be, literals when they
 * cannot (line breaks, 8-bit, quotes are fine escaped), NIL for absent ones, flag lists, and the
 * date-time of INTERNALDATE. A response is built as a list of chunks so a literal's bytes never
 * pass through a string.
 */

export type Chunk = string | Uint8Array;

/** An IMAP string: quoted when that is possible, a literal otherwise. */
export function istring(value: string | Uint8Array): Chunk[] {
  if (typeof value === 'string') {
    if (value.length <= 1024 && /^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(value)) return [quote(value)];
    const bytes = Buffer.from(value, 'utf8');
    return [`{${bytes.length}}\r\n`, bytes];
  }
  return [`{${value.byteLength}}\r\n`, value];
}

export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function nstring(value: string | Uint8Array | null | undefined): Chunk[] {
  return value === null || value === undefined ? ['NIL'] : istring(value);
}

/** An astring: bare when it is an atom, otherwise a string. */
export function astring(value: string): Chunk[] {
  if (/^[\x21\x23-\x27\x2a-\x5b\x5e-\x7a\x7c\x7e]+$/.test(value) && value.toUpperCase() !== 'NIL') return [value];
  return istring(value);
}

export function flagList(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** RFC 3501 date-time, in UTC: "17-Jul-1996 02:44:25 +0000". */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${String(d.getUTCDate()).padStart(2, ' ')}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
}

function monthIndex(name: string): number {
  return MONTHS.findIndex((m) => m.toLowerCase() === name.toLowerCase());
}

/** RFC 3501 date-time (APPEND): ms since the epoch, or null. */
export function parseDateTime(text: string): number | null {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (m === null) return null;
  const month = monthIndex(m[2] as string);
  if (month < 0) return null;
  const [day, year, h, mi, s, zh, zm] = [m[1], m[3], m[4], m[5], m[6], m[8], m[9]].map(Number) as number[];
  if ((day as number) < 1 || (day as number) > 31 || (h as number) > 23 || (mi as number) > 59 || (s as number) > 60) return null;
  const offset = ((zh as number) * 60 + (zm as number)) * (m[7] === '-' ? -1 : 1);
  return Date.UTC(year as number, month, day, h, mi, s) - offset * 60_000;
}

/** RFC 3501 date (SEARCH): the UTC midnight that starts the day, or null. */
export function parseDate(text: string): number | null {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (m === null) return null;
  const month = monthIndex(m[2] as string);
  const day = Number(m[1]);
  if (month < 0 || day < 1 || day > 31) return null;
  return Date.UTC(Number(m[3]), month, day);
}

/** Joins chunks into one buffer (for tests and small responses). */
export function toBuffer(chunks: readonly Chunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
}
