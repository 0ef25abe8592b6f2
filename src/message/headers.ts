/**
 * The header section of a message as bytes: where it ends, what its fields say, and how new fields
 * go in front of it. Messages arrive from the network, so nothing here throws: odd input (no empty
 * line, no body, lines that are not fields, bare LF) gives the best reading there is.
 */

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;

const encoder = new TextEncoder();
// Not fatal: a header with invalid UTF-8 still yields its fields, with U+FFFD where bytes were bad.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export interface SplitMessage {
  /** The header fields, each line with its line ending; without the empty line. */
  header: Uint8Array;
  /** Everything after the empty line; empty when there is none. */
  body: Uint8Array;
  /**
   * The empty line between them ("\r\n", or "\n" in an LF-only message), empty when the message
   * has no empty line at all. `header`, `separator` and `body` put together are the message.
   */
  separator: Uint8Array;
}

/**
 * Splits at the first empty line (RFC 5322 §2.1). A message without one is all header. The parts
 * are views into `message`, not copies.
 */
export function splitMessage(message: Uint8Array): SplitMessage {
  let lineStart = 0;
  while (lineStart < message.length) {
    const first = message[lineStart];
    if (first === LF) return parts(message, lineStart, lineStart + 1);
    if (first === CR && message[lineStart + 1] === LF) return parts(message, lineStart, lineStart + 2);
    const lf = message.indexOf(LF, lineStart);
    if (lf < 0) break;
    lineStart = lf + 1;
  }
  return { header: message, separator: message.subarray(message.length), body: message.subarray(message.length) };
}

function parts(message: Uint8Array, separatorStart: number, bodyStart: number): SplitMessage {
  return {
    header: message.subarray(0, separatorStart),
    separator: message.subarray(separatorStart, bodyStart),
    body: message.subarray(bodyStart),
  };
}

export interface HeaderField {
  /** As written: "Received", "subject". Compare with `sameFieldName`. */
  name: string;
  /** Unfolded (RFC 5322 §2.2.3), without the space after the colon and trailing white space. */
  value: string;
  /** The field as written, folded, without its final line ending. */
  raw: string;
}

// RFC 5322 §3.6.8: printable US-ASCII except ":"; the "From " line of an mbox and other strays fail it.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * The fields of a header section (or of a whole message: reading stops at the first empty line).
 * Lines that are neither a field nor a continuation are skipped.
 */
export function parseHeaderFields(input: Uint8Array | string): HeaderField[] {
  const text = typeof input === 'string' ? input : decoder.decode(splitMessage(input).header);
  const fields: HeaderField[] = [];
  let current: string[] | null = null;
  const finish = (): void => {
    if (current === null) return;
    const raw = current.join('\r\n');
    current = null;
    const colon = raw.indexOf(':');
    const name = raw.slice(0, colon).replace(/[ \t]+$/, ''); // obs-optional: WSP before the colon
    if (!FIELD_NAME.test(name)) return;
    fields.push({ name, raw, value: unfoldHeader(raw.slice(colon + 1)).replace(/^[ \t]+|[ \t]+$/g, '') });
  };
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l === '') break;
    if (l.startsWith(' ') || l.startsWith('\t')) {
      if (current !== null) current.push(l);
      continue;
    }
    finish();
    if (l.includes(':')) current = [l];
  }
  finish();
  return fields;
}

/** Field names compare without regard to case (RFC 5322 §1.2.2). */
export function sameFieldName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Every value of the field `name`, in message order. */
export function headerValues(fields: readonly HeaderField[], name: string): string[] {
  return fields.filter((f) => sameFieldName(f.name, name)).map((f) => f.value);
}

/** The first value of the field `name`, or undefined. */
export function headerValue(fields: readonly HeaderField[], name: string): string | undefined {
  return fields.find((f) => sameFieldName(f.name, name))?.value;
}

/**
 * How many `Received:` fields the message has: more than the limit (50 in the server) is a mail
 * loop (RFC 5321 §6.3). Reads the header section only, without decoding it to text.
 */
