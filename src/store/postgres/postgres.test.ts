import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ErrorCode, PosternError } from '../../core/errors.ts';
import { memoryLogger } from '../../core/logger.ts';
import { runStoreContract } from '../contract.ts';
import { isStoreError, StoreErrorCode } from '../errors.ts';
import type { Migration } from '../sql/migrate.ts';
import type { NewQueuedMessage, Store } from '../types.ts';
import { postgresMigrations } from './migrations.ts';
import { openPostgresStore } from './open.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const T0 = 1_800_000_000_000;

describe('postgres store: options checked before connecting', () => {
  it('refuses a non-loopback host under POSTERN_LOOPBACK_ONLY before opening any connection', async () => {
    const saved = process.env['POSTERN_LOOPBACK_ONLY'];
    process.env['POSTERN_LOOPBACK_ONLY'] = '1';
    try {
      await assert.rejects(openPostgresStore({ url: 'postgres://postern@192.0.2.1:5432/postern' }), (err: unknown) => {
        assert.ok(err instanceof PosternError);
        assert.equal(err.code, ErrorCode.LoopbackOnly);
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env['POSTERN_LOOPBACK_ONLY'];
      else process.env['POSTERN_LOOPBACK_ONLY'] = saved;
    }
  });

  for (const [what, opts] of [
    ['a URL that does not parse', { url: 'not a url' }],
    ['a URL of another scheme', { url: 'mysql://u@127.0.0.1/db' }],
    ['a schema name that would need quoting', { url: 'postgres://u@127.0.0.1/db', schema: 'a; DROP' }],
  ] as const) {
    it(`refuses ${what} with POSTERN_STORE_INVALID`, async () => {
      await assert.rejects(openPostgresStore(opts), (err: unknown) => isStoreError(err, StoreErrorCode.Invalid));
    });
  }
});

const url = process.env['POSTERN_TEST_PG'];

if (url === undefined || url === '') {
  it('runs the store contract and the cluster cases against PostgreSQL', (t) => {
    t.skip('POSTERN_TEST_PG not set: the PostgreSQL engine is not tested');
  });
} else {
  const database = `postern_test_${randomBytes(6).toString('hex')}`;
  const testUrl = (() => {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
  })();
  let schemas = 0;
  const freshSchema = () => `s${++schemas}`;

  async function admin<T>(fn: (c: pg.Client) => Promise<T>, target = url as string): Promise<T> {
    const c = new pg.Client({ connectionString: target });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  before(async () => {
    await admin((c) => c.query(`CREATE DATABASE ${database}`));
  });
  after(async () => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });

  runStoreContract('postgres', () => openPostgresStore({ url: testUrl, schema: freshSchema(), maxConnections: 4 }));
  // [storage] blobs: every body a file of its own under a fresh directory.
  const blobRoot = mkdtempSync(join(tmpdir(), 'postern-pg-blobs-'));
  after(() => rmSync(blobRoot, { recursive: true, force: true }));
  runStoreContract('postgres, blobs', () =>
    openPostgresStore({ url: testUrl, schema: freshSchema(), maxConnections: 4, blobs: { dir: mkdtempSync(join(blobRoot, 'b-')) } }),
  );

  const remote = (id: string, n: number, receivedAt: number): NewQueuedMessage => ({
    id,
    receivedAt,
    sender: 's@x.test',
    data: enc(`body ${id}`),
    source: 'mx',
    recipients: Array.from({ length: n }, (_, i) => ({ address: `r${i}@y${i % 3}.test`, domain: `y${i % 3}.test`, route: 'remote' as const })),
  });

  async function both(schema: string, fn: (a: Store, b: Store) => Promise<void>): Promise<void> {
    const [a, b] = await Promise.all([
      openPostgresStore({ url: testUrl, schema, maxConnections: 6 }),
      openPostgresStore({ url: testUrl, schema, maxConnections: 6 }),
    ]);
    try {
      await fn(a, b);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }

  describe('postgres store: several nodes on one database', () => {
    it('never gives one recipient to two stores claiming at the same time (FOR UPDATE SKIP LOCKED)', async () => {
      await both(freshSchema(), async (a, b) => {
        const messages = 120;
        for (let i = 0; i < messages; i += 40) {
          await Promise.all(Array.from({ length: 40 }, (_, j) => a.enqueue(remote(`m${i + j}`, 1 + ((i + j) % 3), T0 + i + j))));
        }
        const total = Array.from({ length: messages }, (_, i) => 1 + (i % 3)).reduce((x, y) => x + y, 0);
        const claimed: Array<{ owner: string; id: number }> = [];
        // Six claimers (three per store), each looping until a claim comes back empty.
        const claimer = async (s: Store, owner: string) => {
          for (let round = 0; round < 200; round++) {
            const got = await s.claimDue({ now: T0 + 1_000, limit: 5, owner, leaseMs: 60_000 });
            if (got.length === 0) return;
            for (const m of got) for (const r of m.recipients) claimed.push({ owner, id: r.id });
          }
        };
        await Promise.all([claimer(a, 'a1'), claimer(a, 'a2'), claimer(a, 'a3'), claimer(b, 'b1'), claimer(b, 'b2'), claimer(b, 'b3')]);
        const ids = claimed.map((c) => c.id);
        assert.equal(new Set(ids).size, ids.length, 'no recipient was claimed twice');
        assert.equal(ids.length, total, 'every recipient was claimed');
        assert.ok(claimed.some((c) => c.owner.startsWith('a')) && claimed.some((c) => c.owner.startsWith('b')), 'both stores took work');
        // Each lease is recorded as the one owner that was told it had it.
        const queue = await b.listQueue();
        const owners = new Map(claimed.map((c) => [c.id, c.owner]));
        for (const m of queue) for (const r of m.recipients) assert.equal(r.leaseOwner, owners.get(r.id));
      });
    });

    it('hands out unique, increasing UIDs to concurrent appends from two stores into one mailbox', async () => {
      await both(freshSchema(), async (a, b) => {
        await a.createAccount({ address: 'u@x.test', now: T0 });
        const per = 150;
        const run = (s: Store, tag: string) =>
          Promise.all(Array.from({ length: per }, (_, i) => s.append({ address: 'u@x.test', data: enc(`${tag}${i}`), internalDate: T0 + i }).then((r) => r.uid)));
        const [ua, ub] = await Promise.all([run(a, 'a'), run(b, 'b')]);
        const all = [...ua, ...ub];
        assert.equal(new Set(all).size, all.length, 'no UID given twice');
        assert.deepEqual([...all].sort((x, y) => x - y), Array.from({ length: 2 * per }, (_, i) => i + 1), 'UIDs 1…n, none skipped');
        // Within one store, writes commit in the order they were submitted.
        for (const uids of [ua, ub]) for (let i = 1; i < uids.length; i++) assert.ok((uids[i] ?? 0) > (uids[i - 1] ?? 0));
        assert.equal((await b.getMailbox({ address: 'u@x.test' }))?.uidNext, 2 * per + 1);
        const listed = await a.listMessages({ address: 'u@x.test' });
        assert.equal(listed?.length, 2 * per);
        assert.equal(new TextDecoder().decode((await b.readMessage({ address: 'u@x.test', uid: ua[0] ?? 0 })) ?? new Uint8Array()), 'a0');
      });
    });

    it('delivers into two mailboxes from two stores in opposite orders without losing a write to a deadlock', async () => {
      await both(freshSchema(), async (a, b) => {
        await a.createAccount({ address: 'x@x.test', now: T0 });
        await a.createAccount({ address: 'y@x.test', now: T0 });
        const put = (s: Store, address: string) => s.append({ address, data: enc(address), internalDate: T0 });
        // Each store's two appends share one batch; the batches lock the two mailboxes in
        // opposite orders, which PostgreSQL breaks by aborting one (then run again).
        for (let round = 0; round < 2; round++) {
          await Promise.all([put(a, 'x@x.test'), put(a, 'y@x.test'), put(b, 'y@x.test'), put(b, 'x@x.test')]);
        }
        assert.equal(await a.countMessages({ address: 'x@x.test' }), 4);
        assert.equal(await b.countMessages({ address: 'y@x.test' }), 4);
      });
    });

    it('applies each migration once when three stores open the same empty database together', async () => {
      const schema = freshSchema();
      const log = memoryLogger();
      const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ url: testUrl, schema, logger: log, now: () => 42, maxConnections: 2 })));
      await Promise.all(stores.map((s) => s.close()));
      const applied = log.entries.filter((e) => e.msg === 'store migration applied');
      assert.deepEqual(applied.map((e) => (e.obj as { version: number }).version).sort(), postgresMigrations.map((m) => m.version));
      const rows = await admin((c) => c.query(`SELECT version, applied_at FROM ${schema}.schema_migrations ORDER BY version`), testUrl);
      assert.deepEqual(rows.rows, postgresMigrations.map((m) => ({ version: m.version, applied_at: '42' })));
    });

    it("leaves no finished message behind when two nodes record a message's last results at once", async () => {
      // Each transaction that records results deletes the messages it finished, but two committed
      // at once cannot see each other's update: neither deletes. The queue runner then asks
      // deleteIfFinal after its commit when its transaction did not delete the message; the later
      // committer sees both. This is that protocol, raced on purpose.
      await both(freshSchema(), async (a, b) => {
        const n = 30;
        let deletedInTransaction = 0;
        for (let i = 0; i < n; i++) {
          const id = `race${i}`;
          await a.enqueue({
            id,
            receivedAt: T0,
            sender: 's@x.test',
            data: new TextEncoder().encode('Subject: race\r\n\r\nbody\r\n'),
            source: 'mx',
            recipients: [
              { address: 'r1@y.test', domain: 'y.test', route: 'remote' },
              { address: 'r2@z.test', domain: 'z.test', route: 'backup' },
            ],
          });
          const [ca] = await a.claimDue({ now: T0 + 1, limit: 1, owner: 'A', leaseMs: 60_000, routes: ['remote'] });
          const [cb] = await b.claimDue({ now: T0 + 1, limit: 1, owner: 'B', leaseMs: 60_000, routes: ['backup'] });
          const settle = async (s: typeof a, owner: string, recipientId: number): Promise<void> => {
            const r = await s.recordResults(owner, [{ recipientId, outcome: 'delivered', reply: '250', at: T0 + 2 }], { deleteFinished: true });
            if (r.deleted?.includes(id) === true) deletedInTransaction += 1;
            else await s.deleteIfFinal(id);
          };
          await Promise.all([settle(a, 'A', ca?.recipients[0]?.id ?? -1), settle(b, 'B', cb?.recipients[0]?.id ?? -1)]);
        }
        assert.deepEqual((await a.listQueue()).map((m) => m.id), [], `${deletedInTransaction} of ${n} deleted in the recording transaction`);
      });
    });

    it('creates accounts on three nodes at once on an empty database: none fails, UIDVALIDITY never handed out twice', async () => {
      const schema = freshSchema();
      const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ url: testUrl, schema, now: () => T0, maxConnections: 4 })));
      try {
        // All three count from the same clock second: only the counter keeps them apart.
        const created = await Promise.allSettled(
          Array.from({ length: 30 }, (_, i) => (stores[i % 3] as (typeof stores)[number]).createAccount({ address: `u${i}@x.test`, now: T0 })),
        );
        assert.deepEqual(created.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), []);
        const validities: number[] = [];
        for (let i = 0; i < 30; i++) for (const m of (await (stores[0] as (typeof stores)[number]).listMailboxes(`u${i}@x.test`)) ?? []) validities.push(m.uidValidity);
        assert.equal(validities.length, 30 * 6);
        assert.equal(new Set(validities).size, validities.length, 'each mailbox of every account has its own UIDVALIDITY');
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('keeps bodies byte for byte (every octet value) and hands them back as Uint8Array', async () => {
      await both(freshSchema(), async (a, b) => {
        const data = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
        await a.createAccount({ address: 'bin@x.test', now: T0 });
        const { uid } = await a.append({ address: 'bin@x.test', data, internalDate: T0 });
        await a.enqueue({ ...remote('bin', 1, T0), data });
        const back = await b.readMessage({ address: 'bin@x.test', uid });
        assert.ok(back !== null && Object.getPrototypeOf(back) === Uint8Array.prototype);
        assert.deepEqual(back, data);
        assert.deepEqual(await b.readQueuedData('bin'), data);
      });
    });

    it('sees on one store the accounts and queue changes made through another (the CLI on any node)', async () => {
      await both(freshSchema(), async (a, b) => {
        await a.createAccount({ address: 'new@x.test', now: T0 });
        assert.equal((await b.getAccount('new@x.test'))?.address, 'new@x.test');
        await b.enqueue(remote('q', 2, T0));
        assert.equal(await a.hold('q'), 2);
        assert.deepEqual((await b.getQueued('q'))?.recipients.map((r) => r.state), ['held', 'held']);
      });
    });

    it('tells one store\'s watchers of a delivery made through another at once (LISTEN/NOTIFY), and not its own twice', async () => {
      await both(freshSchema(), async (a, b) => {
        await a.createAccount({ address: 'u@x.test', now: T0 });
        const seenByB: string[] = [];
        const seenByA: string[] = [];
        b.watchMailboxes((c) => seenByB.push(`${c.kind} ${c.account}`));
        a.watchMailboxes((c) => seenByA.push(`${c.kind} ${c.account}`));
        const started = Date.now();
        await a.append({ address: 'u@x.test', data: new TextEncoder().encode('x'), internalDate: T0 });
        const until = Date.now() + 5000;
        while (!seenByB.includes('append u@x.test') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        assert.ok(seenByB.includes('append u@x.test'), `store b heard nothing: ${JSON.stringify(seenByB)}`);
        assert.ok(Date.now() - started < 5000);
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(seenByA.filter((x) => x === 'append u@x.test'), ['append u@x.test'], 'the writer announces its own change once');
      });
    });

    it('rolls a failed migration back entirely, schema_migrations included', async () => {
      const schema = freshSchema();
      const broken: Migration = {
        version: 1,
        name: 'half done',
        async up(trx) {
          await trx.schema.createTable('first_half').addColumn('x', 'integer').execute();
          throw new Error('boom');
        },
      };
      await assert.rejects(openPostgresStore({ url: testUrl, schema, migrations: [broken] }), /boom/);
      const t = await admin(
        (c) => c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [schema]),
        testUrl,
      );
      assert.deepEqual(t.rows, []);
    });

    it('refuses a database whose schema is newer than the code, naming its version', async () => {
      const schema = freshSchema();
      await (await openPostgresStore({ url: testUrl, schema })).close();
      await admin((c) => c.query(`INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (99, 'from the future', 1)`), testUrl);
      await assert.rejects(openPostgresStore({ url: testUrl, schema }), (err: unknown) => {
        assert.ok(isStoreError(err, StoreErrorCode.SchemaTooNew));
        assert.match(err.message, /version 99 \(from the future\)/);
        return true;
      });
    });
  });
}
