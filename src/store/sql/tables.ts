/**
 * The tables as Kysely sees them, shared by every SQL engine. Column types are what the queries
 * write and read; each engine's migrations create them with its own SQL types (INTEGER and BLOB on
 * SQLite, BIGINT and BYTEA on PostgreSQL). Times are ms since the epoch; booleans are 0/1 integers
 * so one query serves both engines.
 */
import type { Generated } from 'kysely';

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: number;
}

export interface CountersTable {
  name: string;
  value: number;
}

export interface AccountsTable {
  id: Generated<number>;
  address: string;
  /** The whole address lower-case: the comparison key. */
  address_key: string;
  domain: string;
  password_hash: string | null;
  created_at: number;
}

export interface AliasesTable {
  id: Generated<number>;
  alias: string;
  alias_key: string;
  target: string;
  target_key: string;
  created_at: number;
}

export interface MailboxesTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  special_use: string | null;
  uid_validity: number;
  uid_next: number;
  created_at: number;
  /** Raised by every change to the mailbox's messages (migration 2). */
  highest_modseq: Generated<number>;
  /** RFC 3501 §2.3.2: the highest UID some session has been told is \Recent (migration 2). */
  recent_uid: Generated<number>;
}

export interface MessagesTable {
  id: Generated<number>;
  mailbox_id: number;
  uid: number;
  internal_date: number;
  size: number;
  /** Space-separated: IMAP flags are atoms and contain no spaces. */
  flags: string;
  data: Uint8Array;
  /** The mailbox's modseq when appended or last re-flagged (migration 2). */
  modseq: Generated<number>;
  /** With `[storage] blobs`: the file under that directory holding the bytes, `data` then empty (migration 5). */
  blob: string | null;
}

/**
 * The header section of each message, kept apart from `messages.data` (migration 3) so that a
 * search by header reads a few KiB per message instead of the whole message. One row per row of
 * `messages`, tied to it by (mailbox_id, uid): deleted with it and renumbered with it by the
 * foreign key's cascades.
 */
export interface MessageHeadersTable {
  mailbox_id: number;
  uid: number;
  /** 1 when the header is ASCII without NUL (`isPlainHeader`): SQL LIKE may filter it. */
  plain: number;
  header: Uint8Array;
}

/** A tombstone per removed message, so a session can ask which UIDs went away since a modseq. */
export interface ExpungedMessagesTable {
  mailbox_id: number;
  uid: number;
  modseq: number;
}

export interface SubscriptionsTable {
  account_id: number;
  name: string;
}

export interface QueueMessagesTable {
  id: string;
  received_at: number;
  sender: string;
  envid: string | null;
  ret: string | null;
  source: string;
  size: number;
  data: Uint8Array;
  /** As `messages.blob` (migration 5). */
  blob: string | null;
}

export interface QueueRecipientsTable {
  id: Generated<number>;
  message_id: string;
  /** Order of the recipient in the envelope. */
  position: number;
  address: string;
  domain: string;
  route: string;
  /** Comma-separated NOTIFY keywords, or null when none were given. */
  notify: string | null;
  orcpt: string | null;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  last_reply: string | null;
  delay_notice_sent: number;
  lease_owner: string | null;
  lease_until: number | null;
}

/** Mail domains added through the CLI (migration 5); a node's [[domain]] tables win over a row of the same name. */
export interface MailDomainsTable {
  name: string;
  role: string;
  created_at: number;
}

/** A connection, drain lane or lock held under a cluster-wide limit: slots 0 .. limit - 1 of `key` (migration 5). */
export interface DeliverySlotsTable {
  key: string;
  slot: number;
  owner: string;
  lease_until: number;
}

/** When the next paced send of `key` may start, shared by every node (migration 5). */
export interface DeliveryPaceTable {
  key: string;
  next_at: number;
}

export interface Database {
  schema_migrations: SchemaMigrationsTable;
  counters: CountersTable;
  accounts: AccountsTable;
  aliases: AliasesTable;
  mailboxes: MailboxesTable;
  messages: MessagesTable;
  message_headers: MessageHeadersTable;
  expunged_messages: ExpungedMessagesTable;
  subscriptions: SubscriptionsTable;
  queue_messages: QueueMessagesTable;
  queue_recipients: QueueRecipientsTable;
  mail_domains: MailDomainsTable;
  delivery_slots: DeliverySlotsTable;
  delivery_pace: DeliveryPaceTable;
}
