/**
 * `[storage] blobs`: message bodies as files, on both engines (PostgreSQL when POSTERN_TEST_PG is
 * set). Checks the files themselves: written before the row commits, none left behind by a write
 * that did not commit or a row that was deleted, none taken by the sweep while a row names it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isStoreError, StoreErrorCode } from '../errors.ts';
import { blobLockKey, MAX_UNCOMMITTED_MS } from './blob-files.ts';
import { openPostgresStore } from '../postgres/open.ts';
import { openSqliteStore } from '../sqlite/open.ts';
import { openThreadedSqliteStore } from '../sqlite/threaded-store.ts';
import { createTestDatabase } from '../../../test/helpers/test-database.ts';
import type { NewQueuedMessage, Store } from '../types.ts';

const T0 = 1_800_000_000_000;
const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
const root = mkdtempSync(join(tmpdir(), 'postern-blobs-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => mkdtempSync(join(root, `b${++n}-`));

/** Every body file under `dir` (aa/bb/<hex>), as names relative to it. */
function filesIn(dir: string): string[] {
  const out: string[] = [];
  for (const a of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(a)) continue;
    for (const b of readdirSync(join(dir, a))) for (const f of readdirSync(join(dir, a, b))) out.push(`${a}/${b}/${f}`);
  }
  return out.sort();
}

function queued(id: string, body: string, route: 'local' | 'remote' = 'remote'): NewQueuedMessage {
  return { id, receivedAt: T0, sender: 's@x.test', data: enc(body), source: 'mx', recipients: [{ address: 'r@example.test', domain: 'example.test', route }] };
}

interface Engine {
  name: string;
  /** A fresh, empty store; the same `key` opens another store on the same database. */
  open(blobs: { dir: string; writes?: boolean } | null, key?: string): Promise<Store>;
  /** Raw rows: [data length, blob] of every message and queued message of the store `key`. */
  bodies(key: string): Promise<{ messages: Array<[number, string | null]>; queue: Array<[number, string | null]> }>;
}

function sqliteEngine(): Engine {
  const paths = new Map<string, string>();
  const pathOf = (key: string): string => {
    let p = paths.get(key);
    if (p === undefined) {
      p = join(root, `db-${key}`, 'postern.sqlite');
      paths.set(key, p);
    }
    return p;
  };
  return {
    name: 'sqlite',
    open: (blobs, key = `k${++n}`) => openSqliteStore({ path: pathOf(key), blobs }),
    async bodies(key) {
      const raw = new DatabaseSync(pathOf(key));
      try {
        const rows = (table: string) =>
          (raw.prepare(`SELECT length(data) AS len, blob FROM ${table} ORDER BY 2`).all() as Array<{ len: number; blob: string | null }>).map((r) => [r.len, r.blob] as [number, string | null]);
        return { messages: rows('messages'), queue: rows('queue_messages') };
      } finally {
        raw.close();
      }
    },
  };
}

function postgresEngine(url: string): Engine & { readonly testUrl: string; setup(): Promise<void>; teardown(): Promise<void> } {
  let testUrl = '';
  let drop: () => Promise<void> = async () => {};
  return {
    name: 'postgres',
    get testUrl() {
      return testUrl;
    },
    async setup() {
      ({ url: testUrl, drop } = await createTestDatabase(url, 'postern_blobs'));
    },
    teardown: () => drop(),
    open: (blobs, key = `k${++n}`) => openPostgresStore({ url: testUrl, schema: `s_${key}`, maxConnections: 4, blobs }),
    async bodies(key) {
      const c = new pg.Client({ connectionString: testUrl, options: `-c search_path=s_${key}` });
      await c.connect();
      try {
        const rows = async (table: string) =>
          (await c.query<{ len: number; blob: string | null }>(`SELECT length(data)::int AS len, blob FROM ${table} ORDER BY 2`)).rows.map((r) => [r.len, r.blob] as [number, string | null]);
        return { messages: await rows('messages'), queue: await rows('queue_messages') };
      } finally {
        await c.end();
      }
    },
  };
}

