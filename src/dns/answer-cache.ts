/**
 * Replies already encoded, kept per zone set and reused for the same question. An authoritative
 * server hears the same few questions over and over (every resolver asks for the domain's MX and
 * the MX host's address); parsing the request, finding the records and encoding them again took
 * most of the server's time per query besides the send itself (bench/dns.sh -C).
 *
 * The reply is a function of the request's bytes after its ID (the question with its letter case,
 * the header flags that are echoed, the EDNS record that sets the size limit), the transport and
 * the zones, and of nothing else, except for zone transfers, whose answer depends on who asks:
 * those are never kept. A hit is the kept reply with the request's ID written into a copy.
 */
import type { AnswerSummary, ZoneSet } from './authority.ts';

/** Requests longer than this are answered but not kept: no real question is this long. */
const MAX_KEY_BYTES = 512;

export interface CachedAnswer {
  reply: Buffer;
  summary: AnswerSummary;
}

export class AnswerCache {
  readonly #maxEntries: number;
  #zones: ZoneSet | null = null;
  #entries = new Map<string, CachedAnswer>();

  /** `maxEntries`: when reached, the cache starts over empty (questions still asked come back at once). */
  constructor(maxEntries = 10_000) {
    this.#maxEntries = Math.max(1, maxEntries);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The reply to `request` when the same question was answered from these zones, with `request`'s ID. */
  get(zones: ZoneSet, transport: 'udp' | 'tcp', request: Uint8Array): CachedAnswer | null {
    if (zones !== this.#zones) return null;
    const key = keyOf(transport, request);
    if (key === null) return null;
    const hit = this.#entries.get(key);
    if (hit === undefined) return null;
    // A copy: the kept reply may still be on its way out to another client with another ID.
    const reply = Buffer.allocUnsafe(hit.reply.length);
    hit.reply.copy(reply);
    reply[0] = request[0] ?? 0;
    reply[1] = request[1] ?? 0;
    return { reply, summary: hit.summary };
  }

  /** Keeps what `respond` gave for `request`, if it may be reused. */
  put(zones: ZoneSet, transport: 'udp' | 'tcp', request: Uint8Array, replies: readonly Buffer[], summary: AnswerSummary): void {
    const only = replies[0];
    if (replies.length !== 1 || only === undefined) return; // dropped, or a transfer in several messages
    if (summary.rcode === 'DROPPED' || summary.problem !== null) return;
    if (summary.qtype === 'AXFR' || summary.qtype === 'IXFR') return; // depends on the client's address
    const key = keyOf(transport, request);
    if (key === null) return;
    if (zones !== this.#zones) {
      this.#zones = zones;
      this.#entries = new Map();
    }
    if (this.#entries.size >= this.#maxEntries) this.#entries = new Map();
    this.#entries.set(key, { reply: Buffer.from(only), summary });
  }
}

function keyOf(transport: 'udp' | 'tcp', request: Uint8Array): string | null {
  if (request.length < 12 || request.length > MAX_KEY_BYTES) return null;
  const bytes = Buffer.from(request.buffer, request.byteOffset + 2, request.length - 2);
  return (transport === 'udp' ? 'u' : 't') + bytes.toString('latin1');
}
