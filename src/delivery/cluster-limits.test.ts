import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, silentLogger } from '../core/logger.ts';
import { openPostgresStore } from '../store/postgres/index.ts';
import { openSqliteStore } from '../store/sqlite/index.ts';
import { fakeSmtpConnection } from '../../test/helpers/fake-smtp-connection.ts';
import { createTestDatabase } from '../../test/helpers/test-database.ts';
import type { Store } from '../store/types.ts';
import { StoreClusterLimits } from './cluster-limits.ts';
import { ConnectionPool } from './connection-pool.ts';

async function eventuallyTrue(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('StoreClusterLimits', () => {
  it('renews held slots on its timer, so another owner cannot take them over when the lease would have run out', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    let now = 1_800_000_000_000;
    // Resolves after the first renewal made once the clock moved on.
    let renewed: () => void = () => {};
    const renewal = new Promise<void>((resolve) => (renewed = resolve));
    const counting = Object.create(store) as Store;
    counting.renewSlots = async (o) => {
      const renewedOwners = await store.renewSlots(o);
      if (o.now > 1_800_000_000_000) renewed();
      return renewedOwners;
    };
    const limits = new StoreClusterLimits({ store: counting, owner: 'n1/a', ownerPrefix: 'n1/', logger: silentLogger, leaseMs: 1000, renewMs: 10, now: () => now });
    try {
      const hold = await limits.tryAcquire('k', 1);
      assert.ok(hold);
      now += 900;
      await renewal;
      assert.equal(await store.acquireSlot({ key: 'k', limit: 1, owner: 'other', now: now + 500, leaseMs: 1000 }), null, 'renewed past the first lease');
      await hold.release();
      assert.equal(await store.acquireSlot({ key: 'k', limit: 1, owner: 'other', now, leaseMs: 1000 }), 0, 'released');
    } finally {
      await limits.close();
      await store.close();
    }
  });

  it('a hold whose lease ran out is reported lost, and its release frees nobody else\'s slot (not even a later hold of this process)', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    let now = 1_800_000_000_000;
    let failing = true;
    let renewedOk: () => void = () => {};
    const renewal = new Promise<void>((resolve) => (renewedOk = resolve));
    const flaky = Object.create(store) as Store;
    flaky.renewSlots = async (o) => {
      if (failing) throw new Error('database unreachable');
      const r = await store.renewSlots(o);
      renewedOk();
      return r;
    };
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }) });
    const limits = new StoreClusterLimits({ store: flaky, owner: 'n1/a', logger, leaseMs: 1000, renewMs: 10, now: () => now });
    try {
      const first = await limits.tryAcquire('k', 1);
      assert.ok(first);
      now += 1500;
      // The lease ran out while renewals failed: this process takes the slot again for a new hold.
      const second = await limits.tryAcquire('k', 1);
      assert.ok(second, 'the expired slot is taken over');
      await first.release();
      assert.equal(await store.acquireSlot({ key: 'k', limit: 1, owner: 'other', now, leaseMs: 1000 }), null, 'the first hold\'s release left the second hold\'s row alone');
      await second.release();
      const third = await limits.tryAcquire('k', 1);
      assert.ok(third);
      now += 1500;
      assert.equal(await store.acquireSlot({ key: 'k', limit: 1, owner: 'other', now, leaseMs: 60_000 }), 0, 'another node takes the expired slot');
      failing = false;
      await renewal;
      await eventuallyTrue(() => lines.some((l) => l.includes('"event":"cluster.slot_lost"') && l.includes('"key":"k"')));
      await third.release();
      assert.equal(await store.acquireSlot({ key: 'k', limit: 1, owner: 'another', now, leaseMs: 1000 }), null, 'the lost hold\'s release did not free the other node\'s slot');
    } finally {
      await limits.close();
      await store.close();
    }
  });

  it('frees at start the slots of an earlier process of the same node', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      await store.acquireSlot({ key: 'k', limit: 1, owner: 'n1/dead', now: Date.now(), leaseMs: 60_000 });
      const limits = new StoreClusterLimits({ store, owner: 'n1/new', ownerPrefix: 'n1/', logger: silentLogger });
      assert.equal(await limits.tryAcquire('k', 1), null, 'held by the dead process');
      await limits.start();
      const hold = await limits.tryAcquire('k', 1);
      assert.ok(hold);
      await hold.release();
      await limits.close();
    } finally {
      await store.close();
    }
  });

  it('paces starts of a key across two owners', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const now = 1_800_000_000_000;
    try {
      const a = new StoreClusterLimits({ store, owner: 'a', logger: silentLogger, now: () => now });
      const b = new StoreClusterLimits({ store, owner: 'b', logger: silentLogger, now: () => now });
      assert.deepEqual([await a.pace('drain', 200), await b.pace('drain', 200), await a.pace('drain', 200)], [0, 200, 400]);
    } finally {
      await store.close();
    }
  });
});

const url = process.env['POSTERN_TEST_PG'];

if (url === undefined || url === '') {
  it('three connection pools on one PostgreSQL store never exceed max_connections_per_host together', (t) => {
    t.skip('POSTERN_TEST_PG not set: cluster-wide connection limits are not tested');
  });
} else {
  let testUrl = '';
  let drop: () => Promise<void> = async () => {};
  before(async () => {
    ({ url: testUrl, drop } = await createTestDatabase(url, 'postern_test'));
  });
  after(() => drop());

  describe('cluster limits on PostgreSQL', () => {
    it('two stores acquiring at once never hand out more than the limit', async () => {
      const stores = await Promise.all([0, 1].map(() => openPostgresStore({ url: testUrl, schema: 'slots', maxConnections: 6 })));
      try {
        const now = Date.now();
        const got = await Promise.all(Array.from({ length: 40 }, (_, i) => (stores[i % 2] as Store).acquireSlot({ key: 'k', limit: 3, owner: `o${i}`, now, leaseMs: 60_000 })));
        const slots = got.filter((g) => g !== null);
        assert.equal(slots.length, 3, 'exactly the limit');
        assert.deepEqual([...slots].sort(), [0, 1, 2]);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('three connection pools on one store never have more than max_connections_per_host open together', async () => {
      const stores = await Promise.all([0, 1, 2].map(() => openPostgresStore({ url: testUrl, schema: 'pools', maxConnections: 4 })));
      const limits = stores.map((store, i) => new StoreClusterLimits({ store, owner: `node${i}/p`, logger: silentLogger }));
      let open = 0;
      let peak = 0;
      let opened = 0;
      const pools = limits.map(
        (cluster) =>
          new ConnectionPool({
            maxPerHost: 2,
            idleMs: 5,
            cluster,
            clusterPollMaxMs: 50,
            connect: async () => {
              open++;
              opened++;
              peak = Math.max(peak, open);
              return fakeSmtpConnection({ onClose: () => open-- });
            },
          }),
      );
      try {
        // 60 "messages" across the three nodes, each holding its connection for a few turns.
        await Promise.all(
          Array.from({ length: 60 }, async (_, i) => {
            const lease = await (pools[i % 3] as ConnectionPool).acquire('192.0.2.9', 25, 'mx');
            await new Promise((r) => setTimeout(r, 2 + (i % 5)));
            lease.release(i % 4 !== 0);
          }),
        );
        assert.ok(peak <= 2, `at most 2 connections at once across the cluster, saw ${peak}`);
        assert.ok(opened >= 2, 'connections were opened');
      } finally {
        await Promise.all(pools.map((p) => p.close()));
        for (const l of limits) await l.close();
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });
}
