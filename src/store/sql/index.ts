/**
 * What every SQL engine shares: the table shapes Kysely types its queries with, the queries
 * themselves (`createSqlStore`), group commit and the migration runner. An engine folder supplies
 * the connection, its DDL as numbered migrations, and what its SQL can do (`SqlCapabilities`).
 */
export { createSqlStore, DEFAULT_MAILBOXES, mailboxName, type SqlCapabilities, type SqlStoreOptions } from './sql-store.ts';
export { createGroupCommitter, type BatchedWrite, type GroupCommitter, type WriteOutcome } from './group-commit.ts';
export { migrate, type Migration, type MigrateOptions } from './migrate.ts';
export type { Database } from './tables.ts';
