/**
 * Names for messages: Message-ID values for the messages we write ourselves (DSNs, notices), and
 * queue ids, the short handle an operator types (`postern queue show ID`) and that `Received:`
 * carries. Queue ids sort by the time they were made, so a listing sorted by id is oldest first.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';

/** Crockford's base32, lower case: no i, l, o, u, so ids read aloud and copied by hand survive. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Where randomness comes from: `node:crypto` by default; tests pass a fixed one. */
export type RandomBytes = (size: number) => Uint8Array;

const defaultRandom: RandomBytes = (size) => new Uint8Array(cryptoRandomBytes(size));

function base32(bytes: Uint8Array, chars: number): string {
  // Reads the bytes as one big-endian number and writes its low `chars` * 5 bits.
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out.slice(0, chars);
}

export interface MessageIdOptions {
  /** Our host name: the right-hand side, which makes the id unique across hosts (RFC 5322 §3.6.4). */
  hostname: string;
  randomBytes?: RandomBytes;
  now?: number;
}

/** A new Message-ID value with its angle brackets: "<1k3x9q7v2m.7f3kq8s2w4d6b1ha@mx.example.test>". */
export function newMessageId(o: MessageIdOptions): string {
  const random = o.randomBytes ?? defaultRandom;
  const host = o.hostname.replace(/[^A-Za-z0-9.\-[\]:]/g, '') || 'localhost';
  return `<${timePart(o.now ?? Date.now())}.${base32(random(10), 16)}@${host}>`;
}

const TIME_CHARS = 10; // 50 bits of milliseconds: until the year 37648
const RANDOM_CHARS = 6; // 30 bits
const QUEUE_ID = new RegExp(`^[${ALPHABET}]{${TIME_CHARS + RANDOM_CHARS}}$`);

function timePart(ms: number): string {
  let n = Math.max(0, Math.floor(ms));
  let out = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
}

export interface QueueIdOptions {
  now?: number;
  randomBytes?: RandomBytes;
}

/**
 * A queue id: 16 characters, the creation time in milliseconds then 30 random bits, so ids made
 * in different milliseconds sort by time. Ids made in the same millisecond sort at random; use
 * `createQueueIdGenerator` where their order matters.
 */
export function newQueueId(o: QueueIdOptions = {}): string {
  const random = o.randomBytes ?? defaultRandom;
  return timePart(o.now ?? Date.now()) + base32(random(4), RANDOM_CHARS);
}

/**
 * A source of queue ids that increase strictly, even within one millisecond or when the clock
 * steps back: the next id is then the previous one plus one (as ULID does).
 */
export function createQueueIdGenerator(o: QueueIdOptions & { clock?: () => number } = {}): () => string {
  let last = '';
  return () => {
    const id = newQueueId({ now: o.clock?.() ?? o.now ?? Date.now(), ...(o.randomBytes === undefined ? {} : { randomBytes: o.randomBytes }) });
    last = id > last ? id : increment(last);
    return last;
  };
}

function increment(id: string): string {
  const chars = id.split('');
  for (let i = chars.length - 1; i >= 0; i--) {
    const v = ALPHABET.indexOf(chars[i] ?? '0');
    if (v < 31) {
      chars[i] = ALPHABET[v + 1] ?? '0';
      return chars.join('');
    }
    chars[i] = '0';
  }
  // Every character was the highest: cannot happen before the year 37648.
  return chars.join('');
}

export function isQueueId(text: string): boolean {
  return QUEUE_ID.test(text);
}

/** When a queue id was made, or null for text that is not a queue id. */
export function queueIdTime(id: string): Date | null {
  if (!isQueueId(id)) return null;
  let n = 0;
  for (const c of id.slice(0, TIME_CHARS)) n = n * 32 + ALPHABET.indexOf(c);
  return new Date(n);
}
