/**
 * The cluster's limits kept in the shared store (delivery_slots, delivery_pace): a held slot is a
 * row with a lease, renewed on a timer while this process lives, so the slots of a node that dies
 * come free when their leases run out, and those of a crashed earlier process of this node come
 * free at once when the next one starts (`start`, as the queue's releaseLeases).
 */
import { errorText } from '../core/errors.ts';
import type { ClusterLimits, SlotHold } from '../core/cluster-limits.ts';
import type { Logger } from '../core/logger.ts';
import type { SlotStore } from '../store/types.ts';

export interface StoreClusterLimitsOptions {
  store: SlotStore;
  /** Names our slots; unique per process, starting with `ownerPrefix` (the queue runner's owner). */
  owner: string;
  /** What every process of this node names its slots with. Default: none (nothing freed at start). */
  ownerPrefix?: string;
  logger: Logger;
  /** How long a slot stays ours without renewal. Default 60 s. */
  leaseMs?: number;
  /** How often held slots are renewed; well under leaseMs. Default 20 s. */
  renewMs?: number;
  /** Wall time: every node compares leases and pacing times on it. */
  now?: () => number;
}

export class StoreClusterLimits implements ClusterLimits {
  readonly #o: StoreClusterLimitsOptions;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  /** Slots held now, so that renewal runs only while there is something to renew. */
  #held = 0;
  #timer: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  constructor(options: StoreClusterLimitsOptions) {
    this.#o = options;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#renewMs = options.renewMs ?? 20_000;
    if (this.#renewMs >= this.#leaseMs) throw new Error(`cluster limits: renewMs (${this.#renewMs}) must be shorter than leaseMs (${this.#leaseMs}), or leases run out while held`);
    this.#now = options.now ?? Date.now;
    this.#log = options.logger.child({ component: 'cluster-limits' });
  }

  /** Frees the slots an earlier process of this node held (it crashed: nobody will release them). */
  async start(): Promise<void> {
    if (this.#o.ownerPrefix === undefined) return;
    try {
      const freed = await this.#o.store.releaseSlots({ ownerPrefix: this.#o.ownerPrefix, except: this.#o.owner });
      if (freed > 0) this.#log.info({ event: 'cluster.recovered_slots', freed }, 'freed connection slots held by an earlier process of this node');
    } catch (err) {
      this.#log.error({ event: 'cluster.recover_failed', error: errorText(err) }, 'could not free the slots of an earlier process; they come free when their leases run out');
    }
  }

  async tryAcquire(key: string, limit: number): Promise<SlotHold | null> {
    if (this.#closed) throw new Error('cluster limits are closed');
    const slot = await this.#o.store.acquireSlot({ key, limit, owner: this.#o.owner, now: this.#now(), leaseMs: this.#leaseMs });
    if (slot === null) return null;
    this.#held++;
    this.#startRenewing();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.#held--;
        if (this.#held === 0) this.#stopRenewing();
        try {
          await this.#o.store.releaseSlot({ key, slot, owner: this.#o.owner });
        } catch (err) {
          this.#log.warn({ event: 'cluster.release_failed', key, slot, error: errorText(err) }, 'could not free a slot; it comes free when its lease runs out');
        }
      },
    };
  }

  async pace(key: string, intervalMs: number): Promise<number> {
    if (this.#closed) throw new Error('cluster limits are closed');
    const now = this.#now();
    const start = await this.#o.store.reservePace({ key, intervalMs, now });
    return Math.max(0, start - now);
  }

  /** Stops renewing. Slots still held run out with their leases (their holders are closing). */
  close(): void {
    this.#closed = true;
    this.#stopRenewing();
  }

  #startRenewing(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#timer = setInterval(() => void this.#renew(), this.#renewMs);
    this.#timer.unref();
  }

  #stopRenewing(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
  }

  async #renew(): Promise<void> {
    try {
      await this.#o.store.renewSlots({ owner: this.#o.owner, now: this.#now(), leaseMs: this.#leaseMs });
    } catch (err) {
      // The next tick tries again; a lease lasts several ticks.
      this.#log.warn({ event: 'cluster.renew_failed', error: errorText(err) }, 'could not renew held slots');
    }
  }
}
