/**
 * Schema migrations: numbered steps each engine supplies, applied in order when a store opens,
 * all in one transaction, each recorded in `schema_migrations`. A database whose schema is newer
 * than any step this code knows was written by a newer Postern: opening it is an error that names
 * that version, since running old queries against a newer schema could lose mail.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from '../../core/logger.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { Database } from './tables.ts';

export interface Migration {
  version: number;
  name: string;
  up(trx: Transaction<Database>): Promise<void>;
}

export interface MigrateOptions {
  db: Kysely<Database>;
  migrations: readonly Migration[];
  now: number;
  logger: Logger;
  /**
   * Runs first inside the migration transaction. An engine shared by several nodes takes a lock
   * here (PostgreSQL: `pg_advisory_xact_lock`) so two nodes starting at once apply each step once.
   */
  lock?: (trx: Transaction<Database>) => Promise<void>;
}

/** Applies what is missing. Returns the versions applied now. */
export async function migrate(options: MigrateOptions): Promise<number[]> {
  const { db, migrations, now, logger } = options;
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 1, 2, 3…: found ${m.version} at ${i + 1}`);
  });
  const latest = sorted.length;

  return db.transaction().execute(async (trx) => {
    if (options.lock !== undefined) await options.lock(trx);
    await trx.schema
      .createTable('schema_migrations')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('applied_at', 'bigint', (c) => c.notNull())
      .execute();
    const newest = await trx
      .selectFrom('schema_migrations')
      .select(['version', 'name'])
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    const current = newest === undefined ? 0 : Number(newest.version);
    if (current > latest) {
      throw new StoreError(
        StoreErrorCode.SchemaTooNew,
        `the database schema is version ${current} (${newest?.name}), newer than this Postern knows (${latest}): upgrade Postern`,
      );
    }
    const applied: number[] = [];
    for (const m of sorted.slice(current)) {
      await m.up(trx);
      await trx.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: now }).execute();
      applied.push(m.version);
      logger.info({ version: m.version, name: m.name }, 'store migration applied');
    }
    return applied;
  });
}
