import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { memoryLogger } from '../../core/logger.ts';
import { runStoreContract } from '../contract.ts';
import { isStoreError, StoreErrorCode } from '../errors.ts';
import type { MailboxChange } from '../types.ts';
import { openSqliteStore } from './open.ts';
import { openThreadedSqliteStore } from './threaded-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'postern-threaded-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `store-${++files}`, 'postern.sqlite');
const enc = (s: string) => new TextEncoder().encode(s);

runStoreContract('sqlite file on a worker thread', () => openThreadedSqliteStore({ path: freshPath() }));

describe('sqlite store on a worker thread', () => {
  it('keeps the StoreError class and code of a refusal made on the worker', async () => {
    const s = await openThreadedSqliteStore({ path: freshPath() });
    try {
      await s.createAccount({ address: 'a@x.test' });
      await assert.rejects(s.createAccount({ address: 'A@x.test' }), (err: unknown) => isStoreError(err, StoreErrorCode.AccountExists));
      await assert.rejects(
        s.append({ address: 'nobody@x.test', data: enc('m'), internalDate: 1 }),
        (err: unknown) => isStoreError(err, StoreErrorCode.NotFound) && /nobody@x\.test/.test((err as Error).message),
      );
    } finally {
      await s.close();
    }
  });

  it('tells watchers of changes committed on the worker, and counts its commits', async () => {
    const s = await openThreadedSqliteStore({ path: freshPath() });
    try {
      const seen: MailboxChange[] = [];
      const stop = s.watchMailboxes((c) => seen.push(c));
      await s.createAccount({ address: 'a@x.test' });
      await Promise.all([1, 2, 3].map((n) => s.append({ address: 'a@x.test', data: enc(`m${n}`), internalDate: n })));
      // A change is posted before its call's result, so it has arrived by now.
      assert.equal(seen.filter((c) => c.kind === 'append').length, 3);
      assert.ok(s.writeStats().writes >= 3);
      assert.ok(s.writeStats().commits >= 1 && s.writeStats().commits <= 3);
      stop();
      await s.append({ address: 'a@x.test', data: enc('m4'), internalDate: 4 });
      assert.equal(seen.filter((c) => c.kind === 'append').length, 3);
    } finally {
      await s.close();
    }
  });

  it('commits before it answers: what it acknowledged is in the file when it is closed and read on this thread', async () => {
    const path = freshPath();
    const s = await openThreadedSqliteStore({ path });
    await s.createAccount({ address: 'a@x.test' });
    const writes = Array.from({ length: 50 }, (_, i) => s.append({ address: 'a@x.test', data: enc(`m${i}`), internalDate: i }));
    const uids = (await Promise.all(writes)).map((r) => r.uid);
    assert.deepEqual(uids, Array.from({ length: 50 }, (_, i) => i + 1));
    await s.close();
    await assert.rejects(s.getAccount('a@x.test'), (err: unknown) => isStoreError(err, StoreErrorCode.Closed));
    const inline = await openSqliteStore({ path });
    try {
      assert.equal(await inline.countMessages({ address: 'a@x.test' }), 50);
    } finally {
      await inline.close();
    }
  });

  it('fails to open with the reason and the path, and leaves no thread behind', async () => {
    const path = freshPath();
    mkdirSync(path, { recursive: true }); // a directory where the database file should be
    await assert.rejects(openThreadedSqliteStore({ path }), (err: unknown) => err instanceof Error && err.message.length > 0);
    const newer = freshPath();
    const s = await openSqliteStore({ path: newer });
    await s.close();
    const raw = new DatabaseSync(newer);
    raw.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)");
    raw.close();
    await assert.rejects(openThreadedSqliteStore({ path: newer }), (err: unknown) => isStoreError(err, StoreErrorCode.SchemaTooNew));
  });

  it("passes the worker's log records to the logger", async () => {
    const logger = memoryLogger();
    const path = freshPath();
    const s = await openThreadedSqliteStore({ path, logger, logLevel: 'debug' });
    await s.close();
    assert.ok(logger.entries.some((e) => e.msg === 'sqlite store open'), JSON.stringify(logger.entries));
  });

  it('does not keep a process alive once its calls are answered, nor let it end while one is in flight', () => {
    const path = freshPath();
    const script = `
      import { openThreadedSqliteStore } from ${JSON.stringify(new URL('./threaded-store.ts', import.meta.url).href)};
      const s = await openThreadedSqliteStore({ path: ${JSON.stringify(path)} });
      await s.createAccount({ address: 'a@x.test' });
      const r = await s.append({ address: 'a@x.test', data: new Uint8Array([109]), internalDate: 1 });
      console.log('appended', r.uid);
      // no close(): the process must still end by itself
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /appended 1/);
  });
});
