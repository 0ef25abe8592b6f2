/**
 * `postern queue list|show|retry|delete|hold|release` over messages that `postern sendmail` queued,
 * with a delivery attempt recorded the way a delivery worker records it (claim, then result).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { QueueMessageJson } from '../src/cli/queue.ts';
import { loadConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/core/logger.ts';
import { openConfiguredStore } from '../src/main.ts';
import type { Store } from '../src/store/types.ts';
import { runCommand, tempDir, writeConfig, type CommandResult } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

async function node() {
  const dir = tempDir('cli-queue');
  const config = writeConfig(
    `hostname = "mx.example.test"\ndata_dir = ${JSON.stringify(join(dir, 'data'))}\n[log]\nlevel = "silent"\n[[domain]]\nname = "example.test"\nrole = "primary"\n`,
    dir,
  );
  const run = (args: string[], stdin?: string): Promise<CommandResult> => runCommand([...args, '-c', config], {}, stdin);
  assert.equal((await run(['account', 'add', 'bob@example.test', '--password', 'pw'])).status, 0);
  const withStore = async <T>(f: (store: Store) => Promise<T>): Promise<T> => {
    const store = await openConfiguredStore(loadConfig(config), silentLogger);
    try {
      return await f(store);
    } finally {
      await store.close();
    }
  };
  return {
    run,
    withStore,
    async send(recipients: string[], message = 'Subject: queued\nFrom: alice@example.test\n\nbody text\n'): Promise<string> {
      const r = await run(['sendmail', '-v', '-f', 'alice@example.test', ...recipients], message);
      assert.equal(r.status, 0, r.stderr);
      return /^queued as (\S+)$/m.exec(r.stdout)?.[1] ?? '';
    },
    async list(): Promise<QueueMessageJson[]> {
      const r = await run(['queue', 'list', '--json']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as QueueMessageJson[];
    },
    /** One failed attempt for every due recipient of `id`: 451, next attempt in an hour. */
    async failOnce(id: string): Promise<void> {
      await withStore(async (s) => {
        const now = Date.now();
        const claimed = await s.claimDue({ now, limit: 10, owner: 'test', leaseMs: 60_000 });
        const results = claimed
          .filter((m) => m.id === id)
          .flatMap((m) => m.recipients.map((r) => ({ recipientId: r.id, outcome: 'queued' as const, reply: '451 4.4.1 no answer from mx.remote.test', at: now, nextAttemptAt: now + 3_600_000 })));
        await s.recordResults('test', results);
      });
    },
  };
}

