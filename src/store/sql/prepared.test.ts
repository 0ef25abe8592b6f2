import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import { adaptDatabase, NodeSqliteDialect } from '../sqlite/dialect.ts';
import { prepareQuery, type Bind } from './prepared.ts';

// prepareQuery is typed for the store's schema; these tests use a table of their own, so the
// builder is reached through a cast to this shape.
interface T {
  t: { id: Generated<number>; a: string; b: number };
}
type Db = Kysely<T>;
const asStore = (db: Db) => db as unknown as Parameters<Parameters<typeof prepareQuery>[0]>[0];

function sqliteDb(): Db {
  const db = new Kysely<T>({ dialect: new NodeSqliteDialect({ database: adaptDatabase(new DatabaseSync(':memory:')) }) });
  return db;
}

function counted<A extends Record<string, unknown>>(build: (db: Db, bind: Bind<A>) => { compile(): unknown }) {
  const sqlTexts: string[] = [];
  const q = prepareQuery((db, bind: Bind<A>) => {
    const built = build(db as unknown as Db, bind) as ReturnType<Parameters<typeof prepareQuery>[0]>;
    sqlTexts.push(built.compile().sql);
    return built;
  });
  return { q, builds: () => sqlTexts.length, sqlTexts };
}

describe('prepared queries', () => {
  it('builds once, then binds each run its own values, inside transactions too', async () => {
    const db = sqliteDb();
    await sql`create table t (id integer primary key, a text not null, b integer not null)`.execute(db);
    const insert = counted((q, bind: Bind<{ a: string; b: number }>) => q.insertInto('t').values({ a: bind('a'), b: bind('b') }));
    const byA = counted((q, bind: Bind<{ a: string }>) => q.selectFrom('t').select(['a', 'b']).where('a', '=', bind('a')).where('b', '>', 0));
    for (const [a, b] of [['x', 1], ['y', 2], ['z', 0]] as const) await insert.q.execute(asStore(db), { a, b });
    await db.transaction().execute(async (trx) => {
      await insert.q.execute(asStore(trx), { a: 'w', b: 4 });
    });
    assert.equal(insert.builds(), 1, 'one build serves the store and its transactions');
    assert.deepEqual({ ...((await byA.q.first(asStore(db), { a: 'y' })) as object) }, { a: 'y', b: 2 });
    assert.deepEqual({ ...((await byA.q.first(asStore(db), { a: 'w' })) as object) }, { a: 'w', b: 4 });
    // The constant written into the query (b > 0) stays a constant.
    assert.equal(await byA.q.first(asStore(db), { a: 'z' }), undefined);
    assert.equal((await byA.q.execute(asStore(db), { a: 'nobody' })).rows.length, 0);
    assert.equal(byA.builds(), 1);
    await db.destroy();
  });

  it('names the missing value and the query when a run lacks one', async () => {
    const db = sqliteDb();
    await sql`create table t (id integer primary key, a text not null, b integer not null)`.execute(db);
    const byA = prepareQuery((q, bind: Bind<{ a: string }>) => (q as unknown as Db).selectFrom('t').select('a').where('a', '=', bind('a')) as never);
    await assert.rejects(byA.execute(asStore(db), {} as { a: string }), /no value for a in select "a" from "t" where "a" = \?/);
    await db.destroy();
  });

  it('keeps one compiled form per dialect: SQLite and PostgreSQL stores side by side', async () => {
    const lite = sqliteDb();
    await sql`create table t (id integer primary key, a text not null, b integer not null)`.execute(lite);
    // Compiling for PostgreSQL needs no server: the pool is never asked for a connection.
    let asked = 0;
    const pgDb = new Kysely<T>({
      dialect: new PostgresDialect({
        pool: async () => {
          asked += 1;
          throw new Error('no connection in this test');
        },
      }) as unknown as PostgresDialect,
    });
    const byA = counted((q, bind: Bind<{ a: string; b: number }>) => q.selectFrom('t').select('a').where('a', '=', bind('a')).where('b', '=', bind('b')));
    await assert.rejects(byA.q.execute(asStore(pgDb), { a: 'x', b: 1 }), /no connection in this test/);
    assert.equal(await byA.q.first(asStore(lite), { a: 'x', b: 1 }), undefined);
    await assert.rejects(byA.q.execute(asStore(pgDb), { a: 'y', b: 2 }), /no connection in this test/);
    assert.deepEqual(byA.sqlTexts, [
      'select "a" from "t" where "a" = $1 and "b" = $2',
      'select "a" from "t" where "a" = ? and "b" = ?',
    ]);
    assert.equal(asked, 2);
    await lite.destroy();
  });
});
