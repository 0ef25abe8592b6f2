/**
 * The storage interfaces every engine implements (DESIGN.md "Storage"). Callers depend on these
 * and never on an engine: `main.ts` and `cli/` pick one. Times are numbers (ms since the epoch)
 * given by the caller, so a test can drive the store with its own clock.
 */

// ---------------------------------------------------------------------------------------------
// Accounts and aliases

export interface Account {
  id: number;
  /** Local part as given, domain lower-case. */
  address: string;
  /** A self-describing hash from `password.ts`, or null when the account cannot log in. */
  passwordHash: string | null;
  createdAt: number;
}

export interface AliasRow {
  /** `user@domain` or, for a catch-all, `@domain`. */
  alias: string;
  target: string;
  createdAt: number;
}

export interface AliasMatch {
  /** The alias that matched: the address itself, or the catch-all `@domain`. */
  alias: string;
  catchAll: boolean;
  targets: string[];
}

export interface AccountStore {
  /**
   * Creates the account and its mailboxes (INBOX, Sent, Drafts, Trash, Junk, Archive). Throws a
   * StoreError `POSTERN_STORE_ACCOUNT_EXISTS` when the address (compared case-insensitively) is
   * taken, `POSTERN_STORE_INVALID_ADDRESS` when it is no address. `now` defaults to the store's
   * injected clock.
   */
  createAccount(options: { address: string; passwordHash?: string | null; now?: number }): Promise<Account>;
  /** Deletes the account with its mailboxes and messages. False when there was none. */
  deleteAccount(address: string): Promise<boolean>;
  /** Case-insensitive on the whole address. */
  getAccount(address: string): Promise<Account | null>;
  /** Ordered by domain, then local part. */
  listAccounts(): Promise<Account[]>;
  /** False when there is no such account. */
  setPasswordHash(address: string, passwordHash: string | null): Promise<boolean>;

  /** Throws `POSTERN_STORE_ALIAS_EXISTS` when this alias already has this target. */
  addAlias(options: { alias: string; target: string; now?: number }): Promise<void>;
  /** Removes one target of the alias, or all of them when `target` is omitted. Returns how many. */
  removeAlias(options: { alias: string; target?: string }): Promise<number>;
  /** Every row, or the rows of one alias. */
  listAliases(options?: { alias?: string }): Promise<AliasRow[]>;
  /** The exact alias first, then the catch-all `@domain` of the address's domain; null for neither. */
  lookupAlias(address: string): Promise<AliasMatch | null>;
}

// ---------------------------------------------------------------------------------------------
// Mail domains added through the CLI (a node's config file may list more)

export type MailDomainRole = 'primary' | 'backup';

export interface MailDomain {
  /** Lower-case without a trailing dot (`normalizeDomain`), as the config's [[domain]] names. */
  name: string;
  role: MailDomainRole;
  createdAt: number;
}

export interface DomainStore {
  /**
   * Adds a domain every node sharing the store serves. `POSTERN_STORE_DOMAIN_EXISTS` when it is
   * there already (whatever its role), `POSTERN_STORE_INVALID` for a bad name or role.
   */
  addDomain(options: { name: string; role: MailDomainRole; now?: number }): Promise<MailDomain>;
  /** False when the store has no such domain. */
  setDomainRole(name: string, role: MailDomainRole): Promise<boolean>;
  /** False when the store has no such domain. Accounts and aliases of the domain stay. */
  removeDomain(name: string): Promise<boolean>;
  /** Ordered by name. */
  listDomains(): Promise<MailDomain[]>;
}

// ---------------------------------------------------------------------------------------------
// Mailboxes and messages

/** RFC 6154 special-use attributes. */
export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive';

export interface Mailbox {
  id: number;
  name: string;
  specialUse: SpecialUse | null;
  /** RFC 3501 §2.3.1.1: changes only when UIDs of this name are no longer valid. */
  uidValidity: number;
  /** The UID the next appended message will get. */
  uidNext: number;
}

export interface MessageSummary {
  uid: number;
  internalDate: number;
  size: number;
  flags: string[];
}

export interface StoredMessage {
  uid: number;
  data: Uint8Array;
}

export interface StoredHeader {
  uid: number;
  /** The header fields with their line endings, without the empty line after them. */
  header: Uint8Array;
}

/** One header search: a field name and the text its value must contain (both compared without regard to case). */
export interface HeaderTest {
  field: string;
  text: string;
}

