/**
 * Kysely over `node:sqlite`. Kysely's `SqliteDialect` speaks to better-sqlite3's shape of API; this
 * adapts `DatabaseSync` to it. It is ours because no maintained package adapts node:sqlite to
 * Kysely (the npm candidates wrap better-sqlite3, bun:sqlite or workers), and it is thirty lines.
 *
 * Two changes beyond the shape: write transactions start with BEGIN IMMEDIATE, because a deferred
 * BEGIN that later needs to write can fail with SQLITE_BUSY at once, without waiting for
 * busy_timeout, when another process (the CLI beside the server) holds the write lock; and
 * prepared statements are kept, since every query would otherwise be compiled again.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';

function toInput(v: unknown): SQLInputValue {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v as SQLInputValue;
}

const params = (ps: ReadonlyArray<unknown>): SQLInputValue[] => ps.map(toInput);

export interface AdaptOptions {
  /** Prepared statements kept; default 256. */
  cacheSize?: number;
}

export function adaptDatabase(db: DatabaseSync, options: AdaptOptions = {}): SqliteDatabase {
  const cacheSize = options.cacheSize ?? 256;
  const cache = new Map<string, { stmt: StatementSync; reader: boolean }>();

  function prepared(sql: string): { stmt: StatementSync; reader: boolean } {
    const hit = cache.get(sql);
    if (hit !== undefined) {
      // Map order is insertion order: moving a hit to the end makes eviction least-recently-used.
      cache.delete(sql);
      cache.set(sql, hit);
      return hit;
    }
    const stmt = db.prepare(sql);
    // A statement returns rows when it has result columns (SELECT, … RETURNING, some PRAGMAs).
    const entry = { stmt, reader: stmt.columns().length > 0 };
    cache.set(sql, entry);
    if (cache.size > cacheSize) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    return entry;
  }

  return {
    prepare(sql: string): SqliteStatement {
      const { stmt, reader } = prepared(sql);
      return {
        reader,
        all: (ps) => stmt.all(...params(ps)),
        run: (ps) => {
          const r = stmt.run(...params(ps));
          return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
        },
        iterate: (ps) => stmt.iterate(...params(ps)),
      };
    },
    close(): void {
      cache.clear();
      if (db.isOpen) db.close();
    },
  };
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

export class NodeSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}
