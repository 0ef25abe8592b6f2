/**
 * Replies as a client reads them (RFC 5321 §4.2): one or more lines, each starting with the same
 * three-digit code, every line but the last with "-" after the code. The text of each line may open
 * with an enhanced status code (RFC 3463, RFC 2034 §4) when the server advertised
 * ENHANCEDSTATUSCODES; it is taken off the text and kept apart whenever it is there, since servers
 * that do not advertise the extension send them too.
 *
 * Pure: bytes in, a value out. A garbled reply is an `error` value, never an exception; the client
 * that gets one stops trusting the stream and closes it. The line length and line count are bounded
 * so a server cannot make us buffer without end.
 */
import type { SmtpReply } from '../../core/smtp-reply.ts';

export interface ReplyLimits {
  /** Bytes per line, CRLF included. RFC 5321 §4.5.3.1.5 says 512; real servers send longer text. */
  maxLineLength: number;
  /** Lines per reply; an EHLO reply with every extension is about 20. */
  maxLines: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = { maxLineLength: 4096, maxLines: 100 };

export type ReplyErrorReason = 'line-too-long' | 'too-many-lines' | 'syntax' | 'code-mismatch';

export type ParseReplyResult =
  | { kind: 'need-more' }
  /** `consumed`: bytes of the input this reply took, CRLFs included. */
  | { kind: 'reply'; reply: SmtpReply; consumed: number }
  | { kind: 'error'; reason: ReplyErrorReason; detail: string };

const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder('utf-8', { fatal: false });

// RFC 3463 §2: class "." subject "." detail, class 2, 4 or 5, subject and detail 1-3 digits.
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;

/**
 * Reads the first complete reply at the start of `input`. Lines end with CRLF; a bare LF is taken
 * as a line end too (being liberal in what we accept costs nothing on the client side).
 */
export function parseReply(input: Uint8Array, limits: ReplyLimits = DEFAULT_REPLY_LIMITS): ParseReplyResult {
  const raw: string[] = [];
  let pos = 0;
  let code = -1;
  for (;;) {
    const lf = input.indexOf(LF, pos);
    if (lf === -1) {
      if (input.length - pos >= limits.maxLineLength) return lineTooLong(limits);
      return { kind: 'need-more' };
    }
    if (lf + 1 - pos > limits.maxLineLength) return lineTooLong(limits);
    const end = lf > pos && input[lf - 1] === CR ? lf - 1 : lf;
    const line = decoder.decode(input.subarray(pos, end));
    pos = lf + 1;
    const m = /^([2-5][0-9][0-9])([ -]|$)/.exec(line);
    if (m === null) return { kind: 'error', reason: 'syntax', detail: `not a reply line: ${JSON.stringify(line.slice(0, 80))}` };
    const lineCode = Number(m[1]);
    if (code === -1) code = lineCode;
    else if (lineCode !== code) {
      return { kind: 'error', reason: 'code-mismatch', detail: `reply line with code ${lineCode} inside a ${code} reply` };
    }
    raw.push(line.slice(4));
    if (m[2] !== '-') break;
    if (raw.length >= limits.maxLines) {
      return { kind: 'error', reason: 'too-many-lines', detail: `reply longer than ${limits.maxLines} lines` };
    }
  }
  return { kind: 'reply', reply: splitEnhanced(code, raw), consumed: pos };
}

function lineTooLong(limits: ReplyLimits): ParseReplyResult {
  return { kind: 'error', reason: 'line-too-long', detail: `reply line longer than ${limits.maxLineLength} bytes` };
}

/**
 * The enhanced code is the one on the first line, when its class agrees with the reply code's first
 * digit (a 3xx reply has none); it is taken off every line that repeats it (RFC 2034 §4 has each
 * line carry it).
 */
function splitEnhanced(code: number, lines: string[]): SmtpReply {
  const first = lines[0] ?? '';
  const m = ENHANCED.exec(first);
  if (m === null || Number(m[1]) !== Math.floor(code / 100)) return { code, enhanced: null, lines };
  const enhanced = `${m[1]}.${Number(m[2])}.${Number(m[3])}`;
  const prefix = `${m[1]}.${m[2]}.${m[3]}`;
  const text = lines.map((l) => (l === prefix ? '' : l.startsWith(`${prefix} `) ? l.slice(prefix.length + 1) : l));
  return { code, enhanced, lines: text };
}

/** What a server said it supports in its EHLO (or LHLO) reply. */
export interface SmtpCapabilities {
  /** RFC 2920. */
  pipelining: boolean;
  /** RFC 1870: null when SIZE was not advertised; 0 when advertised without a fixed limit. */
  size: number | null;
  /** RFC 6152. */
  eightBitMime: boolean;
  /** RFC 6531. */
  smtpUtf8: boolean;
  /** RFC 2034. */
  enhancedStatusCodes: boolean;
  /** RFC 3030 (BDAT). */
  chunking: boolean;
  /** RFC 3207. */
  startTls: boolean;
  /** RFC 3461. */
  dsn: boolean;
  /** RFC 4954: the mechanisms, upper case. */
  auth: string[];
}

/** What a server supports when it answered HELO, or nothing more than RFC 5321 asks of everyone. */
export const NO_CAPABILITIES: SmtpCapabilities = Object.freeze({
  pipelining: false,
  size: null,
  eightBitMime: false,
  smtpUtf8: false,
  enhancedStatusCodes: false,
  chunking: false,
  startTls: false,
  dsn: false,
  auth: [] as string[],
});

/**
 * The first line of an EHLO reply greets; each later line is a keyword with parameters
 * (RFC 5321 §4.1.1.1). Unknown keywords are ignored; a SIZE whose parameter is not a number counts
 * as SIZE without a limit. "AUTH=…" is the pre-standard spelling some servers still send.
 */
export function parseEhloCapabilities(r: SmtpReply): SmtpCapabilities {
  const caps: SmtpCapabilities = { ...NO_CAPABILITIES, auth: [] };
  const auth = new Set<string>();
  // The enhanced code (if a server sent one) was already taken off by parseReply.
  for (const line of r.lines.slice(1)) {
    const [keywordRaw = '', ...params] = line.trim().split(/\s+/);
    const keyword = keywordRaw.toUpperCase();
    switch (keyword) {
      case 'PIPELINING':
        caps.pipelining = true;
        break;
      case 'SIZE': {
        const n = params[0] !== undefined && /^\d{1,15}$/.test(params[0]) ? Number(params[0]) : 0;
        caps.size = n;
        break;
      }
      case '8BITMIME':
        caps.eightBitMime = true;
        break;
      case 'SMTPUTF8':
        caps.smtpUtf8 = true;
        break;
      case 'ENHANCEDSTATUSCODES':
        caps.enhancedStatusCodes = true;
        break;
      case 'CHUNKING':
        caps.chunking = true;
        break;
      case 'STARTTLS':
        caps.startTls = true;
        break;
      case 'DSN':
        caps.dsn = true;
        break;
      case 'AUTH':
        for (const p of params) auth.add(p.toUpperCase());
        break;
      default:
        if (keyword.startsWith('AUTH=')) {
          for (const p of [keyword.slice(5), ...params]) if (p !== '') auth.add(p.toUpperCase());
        }
    }
  }
  caps.auth = [...auth];
  return caps;
}
