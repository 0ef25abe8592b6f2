/**
 * Outbound SMTP connections per destination address: at most `maxPerHost` open at once
 * (`delivery.max_connections_per_host`, so a queue run never floods one MX host), and a connection
 * that finished a transaction is kept a few seconds for the next message to the same host rather
 * than paying for TCP, greeting, EHLO and TLS again.
 */
import type { SmtpConnection } from '../smtp/client/index.ts';

export interface PoolOptions {
  connect: (key: { address: string; port: number; serverName: string }) => Promise<SmtpConnection>;
  maxPerHost: number;
  /** How long an idle connection is kept for reuse. */
  idleMs: number;
}

interface HostState {
  open: number;
  idle: SmtpConnection[];
  waiters: Array<() => void>;
  timers: Map<SmtpConnection, ReturnType<typeof setTimeout>>;
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

  async acquire(address: string, port: number, serverName: string): Promise<Lease> {
    const key = `${address}|${port}`;
    let host = this.#hosts.get(key);
    if (host === undefined) {
      host = { open: 0, idle: [], waiters: [], timers: new Map() };
      this.#hosts.set(key, host);
    }
    for (;;) {
      if (this.#closed) throw new Error('the connection pool is closed');
      const idle = host.idle.pop();
      if (idle !== undefined) {
        clearTimeout(host.timers.get(idle));
        host.timers.delete(idle);
        if (idle.open) return this.#lease(host, idle);
        host.open--;
        continue;
      }
      if (host.open < this.#options.maxPerHost) break;
      await new Promise<void>((resolve) => host.waiters.push(resolve));
    }
    host.open++;
    try {
      const connection = await this.#options.connect({ address, port, serverName });
      return this.#lease(host, connection);
    } catch (err) {
      host.open--;
      host.waiters.shift()?.();
      throw err;
    }
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
            host.open--;
            void connection.close();
            host.waiters.shift()?.();
          }, this.#options.idleMs);
          timer.unref();
          host.timers.set(connection, timer);
        } else {
          host.open--;
          void connection.close();
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
      for (const c of host.idle) closing.push(c.close());
      host.idle = [];
      for (const w of host.waiters.splice(0)) w();
    }
    await Promise.all(closing);
  }
}
