/**
 * Command lines off the wire, for every line-based protocol we serve. A line ends with CRLF; a line
 * that ends with a bare LF is an error by default (SMTP, RFC 5321 §2.3.8: no command is ever read
 * from bytes another server would split differently) or, with `allowBareLf`, a line like any other
 * (POP3, where the client sends no content there is anything to smuggle in). A line longer than the
 * limit is reported once and skipped up to its end, so the session can answer and carry on in step
 * with the client instead of buffering without bound.
 */

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);

/** RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, CRLF included. */
export const MAX_COMMAND_LINE = 512;

export type LineResult =
  | { kind: 'need-more' }
  /** The line without its CRLF. */
  | { kind: 'line'; line: Uint8Array }
  | { kind: 'error'; problem: 'line-too-long' | 'bare-lf' };

export interface LineReaderOptions {
  /** Longest line accepted, CRLF included. Default 512 (RFC 5321 §4.5.3.1.4). */
  maxLineLength?: number;
  /** A bare LF ends a line too (POP3), instead of being an error (SMTP). */
  allowBareLf?: boolean;
}

export class LineReader {
  readonly #max: number;
  readonly #allowBareLf: boolean;
  #parts: Uint8Array[] = [];
  #buffered = 0;
  /** How far the pending parts have been searched for LF (so a slow line is not rescanned). */
  #scanned = 0;
  /** Inside an over-long line: drop bytes up to and including the next LF. */
  #skipping = false;

  constructor(options: LineReaderOptions = {}) {
    this.#max = Math.max(3, options.maxLineLength ?? MAX_COMMAND_LINE);
    this.#allowBareLf = options.allowBareLf ?? false;
  }

  /** Adds bytes from the connection. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#parts.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete line, or need-more. Call until need-more after each push. */
  next(): LineResult {
    for (;;) {
      if (this.#buffered === 0) return { kind: 'need-more' };
      const all = this.#flatten();
      if (this.#skipping) {
        const lf = all.indexOf(LF);
        if (lf < 0) {
          this.#reset(EMPTY);
          return { kind: 'need-more' };
        }
        this.#skipping = false;
        this.#reset(all.subarray(lf + 1));
        continue;
      }
      const lf = all.indexOf(LF, this.#scanned);
      if (lf < 0) {
        if (all.length >= this.#max) {
          // Whatever follows, this line plus its LF is already past the limit.
          this.#skipping = true;
          this.#reset(EMPTY);
          return { kind: 'error', problem: 'line-too-long' };
        }
        this.#scanned = all.length;
        return { kind: 'need-more' };
      }
      const rest = all.subarray(lf + 1);
      if (lf + 1 > this.#max) {
        this.#reset(rest);
        return { kind: 'error', problem: 'line-too-long' };
      }
      const crlf = lf > 0 && all[lf - 1] === CR;
      if (!crlf && !this.#allowBareLf) {
        this.#reset(rest);
        return { kind: 'error', problem: 'bare-lf' };
      }
      const line = all.slice(0, crlf ? lf - 1 : lf);
      this.#reset(rest);
      return { kind: 'line', line };
    }
  }

  /** Everything buffered and not yet returned as a line: the start of DATA or BDAT content. */
  takeRest(): Uint8Array {
    const all = this.#skipping ? EMPTY : this.#flatten();
    this.#reset(EMPTY);
    this.#skipping = false;
    return all.slice();
  }

  /** Forgets everything buffered (after STARTTLS or STLS: RFC 3207 §4.2, RFC 2595 §4, CVE-2011-0411). */
  discard(): void {
    this.#reset(EMPTY);
    this.#skipping = false;
  }

  get buffered(): number {
    return this.#buffered;
  }

  #flatten(): Uint8Array {
    if (this.#parts.length > 1) {
      const all = new Uint8Array(this.#buffered);
      let at = 0;
      for (const p of this.#parts) {
        all.set(p, at);
        at += p.length;
      }
      this.#parts = [all];
    }
    return this.#parts[0] ?? EMPTY;
  }

  #reset(rest: Uint8Array): void {
    this.#parts = rest.length === 0 ? [] : [rest];
    this.#buffered = rest.length;
    this.#scanned = 0;
  }
}