export interface MailboxRef {
  address: string;
  /** Default INBOX (matched case-insensitively, RFC 3501 §5.1). */
  mailbox?: string;
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
}

export interface MailboxStore {
  /** Null when there is no such account. */
  listMailboxes(address: string): Promise<Mailbox[] | null>;
  getMailbox(ref: MailboxRef): Promise<Mailbox | null>;
  /**
   * Stores the message under the mailbox's next UID. Resolves once committed (group commit).
   * Rejects with `POSTERN_STORE_NOT_FOUND` when the account or mailbox does not exist.
   */
  append(options: MailboxRef & { data: Uint8Array; internalDate: number; flags?: string[] }): Promise<AppendResult>;
  /** In UID order. Null when the mailbox does not exist. */
  listMessages(ref: MailboxRef): Promise<MessageSummary[] | null>;
  readMessage(ref: MailboxRef & { uid: number }): Promise<Uint8Array | null>;
  /**
   * The bytes of many messages of one mailbox, in UID order, read in a few queries instead of one
   * `readMessage` each (IMAP FETCH of bodies, SEARCH BODY/TEXT). UIDs that do not exist are left
   * out. The caller bounds the memory: every message asked for is held at once. Null when the
   * mailbox does not exist.
   */
  readMessages(ref: MailboxRef & { uids: readonly number[] }): Promise<StoredMessage[] | null>;
  /**
   * The header sections of messages of one mailbox (every message, or those among `uids`), in UID
   * order, without reading their bodies: each is `splitMessage(data).header`, kept apart when the
   * message is stored. Null when the mailbox does not exist.
   */
  readHeaders(ref: MailboxRef & { uids?: readonly number[] }): Promise<StoredHeader[] | null>;
  /**
   * IMAP SEARCH by header field (RFC 3501 §6.4.4 FROM, TO, CC, BCC, SUBJECT, HEADER) run by the
   * store over the kept header sections, so no body is read and no header crosses to the caller.
   * For each test, the UIDs (ascending; among `uids` when given) of the messages with a field
   * named `field` (any case) whose unfolded value contains `text` without regard to case, as
   * `headerFieldContains` in `header-search.ts` decides. Null when the mailbox does not exist.
   */
  searchHeaders(ref: MailboxRef & { uids?: readonly number[]; tests: readonly HeaderTest[] }): Promise<number[][] | null>;
  /** Zero when the mailbox does not exist. */
  countMessages(ref: MailboxRef): Promise<number>;
  /** Removes one message; its UID is never given out again. */
  deleteMessage(ref: MailboxRef & { uid: number }): Promise<boolean>;

  // What IMAP needs beyond reading and filing (RFC 3501). Every change below, and every append
  // and delete above, raises the mailbox's modseq and is announced to `watchMailboxes` listeners
  // in this process once committed; another process learns of it by comparing `highestModseq`.

  /**
   * Creates a mailbox. Throws `POSTERN_STORE_NOT_FOUND` when there is no such account and
   * `POSTERN_STORE_INVALID` when the name is taken (INBOX in any case included) or empty.
   */
  createMailbox(options: { address: string; name: string; specialUse?: SpecialUse | null; now?: number }): Promise<Mailbox>;
  /** Deletes one mailbox with its messages (not its children). INBOX cannot go: `POSTERN_STORE_INVALID`. */
  deleteMailbox(ref: MailboxRef & { mailbox: string }): Promise<boolean>;
  /**
   * RFC 3501 §6.3.5: renames the mailbox and every mailbox under it (`from` + delimiter …). The
   * mailboxes keep their UIDVALIDITY and messages. Renaming INBOX moves its messages into a new
   * mailbox of that name and leaves INBOX empty. `POSTERN_STORE_NOT_FOUND` when `from` does not
   * exist, `POSTERN_STORE_INVALID` when `to` (or a renamed child) exists.
   */
  renameMailbox(options: { address: string; from: string; to: string; delimiter: string; now?: number }): Promise<void>;
  /** Subscriptions are names, and may outlive their mailbox (RFC 3501 §6.3.6). */
  setSubscribed(options: { address: string; mailbox: string; subscribed: boolean }): Promise<void>;
  /** Null when there is no such account. Sorted. */
  listSubscriptions(address: string): Promise<string[] | null>;

