/**
 * A message on its way out, made ready for the wire. After DATA a line holding a single "." ends
 * the message, so every line of the message that starts with "." gets a second one, which the
 * receiver takes off again (RFC 5321 §4.5.2); then CRLF "." CRLF ends it. BDAT (RFC 3030) says how
 * many bytes follow instead, so it needs no stuffing, only canonical line ends.
 *
 * The queue stores messages with CRLF line ends already, and they go out byte for byte. A bare LF
 * should not be there; if one is, it becomes CRLF (a strict receiver, ours included, refuses a bare
 * LF with 550 5.6.0) and the count is returned so the caller can say so. A bare CR is left alone: it
 * is not a line end, and guessing what it meant would change the message.
 *
 * Both functions are one pass to count and one to copy, into a buffer allocated once: linear in the
 * size of the message, which may be tens of megabytes.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

export interface PreparedMessage {
  /** The bytes to write. */
  data: Uint8Array;
  /** How many bare LFs became CRLF. */
  bareLineFeeds: number;
  /**
   * The message's size as RFC 1870 counts it for SIZE=: its bytes with CRLF line ends, without
   * the stuffed dots and the terminator.
   */
  messageSize: number;
}

/** Dot-stuffed, CRLF line ends, and CRLF "." CRLF at the end (a CRLF added first when the message
 *  does not end with one; an empty message is just "." CRLF). */
export function dotStuff(message: Uint8Array): PreparedMessage {
  return prepare(message, true);
}

/** CRLF line ends only, for BDAT: no stuffing, no terminator. */
export function canonicalLineEnds(message: Uint8Array): PreparedMessage {
  return prepare(message, false);
}

function prepare(message: Uint8Array, stuff: boolean): PreparedMessage {
  const n = message.length;
  // Pass 1: count the insertions. Line starts are offset 0 and the byte after each LF.
  let bareLf = 0;
  let dots = 0;
  if (stuff && n > 0 && message[0] === DOT) dots++;
  for (let lf = message.indexOf(LF); lf !== -1; lf = message.indexOf(LF, lf + 1)) {
    if (lf === 0 || message[lf - 1] !== CR) bareLf++;
    if (stuff && lf + 1 < n && message[lf + 1] === DOT) dots++;
  }
  const messageSize = n + bareLf;
  const endsWithLf = n > 0 && message[n - 1] === LF;
  const tail = !stuff ? 0 : n === 0 || endsWithLf ? 3 : 5;
  if (bareLf === 0 && dots === 0 && tail === 0) return { data: message, bareLineFeeds: 0, messageSize };

  // Pass 2: copy runs between insertion points.
  const out = new Uint8Array(n + bareLf + dots + tail);
  let o = 0;
  let from = 0;
  if (stuff && n > 0 && message[0] === DOT) out[o++] = DOT;
  for (let lf = message.indexOf(LF); lf !== -1; lf = message.indexOf(LF, lf + 1)) {
    out.set(message.subarray(from, lf), o);
    o += lf - from;
    if (lf === 0 || message[lf - 1] !== CR) out[o++] = CR;
    out[o++] = LF;
    from = lf + 1;
    if (stuff && from < n && message[from] === DOT) out[o++] = DOT;
  }
  out.set(message.subarray(from), o);
  o += n - from;
  if (tail === 5) {
    out[o++] = CR;
    out[o++] = LF;
  }
  if (tail > 0) {
    out[o++] = DOT;
    out[o++] = CR;
    out[o++] = LF;
  }
  return { data: out, bareLineFeeds: bareLf, messageSize };
}
