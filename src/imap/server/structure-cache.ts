/**
 * ENVELOPE, BODYSTRUCTURE and BODY of recently fetched messages, shared by the sessions of one
 * server. Mail clients ask for these for every message of a mailbox when they open it, and
 * computing them means reading the whole message from the store and parsing its MIME structure;
 * a stored message never changes, so the answer is kept (Dovecot keeps the same in its
 * dovecot.index.cache). Keyed by mailbox id, UIDVALIDITY and UID: a UID is never given to another
 * message under the same UIDVALIDITY, and a mailbox made again, even under a reused id, gets a
 * new UIDVALIDITY. Bounded in bytes; the least recently used entries go first.
 */
import type { MessageStructure } from '../proto/fetch.ts';

export class StructureCache {
  readonly #entries = new Map<string, MessageStructure>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  static key(mailboxId: number, uidValidity: number, uid: number): string {
    return `${mailboxId}/${uidValidity}/${uid}`;
  }

  get(key: string): MessageStructure | undefined {
    const s = this.#entries.get(key);
    if (s !== undefined) {
      // Map keeps insertion order: moving a hit to the end makes the first entry the coldest.
      this.#entries.delete(key);
      this.#entries.set(key, s);
    }
    return s;
  }

  set(key: string, s: MessageStructure): void {
    const size = sizeOf(key, s);
    if (size > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= sizeOf(key, old);
    }
    this.#entries.set(key, s);
    this.#bytes += size;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= sizeOf(k, v);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}

/** Roughly what an entry holds on to: its bytes and the objects around them. */
function sizeOf(key: string, s: MessageStructure): number {
  return 2 * key.length + s.envelope.byteLength + s.bodyStructure.byteLength + s.body.byteLength + 300;
}
