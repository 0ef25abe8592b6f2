/**
 * The SMTP server over real loopback sockets: pipelining, STARTTLS with the generated certificate
 * (and the CVE-2011-0411 injection), connection limits, timeouts, the minimum data rate, graceful
 * close, and the SMTP smuggling table.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureSelfSignedCertificate } from '../src/smtp/server/certificate.ts';
import { startSmtpServer } from '../src/smtp/server/server.ts';
import type { SmtpServer, SmtpServerOptions } from '../src/smtp/server/types.ts';
import { RawSmtpClient } from './helpers/smtp-socket-client.ts';
import { recordingHooks } from './helpers/smtp-transcript.ts';
import type { RecordingHooks } from './helpers/smtp-transcript.ts';

const HOST = '127.0.25.1';
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

async function server(options: Partial<SmtpServerOptions> = {}): Promise<{ srv: SmtpServer; hooks: RecordingHooks; port: number }> {
  const hooks = recordingHooks();
  const srv = await startSmtpServer({ listen: [{ host: HOST, port: 0 }], hostname: 'mx.test', hooks, ...options });
  return { srv, hooks, port: srv.addresses[0]?.port ?? 0 };
}

async function ehlo(c: RawSmtpClient): Promise<string> {
  await c.reply('220 mx.test ESMTP Postern');
  return c.send('EHLO client.test', '250');
}

describe('SMTP server over sockets', () => {
  let tls: { key: string; cert: string };
  before(async () => {
    tls = await ensureSelfSignedCertificate(mkdtempSync(join(tmpdir(), 'postern-smtp-tls-')), 'mx.test');
  });

  it('answers a pipelined transaction in order and delivers once', async () => {
    const { srv, hooks, port } = await server();
    try {
      const c = await RawSmtpClient.connect(HOST, port, '127.0.25.20');
      await ehlo(c);
      c.write('MAIL FROM:<a@b.test>\r\nRCPT TO:<unknown@mx.test>\r\nRCPT TO:<bob@mx.test>\r\nDATA\r\n');
      await c.reply('250 2.1.0');
      await c.reply('550 5.1.1');
      await c.reply('250 2.1.5');
      await c.reply('354');
      c.write('Subject: pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n');
      await c.reply('250 2.0.0 queued as');
      await c.reply('221');
      await c.waitClosed();
      assert.equal(hooks.delivered.length, 1);
      assert.match(dec(hooks.delivered[0]?.message.data ?? new Uint8Array()), /Subject: pipelined\r\n\r\nhello\r\n$/);
      assert.equal(hooks.delivered[0]?.session.remote.address, '127.0.25.20');
      assert.equal(hooks.delivered[0]?.session.local.address, HOST);
    } finally {
      await srv.close();
    }
  });

  it('upgrades to TLS on STARTTLS with the generated certificate and stamps ESMTPS', async () => {
    const { srv, hooks, port } = await server({ tls });
    try {
      const c = await RawSmtpClient.connect(HOST, port);
      const r = await ehlo(c);
      assert.match(r, /250-STARTTLS/);
      await c.send('STARTTLS', '220 2.0.0');
      await c.startTls();
      const again = await c.send('EHLO client.test', '250');
      assert.ok(!again.includes('STARTTLS'));
      await c.send('MAIL FROM:<a@b.test>', '250');
      await c.send('RCPT TO:<bob@mx.test>', '250');
      await c.send('DATA', '354');
      await c.send('x\r\n.', '250');
      await c.send('QUIT', '221');
      assert.match(dec(hooks.delivered[0]?.message.data ?? new Uint8Array()), /with ESMTPS id/);
      assert.equal(hooks.delivered[0]?.session.tls, true);
    } finally {
      await srv.close();
    }
  });

  it('discards commands injected after STARTTLS before the handshake (CVE-2011-0411)', async () => {
    const { srv, hooks, port } = await server({ tls });
    try {
      const c = await RawSmtpClient.connect(HOST, port);
      await ehlo(c);
      c.write('STARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.test>\r\n');
      await c.reply('220 2.0.0');
      await c.startTls();
      // Had the injected commands run, their replies would come first, over TLS.
      await c.send('EHLO client.test', '250-mx.test');
      await c.send('MAIL FROM:<a@b.test>', '250 2.1.0');
      await c.send('QUIT', '221');
      assert.equal(hooks.senders.filter((t) => t.sender?.local === 'evil').length, 0);
    } finally {
      await srv.close();
    }
  });

  it('refuses connections over the per-address limit with 421 4.7.0, and serves other addresses', async () => {
    const { srv, port } = await server({ maxConnectionsPerIp: 2 });
    try {
      const a = await RawSmtpClient.connect(HOST, port, '127.0.25.10');
      const b = await RawSmtpClient.connect(HOST, port, '127.0.25.10');
      await a.reply('220');
      await b.reply('220');
      const c = await RawSmtpClient.connect(HOST, port, '127.0.25.10');
      await c.reply('421 4.7.0');
      await c.waitClosed();
      const d = await RawSmtpClient.connect(HOST, port, '127.0.25.11');
      await d.reply('220');
      a.close();
      await new Promise((r) => setTimeout(r, 50));
      const e = await RawSmtpClient.connect(HOST, port, '127.0.25.10');
      await e.reply('220');
      for (const x of [b, d, e]) x.close();
    } finally {
      await srv.close();
    }
  });

  it('closes an idle connection with 421 4.4.2', async () => {
    const { srv, port } = await server({ idleTimeoutMs: 60 });
    try {
      const c = await RawSmtpClient.connect(HOST, port);
      await c.reply('220');
      const replies = await c.repliesUntilClosed();
      assert.deepEqual(replies.map((r) => r.slice(0, 9)), ['421 4.4.2']);
    } finally {
      await srv.close();
    }
  });

  it('closes a client sending DATA below the minimum rate with 421 4.4.2', async () => {
    const { srv, hooks, port } = await server({ minDataRate: 100_000, minDataRateGraceMs: 80 });
    try {
      const c = await RawSmtpClient.connect(HOST, port);
      await ehlo(c);
      await c.send('MAIL FROM:<a@b.test>', '250');
      await c.send('RCPT TO:<bob@mx.test>', '250');
      await c.send('DATA', '354');
      const drip = setInterval(() => {
        if (!c.closed) c.write('x');
      }, 10);
      try {
        const replies = await c.repliesUntilClosed();
        assert.deepEqual(replies.map((r) => r.slice(0, 9)), ['421 4.4.2']);
      } finally {
        clearInterval(drip);
      }
      assert.equal(hooks.delivered.length, 0);
    } finally {
      await srv.close();
    }
  });

  it('answers 421 to idle sessions on close and stops listening', async () => {
    const { srv, port } = await server();
    const c = await RawSmtpClient.connect(HOST, port);
    await ehlo(c);
    await srv.close();
    const replies = await c.repliesUntilClosed();
    assert.deepEqual(replies.map((r) => r.slice(0, 9)), ['421 4.3.0']);
    await assert.rejects(RawSmtpClient.connect(HOST, port));
  });

  it('survives clients sending garbage and hanging up mid-command', async () => {
    const { srv, port } = await server();
    try {
      for (let i = 0; i < 5; i++) {
        const c = await RawSmtpClient.connect(HOST, port);
        const junk = new Uint8Array(3000).map((_, k) => (k * 7919 + i * 31) % 256);
        c.write(junk);
        c.write('MAIL FROM:<a@');
        c.close();
      }
      const ok = await RawSmtpClient.connect(HOST, port);
      await ehlo(ok);
      await ok.send('QUIT', '221');
    } finally {
      await srv.close();
    }
  });

  describe('SMTP smuggling: one message or 550 5.6.0, never two', () => {
    let shared: { srv: SmtpServer; hooks: RecordingHooks; port: number };
    before(async () => {
      shared = await server();
    });
    after(async () => {
      await shared.srv.close();
    });
    const smuggled = 'MAIL FROM:<evil@spoof.test>\r\nRCPT TO:<victim@mx.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nspoofed\r\n';
    for (const sequence of ['\n.\n', '\n.\r\n', '\r.\r', '\r\n.\n']) {
      it(`treats ${JSON.stringify(sequence)} as content and refuses the message`, async () => {
        const before = shared.hooks.delivered.length;
        const c = await RawSmtpClient.connect(HOST, shared.port);
        await ehlo(c);
        await c.send('MAIL FROM:<alice@sender.test>', '250');
        await c.send('RCPT TO:<bob@mx.test>', '250');
        await c.send('DATA', '354');
        c.write(`Subject: first\r\n\r\nfirst${sequence}${smuggled}.\r\nQUIT\r\n`);
        const replies = await c.repliesUntilClosed();
        assert.deepEqual(replies.map((r) => r.slice(0, 9)), ['550 5.6.0', '221 2.0.0']);
        assert.equal(shared.hooks.delivered.length, before);
        assert.equal(shared.hooks.senders.filter((t) => t.sender?.local === 'evil').length, 0);
      });
    }
  });
});
