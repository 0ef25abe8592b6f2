/**
 * Work claimed by another node that then died is taken over once its lease ends (queue.lease),
 * not before, and delivered once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, inboxSubjects, startNode, type LabNode } from './helpers/lab.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

describe('queue leases across nodes', () => {
  let node: LabNode;
  before(async () => {
    node = await startNode({ hostname: 'mx.domain.test', address: '127.0.92.1', domains: [['domain.test', 'primary']], accounts: ['user@domain.test'], config: { queue: { lease: '300ms' } } }, '127.0.0.1:53');
  });
  after(async () => {
    await node?.postern.stop();
  });

  it('delivers work a dead node had claimed only after the lease ends', async () => {
    const store = node.postern.store;
    // Queued as sendmail would, and claimed at once by a node that dies before it reports back.
    await store.enqueue({ id: 'orphan1', receivedAt: Date.now(), sender: 'a@sender.test', data: new TextEncoder().encode('Subject: orphan\r\n\r\nx\r\n'), source: 'local', recipients: [{ address: 'user@domain.test', domain: 'domain.test', route: 'local' }], firstAttemptAt: Date.now() + 60_000 });
    await store.retry({ id: 'orphan1' }, Date.now());
    const claimed = await store.claimDue({ now: Date.now(), limit: 10, owner: 'other.domain.test/4242.dead', leaseMs: 1500 });
    assert.deepEqual(claimed.map((m) => m.id), ['orphan1']);
    const leasedUntil = Date.now() + 1500;
    node.postern.kickQueue();
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await inboxSubjects(node, 'user@domain.test'), [], 'not taken while the other node holds the lease');
    await eventually(async () => (await inboxSubjects(node, 'user@domain.test')).includes('orphan'), 15_000, 'taken over after the lease');
    assert.ok(Date.now() >= leasedUntil - 50, 'not before the lease ended');
    assert.deepEqual(await inboxSubjects(node, 'user@domain.test'), ['orphan'], 'delivered once');
  });
});
