/**
 * The message text after DATA's 354 (RFC 5321 §4.1.1.4, §4.5.2). Only CRLF "." CRLF ends it; a
 * leading dot on any other line is removed. A bare LF or bare CR anywhere is remembered and reported
 * once the real end is reached: other software splits lines on a bare LF, so `\n.\n`, `\n.\r\n`,
 * `\r.\r` or `\r\n.\n` could end the message early for one server and not for another, which is
 * how SMTP smuggling (2023) slips a second message through. Here none of them ends anything, and
 * the whole message is refused (550 5.6.0, as Postfix's `smtpd_forbid_bare_newline` does).
 *
 * Streaming and linear: bytes go in as they arrive, state carries across chunk boundaries, content
 * past the size limit is counted but not kept.
 */
import { Reply } from '../../core/smtp-reply.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { concatBytes, CR, DOT, EMPTY, LF } from './bytes.ts';

export type DataProblem = 'bare-line-ending' | 'too-big';

export type DataResult =
  | { kind: 'need-more' }
  /** The message, un-stuffed, ending with CRLF (the CRLF before the final dot belongs to it). `rest`
   *  is whatever followed CRLF.CRLF: pipelined commands. */
  | { kind: 'done'; data: Uint8Array; rest: Uint8Array }
  /** The end was reached, but the message is refused. Too big wins over bare line endings: it is
   *  the one a client can fix without changing software. */
  | { kind: 'error'; problem: DataProblem; reply: SmtpReply; size: number; rest: Uint8Array };

export interface DataReaderOptions {
  /** Octets of (un-stuffed) content kept; beyond this the message is too big. */
  maxSize: number;
}

/** Where we are relative to the line structure. */
type State =
  /** Just after CRLF (or at the very start). */
  | 'line-start'
  /** A dot at line start. */
  | 'dot'
  /** ".\r" at line start. */
  | 'dot-cr'
  /** Inside a line. */
  | 'mid'
  /** A CR inside a line, not yet known to be followed by LF. */
  | 'cr';

export class DataReader {
  readonly #max: number;
  #state: State = 'line-start';
  #parts: Uint8Array[] = [];
  #kept = 0;
  #size = 0;
  #bare = false;
  #finished = false;

  constructor(options: DataReaderOptions) {
    this.#max = Math.max(0, options.maxSize);
  }

  /** Octets of content seen so far (un-stuffed), kept or not. */
  get size(): number {
    return this.#size;
  }

  push(chunk: Uint8Array): DataResult {
    if (this.#finished) return { kind: 'need-more' };
    // Content is every byte except stuffing dots and the final ".\r\n"; bytes are copied out in
    // runs between those cuts, and a run inside a line is found with indexOf, so the common case
    // costs a scan, not a step per byte. Once a bare CR or LF is seen the content is refused
    // anyway, so what is kept from then on no longer matters, only where the end is.
    let state = this.#state;
    let segStart = 0;
    let nextLf = -2;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (state === 'mid') {
        const cr = chunk.indexOf(CR, i);
        if (!this.#bare) {
          if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
          // A bare LF is content, never a line end: the next byte is not at line start.
          if (nextLf !== -1 && (cr === -1 || nextLf < cr)) this.#bare = true;
        }
        if (cr === -1) {
          i = n;
          break;
        }
        state = 'cr';
        i = cr + 1;
        continue;
      }
      const b = chunk[i] as number;
      switch (state) {
        case 'cr':
          if (b === LF) {
            state = 'line-start';
          } else {
            this.#bare = true;
            if (b !== CR) state = 'mid';
          }
          i++;
          break;
        case 'line-start':
          if (b === DOT) {
            // RFC 5321 §4.5.2: the leading dot of a line is dropped.
            if (i > segStart) this.#emit(chunk.subarray(segStart, i));
            segStart = i + 1;
            state = 'dot';
            i++;
          } else {
            state = 'mid';
          }
          break;
        case 'dot':
          if (b === CR) {
            // Held back: part of the end marker, or a bare CR that refuses the message anyway.
            segStart = i + 1;
            state = 'dot-cr';
            i++;
          } else {
            state = 'mid';
          }
          break;
        case 'dot-cr':
          if (b === LF) {
            this.#finished = true;
            this.#state = state;
            return this.#end(chunk.subarray(i + 1));
          }
          this.#bare = true;
          state = b === CR ? 'cr' : 'mid';
          if (b === CR) i++;
          break;
      }
    }
    this.#state = state;
    if (n > segStart) this.#emit(chunk.subarray(segStart, n));
    return { kind: 'need-more' };
  }

  #emit(bytes: Uint8Array): void {
    this.#size += bytes.length;
    const room = this.#max - this.#kept;
    if (room <= 0 || this.#bare) return;
    const keep = bytes.length <= room ? bytes : bytes.subarray(0, room);
    // Copy: the caller's chunk buffer may be reused by the socket.
    this.#parts.push(keep.slice());
    this.#kept += keep.length;
  }

  #end(rest: Uint8Array): DataResult {
    const restCopy = rest.length === 0 ? EMPTY : rest.slice();
    if (this.#size > this.#max) {
      this.#parts = [];
      return { kind: 'error', problem: 'too-big', reply: Reply.MessageTooBig, size: this.#size, rest: restCopy };
    }
    if (this.#bare) {
      this.#parts = [];
      return { kind: 'error', problem: 'bare-line-ending', reply: Reply.BareNewline, size: this.#size, rest: restCopy };
    }
    const data = concatBytes(this.#parts, this.#kept);
    this.#parts = [];
    return { kind: 'done', data, rest: restCopy };
  }
}
