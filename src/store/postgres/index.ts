/**
 * The engine for several nodes: accounts, mailboxes and the queue in one PostgreSQL database that
 * every node shares, so mail accepted by one MX is readable over IMAP on another and queued work
 * outlives the node that queued it. Nodes claim queue work with `SELECT … FOR UPDATE SKIP LOCKED`
 * and a lease; UIDs come from an UPDATE of the mailbox row, which PostgreSQL serialises per
 * mailbox across nodes; migrations run under an advisory lock so nodes may start together. The
 * queries are the shared ones in `../sql/`; only the pool, type parsing and DDL are PostgreSQL's.
 */
export { MIGRATION_LOCK_KEY, openPostgresStore, type PostgresStoreOptions } from './open.ts';
export { postgresMigrations } from './migrations.ts';