export function countReceived(message: Uint8Array): number {
  const { header } = splitMessage(message);
  let count = 0;
  let lineStart = 0;
  while (lineStart < header.length) {
    if (startsWithReceived(header, lineStart)) count++;
    const lf = header.indexOf(LF, lineStart);
    if (lf < 0) break;
    lineStart = lf + 1;
  }
  return count;
}

const RECEIVED = encoder.encode('received');

function startsWithReceived(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < RECEIVED.length; i++) {
    const b = bytes[at + i];
    if (b === undefined || (b | 0x20) !== RECEIVED[i]) return false;
  }
  let i = at + RECEIVED.length;
  while (bytes[i] === SP || bytes[i] === HTAB) i++;
  return bytes[i] === 0x3a;
}

/**
 * Removes every line break followed by white space (RFC 5322 §2.2.3). Bare LF is taken as a line
 * break too, so that LF-only input unfolds the same way.
 */
export function unfoldHeader(text: string): string {
  return text.replace(/\r?\n(?=[ \t])/g, '');
}

export interface FoldOptions {
  /** Preferred line length, excluding the CRLF (RFC 5322 §2.1.1: 78). */
  width?: number;
}

/**
 * The field "Name: value" folded at `width` columns where the value has white space to fold at
 * (RFC 5322 §2.2.3: a CRLF goes in before a space or tab, nothing is removed), without a final
 * CRLF. A word longer than the line stays whole: folding never changes the unfolded value. Line
 * breaks in `value` are unfolded first, and any left over become spaces, so a value can never
 * start a field of its own (header injection).
 */
export function foldHeaderField(name: string, value: string, options: FoldOptions = {}): string {
  const width = Math.max(options.width ?? 78, 1);
  const clean = unfoldHeader(value).replace(/\r\n|[\r\n]/g, ' ');
  const line = `${name}: ${clean}`;
  return foldLine(line, name.length + 2, width);
}

/** Folds an already-assembled field line; breaks are only considered at or after `from`. */
function foldLine(line: string, from: number, width: number): string {
  const out: string[] = [];
  let start = 0;
  // A break goes before the first WSP of a run that follows non-WSP and that is followed by
  // non-WSP later on, so no line is made of white space alone (RFC 5322 §3.2.2).
  const breaks: number[] = [];
  let lastNonWsp = -1;
  for (let i = line.length - 1; i >= 0; i--) {
    if (!isWsp(line.charCodeAt(i))) {
      lastNonWsp = i;
      break;
    }
  }
  for (let i = Math.max(from, 1); i < lastNonWsp; i++) {
    if (isWsp(line.charCodeAt(i)) && !isWsp(line.charCodeAt(i - 1))) breaks.push(i);
  }
  let b = 0;
  while (line.length - start > width && b < breaks.length) {
    // The last break that keeps this line within the width, else the first one after it.
    let chosen = -1;
    while (b < breaks.length && (breaks[b] ?? 0) - start <= width) chosen = breaks[b++] ?? -1;
    if (chosen <= start) chosen = breaks[b++] ?? -1;
    if (chosen <= start) break;
    out.push(line.slice(start, chosen));
    start = chosen;
  }
  out.push(line.slice(start));
  return out.join('\r\n');
}

function isWsp(c: number): boolean {
  return c === SP || c === HTAB;
}

/** Any byte outside US-ASCII: such a message needs 8BITMIME (RFC 6152) or SMTPUTF8 to travel as is. */
export function has8bit(message: Uint8Array): boolean {
  for (let i = 0; i < message.length; i++) if ((message[i] ?? 0) >= 0x80) return true;
  return false;
}

/**
 * The message with `fields` in front (each "Name: value", folded or not, with or without its
 * CRLF), in the order given: the first ends up on top. One allocation, one copy of the message.
 */
export function prependHeaderFields(message: Uint8Array, fields: readonly string[]): Uint8Array {
  const encoded = fields.map((f) => encoder.encode(f.endsWith('\r\n') ? f : `${f}\r\n`));
  let size = message.length;
  for (const e of encoded) size += e.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const e of encoded) {
    out.set(e, at);
    at += e.length;
  }
  out.set(message, at);
  return out;
}