function suite(engine: Engine): void {
  describe(`[storage] blobs on ${engine.name}`, () => {
    it('keeps bodies out of the database: each row names a file of its own holding the bytes', async () => {
      const dir = freshDir();
      const key = `bodies${++n}`;
      const s = await engine.open({ dir }, key);
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        await s.append({ address: 'a@example.test', data: enc('Subject: one\r\n\r\nappended\r\n'), internalDate: T0 });
        await s.accept({ queue: queued('q1', 'queued body'), deliveries: [{ address: 'a@example.test', data: enc('delivered body'), internalDate: T0 }] });
        const rows = await engine.bodies(key);
        assert.equal(rows.messages.length, 2);
        assert.equal(rows.queue.length, 1);
        for (const [len, blob] of [...rows.messages, ...rows.queue]) {
          assert.equal(len, 0, 'data is empty');
          assert.match(blob ?? '', /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{32}$/);
        }
        const names = [...rows.messages, ...rows.queue].map(([, b]) => b);
        assert.deepEqual(filesIn(dir), [...names].sort(), 'one file per row, no other');
        assert.equal(text(await s.readMessage({ address: 'a@example.test', uid: 1 })), 'Subject: one\r\n\r\nappended\r\n');
        assert.equal(text(await s.readMessage({ address: 'a@example.test', uid: 2 })), 'delivered body');
        assert.equal(text(await s.readQueuedData('q1')), 'queued body');
        assert.equal((await s.listMessages({ address: 'a@example.test' }))?.[0]?.size, 'Subject: one\r\n\r\nappended\r\n'.length);
        // Headers are kept in the database for search, as without blobs.
        assert.deepEqual(await s.searchHeaders({ address: 'a@example.test', tests: [{ field: 'subject', text: 'one' }] }), [[1]]);
      } finally {
        await s.close();
      }
    });

    it('commits no row when the file cannot be written, names the path, and writes again once it can', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        rmSync(dir, { recursive: true });
        await assert.rejects(s.append({ address: 'a@example.test', data: enc('lost'), internalDate: T0 }), (err: Error) => {
          assert.ok(err.message.includes(dir), err.message);
          return true;
        });
        await assert.rejects(s.enqueue(queued('q-lost', 'lost')), (err: Error) => err.message.includes(dir));
        assert.equal(await s.countMessages({ address: 'a@example.test' }), 0);
        assert.equal(await s.getQueued('q-lost'), null);
        // The directory's place taken by a file: every level of it fails the same way.
        writeFileSync(dir, 'not a directory');
        await assert.rejects(s.append({ address: 'a@example.test', data: enc('lost'), internalDate: T0 }), (err: Error) => err.message.includes(dir));
        rmSync(dir);
        mkdirSync(dir);
        await s.append({ address: 'a@example.test', data: enc('kept'), internalDate: T0 });
        assert.equal(text(await s.readMessage({ address: 'a@example.test', uid: 1 })), 'kept');
        assert.equal(filesIn(dir).length, 1);
      } finally {
        await s.close();
      }
    });

    it('commits no row in a directory it cannot write to', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      // Root writes into a chmod 555 directory anyway: for root the directory becomes a link to
      // /proc, where nobody can create a file.
      const asRoot = process.getuid?.() === 0;
      const aside = `${dir}.aside`;
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        if (asRoot) {
          renameSync(dir, aside);
          symlinkSync('/proc', dir);
        } else {
          chmodSync(dir, 0o555);
        }
        await assert.rejects(s.append({ address: 'a@example.test', data: enc('lost'), internalDate: T0 }), (err: Error) => err.message.includes(`could not write message body file ${dir}/`));
        assert.equal(await s.countMessages({ address: 'a@example.test' }), 0);
      } finally {
        if (asRoot) {
          unlinkSync(dir);
          renameSync(aside, dir);
        } else {
          chmodSync(dir, 0o755);
        }
        await s.close();
      }
    });

    it('removes the files of a refused write: a duplicate queue id, an unknown mailbox', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        await s.enqueue(queued('dup', 'first'));
        await assert.rejects(s.enqueue(queued('dup', 'second')), (err: unknown) => isStoreError(err, StoreErrorCode.MessageExists));
        await assert.rejects(s.append({ address: 'nobody@example.test', data: enc('x'), internalDate: T0 }), (err: unknown) => isStoreError(err, StoreErrorCode.NotFound));
        assert.equal(filesIn(dir).length, 1, 'only the first enqueue\'s file');
      } finally {
        await s.close();
      }
    });

    it('leaves the files of a failed batch to the sweep: its COMMIT could have gone through', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        // A route the schema does not allow: the INSERT fails and the whole batch rolls back.
        const bad = { ...queued('bad', 'never committed'), recipients: [{ address: 'r@example.test', domain: 'example.test', route: 'nowhere' as 'remote' }] };
        const results = await Promise.allSettled([s.enqueue(queued('good', 'same batch')), s.enqueue(bad)]);
        assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
        assert.deepEqual(await s.listQueue(), []);
        assert.equal(filesIn(dir).length, 2, 'not removed on an error that may hide a commit');
        const swept = await s.sweepBlobs({ graceMs: 0, now: 8.64e15 });
        assert.equal(swept.removed, 2);
        assert.deepEqual(filesIn(dir), []);
      } finally {
        await s.close();
      }
    });

    it('unlinks the files of deleted messages: expunge, delete, move, mailbox and account deletion', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        const a = 'a@example.test';
        await s.createAccount({ address: a, now: T0 });
        for (const body of ['1', '2', '3', '4']) await s.append({ address: a, data: enc(body), internalDate: T0 });
        assert.equal(filesIn(dir).length, 4);
        await s.setFlags({ address: a, uids: [1], operation: 'add', flags: ['\\Deleted'] });
        assert.deepEqual(await s.expunge({ address: a }), [1]);
        assert.equal(filesIn(dir).length, 3);
        assert.equal(await s.deleteMessage({ address: a, uid: 2 }), true);
        assert.equal(filesIn(dir).length, 2);
        // A copy links a new name: two rows, two files; the original's file goes with it.
        await s.copyMessages({ address: a, from: 'INBOX', to: 'Archive', uids: [3] });
        assert.equal(filesIn(dir).length, 3);
        await s.copyMessages({ address: a, from: 'INBOX', to: 'Junk', uids: [4], move: true });
        assert.equal(filesIn(dir).length, 3, 'a move leaves one file for the moved message');
        assert.equal(text(await s.readMessage({ address: a, mailbox: 'Junk', uid: 1 })), '4');
        assert.equal(await s.deleteMailbox({ address: a, mailbox: 'Junk' }), true);
        assert.equal(filesIn(dir).length, 2);
        assert.equal(await s.deleteAccount(a), true);
        assert.deepEqual(filesIn(dir), []);
      } finally {
        await s.close();
      }
    });

    it('unlinks the file of a queued message when it leaves the queue by any path', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        await s.createAccount({ address: 'r@example.test', now: T0 });
        // Delivered into a mailbox: the mailbox gets a file, the queue's goes.
        await s.enqueue(queued('local', 'to a mailbox', 'local'));
        const [m] = await s.claimDue({ now: T0, limit: 1, owner: 'o', leaseMs: 60_000 });
        const rid = m?.recipients[0]?.id ?? -1;
        const data = (await s.readQueuedData('local')) ?? new Uint8Array();
        const before = filesIn(dir);
        const r = await s.deliverToMailbox({ owner: 'o', recipientId: rid, address: 'r@example.test', data, internalDate: T0, reply: '250 ok', at: T0 });
        assert.equal(r.kind, 'delivered');
        assert.equal(await s.getQueued('local'), null);
        const after = filesIn(dir);
        assert.equal(after.length, 1);
        assert.ok(!before.includes(after[0] ?? ''), 'the queue\'s file is gone, the mailbox has a new one');
        assert.equal(text(await s.readMessage({ address: 'r@example.test', uid: 1 })), 'to a mailbox');
        // Not leased: the file written for it is removed again.
        await s.enqueue(queued('nl', 'x', 'local'));
        assert.equal((await s.deliverToMailbox({ owner: 'o', recipientId: -5, address: 'r@example.test', data: enc('x'), internalDate: T0, reply: '250', at: T0 })).kind, 'not-leased');
        assert.equal(filesIn(dir).length, 2);
        assert.equal(await s.deleteQueued('nl'), true);
        assert.equal(filesIn(dir).length, 1);

        // Sent remotely: recordResults with deleteFinished, deleteIfFinal, deleteFinished.
        for (const id of ['r1', 'r2', 'r3']) await s.enqueue(queued(id, id));
        assert.equal(filesIn(dir).length, 4);
        const claimed = await s.claimDue({ now: T0, limit: 10, owner: 'o', leaseMs: 60_000 });
        const rcpt = (id: string) => claimed.find((c) => c.id === id)?.recipients[0]?.id ?? -1;
        const out = await s.recordResults('o', [{ recipientId: rcpt('r1'), outcome: 'delivered', at: T0, reply: '250' }], { deleteFinished: true });
        assert.deepEqual(out.deleted, ['r1']);
        assert.equal(filesIn(dir).length, 3);
        await s.recordResults('o', [
          { recipientId: rcpt('r2'), outcome: 'failed', at: T0, reply: '550' },
          { recipientId: rcpt('r3'), outcome: 'delivered', at: T0, reply: '250' },
        ]);
        assert.equal(await s.deleteIfFinal('r2'), true);
        assert.equal(filesIn(dir).length, 2);
        assert.deepEqual(await s.deleteFinished(), ['r3']);
        assert.equal(filesIn(dir).length, 1, 'only the delivered message in the mailbox');
      } finally {
        await s.close();
      }
    });

    it('fails a read whose file is missing with NOT_FOUND naming the file and the message', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        await s.append({ address: 'a@example.test', data: enc('gone'), internalDate: T0 });
        await s.enqueue(queued('q', 'gone too'));
        const names = filesIn(dir);
        for (const f of names) rmSync(join(dir, f));
        for (const read of [
          () => s.readMessage({ address: 'a@example.test', uid: 1 }),
          () => s.readMessages({ address: 'a@example.test', uids: [1] }),
          () => s.readQueuedData('q'),
        ]) {
          await assert.rejects(read(), (err: unknown) => {
            assert.ok(isStoreError(err, StoreErrorCode.NotFound), String(err));
            assert.ok(names.some((f) => err.message.includes(join(dir, f))), err.message);
            assert.match(err.message, /UID 1 of INBOX of a@example\.test|queued message q/);
            return true;
          });
        }
      } finally {
        await s.close();
      }
    });

    it('sweeps an unreferenced file older than the grace and keeps a fresh one and every referenced one', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        await s.append({ address: 'a@example.test', data: enc('kept'), internalDate: T0 });
        await s.enqueue(queued('q', 'kept too'));
        const orphan = (hex: string): string => {
          mkdirSync(join(dir, hex.slice(0, 2), hex.slice(2, 4)), { recursive: true });
          writeFileSync(join(dir, hex.slice(0, 2), hex.slice(2, 4), hex), 'left by a crash');
          return `${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}`;
        };
        const old = orphan(randomBytes(16).toString('hex'));
        const oldAt = statSync(join(dir, old)).ctimeMs;
        // The file system's clock moves on (its ticks may be coarser than a millisecond).
        let fresh = '';
        for (let tries = 0; tries < 1000; tries++) {
          if (fresh !== '') rmSync(join(dir, fresh));
          fresh = orphan(randomBytes(16).toString('hex'));
          if (statSync(join(dir, fresh)).ctimeMs > oldAt) break;
        }
        const freshAt = statSync(join(dir, fresh)).ctimeMs;
        assert.ok(freshAt > oldAt, 'the second orphan is younger');
        // Not a body file name: never touched.
        writeFileSync(join(dir, 'README'), 'an operator\'s note');
        const graceMs = 3_600_000;
        const r = await s.sweepBlobs({ graceMs, now: (oldAt + freshAt) / 2 + graceMs });
        assert.equal(r.removed, 1);
        assert.deepEqual(r.sample, [old]);
        const left = filesIn(dir);
        assert.ok(!left.includes(old));
        assert.ok(left.includes(fresh));
        assert.equal(left.length, 3, 'the two referenced files and the fresh orphan');
        assert.equal(text(await s.readMessage({ address: 'a@example.test', uid: 1 })), 'kept');
        assert.equal(text(await s.readQueuedData('q')), 'kept too');
        assert.ok(statSync(join(dir, 'README')).isFile());
        // Everything old enough: the referenced files stay still.
        const all = await s.sweepBlobs({ graceMs: 0, now: 8.64e15 });
        assert.equal(all.removed, 1);
        assert.equal(filesIn(dir).length, 2);
      } finally {
        await s.close();
      }
    });

    it('with write_blobs off, stores new bodies in the database and still reads and deletes the files', async () => {
      const dir = freshDir();
      const key = `off${++n}`;
      const on = await engine.open({ dir }, key);
      await on.createAccount({ address: 'a@example.test', now: T0 });
      await on.append({ address: 'a@example.test', data: enc('in a file'), internalDate: T0 });
      await on.close();
      const off = await engine.open({ dir, writes: false }, key);
      try {
        await off.append({ address: 'a@example.test', data: enc('in the database'), internalDate: T0 });
        const rows = await engine.bodies(key);
        assert.deepEqual(
          rows.messages.map(([len, blob]) => [len > 0, blob !== null]).sort(),
          [
            [false, true],
            [true, false],
          ],
        );
        assert.equal(text(await off.readMessage({ address: 'a@example.test', uid: 1 })), 'in a file');
        assert.equal(text(await off.readMessage({ address: 'a@example.test', uid: 2 })), 'in the database');
        assert.equal(await off.deleteMessage({ address: 'a@example.test', uid: 1 }), true);
        assert.deepEqual(filesIn(dir), []);
      } finally {
        await off.close();
      }
    });

    it('without [storage] blobs, fails the read of a message stored as a file, naming the file and the setting', async () => {
      const dir = freshDir();
      const key = `none${++n}`;
      const on = await engine.open({ dir }, key);
      await on.createAccount({ address: 'a@example.test', now: T0 });
      await on.append({ address: 'a@example.test', data: enc('in a file'), internalDate: T0 });
      await on.close();
      const none = await engine.open(null, key);
      try {
        await assert.rejects(none.readMessage({ address: 'a@example.test', uid: 1 }), (err: unknown) => {
          assert.ok(isStoreError(err, StoreErrorCode.NotFound));
          assert.ok(err.message.includes(filesIn(dir)[0] ?? '?'), err.message);
          assert.match(err.message, /\[storage\] blobs/);
          return true;
        });
      } finally {
        await none.close();
      }
    });

    it('refuses a directory that holds the bodies of another database, naming both', async () => {
      const dir = freshDir();
      const first = await engine.open({ dir });
      await first.close();
      assert.match(readFileSync(join(dir, 'postern-store-id'), 'utf8'), /^\d+\n$/);
      await assert.rejects(engine.open({ dir }), (err: unknown) => {
        assert.ok(isStoreError(err, StoreErrorCode.Invalid), String(err));
        assert.match(err.message, /holds the bodies of another Postern database \(.*postern-store-id says store \d+, this database is store \d+\): give each database a directory of its own/);
        return true;
      });
    });

    it('copies: a missing source file is NOT_FOUND naming it; with write_blobs off a copy goes into the database', async () => {
      const dir = freshDir();
      const key = `copy${++n}`;
      const s = await engine.open({ dir }, key);
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        await s.append({ address: 'a@example.test', data: enc('first'), internalDate: T0 });
        await s.append({ address: 'a@example.test', data: enc('second'), internalDate: T0 });
        const [gone] = filesIn(dir);
        assert.ok(gone !== undefined);
        rmSync(join(dir, gone));
        const uids = [1, 2];
        await assert.rejects(s.copyMessages({ address: 'a@example.test', from: 'INBOX', to: 'Archive', uids }), (err: unknown) => {
          assert.ok(isStoreError(err, StoreErrorCode.NotFound), String(err));
          assert.ok(err.message.includes(join(dir, gone)), err.message);
          return true;
        });
        assert.equal(await s.countMessages({ address: 'a@example.test', mailbox: 'Archive' }), 0, 'the failed COPY copied nothing');
        assert.equal(filesIn(dir).length, 1, 'and left no file behind');
      } finally {
        await s.close();
      }
      const reading = await engine.open({ dir, writes: false }, key);
      try {
        const left = (await reading.listMessages({ address: 'a@example.test' }))?.map((m) => m.uid) ?? [];
        const readable: number[] = [];
        for (const uid of left) if ((await reading.readMessage({ address: 'a@example.test', uid }).catch(() => null)) !== null) readable.push(uid);
        assert.equal(readable.length, 1);
        await reading.copyMessages({ address: 'a@example.test', from: 'INBOX', to: 'Archive', uids: readable });
        assert.equal(filesIn(dir).length, 1, 'no new file');
        const copied = (await engine.bodies(key)).messages.filter(([len]) => len > 0);
        assert.equal(copied.length, 1, 'the copy holds its bytes in the database');
        assert.equal(copied[0]?.[1], null);
      } finally {
        await reading.close();
      }
    });

    it('fails a read whose file holds another length than the message, naming it', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        await s.append({ address: 'a@example.test', data: enc('twelve bytes'), internalDate: T0 });
        const [f] = filesIn(dir);
        assert.ok(f !== undefined);
        writeFileSync(join(dir, f), 'short');
        await assert.rejects(s.readMessage({ address: 'a@example.test', uid: 1 }), /holds 5 bytes where the message has 12: it was truncated or replaced/);
      } finally {
        await s.close();
      }
    });

    it('refuses a write whose files waited longer than MAX_UNCOMMITTED_MS for their commit, and removes them', async (t) => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        let clock = performance.now();
        t.mock.method(performance, 'now', () => clock);
        const late = s.append({ address: 'a@example.test', data: enc('late'), internalDate: T0 });
        // Before the group commit runs: as if the write then waited past the limit.
        clock += MAX_UNCOMMITTED_MS + 1;
        await assert.rejects(late, /waited \d+ s for its commit, longer than body files may stay unreferenced/);
        t.mock.restoreAll();
        assert.equal(await s.countMessages({ address: 'a@example.test' }), 0);
        assert.deepEqual(filesIn(dir), []);
      } finally {
        await s.close();
      }
    });

    it('refuses to open with a blobs directory that does not exist, naming it', async () => {
      const missing = join(root, 'no-such-dir');
      await assert.rejects(engine.open({ dir: missing }), (err: unknown) => isStoreError(err, StoreErrorCode.Invalid) && err.message.includes(missing));
    });
  });
}

