/**
 * scenarios/1-priority: MX 10 mail1, MX 20 mail2. Mail goes to mail1; with mail1 down (refused, or
 * a listener that never answers) to mail2, which holds it as backup MX and forwards it when mail1
 * returns; with both down the sender queues and retries until one answers. Nothing is lost.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scenarioDns } from './helpers/postern.ts';
import { eventually, inboxSubjects, restartNode, send, silentListener, startNode, type LabNode } from './helpers/lab.ts';
import type { RunningPostern } from '../src/main.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const USER = 'user@domain.test';

describe('scenario 1-priority, end to end', () => {
  let dns: RunningPostern;
  let resolver: string;
  let sender: LabNode;
  let mail1: LabNode;
  let mail2: LabNode;

  before(async () => {
    ({ postern: dns, resolver } = await scenarioDns('1-priority'));
    sender = await startNode({ hostname: 'sender.test' }, resolver);
    mail1 = await startNode({ hostname: 'mail1.domain.test', address: '127.0.1.1', domains: [['domain.test', 'primary']], accounts: [USER] }, resolver);
    mail2 = await startNode({ hostname: 'mail2.domain.test', address: '127.0.1.2', domains: [['domain.test', 'backup']], backupRecipients: [USER] }, resolver);
  });
  after(async () => {
    for (const n of [sender, mail1, mail2]) await n?.postern.stop();
    await dns?.stop();
  });

  it('delivers to mail1, the most preferred host', async () => {
    await send(sender, USER, 'first');
    await eventually(async () => (await inboxSubjects(mail1, USER)).includes('first'), 15_000, 'first in mail1');
    assert.deepEqual(await mail2.postern.store.listQueue(), [], 'mail2 saw nothing');
  });

  it('with mail1 refusing connections, mail2 takes the mail and holds it until mail1 returns', async () => {
    await mail1.postern.stop();
    await send(sender, USER, 'second');
    // Held at mail2, and the sender has recorded the hand-over (its outcome is written after mail2's 250).
    const held = await eventually(async () => {
      const q = await mail2.postern.store.listQueue();
      return q.length === 1 && (await sender.postern.store.listQueue()).length === 0 ? q : null;
    }, 15_000, 'the message held at mail2 and gone from the sender');
    assert.equal(held[0]?.recipients[0]?.route, 'backup');
    mail1 = await restartNode(mail1, resolver);
    await eventually(async () => (await inboxSubjects(mail1, USER)).includes('second'), 15_000, 'second forwarded to mail1');
    await eventually(async () => (await mail2.postern.store.listQueue()).length === 0, 5000, 'mail2 queue drained');
    assert.deepEqual(await inboxSubjects(mail1, USER), ['first', 'second']);
  });

  it('with mail1 accepting connections but never answering, mail2 takes the mail', async () => {
    await mail1.postern.stop();
    const hang = await silentListener('127.0.1.1');
    try {
      await send(sender, USER, 'third');
      await eventually(async () => (await mail2.postern.store.listQueue()).length === 1, 15_000, 'the message held at mail2');
    } finally {
      await hang.close();
    }
    mail1 = await restartNode(mail1, resolver);
    await eventually(async () => (await inboxSubjects(mail1, USER)).includes('third'), 15_000, 'third forwarded to mail1');
  });

  it('with both down, the sender keeps the mail and delivers it once one returns', async () => {
    await mail1.postern.stop();
    await mail2.postern.stop();
    await send(sender, USER, 'fourth');
    const queued = await eventually(async () => {
      const q = await sender.postern.store.listQueue();
      return q[0] !== undefined && q[0].recipients[0]!.attempts >= 2 ? q : null;
    }, 15_000, 'two attempts at the sender');
    assert.match(queued[0]?.recipients[0]?.lastReply ?? '', /^451 4\.4\.1 no MX host of domain\.test answered/);
    mail1 = await restartNode(mail1, resolver);
    mail2 = await restartNode(mail2, resolver);
    await eventually(async () => (await inboxSubjects(mail1, USER)).includes('fourth'), 15_000, 'fourth delivered');
    await eventually(async () => (await sender.postern.store.listQueue()).length === 0 && (await mail2.postern.store.listQueue()).length === 0, 10_000, 'all queues empty');
    assert.deepEqual(await inboxSubjects(mail1, USER), ['first', 'second', 'third', 'fourth'], 'every message once, none lost');
  });
});
