/**
 * The store keeps everything that must outlive a process: accounts and their aliases, mailboxes
 * and the messages filed in them (with the UIDs, UIDVALIDITY, flags and dates IMAP needs), and the
 * queue of messages on their way out, with a state per recipient. The queue is the durable heart
 * of the server: "250 OK" after DATA is sent only once a message is committed here, and concurrent
 * messages share one commit (group commit) so durability does not cost throughput. Delivery
 * workers claim due recipients under a lease, so several workers (or, on PostgreSQL, several
 * nodes) never deliver the same recipient at once, and a crashed worker's claims return to the
 * queue when its lease ends.
 *
 * `types.ts` is the one interface; engines live in their own folders (`sqlite/` for one machine,
 * `postgres/` for several nodes on one database) over the shared Kysely queries in `sql/`, and
 * `contract.ts` is the test suite every engine passes. Only `main.ts` and the CLI choose an engine.
 */
export type {
  Account,
  AccountStore,
  AliasMatch,
  AliasRow,
  AppendResult,
  ClaimOptions,
  DeliveryResult,
  DomainCount,
  DomainStore,
  DsnRet,
  HeaderTest,
  Mailbox,
  MailboxRef,
  MailboxStore,
  MailDomain,
  MailDomainRole,
  MessageSummary,
  NewQueuedMessage,
  NewRecipient,
  QueuedMessage,
  QueuedRecipient,
  QueueSelector,
  QueueSource,
  QueueStore,
  RecipientState,
  RecordResultsOutcome,
  Route,
  SpecialUse,
  Store,
  StoredHeader,
  StoredMessage,
  WriteStats,
} from './types.ts';
export { isStoreError, StoreError, StoreErrorCode } from './errors.ts';
export { normalizeAddress, normalizeAlias, type NormalizedAddress, type NormalizedAlias } from './address.ts';
export { defaultScryptParams, hashPassword, isPasswordHash, needsRehash, verifyPassword, type ScryptParams } from './password.ts';
export { headerFieldContains, headerSection, matchHeader, prepareHeaderTest, type PreparedHeaderTest } from './header-search.ts';
export { DEFAULT_MAILBOXES, mailboxName } from './sql/sql-store.ts';
