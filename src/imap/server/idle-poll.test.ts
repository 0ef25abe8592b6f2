import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../core/logger.ts';
import { openSqliteStore } from '../../store/sqlite/open.ts';
import type { MailboxStatus } from '../../store/types.ts';
import { createIdlePoller, type IdleWatch } from './idle-poll.ts';
import { withSharedReads } from './shared-reads.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('IDLE poll shared by the sessions', () => {
  it('asks the store once per mailbox per interval and wakes only the sessions behind it', async () => {
    const asked: string[] = [];
    const highest = new Map([['a@x.test\0INBOX', 7], ['b@x.test\0INBOX', 3]]);
    const store = {
      async getMailboxStatus(ref: { address: string; mailbox?: string }) {
        const key = `${ref.address}\0${ref.mailbox ?? 'INBOX'}`;
        asked.push(key);
        const h = highest.get(key);
        return h === undefined ? null : ({ highestModseq: h } as unknown as MailboxStatus);
      },
    };
    const poller = createIdlePoller(store, 20, silentLogger);
    const woken: string[] = [];
    const watch = (name: string, address: string, modseq: number, mailbox = 'INBOX'): IdleWatch => ({
      address,
      mailbox: () => mailbox,
      modseq: () => modseq,
      wake: () => woken.push(name),
    });
    const behind = watch('behind', 'a@x.test', 5);
    poller.add(behind);
    poller.add(watch('current', 'a@x.test', 7));
    poller.add(watch('other', 'b@x.test', 3));
    poller.add(watch('gone', 'c@x.test', 1, 'Deleted'));
    await tick(30);
    poller.close();
    const rounds = asked.filter((k) => k === 'a@x.test\0INBOX').length;
    assert.ok(rounds >= 1);
    // One question per mailbox per round, however many sessions watch it.
    assert.equal(asked.length, rounds * 3);
    assert.deepEqual([...new Set(woken)].sort(), ['behind', 'gone'], 'a session behind, and one whose mailbox is gone');
    const after = asked.length;
    await tick(50);
    assert.equal(asked.length, after, 'closed: no more questions');
  });

  it('stops its timer when the last session leaves IDLE', async () => {
    let asked = 0;
    const poller = createIdlePoller({ getMailboxStatus: async () => (asked++, null) }, 10, silentLogger);
    const w: IdleWatch = { address: 'a@x.test', mailbox: () => 'INBOX', modseq: () => 0, wake: () => {} };
    poller.add(w);
    await tick(25);
    poller.delete(w);
    const seen = asked;
    assert.ok(seen >= 1);
    await tick(40);
    assert.equal(asked, seen);
  });
});

describe('shared reads for sessions woken together', () => {
  it('gives concurrent identical change queries one answer, and \\Recent to only the first claimer', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      await store.createAccount({ address: 'a@x.test' });
      for (let i = 0; i < 3; i++) await store.append({ address: 'a@x.test', data: new TextEncoder().encode(`m${i}`), internalDate: i });
      let changeQueries = 0;
      let hold: Promise<void> | null = null;
      const counting = new Proxy(store, {
        get(t, p, r) {
          if (p === 'mailboxChanges') {
            return async (ref: Parameters<typeof store.mailboxChanges>[0]) => {
              changeQueries++;
              const gate = hold;
              const answer = await t.mailboxChanges(ref);
              if (gate !== null) await gate;
              return answer;
            };
          }
          const v: unknown = Reflect.get(t, p, r);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      });
      const { store: shared, stop } = withSharedReads(counting);
      const answers = await Promise.all(Array.from({ length: 10 }, () => shared.mailboxChanges({ address: 'a@x.test', since: 0 })));
      assert.equal(changeQueries, 1);
      assert.ok(answers.every((a) => a === answers[0]));
      const marks = await Promise.all(Array.from({ length: 5 }, () => shared.claimRecent({ address: 'a@x.test', upTo: 3 })));
      assert.equal(marks.filter((m) => m !== null && m < 3).length, 1, 'one session sees the three messages as recent');
      assert.ok(marks.every((m) => m !== null));
      // Other calls reach the store unchanged.
      assert.equal(await shared.countMessages({ address: 'a@x.test' }), 3);
      // A caller that saw a newer change (its own APPEND) does not join a request read before it:
      // the first read is held in flight (answered with what it read) until the second is made.
      changeQueries = 0;
      let release: () => void = () => {};
      const held = new Promise<void>((r) => (release = r));
      hold = held;
      const before = shared.mailboxChanges({ address: 'a@x.test', since: 0 });
      await store.append({ address: 'A@x.test', data: new TextEncoder().encode('m3'), internalDate: 3 });
      hold = null;
      const after = shared.mailboxChanges({ address: 'a@x.test', since: 0 });
      release();
      assert.equal((await before)?.changed.length, 3, 'read before the append');
      assert.equal((await after)?.changed.length, 4, 'the later caller reads again and sees the fourth message');
      assert.equal(changeQueries, 2);
      stop();
    } finally {
      await store.close();
    }
  });
});
