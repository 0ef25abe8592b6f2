import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../core/logger.ts';
import type { SmtpConnection } from '../smtp/client/index.ts';
import { tableResolver } from '../../test/helpers/table-resolver.ts';
import { ConnectionPool } from './connection-pool.ts';
import { walkMx } from './mx-walk.ts';

function connection(sent: string[]): SmtpConnection {
  let open = true;
  return {
    capabilities: {} as SmtpConnection['capabilities'],
    tls: false,
    tlsFailure: null,
    greeting: { code: 220, enhanced: null, lines: ['hi'] },
    esmtp: true,
    get open() {
      return open;
    },
    send: async (m) => {
      sent.push(m.sender);
      return { stage: 'done', recipients: m.recipients.map(() => ({ reply: { code: 250, enhanced: '2.1.5', lines: ['ok'] } })) } as unknown as Awaited<ReturnType<SmtpConnection['send']>>;
    },
    verify: () => Promise.reject(new Error('unused')),
    close: async () => {
      open = false;
    },
  };
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

  it('sends nothing once the deadline passed while waiting for a connection, and says the recipients were abandoned', async () => {
    const sent: string[] = [];
    const pool = new ConnectionPool({ connect: async () => connection(sent), maxPerHost: 1, idleMs: 1000 });
    const r = await walkMx(request(1000), { mx, port: 25, pool, logger: silentLogger, now: () => 1000 });
    assert.deepEqual(sent, [], 'no transaction started');
    assert.deepEqual(
      r.outcomes.map((o) => [o.recipientId, o.outcome, o.status, o.abandoned]),
      [[7, 'temporary', '4.4.5', true]],
    );
    assert.match(r.outcomes[0]?.reply ?? '', /^451 4\.4\.5 no connection to mx\.far\.test came free before this node's claim on the message ran out/);
    // The connection went back to the pool for the next message.
    const again = await walkMx(request(5000), { mx, port: 25, pool, logger: silentLogger, now: () => 1000 });
    assert.equal(again.outcomes[0]?.outcome, 'delivered');
    await pool.close();
  });
});
