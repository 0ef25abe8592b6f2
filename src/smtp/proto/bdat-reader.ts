/**
 * Message content sent with BDAT (RFC 3030 CHUNKING): each `BDAT n [LAST]` is followed by exactly
 * n octets, with no dot-stuffing and no end marker, so a chunk may end anywhere, even between the CR
 * and LF of one line, and may arrive over many reads. The chunks of one transaction add up to the
 * message, and the message ends with the chunk marked LAST.
 *
 * The rules of DATA still hold for what the chunks carry: a bare CR or LF refuses the message
 * (550 5.6.0), since we pass it on to servers that may read it as a line end, and it may not grow
 * past the size limit (552 5.3.4). Either is answered at the end of the chunk that shows it; the
 * octets of the chunk are always consumed first so the client and server stay in step.
 */
import { Reply } from '../../core/smtp-reply.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { concatBytes, CR, EMPTY, LF } from './bytes.ts';
import type { DataProblem } from './data-reader.ts';

export type BdatResult =
  | { kind: 'need-more' }
  /** A chunk that is not LAST was read whole; `size` is the message size so far. */
  | { kind: 'chunk'; size: number; rest: Uint8Array }
  /** The LAST chunk was read: the whole message. */
  | { kind: 'done'; data: Uint8Array; rest: Uint8Array }
  /** The chunk was read, and the message is refused; the reader takes no more content. */
  | { kind: 'error'; problem: DataProblem; reply: SmtpReply; size: number; rest: Uint8Array };

export interface BdatReaderOptions {
  /** Octets of message kept; more is an error. */
  maxSize: number;
  /** Consume chunks and keep nothing, never failing (BDAT outside a usable transaction). */
  discard?: boolean;
}

export class BdatReader {
  readonly #max: number;
  readonly #discard: boolean;
  #parts: Uint8Array[] = [];
  #size = 0;
  /** Octets of the current chunk still to come; null between chunks. */
  #remaining: number | null = null;
  #last = false;
  #pendingCr = false;
  #bare = false;
  #failed = false;

  constructor(options: BdatReaderOptions) {
    this.#max = Math.max(0, options.maxSize);
    this.#discard = options.discard === true;
  }

  /** Octets of message received so far. */
  get size(): number {
    return this.#size;
  }

  /** True while a chunk is being read. */
  get inChunk(): boolean {
    return this.#remaining !== null;
  }

  /** A BDAT command was accepted: its `size` octets follow. */
  begin(size: number, last: boolean): void {
    this.#remaining = Math.max(0, size);
    this.#last = last;
  }

  push(bytes: Uint8Array): BdatResult {
    if (this.#remaining === null) return { kind: 'need-more' };
    const take = Math.min(this.#remaining, bytes.length);
    const piece = bytes.subarray(0, take);
    this.#remaining -= take;
    this.#size += take;
    if (!this.#discard && !this.#failed) {
      this.#scan(piece);
      const room = this.#max - (this.#size - take);
      if (room > 0) this.#parts.push(piece.subarray(0, Math.min(room, take)).slice());
    }
    if (this.#remaining > 0) return { kind: 'need-more' };
    this.#remaining = null;
    const rest = bytes.length > take ? bytes.slice(take) : EMPTY;
    if (this.#discard || this.#failed) {
      return this.#last ? { kind: 'done', data: EMPTY, rest } : { kind: 'chunk', size: this.#size, rest };
    }
    if (this.#last && this.#pendingCr) this.#bare = true;
    const problem: DataProblem | null = this.#size > this.#max ? 'too-big' : this.#bare ? 'bare-line-ending' : null;
    if (problem !== null) {
      this.#failed = true;
      this.#parts = [];
      return { kind: 'error', problem, reply: problem === 'too-big' ? Reply.MessageTooBig : Reply.BareNewline, size: this.#size, rest };
    }
    if (!this.#last) return { kind: 'chunk', size: this.#size, rest };
    const data = concatBytes(this.#parts, this.#size);
    this.#parts = [];
    return { kind: 'done', data, rest };
  }

  /** Every LF must follow a CR and every CR precede an LF, across chunk boundaries. */
  #scan(piece: Uint8Array): void {
    if (this.#bare) return;
    for (let i = 0; i < piece.length; i++) {
      const b = piece[i];
      if (this.#pendingCr) {
        this.#pendingCr = false;
        if (b !== LF) {
          this.#bare = true;
          return;
        }
        continue;
      }
      if (b === CR) this.#pendingCr = true;
      else if (b === LF) {
        this.#bare = true;
        return;
      }
    }
  }
}
