import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../core/logger.ts';
import type { SmtpConnection } from '../smtp/client/index.ts';
import { fakeSmtpConnection } from '../../test/helpers/fake-smtp-connection.ts';
import { tableResolver } from '../../test/helpers/table-resolver.ts';
import { ConnectionPool } from './connection-pool.ts';
import { walkMx } from './mx-walk.ts';

/** Takes every message, recording its sender. */
function connection(sent: string[]): SmtpConnection {
  return fakeSmtpConnection({
    send: async (m) => {
      sent.push(m.sender);
      return { stage: 'done', recipients: m.recipients.map(() => ({ reply: { code: 250, enhanced: '2.1.5', lines: ['ok'] } })) } as unknown as Awaited<ReturnType<SmtpConnection['send']>>;
    },
  });
}

describe('walkMx with a deadline', () => {
  const mx = { resolver: tableResolver(['far.test MX 10 mx.far.test', 'mx.far.test A 127.0.0.1']), self: { hostnames: ['me.test'], addresses: ['127.9.9.9'] } };
  const request = (deadline: number) => ({
    domain: 'far.test',
    deadline,
    message: { sender: 'a@me.test', data: new TextEncoder().encode('Subject: x\r\n\r\nx\r\n') },
    recipients: [{ id: 7, address: 'b@far.test' }],
  });

  it('sends when a connection is had before the deadline', async () => {
    const sent: string[] = [];
    const pool = new ConnectionPool({ connect: async () => connection(sent), maxPerHost: 1, idleMs: 1000 });
    const r = await walkMx(request(2000), { mx, port: 25, pool, logger: silentLogger, now: () => 1000 });
    assert.deepEqual(sent, ['a@me.test']);
    assert.equal(r.outcomes[0]?.outcome, 'delivered');
    assert.equal(r.outcomes[0]?.abandoned, undefined);
    await pool.close();
  });

  it('sends nothing once the deadline passed (no keepClaim), and says the recipients were abandoned', async () => {
    const sent: string[] = [];
    const pool = new ConnectionPool({ connect: async () => connection(sent), maxPerHost: 1, idleMs: 1000 });
    const r = await walkMx(request(1000), { mx, port: 25, pool, logger: silentLogger, now: () => 1000 });
    assert.deepEqual(sent, [], 'no transaction started');
    assert.deepEqual(
      r.outcomes.map((o) => [o.recipientId, o.outcome, o.status, o.abandoned]),
      [[7, 'temporary', '4.4.5', true]],
    );
    assert.match(r.outcomes[0]?.reply ?? '', /^451 4\.4\.5 not sent to mx\.far\.test: this node's claim on the message ran out while it waited; left for the next claim/);
    // The connection went back to the pool for the next message.
    const again = await walkMx(request(5000), { mx, port: 25, pool, logger: silentLogger, now: () => 1000 });
    assert.equal(again.outcomes[0]?.outcome, 'delivered');
    await pool.close();
  });

  it('stops waiting for a connection at the deadline, and abandons the recipients', async () => {
    const sent: string[] = [];
    const pool = new ConnectionPool({ connect: async () => connection(sent), maxPerHost: 1, idleMs: 1000 });
    const busy = await pool.acquire('127.0.0.1', 25, 'mx.far.test');
    const r = await walkMx(request(Date.now() + 50), { mx, port: 25, pool, logger: silentLogger });
    assert.deepEqual(sent, []);
    assert.equal(r.outcomes[0]?.abandoned, true);
    assert.match(r.outcomes[0]?.reply ?? '', /no connection came free before this node's claim on the message ran out/);
    busy.release(false);
    await pool.close();
  });

  it('asks keepClaim with a connection in hand, and sends only when it says the claim is still ours', async () => {
    const sent: string[] = [];
    const pool = new ConnectionPool({ connect: async () => connection(sent), maxPerHost: 1, idleMs: 1000 });
    const refused = await walkMx({ ...request(5000), keepClaim: async () => false }, { mx, port: 25, pool, logger: silentLogger, now: () => 1000 });
    assert.deepEqual(sent, []);
    assert.equal(refused.outcomes[0]?.abandoned, true);
    const kept = await walkMx({ ...request(500), keepClaim: async () => true }, { mx, port: 25, pool, logger: silentLogger, now: () => 1000 });
    assert.deepEqual(sent, ['a@me.test'], 'keepClaim decides, past the deadline too (the claim was extended)');
    assert.equal(kept.outcomes[0]?.outcome, 'delivered');
    await pool.close();
  });
});