  /** Counts and change state of one mailbox; null when it does not exist. */
  getMailboxStatus(ref: MailboxRef): Promise<MailboxStatus | null>;
  /** Like listMessages, with each message's modseq. */
  listMessageStates(ref: MailboxRef): Promise<MessageState[] | null>;
  /** What changed after modseq `since`: appended or re-flagged messages, expunged UIDs. */
  mailboxChanges(ref: MailboxRef & { since: number }): Promise<MailboxChanges | null>;
  /**
   * RFC 3501 §2.3.2: the first session to learn of a message sees it as \Recent. Raises the
   * mailbox's "announced as recent" mark to `upTo` and returns the mark before: the caller's
   * recent messages are the UIDs above that and up to `upTo`. Null when the mailbox is gone.
   */
  claimRecent(ref: MailboxRef & { upTo: number }): Promise<number | null>;
  /**
   * Adds, removes or replaces flags of the messages with these UIDs (missing UIDs are skipped).
   * System flags are matched without regard to case and stored in their RFC 3501 spelling;
   * \Recent is never stored. Returns the messages whose flags changed, in UID order.
   */
  setFlags(ref: MailboxRef & { uids: readonly number[]; operation: FlagOperation; flags: readonly string[] }): Promise<MessageState[]>;
  /**
   * Copies (or, with `move`, moves: RFC 6851) the messages with these UIDs into `to`, each under
   * a new UID of the target, in source UID order, keeping flags and internal date.
   * `POSTERN_STORE_NOT_FOUND` when either mailbox does not exist.
   */
  copyMessages(options: { address: string; from: string; to: string; uids: readonly number[]; move?: boolean }): Promise<CopyResult>;
  /** Removes the messages flagged \Deleted (only among `uids` when given: UID EXPUNGE). Returns their UIDs, ascending. */
  expunge(ref: MailboxRef & { uids?: readonly number[] }): Promise<number[]>;
  /** In-process change notices, after commit. Returns the function that stops listening. */
  watchMailboxes(listener: (change: MailboxChange) => void): () => void;
}

export interface MessageState extends MessageSummary {
  /** The mailbox's modseq when this message was appended or last re-flagged. */
  modseq: number;
}

export interface MailboxStatus {
  mailbox: Mailbox;
  messages: number;
  /** Messages without \Seen. */
  unseen: number;
  /** Messages above `recentUid`: not yet announced as recent to any session. */
  recent: number;
  recentUid: number;
  /** Grows with every change to the mailbox's messages; a poll compares it. */
  highestModseq: number;
}

export interface MailboxChanges {
  highestModseq: number;
  /** Appended or re-flagged after `since`, in UID order. */
  changed: MessageState[];
  /** Expunged after `since`, ascending. */
  expunged: number[];
}

export type FlagOperation = 'add' | 'remove' | 'replace';

export interface CopyResult {
  /** Of the target mailbox (RFC 4315 COPYUID). */
  uidValidity: number;
  /** [source UID, target UID], in source UID order. */
  uids: Array<[number, number]>;
}

export interface MailboxChange {
  /** The account's address, lower-case (the comparison key). */
  account: string;
  mailboxId: number;
  /** The mailbox's modseq after the change; 0 for `mailboxes` changes. */
  modseq: number;
  /** `mailboxes`: a mailbox of the account was created, deleted or renamed. */
  kind: 'append' | 'flags' | 'expunge' | 'mailboxes';
}

// ---------------------------------------------------------------------------------------------
// Queue

export type QueueSource = 'mx' | 'submission' | 'local' | 'dsn';
export type Route = 'local' | 'backup' | 'remote';
/** `held`: put on hold by the operator; never claimed until released. */
export type RecipientState = 'queued' | 'delivered' | 'failed' | 'held';
/** RFC 3461 §4.3. */
export type DsnRet = 'full' | 'hdrs';

export interface NewRecipient {
  address: string;
  domain: string;
  route: Route;
  /** RFC 3461 §4.1: NEVER, or some of SUCCESS, FAILURE, DELAY. */
  notify?: string[];
  /** RFC 3461 §4.2, as received (`rfc822;user@example.test`). */
  orcpt?: string;
}

export interface NewQueuedMessage {
  /** Chosen by the caller; unique. */
  id: string;
  receivedAt: number;
  /** The envelope sender; '' for the null sender <>. */
  sender: string;
  envid?: string;
  ret?: DsnRet;
  data: Uint8Array;
  source: QueueSource;
  recipients: NewRecipient[];
  /** When the first attempt is due; default `receivedAt`. */
  firstAttemptAt?: number;
}

