/**
 * Opens the PostgreSQL store: a `pg` pool under Kysely's PostgreSQL dialect, the migrations run
 * under an advisory lock, and the shared queries of `../sql/` with `FOR UPDATE SKIP LOCKED` for
 * claims. A commit returns once PostgreSQL has made it durable (DESIGN.md "Durability"), and group
 * commit runs each batch as one transaction on one pooled connection.
 */
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { assertDestinationAllowed } from '../../core/loopback.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import { checkBlobDir, claimBlobDir, createBlobFiles } from '../sql/blob-files.ts';
import { migrate, type Migration } from '../sql/migrate.ts';
import { createSqlStore } from '../sql/sql-store.ts';
import { CHANGE_CHANNEL, createPostgresChangeBus } from './change-bus.ts';
import type { Database } from '../sql/tables.ts';
import type { Store } from '../types.ts';
import { postgresMigrations } from './migrations.ts';

export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host[:port]/database[?…]`, as libpq and `pg` read it. */
  url: string;
  logger?: Logger;
  /** The clock for defaults (account creation time, migration records). Default Date.now. */
  now?: () => number;
  /**
   * A schema to keep the tables in instead of `public` (created when missing). Lets several
   * independent stores share one database; the tests open one per case.
   */
  schema?: string;
  /** The pool's size. Default 10. */
  maxConnections?: number;
  /** How long to wait for a connection (new or from the pool). Default 10000 ms. */
  connectTimeoutMs?: number;
  /** For tests of the migration runner; default the real schema. */
  migrations?: readonly Migration[];
  /**
   * `[storage] blobs`: bodies as files in `dir` (which must exist, shared by every node on this
   * database); `writes: false` only reads and deletes the files already there.
   */
  blobs?: { dir: string; writes?: boolean } | null;
}

// One key for every Postern in a database: migrations of any schema wait for each other, which
// costs nothing (they run at start) and needs no hashing of names.
export const MIGRATION_LOCK_KEY = 0x706f7374_6d6967n; // "postmig"

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const INT8_OID = 20;
const BYTEA_OID = 17;

// Times, ids, sizes and UIDs are far below 2^53, so BIGINT is read as a number (the driver's
// default is a string). BYTEA comes as a Buffer; a plain Uint8Array over the same memory is what
// the Store interface promises and what callers compare against.
function typeParsers(): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v);
      if (oid === BYTEA_OID && format !== 'binary') {
        const parse = pg.types.getTypeParser(BYTEA_OID, 'text') as (v: string) => Buffer;
        return (v: string) => {
          const b = parse(v);
          return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
        };
      }
      return pg.types.getTypeParser(oid, format ?? 'text');
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

// 40P01 deadlock_detected, 40001 serialization_failure: the transaction was rolled back whole
// and running it again is the documented remedy.
const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40P01', '40001']);

export function isRetryable(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code);
}

/** The host `pg` will connect to, for the loopback guard; null for a Unix socket. */
function connectHost(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError(StoreErrorCode.Invalid, 'the PostgreSQL URL does not parse (expected postgres://user@host:port/database)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new StoreError(StoreErrorCode.Invalid, `the PostgreSQL URL has scheme ${parsed.protocol}, expected postgres:`);
  }
  const fromQuery = parsed.searchParams.get('host');
  if (fromQuery !== null && fromQuery.startsWith('/')) return null;
  const host = decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1');
  if (host === '' || host.startsWith('/')) return null;
  return host;
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const logger = (options.logger ?? silentLogger).child({ component: 'store', engine: 'postgres' });
  const now = options.now ?? Date.now;
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new StoreError(StoreErrorCode.Invalid, `schema name ${JSON.stringify(schema)} must be lower-case letters, digits and _`);
  }
  const host = connectHost(options.url);
  if (host !== null) assertDestinationAllowed(host, 'PostgreSQL connection to');
  const blobs = options.blobs ?? null;
  if (blobs !== null) await checkBlobDir(blobs.dir);

  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    types: typeParsers(),
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle connection the server closes (restart, failover) must not crash the process; the next
  // query opens a fresh one.
  pool.on('error', (err) => logger.warn({ err }, 'an idle PostgreSQL connection failed'));

  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let storeId = 0;
  try {
    await migrate({
      db: kysely,
      migrations: options.migrations ?? postgresMigrations,
      now: now(),
      logger,
      async lock(trx) {
        // Held until this transaction ends: a second node starting now waits here, then finds
        // every step recorded and applies none.
        await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`.execute(trx);
        if (schema !== undefined) await sql.raw(`CREATE SCHEMA IF NOT EXISTS ${schema}`).execute(trx);
      },
    });
    if (blobs !== null) storeId = await claimBlobDir(kysely, blobs.dir);
  } catch (err) {
    await kysely.destroy();
    throw err;
  }
  logger.debug({ schema: schema ?? 'public' }, 'postgres store open');
  let changeBus;
  try {
    changeBus = await createPostgresChangeBus({ pool, connection: { connectionString: options.url, connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000 }, logger, ...(schema !== undefined ? { channel: `${CHANGE_CHANNEL}_${schema}` } : {}) });
  } catch (err) {
    await kysely.destroy();
    throw err;
  }
  return createSqlStore({
    db: kysely,
    engine: 'postgres',
    capabilities: { skipLocked: true },
    logger,
    now,
    retryable: isRetryable,
    changeBus,
    blobs: blobs === null ? null : createBlobFiles({ dir: blobs.dir, writes: blobs.writes ?? true, logger, fence: { engine: 'postgres', storeId } }),
  });
}
