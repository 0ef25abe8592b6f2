import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QueueRunner, type QueueRunnerOptions, type RemoteClaim, type RunnerDelivery } from './runner.ts';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecipientOutcome } from './outcome.ts';
import { openSqliteStore } from '../store/sqlite/index.ts';
import type { NewQueuedMessage, QueuedRecipient, Store } from '../store/types.ts';
import { silentLogger } from '../core/logger.ts';
import type { ClusterLimits } from '../core/cluster-limits.ts';

const T0 = 1_900_000_000_000;
const MIN = 60_000;
const text = (b: Uint8Array | null) => (b === null ? '' : new TextDecoder().decode(b));
const message = (id: string, to: string[], more: Partial<NewQueuedMessage> = {}): NewQueuedMessage => ({
  id,
  receivedAt: T0,
  sender: 'alice@sender.test',
  data: new TextEncoder().encode(`Subject: test ${id}\r\nMessage-ID: <${id}@sender.test>\r\n\r\nhello\r\n`),
  source: 'mx',
  recipients: to.map((address) => {
    const domain = address.split('@')[1] ?? '';
    return { address, domain, route: domain === 'local.test' ? 'local' : domain === 'held.test' ? 'backup' : 'remote' };
  }),
  ...more,
});

type Script = (r: QueuedRecipient, route: string) => Omit<RecipientOutcome, 'recipientId'>;
const ok: Script = () => ({ outcome: 'delivered', status: '2.0.0', reply: '250 2.0.0 ok', remoteMta: 'mx.far.test' });
const down: Script = () => ({ outcome: 'temporary', status: '4.4.1', reply: '451 4.4.1 no MX host answered', remoteMta: null });
const refuse: Script = () => ({ outcome: 'failed', status: '5.1.1', reply: '550 5.1.1 no such user', remoteMta: 'mx.far.test' });

