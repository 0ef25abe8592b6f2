/**
 * Limits that hold across every node sharing one store: a per-destination connection limit, a
 * backup drain's concurrency and rate, a POP3 maildrop lock. Declared here so that delivery, the
 * queue and POP3 can each take one without importing each other; the store-backed implementation
 * is `delivery/cluster-limits.ts`. A part given none keeps its limits in its own process, which is
 * all a single node (SQLite) needs.
 */

/** One held slot under a key's limit. */
export interface SlotHold {
  /** Gives the slot back; safe to call twice; never rejects (a slot not freed runs out with its lease). */
  release(): Promise<void>;
}

export interface ClusterLimits {
  /**
   * One of `limit` slots of `key`, held (and renewed) until released; null when every slot is
   * held elsewhere. Rejects when the store cannot be asked: the caller fails its attempt
   * temporarily rather than go over the limit.
   */
  tryAcquire(key: string, limit: number): Promise<SlotHold | null>;
  /**
   * Reserves the caller's next start of `key`, starts spaced `intervalMs` apart across the
   * cluster. Resolves with how many milliseconds to wait before starting (0: at once).
   */
  pace(key: string, intervalMs: number): Promise<number>;
}
