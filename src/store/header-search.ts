/**
 * Whether a message's header has a field whose value contains a text: the test behind IMAP SEARCH
 * FROM, TO, CC, BCC, SUBJECT and HEADER (RFC 3501 §6.4.4). Field names compare without regard to
 * case; the value is the field's unfolded value as written (encoded words are not decoded), and it
 * and the text are compared after `toLowerCase()`. The store runs it over its kept header sections
 * (`searchHeaders`) and IMAP over a whole message when it has one: one definition for both.
 *
 * Most headers do not contain the text at all, and parsing every header into fields was what a
 * search cost. So a header that is all ASCII is first looked at as one lower-cased string: when
 * the text is not in it, no field's value can contain it (see `mayContain`), and only the headers
 * that pass are parsed.
 */
import { isAscii } from 'node:buffer';
import { parseHeaderFields, splitMessage, type HeaderField } from '../message/headers.ts';

/** The header section of a message as the store keeps it: the fields, without the empty line. */
export function headerSection(data: Uint8Array): Uint8Array {
  return splitMessage(data).header;
}

/** A header test made ready to run against many headers. */
export interface PreparedHeaderTest {
  field: string;
  needle: string;
  /** The needle has white space or a line break: a match may span a folded line. */
  spansFolds: boolean;
}

export function prepareHeaderTest(field: string, text: string): PreparedHeaderTest {
  return { field: field.toLowerCase(), needle: text.toLowerCase(), spansFolds: /[ \t\r\n]/.test(text) };
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * False only when no field of the header can match. For an ASCII header, UTF-8 decoding is latin1
 * decoding and `toLowerCase` folds ASCII only, so each field's value, lower-cased, is a piece of
 * the header lower-cased with its folds (a line break before white space) taken out; a needle
 * without white space cannot span a fold, since the white space after the fold stays in the value.
 * A header with other bytes (`lower` null) is always parsed: some non-ASCII letters lower-case to
 * ASCII ones, as the Kelvin sign does to "k".
 */
function mayContain(lower: string | null, t: PreparedHeaderTest): boolean {
  if (lower === null) return true;
  if (!t.spansFolds) return lower.includes(t.needle);
  return lower.replace(/\r?\n(?=[ \t])/g, '').includes(t.needle);
}

/**
 * Runs every test against one header section (or a whole message, `wholeMessage`: parsing stops
 * at the empty line, and the quick look is skipped). Returns which tests matched, in order.
 */
export function matchHeader(header: Uint8Array, tests: readonly PreparedHeaderTest[], wholeMessage = false): boolean[] {
  const buf = asBuffer(header);
  const lower = !wholeMessage && isAscii(buf) ? buf.toString('latin1').toLowerCase() : null;
  let fields: HeaderField[] | null = null;
  return tests.map((t) => {
    if (!mayContain(lower, t)) return false;
    fields ??= parseHeaderFields(header);
    return fields.some((f) => f.name.toLowerCase() === t.field && f.value.toLowerCase().includes(t.needle));
  });
}

/**
 * Whether the store may let SQL LIKE pass over a header (`searchHeaders` on SQLite): ASCII, so that
 * LIKE's ASCII-only folding of case is `toLowerCase`'s, and without NUL, at which SQLite's LIKE
 * stops reading. Other headers are always handed to `matchHeader`.
 */
export function isPlainHeader(header: Uint8Array): boolean {
  const buf = asBuffer(header);
  return isAscii(buf) && buf.indexOf(0) < 0;
}

// SQLite refuses LIKE patterns over 50,000 bytes; a needle this long is looked for in code.
const MAX_LIKE_NEEDLE = 4000;

/**
 * A LIKE pattern (with `\` as its escape) that every plain header with a matching field matches:
 * the lower-cased needle, with `%` before each white space character since a fold (a line break)
 * may stand there in the header as written. Null for a needle too long for LIKE.
 */
export function likePattern(t: PreparedHeaderTest): string | null {
  if (t.needle.length > MAX_LIKE_NEEDLE) return null;
  const escaped = t.needle.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/[ \t]/g, (c) => `%${c}`);
  return `%${escaped}%`;
}

/** One test against one header section, or a whole message. */
export function headerFieldContains(header: Uint8Array, field: string, text: string, wholeMessage = false): boolean {
  return matchHeader(header, [prepareHeaderTest(field, text)], wholeMessage)[0] === true;
}