describe('postern queue list', () => {
  it('says the queue is empty', async () => {
    const n = await node();
    assert.equal((await n.run(['queue', 'list'])).stdout, 'the queue is empty\n');
    assert.deepEqual(await n.list(), []);
  });

  it('shows each message: id, age, size, sender, and each recipient with state, attempts, next attempt, last reply', async () => {
    const n = await node();
    const id = await n.send(['bob@example.test', 'carl@remote.test']);
    await n.failOnce(id);

    const [m, ...rest] = await n.list();
    assert.equal(rest.length, 0);
    assert.ok(m !== undefined);
    assert.equal(m.id, id);
    assert.equal(m.sender, 'alice@example.test');
    assert.equal(m.source, 'local');
    assert.ok(m.size > 50 && m.ageSeconds >= 0 && m.ageSeconds < 60);
    assert.match(m.receivedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(
      m.recipients.map((r) => [r.address, r.route, r.state, r.attempts, r.lastReply]),
      [
        ['bob@example.test', 'local', 'queued', 1, '451 4.4.1 no answer from mx.remote.test'],
        ['carl@remote.test', 'remote', 'queued', 1, '451 4.4.1 no answer from mx.remote.test'],
      ],
    );
    assert.ok(Date.parse(m.recipients[0]?.nextAttemptAt ?? '') > Date.now() + 3_500_000);

    const text = (await n.run(['queue', 'list'])).stdout;
    assert.match(text, new RegExp(`^${id}  age \\d+s  \\d+ B  from <alice@example\\.test>  \\(local\\)\n`));
    assert.match(text, /\n {4}queued {4}bob@example\.test {2}local {3}1 attempt {4}next in (59m|1h00m)\n {14}last reply: 451 4\.4\.1 no answer/);
    assert.match(text, /\n1 message, 2 recipients \(2 queued\)\n$/);
  });
});

describe('postern queue show', () => {
  it('shows the envelope, the recipients and the header section, not the body', async () => {
    const n = await node();
    const id = await n.send(['bob@example.test'], 'Subject: show me\nX-Job: nightly\n\nsecret body\n');
    const r = await n.run(['queue', 'show', id]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^id {10}${id}\nreceived {4}\\S+Z \\(\\d+s ago\\)\nsource {6}local\nsender {6}<alice@example\\.test>\nsize`));
    assert.match(r.stdout, /\nrecipients\n {4}queued {4}bob@example\.test {2}local {3}0 attempts {3}next now\nheader\nReceived: by mx\.example\.test/);
    assert.match(r.stdout, /\nSubject: show me\nX-Job: nightly\n/);
    assert.doesNotMatch(r.stdout, /secret body/);

    const json = JSON.parse((await n.run(['queue', 'show', id, '--json'])).stdout) as QueueMessageJson & { header: string };
    assert.equal(json.id, id);
    assert.match(json.header, /^Received: .*\nSubject: show me\n/s);
  });

  it('prints control characters of a header as "?"', async () => {
    const n = await node();
    const id = await n.send(['bob@example.test'], 'Subject: \x1b[2Jcleared\n\nb\n');
    const r = await n.run(['queue', 'show', id]);
    assert.match(r.stdout, /\nSubject: \?\[2Jcleared\n/);
  });
});

describe('postern queue retry, hold, release, delete', () => {
  it('retry ID makes the message\'s queued recipients due now', async () => {
    const n = await node();
    const id = await n.send(['bob@example.test']);
    await n.failOnce(id);
    const r = await n.run(['queue', 'retry', id]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${id}: 1 recipient due now\n`);
    const [m] = await n.list();
    assert.ok(Date.parse(m?.recipients[0]?.nextAttemptAt ?? '') <= Date.now());
  });

  it('retry --all makes every queued recipient due now', async () => {
    const n = await node();
    const a = await n.send(['bob@example.test']);
    const b = await n.send(['bob@example.test', 'x@remote.test']);
    await n.failOnce(a);
    await n.failOnce(b);
    const r = await n.run(['queue', 'retry', '--all']);
    assert.equal(r.stdout, '3 recipients due now\n');
    for (const m of await n.list()) for (const rc of m.recipients) assert.ok(Date.parse(rc.nextAttemptAt) <= Date.now());
  });

  it('retry wants one of ID and --all', async () => {
    const n = await node();
    for (const args of [['queue', 'retry'], ['queue', 'retry', 'someid', '--all']]) {
      const r = await n.run(args);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /name one message \(postern queue retry ID\) or every one/);
    }
  });

  it('hold keeps recipients from delivery until release, and retry leaves them held', async () => {
    const n = await node();
    const id = await n.send(['bob@example.test', 'x@remote.test']);
    const held = await n.run(['queue', 'hold', id]);
    assert.equal(held.stdout, `${id}: 2 recipients on hold until postern queue release ${id}\n`);
    assert.deepEqual((await n.list())[0]?.recipients.map((r) => r.state), ['held', 'held']);
    assert.deepEqual(await n.withStore((s) => s.claimDue({ now: Date.now() + 1000, limit: 10, owner: 't', leaseMs: 1000 })), []);
    assert.match((await n.run(['queue', 'list'])).stdout, /held {6}bob@example\.test .* next after release/);

    const retried = await n.run(['queue', 'retry', id]);
    assert.equal(retried.stdout, `${id}: 0 recipients due now (2 on hold: postern queue release ${id})\n`);
    assert.equal((await n.run(['queue', 'hold', id])).stdout, `${id}: no queued recipients to hold\n`);

    const released = await n.run(['queue', 'release', id]);
    assert.equal(released.stdout, `${id}: 2 recipients released, due now\n`);
    assert.deepEqual((await n.list())[0]?.recipients.map((r) => r.state), ['queued', 'queued']);
    assert.equal((await n.run(['queue', 'release', id])).stdout, `${id}: no recipients on hold\n`);
  });

  it('delete removes the message whatever its state', async () => {
    const n = await node();
    const keep = await n.send(['bob@example.test']);
    const id = await n.send(['bob@example.test', 'x@remote.test']);
    await n.run(['queue', 'hold', id]);
    const r = await n.run(['queue', 'delete', id]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `deleted ${id} (2 recipients not delivered, no bounce sent)\n`);
    assert.deepEqual((await n.list()).map((m) => m.id), [keep]);
  });

  for (const command of ['show', 'retry', 'delete', 'hold', 'release']) {
    it(`queue ${command} names an unknown id, with exit 1`, async () => {
      const n = await node();
      const r = await n.run(['queue', command, '01m8kc0000000000']);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'postern: no message 01m8kc0000000000 in the queue (postern queue list shows the ids)\n');
    });
  }
});