describe('QueueRunner', () => {
  let store: Store;
  let now: number;
  let script: Script;
  let calls: Array<{ id: string; route: string; to: string[]; claim?: RemoteClaim }>;
  let runner: QueueRunner;
  let runnerOptions: () => QueueRunnerOptions;
  let ids: number;

  beforeEach(async () => {
    now = T0;
    store = await openSqliteStore({ path: ':memory:', now: () => now });
    script = ok;
    calls = [];
    ids = 0;
    const delivery: RunnerDelivery = {
      local: async (m, _data, rs) => {
        calls.push({ id: m.id, route: 'local', to: rs.map((r) => r.address) });
        return rs.map((r) => ({ recipientId: r.id, ...script(r, 'local') }));
      },
      remote: async (m, _data, _domain, rs, route, claim) => {
        calls.push({ id: m.id, route, to: rs.map((r) => r.address), claim });
        return rs.map((r) => ({ recipientId: r.id, ...script(r, route) }));
      },
      route: async (address) => [{ address, domain: address.split('@')[1] ?? '', route: 'remote' }],
    };
    runnerOptions = () => ({
      store,
      delivery,
      hostname: 'mx.local.test',
      postmaster: 'postmaster@local.test',
      owner: 'test',
      newQueueId: () => `notice${++ids}`,
      logger: silentLogger,
      now: () => now,
      retryScheduleMs: [0, 5 * MIN, 10 * MIN],
      delayWarningMs: 30 * MIN,
      maxAgeMs: 60 * MIN,
      pollIntervalMs: 1000,
      backup: { maxHoldMs: 120 * MIN, probeIntervalMs: MIN, drainConcurrency: 2, drainRate: 1000 },
    });
    runner = new QueueRunner(runnerOptions());
  });
  afterEach(() => store.close());

  it('delivers a message and removes it from the queue', async () => {
    await store.enqueue(message('m1', ['bob@local.test', 'carol@far.test']));
    assert.equal(await runner.runOnce(), 1);
    assert.deepEqual(calls.map((c) => c.route).sort(), ['local', 'remote']);
    assert.equal(await store.getQueued('m1'), null);
  });

  it('gives remote delivery its claim: kept as is while half a lease is left, extended after, refused once taken', async () => {
    await store.enqueue(message('m1', ['carol@far.test']));
    const kept: boolean[] = [];
    const leases: Array<number | null | undefined> = [];
    script = () => ({ outcome: 'temporary', status: '4.4.1', reply: '451 4.4.1 later', remoteMta: null });
    const delivery = runnerOptions().delivery;
    const probing = new QueueRunner({
      ...runnerOptions(),
      delivery: {
        ...delivery,
        remote: async (m, d, domain, rs, route, claim) => {
          assert.equal(claim.deadline, T0 + 30 * MIN, 'claimed at T0 for the default 30 minutes');
          kept.push(await claim.keep());
          now = T0 + 20 * MIN; // waited for a connection: less than half the lease left
          kept.push(await claim.keep());
          leases.push((await store.getQueued('m1'))?.recipients[0]?.leaseUntil);
          // Another node takes it (as if our extended lease had run out) before our next try.
          await store.extendLeases({ owner: 'test', recipientIds: rs.map((r) => r.id), from: T0 + 50 * MIN, until: now });
          assert.equal((await store.claimDue({ now, limit: 1, owner: 'elsewhere', leaseMs: MIN })).length, 1);
          now = T0 + 36 * MIN;
          kept.push(await claim.keep());
          return delivery.remote(m, d, domain, rs, route, claim);
        },
      },
    });
    await probing.runOnce();
    assert.deepEqual(kept, [true, true, false]);
    assert.deepEqual(leases, [T0 + 50 * MIN], 'extended to a full lease from then');
  });

  it('sends once when its own runner claims a message again while the first attempt still waits for a connection', async () => {
    await store.enqueue(message('m1', ['carol@far.test']));
    const gates: Array<() => void> = [];
    const keeps: boolean[] = [];
    const delivery = runnerOptions().delivery;
    const twice = new QueueRunner({
      ...runnerOptions(),
      leaseMs: MIN,
      delivery: {
        ...delivery,
        remote: async (m, d, domain, rs, route, claim) => {
          await new Promise<void>((r) => gates.push(r)); // waiting for a connection
          const kept = await claim.keep();
          keeps.push(kept);
          if (!kept) return rs.map((r) => ({ recipientId: r.id, outcome: 'temporary' as const, status: '4.4.5', reply: '451 4.4.5 claim gone', remoteMta: null, abandoned: true }));
          return delivery.remote(m, d, domain, rs, route, claim);
        },
      },
    });
    const first = twice.runOnce();
    while (gates.length < 1) await new Promise((r) => setTimeout(r, 5));
    now = T0 + 2 * MIN; // the first claim ran out: the same runner claims the message again
    const second = twice.runOnce();
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 5));
    gates[0]?.();
    while (keeps.length < 1) await new Promise((r) => setTimeout(r, 5));
    gates[1]?.();
    await Promise.all([first, second]);
    assert.deepEqual(keeps, [false, true], 'the older attempt gives up: its claim is not the current one');
    assert.equal(calls.filter((c) => c.id === 'm1').length, 1, 'sent once');
    assert.equal(await store.getQueued('m1'), null);
  });

  it('records nothing for an attempt abandoned because its claim ran out', async () => {
    await store.enqueue(message('m1', ['carol@far.test']));
    script = () => ({ outcome: 'temporary', status: '4.4.5', reply: '451 4.4.5 claim ran out', remoteMta: null, abandoned: true });
    assert.equal(await runner.runOnce(), 1);
    const r = (await store.getQueued('m1'))?.recipients[0];
    assert.equal(r?.state, 'queued');
    assert.equal(r?.attempts, 0, 'no attempt counted');
    assert.equal(r?.lastReply, null);
    assert.equal(r?.leaseUntil, T0 + 30 * MIN, 'left claimed until the lease ends, then free for anyone');
    now = T0 + 30 * MIN;
    script = ok;
    assert.equal(await runner.runOnce(), 1, 'claimed again once the lease ran out');
    assert.equal(await store.getQueued('m1'), null);
  });

  it('fails every recipient of a message whose body is lost, and bounces to the sender, rather than retry it forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-runner-blobs-'));
    const withFiles = await openSqliteStore({ path: ':memory:', now: () => now, blobs: { dir } });
    try {
      const lost = new QueueRunner({ ...runnerOptions(), store: withFiles });
      await withFiles.enqueue(message('m1', ['carol@far.test', 'dan@far.test']));
      for (const a of readdirSync(dir).filter((n) => /^[0-9a-f]{2}$/.test(n))) rmSync(join(dir, a), { recursive: true });
      assert.equal(await lost.runOnce(), 1);
      assert.deepEqual(calls, [], 'nothing was sent');
      assert.equal(await withFiles.getQueued('m1'), null, 'the message left the queue');
      const bounce = (await withFiles.listQueue()).find((m) => m.sender === '');
      assert.deepEqual(bounce?.recipients.map((r) => r.address), ['alice@sender.test']);
      assert.match(text(await withFiles.readQueuedData(bounce?.id ?? '')), /554 5\.3\.0 the message's body was lost on this server/);
    } finally {
      await withFiles.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retries a temporary failure on the schedule, then bounces it to the sender when it expires', async () => {
    script = down;
    await store.enqueue(message('m1', ['carol@far.test']));
    await runner.runOnce();
    const r1 = (await store.getQueued('m1'))?.recipients[0];
    assert.equal(r1?.state, 'queued');
    assert.equal(r1?.nextAttemptAt, T0 + 5 * MIN, 'the second wait of the schedule');
    now = T0 + 4 * MIN;
    assert.equal(await runner.runOnce(), 0, 'nothing is due before the next attempt');
    now = T0 + 5 * MIN;
    await runner.runOnce();
    assert.equal((await store.getQueued('m1'))?.recipients[0]?.nextAttemptAt, T0 + 15 * MIN);
    for (now = T0 + 15 * MIN; now <= T0 + 60 * MIN; now += 10 * MIN) await runner.runOnce();
    now = T0 + 60 * MIN;
    await runner.runOnce();
    assert.equal(await store.getQueued('m1'), null, 'expired: failed and removed');
    const bounce = await store.getQueued('notice2');
    assert.ok(bounce, 'a bounce was queued');
    assert.equal(bounce.sender, '');
    assert.deepEqual(bounce.recipients.map((r) => r.address), ['alice@sender.test']);
    const dsn = text(await store.readQueuedData('notice2'));
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 4\.4\.7/);
    assert.match(dsn, /Diagnostic-Code: smtp; 451 4\.4\.1 no MX host answered/);
  });

  it('sends one delay notice once the message has waited delay_warning', async () => {
    script = down;
    await store.enqueue(message('m1', ['carol@far.test']));
    for (now = T0; now < T0 + 50 * MIN; now += 5 * MIN) await runner.runOnce();
    const notices = (await store.listQueue()).filter((m) => m.source === 'dsn');
    assert.equal(notices.length, 1);
    assert.match(text(await store.readQueuedData(notices[0]?.id ?? '')), /Action: delayed/);
  });

  it('bounces a permanent failure at once, and only the failed recipient', async () => {
    script = (r) => (r.address.startsWith('bad') ? refuse(r, '') : ok(r, ''));
    await store.enqueue(message('m1', ['bad@far.test', 'good@far.test']));
    await runner.runOnce();
    const notices = (await store.listQueue()).filter((m) => m.source === 'dsn');
    assert.equal(notices.length, 1);
    const dsn = text(await store.readQueuedData(notices[0]?.id ?? ''));
    assert.match(dsn, /Final-Recipient: rfc822; ?bad@far\.test/);
    assert.doesNotMatch(dsn, /good@far\.test/);
  });

  it('sends no notice when NOTIFY=NEVER', async () => {
    script = refuse;
    await store.enqueue(message('m1', ['bad@far.test'], { recipients: [{ address: 'bad@far.test', domain: 'far.test', route: 'remote', notify: ['NEVER'] }] }));
    await runner.runOnce();
    assert.deepEqual((await store.listQueue()).filter((m) => m.source === 'dsn'), []);
  });

  it('sends a failed bounce to the postmaster, and never a notice about that one', async () => {
    script = refuse;
    await store.enqueue(message('b1', ['alice@far.test'], { sender: '', source: 'dsn' }));
    await runner.runOnce();
    const toPostmaster = (await store.listQueue()).filter((m) => m.source === 'dsn' && m.id !== 'b1');
    assert.deepEqual(toPostmaster.flatMap((m) => m.recipients.map((r) => r.address)), ['postmaster@local.test']);
    // That notice fails too: it is dropped, not bounced again.
    await runner.runOnce();
    assert.deepEqual(await store.listQueue(), []);
  });

  it('holds backup mail while the primary is down without a connection per message, then drains it all when it answers', async () => {
    script = down;
    for (let i = 0; i < 5; i++) await store.enqueue(message(`h${i}`, [`u${i}@held.test`], { receivedAt: T0 + i }));
    await runner.runOnce();
    const probes = calls.length;
    assert.ok(probes >= 1 && probes <= 2, `at most drain_concurrency probes at once, got ${probes}`);
    assert.equal(calls[0]?.id, 'h0', 'oldest first');
    now = T0 + 10;
    while ((await runner.runOnce()) > 0) {
      /* the others are claimed and put back without connecting */
    }
    assert.equal(calls.length, probes, 'no connection while the domain is down');
    script = ok;
    now = T0 + MIN + 5;
    while ((await runner.runOnce()) > 0) {
      /* drain */
    }
    assert.deepEqual(calls.map((c) => c.id).slice(probes), ['h0', 'h1', 'h2', 'h3', 'h4'], 'every held message, oldest first, once');
    assert.deepEqual(await store.listQueue(), []);
  });

  it('keeps backup mail for max_hold, not max_age', async () => {
    script = down;
    await store.enqueue(message('h1', ['u@held.test']));
    now = T0 + 90 * MIN;
    await runner.runOnce();
    assert.equal((await store.getQueued('h1'))?.recipients[0]?.state, 'queued', 'past max_age, within max_hold');
    now = T0 + 121 * MIN;
    await runner.runOnce();
    now += 2 * MIN;
    await runner.runOnce();
    assert.equal(await store.getQueued('h1'), null);
  });
});

