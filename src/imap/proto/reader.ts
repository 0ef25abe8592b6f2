/**
 * Framing: where one IMAP command ends. A command is a line, unless the line ends with a literal
 * announcement `{n}` (synchronising: the client waits for our "+" before sending the n octets) or
 * `{n+}` (RFC 7888 LITERAL+: the octets follow at once); after the octets the command goes on with
 * another line. The reader buffers bytes, says when to send the continuation, and hands out each
 * whole command, literals included, for `tokens.ts` to read. It enforces the line, literal and
 * command size limits and never throws.
 */

export interface ReaderLimits {
  /** Longest line of a command, literals not counted, line ending included. */
  maxLineLength: number;
  /** Largest literal (APPEND carries whole messages in one). */
  maxLiteralSize: number;
  /** Largest whole command, literals included. */
  maxCommandSize: number;
}

export type ReadResult =
  | { kind: 'need-more' }
  /** A synchronising literal was announced and is not here yet: send "+ …", then read on. */
  | { kind: 'continue' }
  /** One whole command, literals included, without its final line ending. */
  | { kind: 'command'; bytes: Buffer }
  /**
   * `fatal`: the stream cannot be followed any more (a LITERAL+ too large to take): say BYE and
   * close. Otherwise the rest of the offending command has been discarded and reading goes on.
   */
  | { kind: 'error'; tag: string | null; reason: string; code: 'TOOBIG' | 'PARSE'; fatal: boolean };

const LF = 0x0a;
const LITERAL_AT_END = /\{(\d{1,12})(\+?)\}\r?$/;
const TAG = /^([\x21-\x7e]+?)[ \r\n]/;

export class CommandReader {
  readonly #limits: ReaderLimits;
  #buf: Buffer = Buffer.alloc(0);
  /** Where the next line of the current command starts. */
  #pos = 0;
  /** Discarding up to the next LF (after an overlong line). */
  #skipping = false;
  #skipTag: string | null = null;
  #announced = false;

  constructor(limits: ReaderLimits) {
    this.#limits = limits;
  }

  /** Bytes buffered and not yet handed out. */
  get buffered(): number {
    return this.#buf.length;
  }

  push(chunk: Uint8Array): void {
    this.#buf = this.#buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buf, chunk]);
  }

  /** Drops everything buffered (pipelined input after STARTTLS must not be read, RFC 3501 §6.2.1). */
  discard(): void {
    this.#buf = Buffer.alloc(0);
    this.#pos = 0;
    this.#announced = false;
    this.#skipping = false;
  }

  next(): ReadResult {
    const limits = this.#limits;
    if (this.#skipping) {
      const lf = this.#buf.indexOf(LF);
      if (lf < 0) {
        this.#buf = Buffer.alloc(0);
        return { kind: 'need-more' };
      }
      this.#buf = this.#buf.subarray(lf + 1);
      this.#skipping = false;
      this.#pos = 0;
      return { kind: 'error', tag: this.#skipTag, reason: 'line too long', code: 'TOOBIG', fatal: false };
    }
    for (;;) {
      const lf = this.#buf.indexOf(LF, this.#pos);
      if (lf < 0) {
        if (this.#buf.length - this.#pos > limits.maxLineLength) {
          this.#skipTag = this.#tag();
          this.#skipping = true;
          this.#buf = Buffer.alloc(0);
          this.#pos = 0;
          return this.next();
        }
        return { kind: 'need-more' };
      }
      const lineEnd = lf > 0 && this.#buf[lf - 1] === 0x0d ? lf - 1 : lf;
      if (lf + 1 - this.#pos > limits.maxLineLength) return this.#drop(lf + 1, 'line too long', 'TOOBIG', false);
      // Only the tail of the line matters; decoding it all would cost more than the check.
      const tail = this.#buf.subarray(Math.max(this.#pos, lf - 20), lf + 1).toString('latin1');
      const m = LITERAL_AT_END.exec(tail.replace(/\n$/, ''));
      if (m === null) {
        const bytes = this.#buf.subarray(0, lineEnd);
        this.#buf = this.#buf.subarray(lf + 1);
        this.#pos = 0;
        this.#announced = false;
        return { kind: 'command', bytes: Buffer.from(bytes) };
      }
      const size = Number(m[1]);
      const sync = m[2] !== '+';
      if (size > limits.maxLiteralSize || lf + 1 + size > limits.maxCommandSize) {
        // A synchronising literal is never sent when we refuse it, so the command ends here; a
        // LITERAL+ one is on its way and we cannot tell where the command after it starts.
        return this.#drop(lf + 1, `literal of ${size} octets is over the limit`, 'TOOBIG', !sync);
      }
      if (this.#buf.length < lf + 1 + size) {
        if (sync && !this.#announced) {
          this.#announced = true;
          return { kind: 'continue' };
        }
        return { kind: 'need-more' };
      }
      this.#pos = lf + 1 + size;
      this.#announced = false;
    }
  }

  #tag(): string | null {
    const m = TAG.exec(this.#buf.subarray(0, 80).toString('latin1') + ' ');
    return m?.[1] ?? null;
  }

  #drop(upTo: number, reason: string, code: 'TOOBIG' | 'PARSE', fatal: boolean): ReadResult {
    const tag = this.#tag();
    this.#buf = this.#buf.subarray(upTo);
    this.#pos = 0;
    this.#announced = false;
    return { kind: 'error', tag, reason, code, fatal };
  }
}
