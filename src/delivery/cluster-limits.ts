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
  /**
   * The slots held now, by the owner name of each hold: every hold has a name of its own
   * (`owner#n`), so a release can only ever free its own row, even one this process took again
   * after its lease had run out.
   */
  readonly #held = new Map<string, { key: string; slot: number }>();
  /** Releases on their way to the store, awaited by close so no row outlives a clean stop. */
  readonly #releasing = new Set<Promise<void>>();
  #seq = 0;
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
    if (this.#closed) throw new Error(`cluster limits are closed: no slot of ${key} is taken while the node stops`);
    const owner = `${this.#o.owner}#${++this.#seq}`;
    const slot = await this.#o.store.acquireSlot({ key, limit, owner, now: this.#now(), leaseMs: this.#leaseMs });
    if (slot === null) return null;
    this.#held.set(owner, { key, slot });
    this.#startRenewing();
    let released = false;
    return {
      release: () => {
        if (released) return Promise.resolve();
        released = true;
        this.#held.delete(owner);
        if (this.#held.size === 0) this.#stopRenewing();
        const done = this.#o.store.releaseSlot({ key, slot, owner }).then(
          () => undefined,
          (err: unknown) => {
            this.#log.warn({ event: 'cluster.release_failed', key, slot, error: errorText(err) }, `could not free slot ${slot} of ${key}; it comes free when its lease runs out`);
          },
        );
        this.#releasing.add(done);
        void done.finally(() => this.#releasing.delete(done));
        return done;
      },
    };
  }

  async pace(key: string, intervalMs: number): Promise<number> {
    if (this.#closed) throw new Error(`cluster limits are closed: no start of ${key} is reserved while the node stops`);
    const now = this.#now();
    const start = await this.#o.store.reservePace({ key, intervalMs, now });
    const wait = Math.max(0, start - now);
    // The starts are reserved on each node's wall clock: a node whose clock runs ahead pushes the
    // key's next start into the future for all. A wait no queue of honest reservations explains
    // is cut short (the rate is exceeded for a while rather than the drain stalled) and logged.
    const bound = Math.max(60_000, intervalMs * 100);
    if (wait > bound) {
      this.#log.warn({ event: 'cluster.pace_skew', key, waitMs: wait, boundMs: bound }, `the next start of ${key} is ${Math.round(wait / 1000)} s away: a node's clock may run ahead (keep node clocks in sync with NTP); waiting ${Math.round(bound / 1000)} s instead`);
      return bound;
    }
    return wait;
  }

  /** Stops renewing and waits for releases under way. Slots still held run out with their leases. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopRenewing();
    await Promise.all([...this.#releasing]);
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
    const owners = [...this.#held.keys()];
    if (owners.length === 0) return;
    try {
      const renewed = new Set(await this.#o.store.renewSlots({ owners, now: this.#now(), leaseMs: this.#leaseMs }));
      for (const owner of owners) {
        const hold = this.#held.get(owner);
        if (renewed.has(owner) || hold === undefined) continue;
        // Its lease ran out (renewals failed for longer than leaseMs) and it may be another
        // node's now: the limit may be exceeded until this hold is released. Said once.
        this.#held.delete(owner);
        this.#log.error({ event: 'cluster.slot_lost', key: hold.key, slot: hold.slot }, `lost slot ${hold.slot} of ${hold.key}: its lease ran out before it was renewed, so another node may hold it too until this connection or session ends`);
      }
    } catch (err) {
      // The next tick tries again; a lease lasts several ticks.
      this.#log.warn({ event: 'cluster.renew_failed', error: errorText(err) }, 'could not renew held slots');
    }
  }
}