export interface QueuedRecipient {
  id: number;
  address: string;
  domain: string;
  route: Route;
  notify: string[] | null;
  orcpt: string | null;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: number;
  lastAttemptAt: number | null;
  lastReply: string | null;
  delayNoticeSent: boolean;
  leaseOwner: string | null;
  leaseUntil: number | null;
}

/** A queued message's envelope and recipients, without its bytes. */
export interface QueuedMessage {
  id: string;
  receivedAt: number;
  sender: string;
  envid: string | null;
  ret: DsnRet | null;
  source: QueueSource;
  size: number;
  recipients: QueuedRecipient[];
}

export interface ClaimOptions {
  now: number;
  /** At most this many messages (all of each message's due recipients are claimed). */
  limit: number;
  owner: string;
  leaseMs: number;
  /** Only recipients on these routes; default all. */
  routes?: readonly Route[];
}

/** One delivery outcome, reported by the lease owner. `at` is when the attempt ended. */
export type DeliveryResult =
  | { recipientId: number; outcome: 'delivered'; reply: string; at: number }
  | { recipientId: number; outcome: 'failed'; reply: string; at: number }
  | { recipientId: number; outcome: 'queued'; reply: string; at: number; nextAttemptAt: number };

export interface RecordResultsOutcome {
  applied: number;
  /** Results for recipients this owner no longer leases (taken over or deleted). */
  ignored: number[];
  /** With `deleteFinished`: the messages that left the queue in the same commit. */
  deleted?: string[];
}

export interface DomainCount {
  domain: string;
  count: number;
  oldestReceivedAt: number;
}

/** One message, every message, or every recipient of one domain on one route (a backup drain). */
export type QueueSelector = { id: string } | { all: true } | { route: Route; domain: string };

export interface QueueStore {
  /** Resolves once the message and its envelope are committed (group commit). */
  enqueue(message: NewQueuedMessage): Promise<void>;
  /**
   * A message accepted from a client: the recipients that need the queue (`queue`, or null when
   * none does) and final deliveries into local INBOXes (each with its own bytes: Return-Path and
   * Delivered-To differ), all in ONE commit (group commit), so the 250 follows a commit that holds
   * every copy. Rejects, writing nothing, when the queue id exists or a mailbox is missing.
   */
  accept(options: { queue: NewQueuedMessage | null; deliveries: ReadonlyArray<{ address: string; data: Uint8Array; internalDate: number }> }): Promise<{ delivered: Array<{ address: string; uid: number }> }>;
  /**
   * Leases due, unheld, unleased (or lease-expired) queued recipients to `owner` until
   * now + leaseMs, oldest message first, grouped by message.
   */
  claimDue(options: ClaimOptions): Promise<QueuedMessage[]>;
  /** Applies results of recipients `owner` still leases and clears their lease. */
  /**
   * With `deleteFinished`, a message whose every recipient is now delivered or failed leaves the
   * queue in the same transaction (the queue runner: one commit per batch of results, and no
   * finished message left behind by a node that dies between two steps).
   */
  recordResults(owner: string, results: readonly DeliveryResult[], options?: { deleteFinished?: boolean }): Promise<RecordResultsOutcome>;
  /**
   * When the earliest queued recipient becomes claimable (its next attempt, or the end of its
   * lease if that is later); null when nothing is queued.
   */
  nextAttemptAt(options?: { routes?: readonly Route[] }): Promise<number | null>;
  getQueued(id: string): Promise<QueuedMessage | null>;
  readQueuedData(id: string): Promise<Uint8Array | null>;
  /** Deletes the message when every recipient is delivered or failed. True when deleted. */
  deleteIfFinal(id: string): Promise<boolean>;
  /**
   * Final delivery of one leased recipient: appends to the account's mailbox and marks the
   * recipient delivered in ONE commit, so a crash can neither lose the message nor file it twice;
   * when that was the message's last recipient to finish, the message leaves the queue in it too.
   * `not-leased` when `owner` no longer holds the recipient (nothing is written); NOT_FOUND
   * (StoreError) when the account or mailbox is gone.
   */
  deliverToMailbox(options: MailboxRef & { owner: string; recipientId: number; data: Uint8Array; internalDate: number; reply: string; at: number }): Promise<{ kind: 'delivered'; uid: number } | { kind: 'not-leased' }>;
  /**
   * Clears the leases of owners whose names start with `ownerPrefix`, except `except`: a node that
   * restarts after a crash takes back what its dead process had claimed instead of waiting for
   * the leases to run out. Returns how many recipients were released.
   */
  releaseLeases(options: { ownerPrefix: string; except: string }): Promise<number>;
  /**
   * Extends `owner`'s claim on these queued recipients from `from` (the lease end its claim set) to
   * `until`, for those still under that very claim: not claimed since by another owner, nor by
   * `owner` again (a claim made after this one's lease ran out is another attempt's), even if the
   * lease ran out meanwhile. Returns how many: fewer than asked means the claim is gone.
   */
  extendLeases(options: { owner: string; recipientIds: readonly number[]; from: number; until: number }): Promise<number>;
  /** Deletes every message with no queued or held recipient left (a crash can leave one). Returns their ids. */
  deleteFinished(): Promise<string[]>;
  markDelayNoticeSent(recipientIds: readonly number[]): Promise<void>;

