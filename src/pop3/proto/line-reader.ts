/**
 * Command lines off the wire. RFC 1939 §3 ends each command with CRLF; we also take a bare LF as
 * the end of a line, as most POP3 servers do: a POP3 client sends no message content, so there is
 * nothing to smuggle, and an old client that sends LF alone still works. A line longer than the
 * limit is reported once and skipped up to its end, so the session answers -ERR and stays in step
 * with the client instead of buffering without bound.
 */

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);

export type LineResult =
  | { kind: 'need-more' }
  /** The line without its line end. */
  | { kind: 'line'; line: Uint8Array }
  | { kind: 'error'; problem: 'line-too-long' };

export interface LineReaderOptions {
  /** Longest line accepted, line end included. */
  maxLineLength: number;
}

export class LineReader {
  readonly #max: number;
  #parts: Uint8Array[] = [];
  #buffered = 0;
  /** How far the pending bytes have been searched for LF, so a slow line is not rescanned. */
  #scanned = 0;
  /** Inside an over-long line: drop bytes up to and including the next LF. */
  #skipping = false;

  constructor(options: LineReaderOptions) {
    this.#max = Math.max(3, options.maxLineLength);
  }

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
      const end = lf > 0 && all[lf - 1] === CR ? lf - 1 : lf;
      const line = all.slice(0, end);
      this.#reset(rest);
      return { kind: 'line', line };
    }
  }

  /** Forgets everything buffered (after STLS: RFC 2595 §4, as RFC 3207 §4.2 for SMTP). */
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
