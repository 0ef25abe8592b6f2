/**
 * The MIME structure of a message (RFC 2045, RFC 2046): its parts, each with the byte offsets of
 * its header and body inside the message. IMAP needs exactly that: BODYSTRUCTURE reports every
 * part's size and line count, and BODY[1.2.MIME] or BODY[2.TEXT] hands out the bytes of one part.
 * We parse it ourselves because `mailparser` (the DESIGN.md choice for decoding) gives decoded
 * content without offsets, and is not installed; this is the structure only, no decoding.
 *
 * Messages come from the network: nothing here throws, nesting is bounded, and a broken multipart
 * (no closing delimiter, no boundary) reads as well as it can.
 */
import { parseHeaderFields, splitMessage, type HeaderField } from './headers.ts';

export interface MimePart {
  /** Offset of the part's header in the message. */
  start: number;
  /** Offset of the part's body (after the empty line). */
  bodyStart: number;
  /** Offset just past the part's body. */
  end: number;
  fields: HeaderField[];
  /** Lower-case; "text"/"plain" when absent (RFC 2045 §5.2), "message"/"rfc822" in a digest. */
  type: string;
  subtype: string;
  /** Content-Type parameters; names lower-case. */
  params: Array<[string, string]>;
  /** Parts of a multipart, in order. */
  children: MimePart[];
  /** The message inside a message/rfc822 part. */
  message: MimePart | null;
}

export interface ParsedHeaderValue {
  value: string;
  params: Array<[string, string]>;
}

const MAX_DEPTH = 16;
const MAX_PARTS = 2000;

/**
 * A structured header value with parameters (RFC 2045 §5.1 Content-Type, RFC 2183
 * Content-Disposition): `text/plain; charset="utf-8"`. RFC 2231 continuations are joined
 * (`name*0`, `name*1`), without decoding their charset.
 */
export function parseParameterized(text: string): ParsedHeaderValue {
  const s = text.replace(/\([^()]*\)/g, ' ');
  let i = 0;
  const readUntil = (stops: string): string => {
    const start = i;
    while (i < s.length && !stops.includes(s[i] as string)) i++;
    return s.slice(start, i).trim();
  };
  const value = readUntil(';').toLowerCase();
  const raw: Array<[string, string]> = [];
  while (i < s.length) {
    i++; // ";"
    const name = readUntil('=;').toLowerCase();
    if (s[i] !== '=') {
      continue;
    }
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    let v: string;
    if (s[i] === '"') {
      i++;
      let out = '';
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        out += s[i];
        i++;
      }
      i++;
      v = out;
      readUntil(';');
    } else {
      v = readUntil(';');
    }
    if (name !== '') raw.push([name, v]);
  }
  // RFC 2231 §3: name*0, name*1 … are one value.
  const params: Array<[string, string]> = [];
  const continued = new Map<string, Array<[number, string]>>();
  for (const [name, v] of raw) {
    const m = /^(.+)\*(\d+)\*?$/.exec(name);
    if (m !== null) {
      const base = m[1] as string;
      const list = continued.get(base) ?? [];
      list.push([Number(m[2]), v]);
      if (!continued.has(base)) {
        continued.set(base, list);
        params.push([base, '']);
      }
      continue;
    }
    params.push([name, v]);
  }
  for (const p of params) {
    const list = continued.get(p[0]);
    if (list !== undefined && p[1] === '') p[1] = list.sort((a, b) => a[0] - b[0]).map((x) => x[1]).join('');
  }
  return { value, params };
}

export function parseMime(message: Uint8Array): MimePart {
  const counter = { parts: 0 };
  return parsePart(message, 0, message.length, 0, false, counter);
}