  /** Every message with its recipients, oldest first. */
  listQueue(options?: { limit?: number }): Promise<QueuedMessage[]>;
  /** Makes queued recipients due at `now`. Returns how many recipients changed. */
  retry(selector: QueueSelector, now: number): Promise<number>;
  /** Deletes the message whatever its state. */
  deleteQueued(id: string): Promise<boolean>;
  /** Queued recipients become held. Returns how many. */
  hold(id: string): Promise<number>;
  /** Held recipients become queued and due at `now`. Returns how many. */
  release(id: string, now: number): Promise<number>;
  /** Queued recipients per domain on one route (the backup drain's view). */
  countQueuedByDomain(options: { route: Route }): Promise<DomainCount[]>;
}

// ---------------------------------------------------------------------------------------------
// Cluster-wide limits (delivery_slots, delivery_pace): what every node sharing the database counts
// against, so a per-destination connection limit, a backup drain's concurrency and rate, and a
// POP3 maildrop lock hold across nodes and not per node.

export interface SlotStore {
  /**
   * Takes one of the `limit` slots (0 .. limit - 1) of `key` for `owner` until now + leaseMs: a
   * free slot, or one whose lease ran out. The primary key (key, slot) decides between nodes
   * asking at once. Returns the slot number, or null when every slot is held by a live lease.
   */
  acquireSlot(options: { key: string; limit: number; owner: string; now: number; leaseMs: number }): Promise<number | null>;
  /**
   * Extends the slots held under these owner names to now + leaseMs. Returns the names renewed:
   * a name missing lost its slot (its lease ran out and another owner took it, or it was freed).
   */
  renewSlots(options: { owners: readonly string[]; now: number; leaseMs: number }): Promise<string[]>;
  /** Gives back one slot, if `owner` still holds it (a lease taken over is not ours to free). */
  releaseSlot(options: { key: string; slot: number; owner: string }): Promise<boolean>;
  /** Frees the slots of owners named `ownerPrefix…` except `except` (as `releaseLeases`). Returns how many. */
  releaseSlots(options: { ownerPrefix: string; except: string }): Promise<number>;
  /**
   * Reserves the next start of `key`, sends spaced `intervalMs` apart across every caller: the
   * start is max(the key's next free time, now), and the next free time becomes start + intervalMs.
   * Returns the start (on the caller's clock, which every node must share: wall time).
   */
  reservePace(options: { key: string; intervalMs: number; now: number }): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Message bodies as files ([storage] blobs): what a crash leaves behind.

export interface BlobSweepResult {
  /** Files old enough to be judged. */
  checked: number;
  /** Files removed: no message or queued message names them. */
  removed: number;
  /** The first removed names (the log has them all). */
  sample: string[];
  /** Another node sharing the database was sweeping the directory already: this one did nothing. */
  busy?: boolean;
}

export interface BlobStore {
  /**
   * Removes the files under [storage] blobs that no row names and that are older than `graceMs`
   * (default one hour, so a file another node wrote and is about to commit is never taken): left
   * by a crash between writing a body and committing its row, or between committing a delete
   * and unlinking. Nothing to do without a blobs directory.
   */
  sweepBlobs(options?: { graceMs?: number; now?: number }): Promise<BlobSweepResult>;
}

// ---------------------------------------------------------------------------------------------

export interface WriteStats {
  /** Group-commit transactions committed. */
  commits: number;
  /** Enqueues and appends committed in them. */
  writes: number;
}

export interface Store extends AccountStore, DomainStore, MailboxStore, QueueStore, SlotStore, BlobStore {
  /** Which engine, for logs. */
  readonly engine: string;
  writeStats(): WriteStats;
  /** Waits for pending writes, then closes. */
  close(): Promise<void>;
}
