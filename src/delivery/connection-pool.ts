/**
 * Outbound SMTP connections per destination address: at most `maxPerHost` open at once
 * (`delivery.max_connections_per_host`, so a queue run never floods one MX host), and a connection
 * that finished a transaction is kept a few seconds for the next message to the same host rather
 * than paying for TCP, greeting, EHLO and TLS again.
 */
import type { ClusterLimits, SlotHold } from '../core/cluster-limits.ts';
import type { SmtpConnection } from '../smtp/client/index.ts';

export interface PoolOptions {
  connect: (key: { address: string; port: number; serverName: string }) => Promise<SmtpConnection>;
  maxPerHost: number;
  /** How long an idle connection is kept for reuse. */
  idleMs: number;
  /**
   * With several nodes on one store: `maxPerHost` holds across all of them. A connection is opened
   * only with one of the key's cluster slots, kept while it lives (idle ones too).
   */
  cluster?: ClusterLimits;
  /** Longest pause between two asks for a cluster slot when no local release wakes us. Default 1 s. */
  clusterPollMaxMs?: number;
}

interface HostState {
  open: number;
  idle: SmtpConnection[];
  waiters: Array<() => void>;
  timers: Map<SmtpConnection, ReturnType<typeof setTimeout>>;
  /** The cluster slot each open connection holds (with `cluster`). */
  slots: Map<SmtpConnection, SlotHold>;
}

/** Thrown by `acquire` when no connection came free before its `until`. */
export class PoolWaitExpired extends Error {
  constructor(address: string, port: number) {
    super(`no connection to ${address} port ${port} came free in time`);
    this.name = 'PoolWaitExpired';
  }
}

export interface Lease {
  connection: SmtpConnection;
  /** Hands the connection back: kept for reuse when it is still open and `reuse` is true. */
  release(reuse: boolean): void;
}

export class ConnectionPool {
  readonly #options: PoolOptions;
  readonly #hosts = new Map<string, HostState>();
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /**
   * A connection to `address`:`port`. With `until` (epoch ms on `now`, default Date.now), waiting
   * stops then with PoolWaitExpired: the caller's claim on its message ends there.
   */
  async acquire(address: string, port: number, serverName: string, wait: { until?: number; now?: () => number } = {}): Promise<Lease> {
    const key = `${address}|${port}`;
    let host = this.#hosts.get(key);
    if (host === undefined) {
      host = { open: 0, idle: [], waiters: [], timers: new Map(), slots: new Map() };
      this.#hosts.set(key, host);
    }
    const cluster = this.#options.cluster;
    let backoff = 25;
    let slot: SlotHold | null = null;
    // With `cluster`: our own place (the local limit) is taken first and kept while we ask for a
    // cluster slot, so at most maxPerHost of ours ask the store about one host, however many
    // messages wait for it.
    let reserved = false;
    for (;;) {
      if (this.#closed) {
        if (reserved) host.open--;
        throw new Error('the connection pool is closed');
      }
      const idle = host.idle.pop();
      if (idle !== undefined) {
        clearTimeout(host.timers.get(idle));
        host.timers.delete(idle);
        if (idle.open) {
          if (reserved) {
            // The place we held while asking for a slot is free again: someone parked on the
            // local limit may take it.
            host.open--;
            host.waiters.shift()?.();
          }
          return this.#lease(host, idle);
        }
        void this.#gone(host, idle, Promise.resolve());
        continue;
      }
      // Time left before `until`: a wait never outlasts it, and none starts after it.
      const left = wait.until === undefined || !Number.isFinite(wait.until) ? null : wait.until - (wait.now ?? Date.now)();
      if (!reserved) {
        if (host.open >= this.#options.maxPerHost) {
          if (left !== null && left <= 0) throw new PoolWaitExpired(address, port);
          await this.#wait(host, left);
          continue;
        }
        host.open++;
        reserved = true;
        if (cluster === undefined) break;
      }
      if (cluster === undefined) break;
      try {
        slot = await cluster.tryAcquire(`smtp:${key}`, this.#options.maxPerHost);
      } catch (err) {
        host.open--;
        host.waiters.shift()?.();
        // Thrown like a refused connection: the MX walk tries the next address, and the message
        // stays queued for a later attempt; going over the limit is not an option.
        throw new Error(`no connection slot for ${address} port ${port}: could not ask the store (${err instanceof Error ? err.message : String(err)})`, { cause: err });
      }
      if (slot !== null) break;
      if (left !== null && left <= 0) {
        host.open--;
        host.waiters.shift()?.();
        throw new PoolWaitExpired(address, port);
      }
      // Every slot is held: by other nodes (poll, backing off), or by us (a release wakes us).
      await this.#wait(host, left === null ? backoff : Math.min(backoff, left));
      backoff = Math.min(backoff * 2, this.#options.clusterPollMaxMs ?? 1000);
    }
    if (this.#closed) {
      host.open--;
      void slot?.release();
      throw new Error('the connection pool is closed');
    }
    try {
      const connection = await this.#options.connect({ address, port, serverName });
      if (slot !== null) host.slots.set(connection, slot);
      return this.#lease(host, connection);
    } catch (err) {
      host.open--;
      host.waiters.shift()?.();
      if (slot !== null) void slot.release().then(() => host.waiters.shift()?.());
      throw err;
    }
  }

  /** Until a local release (or close) wakes us, or `pollMs` passes when given. */
  #wait(host: HostState, pollMs: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      host.waiters.push(wake);
      if (pollMs !== null) {
        timer = setTimeout(() => {
          const i = host.waiters.indexOf(wake);
          if (i >= 0) host.waiters.splice(i, 1);
          resolve();
        }, pollMs);
      }
    });
  }

  /**
   * A connection is closing: its place here is free at once, its cluster slot once `closed`
   * settles (QUIT answered, socket gone), so no other node opens one while it still stands.
   */
  #gone(host: HostState, connection: SmtpConnection, closed: Promise<void>): Promise<void> {
    host.open--;
    const slot = host.slots.get(connection);
    if (slot === undefined) return Promise.resolve();
    host.slots.delete(connection);
    // Whoever waits for a cluster slot asks again once the row is gone, not before.
    return closed
      .catch(() => undefined)
      .then(() => slot.release())
      .then(() => host.waiters.shift()?.());
  }

  #lease(host: HostState, connection: SmtpConnection): Lease {
    let released = false;
    return {
      connection,
      release: (reuse) => {
        if (released) return;
        released = true;
        if (reuse && connection.open && !this.#closed) {
          host.idle.push(connection);
          const timer = setTimeout(() => {
            const i = host.idle.indexOf(connection);
            if (i >= 0) host.idle.splice(i, 1);
            host.timers.delete(connection);
            void this.#gone(host, connection, connection.close());
            host.waiters.shift()?.();
          }, this.#options.idleMs);
          timer.unref();
          host.timers.set(connection, timer);
        } else {
          void this.#gone(host, connection, connection.close());
        }
        host.waiters.shift()?.();
      },
    };
  }

  /** Closes every idle connection; leases in use close when released. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing: Array<Promise<void>> = [];
    for (const host of this.#hosts.values()) {
      for (const t of host.timers.values()) clearTimeout(t);
      for (const c of host.idle) {
        closing.push(this.#gone(host, c, c.close()));
      }
      host.idle = [];
      for (const w of host.waiters.splice(0)) w();
    }
    await Promise.all(closing);
  }
}
