/**
 * One POP3 session per maildrop at a time (RFC 1939 §8: the server locks the maildrop when a
 * session enters the TRANSACTION state, so two clients cannot number and delete the same messages
 * differently). The lock is held in the process and, with several nodes on one store, also as the
 * one slot of `pop3:<address>` in the store (renewed while the session lasts), so that a second
 * login on another node is refused too.
 */
import type { ClusterLimits } from '../../core/cluster-limits.ts';

export class MailboxLocks {
  readonly #held = new Set<string>();
  readonly #cluster: ClusterLimits | undefined;

  constructor(options: { cluster?: ClusterLimits } = {}) {
    this.#cluster = options.cluster;
  }

  /**
   * A release function (safe to call twice), or null when another session holds the lock.
   * Rejects when the cluster's lock table cannot be asked (the login fails temporarily).
   */
  async acquire(address: string): Promise<(() => void) | null> {
    const key = address.toLowerCase();
    if (this.#held.has(key)) return null;
    this.#held.add(key);
    let slot;
    try {
      slot = this.#cluster === undefined ? null : await this.#cluster.tryAcquire(`pop3:${key}`, 1);
    } catch (err) {
      this.#held.delete(key);
      throw err;
    }
    if (this.#cluster !== undefined && slot === null) {
      this.#held.delete(key);
      return null;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#held.delete(key);
      void slot?.release();
    };
  }

  /** Held by a session of this process. */
  isLocked(address: string): boolean {
    return this.#held.has(address.toLowerCase());
  }
}
