/**
 * Opens the SQLite store: one file under the data dir (or `:memory:` for tests), in WAL mode with
 * `synchronous=FULL` so a commit is on disk before it returns (DESIGN.md "Durability"), foreign
 * keys on (deleting an account takes its mailboxes and messages), and a busy timeout so the CLI
 * and the server can share the file. Migrations run before the store is handed out.
 *
 * Open one store per file per process: node:sqlite waits for a lock synchronously, so a second
 * store in the same process that waits on the first blocks the event loop the first needs to
 * finish (for busy_timeout, then SQLITE_BUSY). Separate processes (the CLI beside the server) are fine.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely } from 'kysely';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { checkBlobDir, claimBlobDir, createBlobFiles } from '../sql/blob-files.ts';
import { migrate, type Migration } from '../sql/migrate.ts';
import { createSqlStore } from '../sql/sql-store.ts';
import type { Database } from '../sql/tables.ts';
import type { Store } from '../types.ts';
import { adaptDatabase, NodeSqliteDialect } from './dialect.ts';
import { sqliteMigrations } from './migrations.ts';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:'. The parent directory is created when missing. */
  path: string;
  logger?: Logger;
  /** The clock for defaults (account creation time, migration records). Default Date.now. */
  now?: () => number;
  /** How long to wait for another process's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** For tests of the migration runner; default the real schema. */
  migrations?: readonly Migration[];
  /** `[storage] blobs`: bodies as files in `dir` (which must exist); `writes: false` only reads them. */
  blobs?: { dir: string; writes?: boolean } | null;
}

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const logger = (options.logger ?? silentLogger).child({ component: 'store', engine: 'sqlite' });
  const now = options.now ?? Date.now;
  const memory = options.path === ':memory:';
  if (!memory) mkdirSync(dirname(options.path), { recursive: true });
  const blobs = options.blobs ?? null;
  if (blobs !== null) await checkBlobDir(blobs.dir);

  const raw = new DatabaseSync(options.path);
  let kysely: Kysely<Database> | null = null;
  try {
    raw.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    // Only a new file takes it (an existing one keeps the page size it was made with). A 100 KiB
    // body spans 7 pages instead of 26: bench/smtp-accept.sh at 100 KiB took 10% less CPU per
    // message and ran 10% faster, with 1 KiB mail unchanged.
    raw.exec('PRAGMA page_size = 16384');
    const mode = raw.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode?: string } | undefined;
    if (!memory && mode?.journal_mode !== 'wal') {
      throw new Error(`could not put ${options.path} in WAL mode (journal_mode is ${String(mode?.journal_mode)})`);
    }
    raw.exec('PRAGMA synchronous = FULL');
    raw.exec('PRAGMA foreign_keys = ON');

    kysely = new Kysely<Database>({ dialect: new NodeSqliteDialect({ database: adaptDatabase(raw) }) });
    await migrate({ db: kysely, migrations: options.migrations ?? sqliteMigrations, now: now(), logger });
    if (blobs !== null) await claimBlobDir(kysely, blobs.dir);
  } catch (err) {
    if (kysely !== null) await kysely.destroy();
    if (raw.isOpen) raw.close();
    throw err;
  }
  logger.debug({ path: options.path }, 'sqlite store open');
  return createSqlStore({
    db: kysely,
    engine: 'sqlite',
    capabilities: { skipLocked: false, likeOnBlobFoldsAscii: true },
    logger,
    now,
    blobs: blobs === null ? null : createBlobFiles({ dir: blobs.dir, writes: blobs.writes ?? true, logger }),
  });
}
