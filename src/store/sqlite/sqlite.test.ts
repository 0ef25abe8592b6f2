import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { runStoreContract } from '../contract.ts';
import { isStoreError, StoreErrorCode } from '../errors.ts';
import type { Migration } from '../sql/migrate.ts';
import { openSqliteStore } from './open.ts';
import { sqliteMigrations } from './migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'postern-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `store-${++files}`, 'postern.sqlite');

runStoreContract('sqlite :memory:', () => openSqliteStore({ path: ':memory:' }));
runStoreContract('sqlite file', () => openSqliteStore({ path: freshPath() }));
// [storage] blobs: every body a file of its own under a fresh directory.
const freshBlobs = () => mkdtempSync(join(dir, 'blobs-'));
runStoreContract('sqlite file, blobs', () => openSqliteStore({ path: freshPath(), blobs: { dir: freshBlobs() } }));

const enc = (s: string) => new TextEncoder().encode(s);

describe('sqlite store', () => {
  it('puts a file store in WAL mode with synchronous=FULL and foreign keys on', async () => {
    const path = freshPath();
    const s = await openSqliteStore({ path });
    await s.close();
    const raw = new DatabaseSync(path);
    try {
      assert.equal((raw.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
    } finally {
      raw.close();
    }
    // synchronous and foreign_keys are per connection: check them through behaviour instead.
    const s2 = await openSqliteStore({ path });
    await s2.createAccount({ address: 'a@x.test', now: 1 });
    await s2.append({ address: 'a@x.test', data: enc('m'), internalDate: 1 });
    await s2.deleteAccount('a@x.test');
    await s2.close();
    const check = new DatabaseSync(path);
    try {
      const n = check.prepare('SELECT count(*) AS n FROM messages').get() as { n: number };
      assert.equal(n.n, 0, 'the cascade ran, so foreign keys were on');
    } finally {
      check.close();
    }
  });

  it('keeps what was enqueued and appended across close and reopen', async () => {
    const path = freshPath();
    const s = await openSqliteStore({ path });
    await s.createAccount({ address: 'a@x.test', now: 1 });
    await Promise.all([
      s.enqueue({ id: 'q1', receivedAt: 5, sender: '', data: enc('one'), source: 'mx', recipients: [{ address: 'b@y.test', domain: 'y.test', route: 'remote' }] }),
      s.append({ address: 'a@x.test', data: enc('two'), internalDate: 6 }),
    ]);
    await s.close();

    const s2 = await openSqliteStore({ path });
    try {
      assert.equal(new TextDecoder().decode((await s2.readQueuedData('q1')) ?? new Uint8Array()), 'one');
      assert.equal((await s2.getQueued('q1'))?.recipients[0]?.state, 'queued');
      assert.equal(await s2.countMessages({ address: 'a@x.test' }), 1);
      assert.equal((await s2.append({ address: 'a@x.test', data: enc('three'), internalDate: 7 })).uid, 2);
    } finally {
      await s2.close();
    }
  });

  it('lets two stores on one file (server and CLI) see each other\'s writes', async () => {
    const path = freshPath();
    const server = await openSqliteStore({ path });
    const cli = await openSqliteStore({ path });
    try {
      await server.enqueue({ id: 'q', receivedAt: 1, sender: '', data: enc('x'), source: 'mx', recipients: [{ address: 'b@y.test', domain: 'y.test', route: 'remote' }] });
      assert.equal(await cli.hold('q'), 1);
      assert.equal((await server.getQueued('q'))?.recipients[0]?.state, 'held');
    } finally {
      await cli.close();
      await server.close();
    }
  });

  it('records its migrations and applies none twice', async () => {
    const path = freshPath();
    await (await openSqliteStore({ path, now: () => 42 })).close();
    await (await openSqliteStore({ path, now: () => 43 })).close();
    const raw = new DatabaseSync(path);
    try {
      const rows = raw.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all();
      assert.deepEqual(
        rows.map((r) => ({ ...r })),
        sqliteMigrations.map((m) => ({ version: m.version, applied_at: 42 })),
      );
    } finally {
      raw.close();
    }
  });

  it('applies a new migration to an existing database at open', async () => {
    const path = freshPath();
    await (await openSqliteStore({ path })).close();
    const next: Migration = {
      version: sqliteMigrations.length + 1,
      name: 'a test column',
      async up(trx) {
        await trx.schema.alterTable('accounts').addColumn('note', 'text').execute();
      },
    };
    await (await openSqliteStore({ path, migrations: [...sqliteMigrations, next] })).close();
    const raw = new DatabaseSync(path);
    try {
      const cols = raw.prepare('PRAGMA table_info(accounts)').all().map((c) => (c as { name: string }).name);
      assert.ok(cols.includes('note'));
    } finally {
      raw.close();
    }
  });

  it('migration 3 keeps apart the header of every message stored before it, and searches find them', async () => {
    const path = freshPath();
    // A store as Postern left it before migration 3: messages with no header rows.
    const old = await openSqliteStore({ path, migrations: sqliteMigrations.slice(0, 2) });
    await old.createAccount({ address: 'old@example.test', now: 1 });
    await old.close();
    const raw = new DatabaseSync(path);
    try {
      const inbox = raw.prepare("SELECT id FROM mailboxes WHERE name = 'INBOX'").get() as { id: number };
      const insert = raw.prepare("INSERT INTO messages (mailbox_id, uid, internal_date, size, flags, data) VALUES (?, ?, 1, ?, '', ?)");
      // More than one batch of the migration's loop.
      for (let uid = 1; uid <= 450; uid++) {
        const data = enc(uid % 2 === 0 ? `From: even${uid}@x.test\r\n\r\nbody ${uid}\r\n` : `Subject: odd ${uid}\n\nbody\n`);
        insert.run(inbox.id, uid, data.byteLength, data);
      }
      raw.prepare('UPDATE mailboxes SET uid_next = 451 WHERE id = ?').run(inbox.id);
    } finally {
      raw.close();
    }
    const s = await openSqliteStore({ path });
    try {
      const headers = (await s.readHeaders({ address: 'old@example.test' })) ?? [];
      assert.equal(headers.length, 450);
      assert.equal(new TextDecoder().decode(headers[1]?.header), 'From: even2@x.test\r\n');
      assert.equal(new TextDecoder().decode(headers[448]?.header), 'Subject: odd 449\n');
      const hits = await s.searchHeaders({ address: 'old@example.test', tests: [{ field: 'from', text: 'EVEN4' }] });
      const evenFours = Array.from({ length: 450 }, (_, i) => i + 1).filter((u) => u % 2 === 0 && String(u).startsWith('4'));
      assert.deepEqual(hits, [evenFours]);
      assert.equal((await s.append({ address: 'old@example.test', data: enc('From: new@x.test\r\n\r\n'), internalDate: 2 })).uid, 451);
      assert.deepEqual(await s.searchHeaders({ address: 'old@example.test', tests: [{ field: 'from', text: 'new@' }] }), [[451]]);
    } finally {
      await s.close();
    }
  });

  it('rolls a failed migration back entirely', async () => {
    const path = freshPath();
    const broken: Migration = {
      version: 1,
      name: 'half done',
      async up(trx) {
        await trx.schema.createTable('first_half').addColumn('x', 'integer').execute();
        throw new Error('boom');
      },
    };
    await assert.rejects(openSqliteStore({ path, migrations: [broken] }), /boom/);
    const raw = new DatabaseSync(path);
    try {
      const t = raw.prepare("SELECT name FROM sqlite_master WHERE name IN ('first_half', 'schema_migrations')").all();
      assert.deepEqual(t, []);
    } finally {
      raw.close();
    }
  });

  it('refuses a database whose schema is newer than the code, naming its version', async () => {
    const path = freshPath();
    await (await openSqliteStore({ path })).close();
    const raw = new DatabaseSync(path);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(99, 'from the future', 1);
    raw.close();
    await assert.rejects(openSqliteStore({ path }), (err: unknown) => {
      assert.ok(isStoreError(err, StoreErrorCode.SchemaTooNew));
      assert.match(err.message, /version 99 \(from the future\)/);
      return true;
    });
  });

  it('uses the injected clock for the times it is not given', async () => {
    const s = await openSqliteStore({ path: ':memory:', now: () => 1_234_000 });
    try {
      assert.equal((await s.createAccount({ address: 'a@x.test' })).createdAt, 1_234_000);
      assert.equal((await s.getMailbox({ address: 'a@x.test' }))?.uidValidity, 1234);
    } finally {
      await s.close();
    }
  });
});
