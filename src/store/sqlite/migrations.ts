/**
 * The SQLite schema, one numbered step at a time. Never edit a step that has shipped: add the next
 * one. Column names and meanings match `sql/tables.ts`; the PostgreSQL engine creates the same
 * tables with its own types.
 */
import { sql } from 'kysely';
import { backfillMessageHeaders } from '../sql/header-backfill.ts';
import type { Migration } from '../sql/migrate.ts';

// node:sqlite prepares one statement at a time, so each step is a list of them.
function statements(version: number, name: string, ddl: readonly string[]): Migration {
  return {
    version,
    name,
    async up(trx) {
      for (const s of ddl) await sql.raw(s).execute(trx);
    },
  };
}

export const sqliteMigrations: readonly Migration[] = [
  statements(1, 'accounts, mailboxes, messages and the queue', [
    `CREATE TABLE counters (
       name TEXT PRIMARY KEY,
       value INTEGER NOT NULL
     )`,
    `CREATE TABLE accounts (
       id INTEGER PRIMARY KEY,
       address TEXT NOT NULL,
       address_key TEXT NOT NULL UNIQUE,
       domain TEXT NOT NULL,
       password_hash TEXT,
       created_at INTEGER NOT NULL
     )`,
    `CREATE INDEX accounts_domain ON accounts (domain, address_key)`,
    `CREATE TABLE aliases (
       id INTEGER PRIMARY KEY,
       alias TEXT NOT NULL,
       alias_key TEXT NOT NULL,
       target TEXT NOT NULL,
       target_key TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       UNIQUE (alias_key, target_key)
     )`,
    `CREATE TABLE mailboxes (
       id INTEGER PRIMARY KEY,
       account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
       name TEXT NOT NULL,
       special_use TEXT,
       uid_validity INTEGER NOT NULL,
       uid_next INTEGER NOT NULL,
       created_at INTEGER NOT NULL,
       UNIQUE (account_id, name)
     )`,
    `CREATE TABLE messages (
       id INTEGER PRIMARY KEY,
       mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
       uid INTEGER NOT NULL,
       internal_date INTEGER NOT NULL,
       size INTEGER NOT NULL,
       flags TEXT NOT NULL,
       data BLOB NOT NULL,
       UNIQUE (mailbox_id, uid)
     )`,
    `CREATE TABLE queue_messages (
       id TEXT PRIMARY KEY,
       received_at INTEGER NOT NULL,
       sender TEXT NOT NULL,
       envid TEXT,
       ret TEXT CHECK (ret IN ('full', 'hdrs')),
       source TEXT NOT NULL CHECK (source IN ('mx', 'submission', 'local', 'dsn')),
       size INTEGER NOT NULL,
       data BLOB NOT NULL
     )`,
    `CREATE INDEX queue_messages_age ON queue_messages (received_at, id)`,
    `CREATE TABLE queue_recipients (
       id INTEGER PRIMARY KEY,
       message_id TEXT NOT NULL REFERENCES queue_messages (id) ON DELETE CASCADE,
       position INTEGER NOT NULL,
       address TEXT NOT NULL,
       domain TEXT NOT NULL,
       route TEXT NOT NULL CHECK (route IN ('local', 'backup', 'remote')),
       notify TEXT,
       orcpt TEXT,
       state TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'failed', 'held')),
       attempts INTEGER NOT NULL DEFAULT 0,
       next_attempt_at INTEGER NOT NULL,
       last_attempt_at INTEGER,
       last_reply TEXT,
       delay_notice_sent INTEGER NOT NULL DEFAULT 0,
       lease_owner TEXT,
       lease_until INTEGER
     )`,
    `CREATE INDEX queue_recipients_due ON queue_recipients (state, next_attempt_at)`,
    `CREATE INDEX queue_recipients_message ON queue_recipients (message_id, position)`,
    `CREATE INDEX queue_recipients_route ON queue_recipients (route, state, domain)`,
  ]),
  statements(2, 'IMAP: modseq, recent mark, expunge tombstones, subscriptions', [
    `ALTER TABLE mailboxes ADD COLUMN highest_modseq INTEGER NOT NULL DEFAULT 0`,
    // 0: messages filed before this step were never announced to an IMAP session, so all are recent.
    `ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE messages ADD COLUMN modseq INTEGER NOT NULL DEFAULT 0`,
    `CREATE INDEX messages_modseq ON messages (mailbox_id, modseq)`,
    `CREATE TABLE expunged_messages (
       mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
       uid INTEGER NOT NULL,
       modseq INTEGER NOT NULL,
       PRIMARY KEY (mailbox_id, uid)
     )`,
    `CREATE INDEX expunged_messages_modseq ON expunged_messages (mailbox_id, modseq)`,
    `CREATE TABLE subscriptions (
       account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
       name TEXT NOT NULL,
       PRIMARY KEY (account_id, name)
     )`,
    // Mailboxes that exist already are subscribed, as new accounts' default mailboxes are.
    `INSERT INTO subscriptions (account_id, name) SELECT account_id, name FROM mailboxes`,
  ]),
  {
    version: 3,
    name: 'message headers kept apart from the bodies, for SEARCH by header',
    async up(trx) {
      // Its own table rather than a column of messages: SQLite reads a column that follows a
      // large BLOB in the row by walking the BLOB's overflow pages, the very reads this avoids.
      // Tied to its message by (mailbox_id, uid): deleted with it, renumbered with it (the
      // renaming of INBOX moves messages to another mailbox under new UIDs).
      await sql.raw(
        `CREATE TABLE message_headers (
           mailbox_id INTEGER NOT NULL,
           uid INTEGER NOT NULL,
           plain INTEGER NOT NULL,
           header BLOB NOT NULL,
           PRIMARY KEY (mailbox_id, uid),
           FOREIGN KEY (mailbox_id, uid) REFERENCES messages (mailbox_id, uid) ON DELETE CASCADE ON UPDATE CASCADE
         )`,
      ).execute(trx);
      // The messages stored before this step: their headers are cut out of their bytes here, by
      // the same code that cuts them at append (no SQL of either engine finds the end of a header
      // the way splitMessage does: an empty line that is CRLF or a bare LF).
      await backfillMessageHeaders(trx);
    },
  },
  statements(4, 'queue: an index of leases, for the next due time and lease release', [
    // nextAttemptAt's second walk (the first lease end later than its next attempt) and
    // releaseLeases read only leased rows, a handful among a queue of millions.
    `CREATE INDEX queue_recipients_lease ON queue_recipients (state, lease_until) WHERE lease_until IS NOT NULL`,
  ]),
  statements(5, 'cluster: mail domains in the store, delivery slots and pacing, body files', [
    // Domains added with `postern domain add`, seen by every node of a cluster without a restart;
    // the [[domain]] tables of a node's config file still count, and win over a row of the same name.
    `CREATE TABLE mail_domains (
       name TEXT PRIMARY KEY,
       role TEXT NOT NULL CHECK (role IN ('primary', 'backup')),
       created_at INTEGER NOT NULL
     )`,
    // One row per connection (or drain lane, or maildrop) held at once, numbered 0 .. limit - 1 per
    // key, so a limit holds across every node sharing the store. A lease, renewed while held, so a
    // node that dies gives its slots back when they run out.
    `CREATE TABLE delivery_slots (
       key TEXT NOT NULL,
       slot INTEGER NOT NULL,
       owner TEXT NOT NULL,
       lease_until INTEGER NOT NULL,
       PRIMARY KEY (key, slot)
     )`,
    `CREATE INDEX delivery_slots_owner ON delivery_slots (owner)`,
    // The earliest time the next send of a paced key (a backup drain) may start, cluster-wide.
    `CREATE TABLE delivery_pace (
       key TEXT PRIMARY KEY,
       next_at INTEGER NOT NULL
     )`,
    // With [storage] blobs: the file under that directory holding the bytes; data is then empty.
    `ALTER TABLE messages ADD COLUMN blob TEXT`,
    `ALTER TABLE queue_messages ADD COLUMN blob TEXT`,
  ]),
  statements(6, 'body files: an index of the rows that name one, for the sweep', [
    // The sweep asks which of a batch of file names rows still name; without these it would scan
    // every message once per batch. Partial: a store without [storage] blobs keeps them empty.
    `CREATE INDEX messages_blob ON messages (blob) WHERE blob IS NOT NULL`,
    `CREATE INDEX queue_messages_blob ON queue_messages (blob) WHERE blob IS NOT NULL`,
  ]),
];