function parsePart(msg: Uint8Array, start: number, end: number, depth: number, inDigest: boolean, counter: { parts: number }): MimePart {
  counter.parts++;
  const split = splitMessage(msg.subarray(start, end));
  const bodyStart = start + split.header.length + split.separator.length;
  const fields = parseHeaderFields(split.header);
  const ct = fields.find((f) => f.name.toLowerCase() === 'content-type');
  let type = inDigest ? 'message' : 'text';
  let subtype = inDigest ? 'rfc822' : 'plain';
  let params: Array<[string, string]> = [];
  if (ct !== undefined) {
    const parsed = parseParameterized(ct.value);
    const m = /^([!#$%&'*+\-.^_`|~0-9a-z]+)\/([!#$%&'*+\-.^_`|~0-9a-z]+)$/.exec(parsed.value);
    if (m !== null) {
      type = m[1] as string;
      subtype = m[2] as string;
      params = parsed.params;
    }
  }
  const part: MimePart = { start, bodyStart, end, fields, type, subtype, params, children: [], message: null };
  if (depth >= MAX_DEPTH || counter.parts >= MAX_PARTS) return part;
  if (type === 'multipart') {
    const boundary = params.find(([n]) => n === 'boundary')?.[1];
    if (boundary === undefined || boundary === '') return part;
    for (const [s, e] of multipartBodies(msg, bodyStart, end, boundary)) {
      if (counter.parts >= MAX_PARTS) break;
      part.children.push(parsePart(msg, s, e, depth + 1, subtype === 'digest', counter));
    }
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global')) {
    part.message = parsePart(msg, bodyStart, end, depth + 1, false, counter);
  }
  return part;
}

/**
 * RFC 2046 §5.1.1: the body parts between delimiter lines "--boundary"; the line break before a
 * delimiter belongs to the delimiter. Returns [start, end) of each part.
 */
function multipartBodies(msg: Uint8Array, start: number, end: number, boundary: string): Array<[number, number]> {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  const out: Array<[number, number]> = [];
  let partStart = -1;
  let lineStart = start;
  while (lineStart < end) {
    let lf = buf.indexOf(0x0a, lineStart);
    if (lf < 0 || lf >= end) lf = end;
    if (buf[lineStart] === 0x2d && buf.subarray(lineStart, Math.min(lineStart + delim.length, end)).equals(delim)) {
      const after = buf.subarray(lineStart + delim.length, lf).toString('latin1');
      const closing = after.startsWith('--');
      if (/^(--)?[ \t\r]*$/.test(after)) {
        if (partStart >= 0) {
          // The CRLF (or LF) before the delimiter is not part of the body.
          let partEnd = lineStart;
          if (partEnd > partStart && buf[partEnd - 1] === 0x0a) partEnd--;
          if (partEnd > partStart && buf[partEnd - 1] === 0x0d) partEnd--;
          out.push([partStart, Math.max(partStart, partEnd)]);
        }
        if (closing) return out;
        partStart = Math.min(lf + 1, end);
      }
    }
    lineStart = lf + 1;
  }
  // No closing delimiter: the last part runs to the end.
  if (partStart >= 0 && partStart < end) out.push([partStart, end]);
  return out;
}

/** RFC 3501 §7.4.2 body-fld-lines: the lines of a body, a last line without a break counted. */
export function countLines(msg: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (msg[i] === 0x0a) n++;
  if (end > start && msg[end - 1] !== 0x0a) n++;
  return n;
}

/** The part at a section path (`[1, 2]` is BODY[1.2]); null when there is none. */
export function findPart(root: MimePart, path: readonly number[]): MimePart | null {
  let part: MimePart = root;
  for (const n of path) {
    // RFC 3501 §6.4.5: in a message/rfc822 part, numbers go on in the encapsulated message.
    if (part.message !== null) part = part.message;
    if (part.children.length === 0) {
      // A non-multipart message has one part: its body, number 1.
      if (n !== 1) return null;
      continue;
    }
    const child = part.children[n - 1];
    if (child === undefined) return null;
    part = child;
  }
  return part;
}
