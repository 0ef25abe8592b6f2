/**
 * When the store announces a change, every session in IDLE on that mailbox asks at once for the
 * same thing: what changed since the same modseq, and to claim \Recent up to the same UID. With
 * thousands of sessions on one mailbox that is thousands of identical queries and transactions,
 * queued on one database connection, each holding its results until its turn. Here identical
 * requests in flight share one: `mailboxChanges` returns the same (read-only) answer to all, and
 * of concurrent `claimRecent` calls only the first claims; the others are answered as if they had
 * come just after it (the mark is then at least `upTo`: no \Recent for them, RFC 3501 §2.3.2).
 */
import { normalizeAddress } from '../../store/address.ts';
import type { MailboxChanges, Store } from '../../store/types.ts';

/**
 * A request in flight is shared only with callers that have seen no newer change of the account:
 * a session asking right after its own APPEND (whose change was announced before the APPEND
 * returned) must not get an answer read before that commit. Changes are counted per account.
 */
export function withSharedReads(store: Store): { store: Store; stop(): void } {
  const changes = new Map<string, Promise<MailboxChanges | null>>();
  const claims = new Map<string, Promise<number | null>>();
  const generations = new Map<string, number>();
  const stop = store.watchMailboxes((c) => generations.set(c.account, (generations.get(c.account) ?? 0) + 1));
  const generation = (address: string): number => generations.get(normalizeAddress(address)?.key ?? address) ?? 0;
  const shared: Partial<Store> = {
    mailboxChanges(ref) {
      const key = `${ref.address}\0${ref.mailbox ?? 'INBOX'}\0${ref.since}\0${generation(ref.address)}`;
      const inFlight = changes.get(key);
      if (inFlight !== undefined) return inFlight;
      const p = store.mailboxChanges(ref).finally(() => changes.delete(key));
      changes.set(key, p);
      return p;
    },
    claimRecent(ref) {
      const key = `${ref.address}\0${ref.mailbox ?? 'INBOX'}\0${ref.upTo}`;
      const inFlight = claims.get(key);
      if (inFlight !== undefined) return inFlight.then((mark) => (mark === null ? null : Math.max(mark, ref.upTo)));
      const p = store.claimRecent(ref).finally(() => claims.delete(key));
      claims.set(key, p);
      return p;
    },
  };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'mailboxChanges' || prop === 'claimRecent') return shared[prop];
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: proxy, stop };
}
