/**
 * scenarios/2-datacenters: smtp1 and smtp2 (preference 10, Washington) share the load; with both
 * down, smtp3 and smtp4 (preference 20, Dallas, on two domains' names) accept and hold the mail as
 * backup MX, with the same recipient checks as the primaries, never filing it in mailboxes; when
 * Washington returns they forward everything to it, oldest first, at a limited rate; nothing is lost
 * or duplicated.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { scenarioDns } from './helpers/postern.ts';
import { eventually, inboxSubjects, restartNode, send, startNode, SMTP_PORT, type LabNode } from './helpers/lab.ts';
import type { RunningPostern } from '../src/main.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const USER = 'user@domain.test';

/** One SMTP dialogue up to the RCPT reply; returns that reply's first line. */
async function rcptReply(address: string, rcpt: string): Promise<string> {
  const socket = connect({ host: address, port: SMTP_PORT, localAddress: '127.0.9.9' });
  socket.setEncoding('utf8');
  let buffer = '';
  const lines: string[] = [];
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply from ${address}: ${buffer}`)), 10_000);
      const look = () => {
        const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(buffer);
        if (m === null) return;
        const end = buffer.indexOf(m[0]) + m[0].length;
        lines.push(buffer.slice(0, end));
        buffer = buffer.slice(end);
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(m[0].trim());
      };
      const onData = (d: string) => {
        buffer += d;
        look();
      };
      socket.on('data', onData);
      look();
    });
  await next();
  socket.write('EHLO tester.test\r\n');
  await next();
  socket.write('MAIL FROM:<alice@sender.test>\r\n');
  await next();
  socket.write(`RCPT TO:<${rcpt}>\r\n`);
  const reply = await next();
  socket.end('QUIT\r\n');
  return reply;
}

describe('scenario 2-datacenters, end to end', () => {
  let dns: RunningPostern;
  let resolver: string;
  let sender: LabNode;
  let smtp1: LabNode;
  let smtp2: LabNode;
  let smtp3: LabNode;
  let smtp4: LabNode;
  const washington = (n: string, address: string) => ({ hostname: `${n}.domain.test`, address, domains: [['domain.test', 'primary']] as Array<[string, 'primary']>, accounts: [USER] });

  before(async () => {
    ({ postern: dns, resolver } = await scenarioDns('2-datacenters'));
    sender = await startNode({ hostname: 'sender.test', config: { queue: { retry_schedule: ['0s', '200ms'] } } }, resolver);
    smtp1 = await startNode(washington('smtp1', '127.20.20.1'), resolver);
    smtp2 = await startNode(washington('smtp2', '127.20.20.2'), resolver);
    // Dallas verifies recipients by asking Washington (a RCPT callout), as the tutorial's backup MX.
    const dallas = { domains: [['domain.test', 'backup']] as Array<[string, 'backup']>, config: { backup: { drain_rate: 20, drain_concurrency: 2, probe_interval: '300ms' } } };
    smtp3 = await startNode({ hostname: 'smtp3.domain.test', address: '127.30.30.1', ...dallas }, resolver);
    smtp4 = await startNode({ hostname: 'smtp4.otherdomain.test', address: '127.30.30.2', ...dallas }, resolver);
  });
  after(async () => {
    for (const n of [sender, smtp1, smtp2, smtp3, smtp4]) await n?.postern.stop();
    await dns?.stop();
  });

  it('shares 1,000 messages between smtp1 and smtp2, each taking 40-60%', async () => {
    const total = 1000;
    for (let i = 0; i < total; i++) await send(sender, USER, `load ${i}`);
    const counts = await eventually(
      async () => {
        const a = (await smtp1.postern.store.countMessages({ address: USER })) ?? 0;
        const b = (await smtp2.postern.store.countMessages({ address: USER })) ?? 0;
        return a + b >= total ? [a, b] : null;
      },
      120_000,
      'all 1,000 delivered',
    );
    const [a = 0, b = 0] = counts;
    assert.equal(a + b, total, 'each message delivered once');
    assert.ok(a >= 400 && a <= 600, `smtp1 took ${a}, smtp2 took ${b}`);
    assert.deepEqual(await smtp3.postern.store.listQueue(), [], 'Dallas saw nothing while Washington was up');
  });

  it('Dallas checks recipients with Washington: a known one is accepted, an unknown one refused', async () => {
    assert.match(await rcptReply('127.30.30.1', USER), /^250 /);
    assert.match(await rcptReply('127.30.30.1', 'nobody@domain.test'), /^550 5\.1\.1 /);
    assert.match(await rcptReply('127.30.30.2', USER), /^250 /);
  });

  it('with Washington down, Dallas holds the mail without filing it, refuses unknown recipients, and drains it all to Washington at the drain rate when it returns', async () => {
    const before1 = (await smtp1.postern.store.countMessages({ address: USER })) ?? 0;
    const before2 = (await smtp2.postern.store.countMessages({ address: USER })) ?? 0;
    await smtp1.postern.stop();
    await smtp2.postern.stop();
    const held = 40;
    for (let i = 0; i < held; i++) await send(sender, USER, `held ${i}`);
    await eventually(
      async () => (await sender.postern.store.listQueue()).length === 0 && (await smtp3.postern.store.listQueue()).length + (await smtp4.postern.store.listQueue()).length === held,
      30_000,
      'the sender handed everything to Dallas, which holds it',
    );
    for (const dallas of [smtp3, smtp4]) {
      assert.equal(await dallas.postern.store.getAccount(USER), null, 'a backup MX has no mailbox to file into');
      for (const m of await dallas.postern.store.listQueue()) assert.equal(m.recipients[0]?.route, 'backup');
    }
    // Unknown now, with no primary to ask: refused for now (451), never accepted.
    assert.match(await rcptReply('127.30.30.1', 'never-seen@domain.test'), /^451 4\.4\.3 /);
    assert.match(await rcptReply('127.30.30.1', 'nobody@domain.test'), /^550 5\.1\.1 /, 'the negative answer is remembered');

    const started = Date.now();
    smtp1 = await restartNode(smtp1, resolver);
    smtp2 = await restartNode(smtp2, resolver);
    await eventually(
      async () => {
        const a = (await smtp1.postern.store.countMessages({ address: USER })) ?? 0;
        const b = (await smtp2.postern.store.countMessages({ address: USER })) ?? 0;
        return a + b - before1 - before2 >= held;
      },
      60_000,
      'every held message forwarded',
    );
    const elapsed = Date.now() - started;
    // Two backups, 20 messages per second each: 40 messages cannot all arrive in under ~1 s.
    assert.ok(elapsed >= 800, `drained ${held} messages in ${elapsed} ms: faster than the drain rate allows`);
    const subjects = [...(await inboxSubjects(smtp1, USER)), ...(await inboxSubjects(smtp2, USER))].filter((s) => s.startsWith('held '));
    assert.equal(subjects.length, held, 'none duplicated');
    assert.equal(new Set(subjects).size, held, 'none lost');
    await eventually(async () => (await smtp3.postern.store.listQueue()).length + (await smtp4.postern.store.listQueue()).length === 0, 10_000, 'Dallas queues empty');
  });
});
