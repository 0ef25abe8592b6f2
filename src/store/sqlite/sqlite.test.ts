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
