/**
 * A stored message on its way out in a RETR or TOP response (RFC 1939 §3, §7). Every line that
 * starts with "." gets a second one, and a line holding a single "." ends the response; a client
 * takes the extra dots off again. Messages are stored with CRLF line ends (the SMTP server
 * refuses anything else); a bare LF, should one be there, goes out as CRLF so it cannot end the
 * response early or leave it ambiguous. A bare CR is left alone: it ends no line.
 *
 * Both functions are one pass to count and one to copy into a buffer allocated once: linear in
 * the size of the message, which may be tens of megabytes.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = new Uint8Array(0);

/**
 * The message byte-stuffed, with CRLF line ends and the terminating "." line; `prefix` (the +OK
 * line) goes in front, so that the response is one buffer and one write.
 */
export function stuffMessage(message: Uint8Array, prefix: Uint8Array = EMPTY): Uint8Array {
  const n = message.length;
  const buf = Buffer.from(message.buffer, message.byteOffset, n);
  // Line by line (memchr for each line end), not byte by byte: a mail line is 70-ish bytes.
  // Count what is added: a dot for each line starting with one, a CR for each bare LF, and a
  // final CRLF when the message does not end with a line end.
  let extra = 0;
  for (let start = 0; start < n; ) {
    if (buf[start] === DOT) extra++;
    const lf = buf.indexOf(LF, start);
    if (lf < 0) break;
    if (lf === 0 || buf[lf - 1] !== CR) extra++;
    start = lf + 1;
  }
  const needsEol = n > 0 && buf[n - 1] !== LF;
  const out = Buffer.allocUnsafe(prefix.length + n + extra + (needsEol ? 2 : 0) + 3);
  out.set(prefix, 0);
  let o = prefix.length;
  if (extra === 0) {
    out.set(buf, o);
    o += n;
  } else {
    for (let start = 0; start < n; ) {
      if (buf[start] === DOT) out[o++] = DOT;
      const lf = buf.indexOf(LF, start);
      const end = lf < 0 ? n : lf;
      out.set(buf.subarray(start, end), o);
      o += end - start;
      if (lf < 0) break;
      if (lf === 0 || buf[lf - 1] !== CR) out[o++] = CR;
      out[o++] = LF;
      start = lf + 1;
    }
  }
  if (needsEol) {
    out[o++] = CR;
    out[o++] = LF;
  }
  out[o++] = DOT;
  out[o++] = CR;
  out[o++] = LF;
  return out;
}

/**
 * RFC 1939 §7 TOP: the header, the blank line after it, and the first `lines` lines of the body.
 * A message without a blank line is all header and is returned whole.
 */
export function topOfMessage(message: Uint8Array, lines: number): Uint8Array {
  const n = message.length;
  // Find the end of the header: the first empty line (CRLF CRLF, or LF LF, or a lone line end at
  // the very start of the message).
  let bodyStart = -1;
  let lineStart = 0;
  for (let i = 0; i < n; i++) {
    if (message[i] !== LF) continue;
    const lineLength = i - lineStart - (i > lineStart && message[i - 1] === CR ? 1 : 0);
    if (lineLength === 0) {
      bodyStart = i + 1;
      break;
    }
    lineStart = i + 1;
  }
  if (bodyStart < 0) return message;
  let end = bodyStart;
  for (let k = 0; k < lines && end < n; k++) {
    const lf = message.indexOf(LF, end);
    end = lf < 0 ? n : lf + 1;
  }
  return message.subarray(0, end);
}

/** Undoes stuffMessage: what a client makes of a multi-line response (for tests and checks). */
export function unstuffMessage(response: Uint8Array): Uint8Array | null {
  const text = Buffer.from(response).toString('latin1');
  if (!text.endsWith('.\r\n') || !(text.length === 3 || text.endsWith('\r\n.\r\n'))) return null;
  const body = text.slice(0, text.length - 3);
  const lines = body === '' ? [] : body.slice(0, -2).split('\r\n');
  const out = lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).map((l) => `${l}\r\n`).join('');
  return new Uint8Array(Buffer.from(out, 'latin1'));
}
