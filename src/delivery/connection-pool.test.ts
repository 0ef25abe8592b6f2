import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool, PoolWaitExpired } from './connection-pool.ts';
import { fakeSmtpConnection, type FakeSmtpConnection } from '../../test/helpers/fake-smtp-connection.ts';
import type { ClusterLimits } from '../core/cluster-limits.ts';

const fakeConnection = (): FakeSmtpConnection => fakeSmtpConnection();

describe('ConnectionPool', () => {
  it('opens at most max_connections_per_host to one address, and hands a released connection to the next', async () => {
    let opened = 0;
    const pool = new ConnectionPool({ connect: async () => (opened++, fakeConnection()), maxPerHost: 2, idleMs: 1000 });
    const a = await pool.acquire('127.0.0.1', 25, 'mx');
    const b = await pool.acquire('127.0.0.1', 25, 'mx');
    let third = false;
    const c = pool.acquire('127.0.0.1', 25, 'mx').then((l) => ((third = true), l));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(third, false, 'the third waits');
    a.release(true);
    const lease = await c;
    assert.equal(lease.connection, a.connection, 'reused, not reopened');
    assert.equal(opened, 2);
    const other = await pool.acquire('127.0.0.2', 25, 'mx2');
    assert.equal(opened, 3, 'another address has its own limit');
    b.release(false);
    lease.release(true);
    other.release(true);
    await pool.close();
  });

  it('closes an idle connection after idleMs and frees its slot', async () => {
    const made: Array<ReturnType<typeof fakeConnection>> = [];
    const pool = new ConnectionPool({ connect: async () => { const c = fakeConnection(); made.push(c); return c; }, maxPerHost: 1, idleMs: 20 });
    (await pool.acquire('127.0.0.1', 25, 'mx')).release(true);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(made[0]?.closed, true);
    const again = await pool.acquire('127.0.0.1', 25, 'mx');
    assert.equal(made.length, 2, 'a fresh connection after the idle one closed');
    again.release(false);
    await pool.close();
  });

  it('frees the slot when connecting fails', async () => {
    let fail = true;
    const pool = new ConnectionPool({ connect: async () => { if (fail) throw new Error('refused'); return fakeConnection(); }, maxPerHost: 1, idleMs: 10 });
    await assert.rejects(pool.acquire('127.0.0.1', 25, 'mx'), /refused/);
    fail = false;
    (await pool.acquire('127.0.0.1', 25, 'mx')).release(false);
    await pool.close();
  });
});

/** Cluster slots in memory: what other nodes hold is `taken`; `fail` makes the next ask throw. */
function fakeCluster(limit: number) {
  const held = new Set<number>();
  const state = { taken: 0, asks: 0, fail: false, held };
  const cluster: ClusterLimits = {
    async tryAcquire(_key, max) {
      state.asks++;
      if (state.fail) throw new Error('connection to the database lost');
      for (let slot = 0; slot < Math.min(max, limit) - state.taken; slot++) {
        if (held.has(slot)) continue;
        held.add(slot);
        let done = false;
        return {
          release: async () => {
            if (!done) held.delete(slot);
            done = true;
          },
        };
      }
      return null;
    },
    pace: async () => 0,
  };
  return { cluster, state };
}

