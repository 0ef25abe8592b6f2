/**
 * The embedded engine: the whole store in one SQLite file under the data dir, through node:sqlite
 * (built into Node 24, nothing to compile). A single node owns the file; the CLI may open it beside
 * the running server, since SQLite serialises writers and WAL lets readers go on meanwhile. The
 * queries are the shared ones in `../sql/`; only opening, pragmas, the Kysely adapter and the DDL
 * are SQLite's own.
 */
export { openSqliteStore, type SqliteStoreOptions } from './open.ts';
export { openThreadedSqliteStore, type ThreadedSqliteOptions } from './threaded-store.ts';
export { sqliteMigrations } from './migrations.ts';
export { adaptDatabase, NodeSqliteDialect } from './dialect.ts';