/** Slots and pacing shared by several runners in memory, as the store shares them between nodes. */
function sharedCluster() {
  const held = new Map<string, number>();
  const state = { paced: [] as Array<{ key: string; intervalMs: number }>, failAcquire: false, failPace: false, held, acquires: 0 };
  const cluster: ClusterLimits = {
    async tryAcquire(key, limit) {
      state.acquires++;
      if (state.failAcquire) throw new Error('database unreachable');
      const n = held.get(key) ?? 0;
      if (n >= limit) return null;
      held.set(key, n + 1);
      let done = false;
      return {
        release: async () => {
          if (done) return;
          done = true;
          held.set(key, (held.get(key) ?? 1) - 1);
        },
      };
    },
    async pace(key, intervalMs) {
      if (state.failPace) throw new Error('database unreachable');
      state.paced.push({ key, intervalMs });
      return 0;
    },
  };
  return { cluster, state };
}

describe('QueueRunner with cluster limits', () => {
  let store: Store;
  const now = T0 + 1000;
  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:', now: () => now });
  });
  afterEach(() => store.close());

  function runnerOn(owner: string, cluster: ClusterLimits, remote: RunnerDelivery['remote']): QueueRunner {
    return new QueueRunner({
      store,
      delivery: { local: async () => [], remote, route: async () => null },
      hostname: 'mx.local.test',
      postmaster: 'postmaster@local.test',
      owner,
      newQueueId: () => `${owner}-notice`,
      logger: silentLogger,
      now: () => now,
      retryScheduleMs: [0, 5 * MIN],
      delayWarningMs: 30 * MIN,
      maxAgeMs: 60 * MIN,
      pollIntervalMs: 1000,
      backup: { maxHoldMs: 120 * MIN, probeIntervalMs: MIN, drainConcurrency: 2, drainRate: 50 },
      cluster,
    });
  }

  it('drains backup mail from three runners at most drain_concurrency at once together, paced through the cluster', async () => {
    const { cluster, state } = sharedCluster();
    for (let i = 0; i < 9; i++) await store.enqueue(message(`h${i}`, [`u${i}@held.test`], { receivedAt: T0 + i }));
    let inFlight = 0;
    let peak = 0;
    const order: string[] = [];
    const remote: RunnerDelivery['remote'] = async (m, _d, _domain, rs) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      order.push(m.id);
      // Held across a few turns, so the other runners claim meanwhile.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      inFlight--;
      return rs.map((r) => ({ recipientId: r.id, ...ok(r, 'backup') }));
    };
    const runners = ['n1/a', 'n2/a', 'n3/a'].map((o) => runnerOn(o, cluster, remote));
    for (let round = 0; round < 50 && (await store.listQueue()).length > 0; round++) {
      await Promise.all(runners.map((r) => r.runOnce()));
    }
    assert.deepEqual(await store.listQueue(), [], 'all delivered');
    assert.equal(order.length, 9, 'each once');
    assert.ok(peak <= 2, `at most 2 forwards at once across the runners, saw ${peak}`);
    assert.equal(state.held.get('backup-drain'), 0, 'every drain slot given back');
    assert.equal(state.paced.length, 9, 'every forward reserved its start with the cluster');
    assert.ok(state.paced.every((p) => p.key === 'backup-drain' && p.intervalMs === 20), 'spaced 1/drain_rate apart');
  });

  it('asks for no drain slot while no backup mail is due', async () => {
    const { cluster, state } = sharedCluster();
    await store.enqueue(message('r1', ['x@far.test']));
    await store.enqueue(message('h1', ['u@held.test'], { firstAttemptAt: T0 + MIN }));
    const runner = runnerOn('n1/a', cluster, async (_m, _d, _domain, rs) => rs.map((r) => ({ recipientId: r.id, ...ok(r, 'remote') })));
    await runner.runOnce();
    assert.equal(state.acquires, 0);
  });

  it('keeps held mail queued when the store cannot give a drain slot or a start time', async () => {
    const { cluster, state } = sharedCluster();
    await store.enqueue(message('h1', ['u@held.test']));
    let forwards = 0;
    const runner = runnerOn('n1/a', cluster, async (_m, _d, _domain, rs) => (forwards++, rs.map((r) => ({ recipientId: r.id, ...ok(r, 'backup') }))));
    state.failAcquire = true;
    await assert.rejects(runner.runOnce(), /database unreachable/);
    assert.equal((await store.getQueued('h1'))?.recipients[0]?.leaseOwner, null, 'not claimed without a slot');
    state.failAcquire = false;
    state.failPace = true;
    await runner.runOnce();
    assert.equal(forwards, 0, 'not sent unpaced');
    const r = (await store.getQueued('h1'))?.recipients[0];
    assert.equal(r?.state, 'queued', 'still held, to be tried again');
    assert.match(r?.lastReply ?? '', /^451 4\.3\.0 delivery error: could not reserve the next backup-drain start in the store: database unreachable/);
    assert.equal(state.held.get('backup-drain'), 0);
  });
});
