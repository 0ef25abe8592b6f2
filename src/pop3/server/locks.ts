/**
 * One POP3 session per maildrop at a time (RFC 1939 §8: the server locks the maildrop when a
 * session enters the TRANSACTION state, so two clients cannot number and delete the same messages
 * differently). This lock lives in the process; a cluster of nodes on one PostgreSQL store will
 * need the store's lease instead, so that a second login on another node is refused too.
 */

export class MailboxLocks {
  readonly #held = new Set<string>();

  /** A release function (safe to call twice), or null when another session holds the lock. */
  acquire(address: string): (() => void) | null {
    const key = address.toLowerCase();
    if (this.#held.has(key)) return null;
    this.#held.add(key);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#held.delete(key);
    };
  }

  isLocked(address: string): boolean {
    return this.#held.has(address.toLowerCase());
  }
}