describe('ConnectionPool with cluster limits', () => {
  it('opens a connection only with a cluster slot, keeps the slot while the connection idles, and frees it on close', async () => {
    const { cluster, state } = fakeCluster(2);
    const made: Array<ReturnType<typeof fakeConnection>> = [];
    const pool = new ConnectionPool({ connect: async () => { const c = fakeConnection(); made.push(c); return c; }, maxPerHost: 2, idleMs: 30, cluster, clusterPollMaxMs: 20 });
    state.taken = 1; // another node holds one of the two
    const a = await pool.acquire('127.0.0.1', 25, 'mx');
    assert.equal(state.held.size, 1);
    let second = false;
    const b = pool.acquire('127.0.0.1', 25, 'mx').then((l) => ((second = true), l));
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(second, false, 'waits while the other node holds its slot');
    assert.ok(state.asks >= 3, 'and asks again on its own');
    state.taken = 0; // the other node let go
    const lb = await b;
    assert.equal(made.length, 2);
    a.release(true);
    assert.equal(state.held.size, 2, 'an idle connection keeps its slot');
    lb.release(false);
    assert.equal(made[1]?.closed, true);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(made[0]?.closed, true, 'the idle one closed after idleMs');
    assert.equal(state.held.size, 0, 'both slots given back');
    await pool.close();
  });

  it('hands a waiter an idle connection of ours rather than ask for a second slot', async () => {
    const { cluster, state } = fakeCluster(1);
    const pool = new ConnectionPool({ connect: async () => fakeConnection(), maxPerHost: 2, idleMs: 1000, cluster, clusterPollMaxMs: 60_000 });
    const a = await pool.acquire('127.0.0.1', 25, 'mx');
    const b = pool.acquire('127.0.0.1', 25, 'mx');
    await new Promise((r) => setTimeout(r, 10));
    a.release(true);
    const lb = await b;
    assert.equal(lb.connection, a.connection, 'the idle connection, not a second slot');
    lb.release(false);
    await new Promise((r) => setTimeout(r, 5)); // the slot goes back once the connection closed
    assert.equal(state.held.size, 0);
    await pool.close();
  });

  it('wakes a waiter parked on the local limit when another waiter takes an idle connection instead of its place', async () => {
    const { cluster, state } = fakeCluster(2);
    state.taken = 1; // another node holds one of the two slots
    const pool = new ConnectionPool({ connect: async () => fakeConnection(), maxPerHost: 2, idleMs: 10_000, cluster, clusterPollMaxMs: 20 });
    const first = await pool.acquire('127.0.0.1', 25, 'mx');
    // Holds the second local place while it polls for a cluster slot.
    const polling = pool.acquire('127.0.0.1', 25, 'mx');
    await new Promise((r) => setTimeout(r, 10));
    // Parked on the local limit: only a wake-up makes it look again.
    let parkedDone = false;
    const parked = pool.acquire('127.0.0.1', 25, 'mx').then((l) => ((parkedDone = true), l));
    await new Promise((r) => setTimeout(r, 10));
    first.release(true);
    const reused = await polling;
    assert.equal(reused.connection, first.connection, 'the poller took the idle connection');
    state.taken = 0; // the other node let go: the parked waiter can now have a slot of its own
    const until = Date.now() + 5000;
    while (!parkedDone && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(parkedDone, true, 'the parked waiter was woken and got a connection while the first lease is still out');
    (await parked).release(false);
    reused.release(false);
    await pool.close();
  });

  it('gives a cluster slot back only once its connection has closed (QUIT answered)', async () => {
    const { cluster, state } = fakeCluster(1);
    let finishClose: () => void = () => {};
    const slowClose = fakeConnection();
    slowClose.close = () => {
      slowClose.closed = true;
      return new Promise<void>((resolve) => (finishClose = resolve));
    };
    const pool = new ConnectionPool({ connect: async () => slowClose, maxPerHost: 1, idleMs: 10_000, cluster });
    (await pool.acquire('127.0.0.1', 25, 'mx')).release(false);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(state.held.size, 1, 'still held while the connection says QUIT');
    finishClose();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(state.held.size, 0, 'given back once closed');
    await pool.close();
  });

  it('fails the acquire when the store cannot be asked, and frees its local place', async () => {
    const { cluster, state } = fakeCluster(1);
    const pool = new ConnectionPool({ connect: async () => fakeConnection(), maxPerHost: 1, idleMs: 10, cluster });
    state.fail = true;
    await assert.rejects(pool.acquire('127.0.0.1', 25, 'mx'), /no connection slot for 127\.0\.0\.1 port 25: could not ask the store \(connection to the database lost\)/);
    state.fail = false;
    (await pool.acquire('127.0.0.1', 25, 'mx')).release(false);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(state.held.size, 0);
    await pool.close();
  });

  it('stops waiting for a cluster slot at `until`, freeing its local place', async () => {
    const { cluster, state } = fakeCluster(1);
    state.taken = 1;
    const pool = new ConnectionPool({ connect: async () => fakeConnection(), maxPerHost: 1, idleMs: 10, cluster, clusterPollMaxMs: 20 });
    await assert.rejects(pool.acquire('127.0.0.1', 25, 'mx', { until: Date.now() + 60 }), PoolWaitExpired);
    state.taken = 0;
    (await pool.acquire('127.0.0.1', 25, 'mx', { until: Date.now() + 60 })).release(false);
    await pool.close();
  });

  it('stops a waiter for a cluster slot when the pool closes', async () => {
    const { cluster, state } = fakeCluster(1);
    state.taken = 1;
    const pool = new ConnectionPool({ connect: async () => fakeConnection(), maxPerHost: 1, idleMs: 10, cluster, clusterPollMaxMs: 60_000 });
    const waiting = pool.acquire('127.0.0.1', 25, 'mx');
    await new Promise((r) => setTimeout(r, 10));
    await pool.close();
    await assert.rejects(waiting, /closed/);
  });
});
