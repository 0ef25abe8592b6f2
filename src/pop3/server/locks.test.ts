import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterLimits } from '../../core/cluster-limits.ts';
import { MailboxLocks } from './locks.ts';

/** One lock table in memory, shared as the store shares it between nodes. */
function sharedTable(): { cluster: ClusterLimits; held: Set<string>; fail: { on: boolean } } {
  const held = new Set<string>();
  const fail = { on: false };
  return {
    held,
    fail,
    cluster: {
      async tryAcquire(key) {
        if (fail.on) throw new Error('database unreachable');
        if (held.has(key)) return null;
        held.add(key);
        return { release: async () => void held.delete(key) };
      },
      pace: async () => 0,
    },
  };
}

describe('MailboxLocks with the cluster', () => {
  it('refuses a maildrop locked on another node, by its lower-case address, until released', async () => {
    const t = sharedTable();
    const node1 = new MailboxLocks({ cluster: t.cluster });
    const node2 = new MailboxLocks({ cluster: t.cluster });
    const release = await node1.acquire('Alice@Example.test');
    assert.ok(release);
    assert.deepEqual([...t.held], ['pop3:alice@example.test']);
    assert.equal(await node2.acquire('alice@example.test'), null);
    assert.equal(node2.isLocked('alice@example.test'), false, 'a refused attempt leaves nothing behind');
    release();
    release();
    await new Promise((r) => setImmediate(r));
    const again = await node2.acquire('alice@example.test');
    assert.ok(again);
    again();
  });

  it('rejects when the lock table cannot be asked, holding nothing', async () => {
    const t = sharedTable();
    const locks = new MailboxLocks({ cluster: t.cluster });
    t.fail.on = true;
    await assert.rejects(locks.acquire('a@x.test'), /database unreachable/);
    assert.equal(locks.isLocked('a@x.test'), false);
    t.fail.on = false;
    assert.ok(await locks.acquire('a@x.test'));
  });
});
