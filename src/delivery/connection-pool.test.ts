import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool } from './connection-pool.ts';
import type { SmtpConnection } from '../smtp/client/index.ts';

function fakeConnection(): SmtpConnection & { closed: boolean } {
  const c = {
    closed: false,
    capabilities: {} as SmtpConnection['capabilities'],
    tls: false,
    tlsFailure: null,
    greeting: { code: 220, enhanced: null, lines: ['hi'] },
    esmtp: true,
    get open() {
      return !c.closed;
    },
    send: () => Promise.reject(new Error('unused')),
    verify: () => Promise.reject(new Error('unused')),
    close: async () => {
      c.closed = true;
    },
  };
  return c;
}

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
