import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { Kysely, sql } from 'kysely';
import { silentLogger } from '../../core/logger.ts';
import { adaptDatabase, NodeSqliteDialect } from '../sqlite/dialect.ts';
import { isStoreError, StoreErrorCode } from '../errors.ts';
import { createGroupCommitter, type BatchedWrite } from './group-commit.ts';
import type { Database } from './tables.ts';

// The committer only needs a Kysely with transactions; a scratch table stands in for the store's.
async function scratch(): Promise<Kysely<Database>> {
  const db = new Kysely<Database>({ dialect: new NodeSqliteDialect({ database: adaptDatabase(new DatabaseSync(':memory:')) }) });
  await sql`CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`.execute(db);
  return db;
}

const insert =
  (name: string, opts: { delayMs?: number } = {}): BatchedWrite<string> =>
  async (trx) => {
    await trx.insertInto('counters').values({ name, value: 1 }).execute();
    // Stands in for a slow disk: the commit of this batch is "in progress" meanwhile.
    if (opts.delayMs !== undefined) await new Promise((r) => setTimeout(r, opts.delayMs));
    return { ok: true, value: name };
  };

async function names(db: Kysely<Database>): Promise<string[]> {
  return (await db.selectFrom('counters').select('name').orderBy('name').execute()).map((r) => r.name);
}

describe('group commit', () => {
  it('writes everything submitted in one event-loop turn in one transaction', async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger });
    const got = await Promise.all(['a', 'b', 'c'].map((n) => gc.submit(insert(n))));
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.deepEqual(gc.stats(), { commits: 1, writes: 3 });
    await gc.close();
    await db.destroy();
  });

  it('puts writes that arrive while a commit is in progress into the next commit together', async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger });
    const first = gc.submit(insert('first', { delayMs: 60 }));
    const later: Array<Promise<string>> = [];
    for (let n = 0; n < 10; n++) {
      await new Promise((r) => setTimeout(r, 2));
      later.push(gc.submit(insert(`later${n}`)));
    }
    await Promise.all([first, ...later]);
    assert.deepEqual(gc.stats(), { commits: 2, writes: 11 });
    await gc.close();
    await db.destroy();
  });

  it("waits for a write's ready work before BEGIN, so no transaction is held across it", async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger });
    let finish: () => void = () => {};
    const ready = new Promise<void>((r) => (finish = r));
    const events: string[] = [];
    const write: BatchedWrite<string> = async (trx) => {
      events.push('transaction');
      await trx.insertInto('counters').values({ name: 'prepared', value: 1 }).execute();
      return { ok: true, value: 'prepared' };
    };
    const done = gc.submit(write, ready.then(() => events.push('ready')));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(events, [], 'no transaction while the work is under way');
    // Meanwhile the database is free for others (SQLite's one writer is not held).
    await db.insertInto('counters').values({ name: 'other', value: 1 }).execute();
    finish();
    assert.equal(await done, 'prepared');
    assert.deepEqual(events, ['ready', 'transaction']);
    assert.deepEqual(await names(db), ['other', 'prepared']);
    await gc.close();
    await db.destroy();
  });

  it('rejects every caller of a batch when one write throws, and keeps none of it', async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger });
    const boom: BatchedWrite<string> = async () => {
      throw new Error('disk full');
    };
    const results = await Promise.allSettled([gc.submit(insert('a')), gc.submit(boom), gc.submit(insert('b'))]);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.value)),
      ['Error: disk full', 'Error: disk full', 'Error: disk full'],
    );
    assert.deepEqual(await names(db), []);
    assert.deepEqual(gc.stats(), { commits: 0, writes: 0 });
    assert.equal(await gc.submit(insert('c')), 'c', 'the next batch goes on');
    await gc.close();
    await db.destroy();
  });

  it('rejects only the caller of a write that declined, committing the others', async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger });
    const decline: BatchedWrite<string> = async () => ({ ok: false, error: new Error('no such mailbox') });
    const results = await Promise.allSettled([gc.submit(insert('a')), gc.submit(decline), gc.submit(insert('b'))]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(await names(db), ['a', 'b']);
    assert.deepEqual(gc.stats(), { commits: 1, writes: 2 });
    await gc.close();
    await db.destroy();
  });

  it('runs a whole batch again after a retryable error, keeping nothing of the failed run', async () => {
    const db = await scratch();
    const transient = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const gc = createGroupCommitter({ db, logger: silentLogger, retryable: (e) => (e as { code?: unknown }).code === '40P01' });
    let runs = 0;
    const flaky: BatchedWrite<string> = async (trx) => {
      runs += 1;
      if (runs === 1) throw transient;
      return insert('b')(trx);
    };
    const got = await Promise.all([gc.submit(insert('a')), gc.submit(flaky)]);
    assert.deepEqual(got, ['a', 'b']);
    assert.equal(runs, 2);
    assert.deepEqual(await names(db), ['a', 'b'], "the first run's 'a' was rolled back, not kept twice");
    assert.deepEqual(gc.stats(), { commits: 1, writes: 2 });
    await gc.close();
    await db.destroy();
  });

  it('gives up after maxRetries runs and rejects the batch with the last error', async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger, retryable: () => true, maxRetries: 2 });
    let runs = 0;
    const always: BatchedWrite<string> = async () => {
      runs += 1;
      throw new Error(`run ${runs}`);
    };
    await assert.rejects(gc.submit(always), /run 3/);
    assert.equal(runs, 3);
    await gc.close();
    await db.destroy();
  });

  it('splits a burst larger than maxBatch into several transactions', async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger, maxBatch: 4 });
    await Promise.all(Array.from({ length: 10 }, (_, n) => gc.submit(insert(`n${n}`))));
    assert.deepEqual(gc.stats(), { commits: 3, writes: 10 });
    await gc.close();
    await db.destroy();
  });

  it('waits for pending writes at close and refuses later ones with POSTERN_STORE_CLOSED', async () => {
    const db = await scratch();
    const gc = createGroupCommitter({ db, logger: silentLogger });
    const pending = gc.submit(insert('a', { delayMs: 20 }));
    await gc.close();
    assert.equal(await pending, 'a');
    await assert.rejects(gc.submit(insert('b')), (err: unknown) => isStoreError(err, StoreErrorCode.Closed));
    assert.deepEqual(await names(db), ['a']);
    await db.destroy();
  });
});