suite(sqliteEngine());

describe('[storage] blobs on sqlite on a worker thread', () => {
  it('writes, reads, deletes and sweeps on the store\'s thread', async () => {
    const dir = freshDir();
    const s = await openThreadedSqliteStore({ path: join(root, `threaded-${++n}`, 'postern.sqlite'), blobs: { dir, writes: true } });
    try {
      await s.createAccount({ address: 'a@example.test', now: T0 });
      await s.append({ address: 'a@example.test', data: enc('threaded'), internalDate: T0 });
      assert.equal(filesIn(dir).length, 1);
      assert.equal(text(await s.readMessage({ address: 'a@example.test', uid: 1 })), 'threaded');
      assert.deepEqual(await s.sweepBlobs({ graceMs: 0, now: 8.64e15 }), { checked: 1, removed: 0, sample: [] });
      await s.deleteMessage({ address: 'a@example.test', uid: 1 });
      assert.deepEqual(filesIn(dir), []);
    } finally {
      await s.close();
    }
  });
});

const url = process.env['POSTERN_TEST_PG'];
if (url === undefined || url === '') {
  it('runs the [storage] blobs cases against PostgreSQL', (t) => {
    t.skip('POSTERN_TEST_PG not set: blobs on PostgreSQL are not tested');
  });
} else {
  const engine = postgresEngine(url);
  before(() => engine.setup());
  after(() => engine.teardown());
  suite(engine);

  describe('[storage] blobs: two nodes on one PostgreSQL and one directory', () => {
    it('a write takes the fence: it waits while a sweep batch holds it, and commits after', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      const sweep = new pg.Client({ connectionString: engine.testUrl });
      await sweep.connect();
      try {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        const [cls, id] = blobLockKey('fence', Number(readFileSync(join(dir, 'postern-store-id'), 'utf8')));
        await sweep.query('BEGIN');
        await sweep.query(`SELECT pg_advisory_xact_lock(${cls}, ${id})`);
        let done = false;
        const appended = s.append({ address: 'a@example.test', data: enc('fenced'), internalDate: T0 }).then((r) => ((done = true), r));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(done, false, 'the write waits for the sweep batch');
        await sweep.query('COMMIT');
        assert.equal((await appended).uid, 1);
      } finally {
        await sweep.end();
        await s.close();
      }
    });

    it('two stores in two schemas of one database do not fence each other', async () => {
      const aDir = freshDir();
      const a = await engine.open({ dir: aDir });
      const b = await engine.open({ dir: freshDir() });
      const sweepOfA = new pg.Client({ connectionString: engine.testUrl });
      await sweepOfA.connect();
      try {
        await b.createAccount({ address: 'b@example.test', now: T0 });
        const [cls, id] = blobLockKey('fence', Number(readFileSync(join(aDir, 'postern-store-id'), 'utf8')));
        await sweepOfA.query('BEGIN');
        await sweepOfA.query(`SELECT pg_advisory_xact_lock(${cls}, ${id})`);
        const written = await Promise.race([b.append({ address: 'b@example.test', data: enc('y'), internalDate: T0 }), new Promise<null>((r) => setTimeout(() => r(null), 5000).unref())]);
        assert.notEqual(written, null, "b's write waited for a's sweep");
        await sweepOfA.query('COMMIT');
      } finally {
        await sweepOfA.end();
        await a.close();
        await b.close();
      }
    });

    it('lets one node of the database walk the directory at a time; another says it is busy', async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      const other = new pg.Client({ connectionString: engine.testUrl });
      await other.connect();
      try {
        const [cls, id] = blobLockKey('sweeper', Number(readFileSync(join(dir, 'postern-store-id'), 'utf8')));
        await other.query(`SELECT pg_advisory_lock(${cls}, ${id})`);
        assert.deepEqual(await s.sweepBlobs({ graceMs: 0, now: 8.64e15 }), { checked: 0, removed: 0, sample: [], busy: true });
        await other.query(`SELECT pg_advisory_unlock(${cls}, ${id})`);
        assert.equal((await s.sweepBlobs({ graceMs: 0, now: 8.64e15 })).busy, undefined);
      } finally {
        await other.end();
        await s.close();
      }
    });

    it("does not sweep while another node's transaction may be inserting rows that name files (the fence)", async () => {
      const dir = freshDir();
      const s = await engine.open({ dir });
      const writer = new pg.Client({ connectionString: engine.testUrl });
      await writer.connect();
      try {
        // An unreferenced file, old enough for any grace; and a writer in the middle of a transaction
        // that, as namesFor does, holds the fence shared.
        mkdirSync(join(dir, 'ab', 'cd'), { recursive: true });
        const orphan = join(dir, 'ab', 'cd', 'abcd' + '0'.repeat(28));
        writeFileSync(orphan, 'orphan');
        const [cls, id] = blobLockKey('fence', Number(readFileSync(join(dir, 'postern-store-id'), 'utf8')));
        await writer.query('BEGIN');
        await writer.query(`SELECT pg_advisory_xact_lock_shared(${cls}, ${id})`);
        let done = false;
        const sweeping = s.sweepBlobs({ graceMs: 0, now: 8.64e15 }).then((r) => ((done = true), r));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(done, false, 'the sweep waits for the writer');
        assert.ok(statSync(orphan).isFile());
        await writer.query('COMMIT');
        const r = await sweeping;
        assert.equal(r.removed, 1);
      } finally {
        await writer.end();
        await s.close();
      }
    });

    it('read, copy and delete each other\'s messages', async () => {
      const dir = freshDir();
      const key = `nodes${++n}`;
      const a = await engine.open({ dir }, key);
      const b = await engine.open({ dir }, key);
      try {
        await a.createAccount({ address: 'u@example.test', now: T0 });
        await a.append({ address: 'u@example.test', data: enc('from node a'), internalDate: T0 });
        await b.append({ address: 'u@example.test', data: enc('from node b'), internalDate: T0 });
        await b.enqueue(queued('qb', 'queued on b'));
        assert.equal(text(await b.readMessage({ address: 'u@example.test', uid: 1 })), 'from node a');
        assert.equal(text(await a.readMessage({ address: 'u@example.test', uid: 2 })), 'from node b');
        assert.equal(text(await a.readQueuedData('qb')), 'queued on b');
        await b.copyMessages({ address: 'u@example.test', from: 'INBOX', to: 'Archive', uids: [1] });
        assert.equal(await a.deleteMessage({ address: 'u@example.test', uid: 1 }), true);
        assert.equal(text(await a.readMessage({ address: 'u@example.test', mailbox: 'Archive', uid: 1 })), 'from node a');
        // Neither node's sweep takes what the other wrote.
        assert.equal((await a.sweepBlobs({ graceMs: 0, now: 8.64e15 })).removed, 0);
        assert.equal((await b.sweepBlobs({ graceMs: 0, now: 8.64e15 })).removed, 0);
        assert.equal(filesIn(dir).length, 3);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
