/**
 * The SMTP client against a scripted server, for what a full server implementation will not do on
 * request: CHUNKING, refusing greetings, refusing EHLO, mixed per-recipient replies, LMTP, a server
 * that never answers, a STARTTLS that turns to garbage.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { ErrorCode, isPosternError } from '../src/core/errors.ts';
import { memoryLogger } from '../src/core/logger.ts';
import { connectSmtp, isSmtpClientError, SmtpClientErrorCode } from '../src/smtp/client/index.ts';
import type { ClientOptions, OutboundMessage, SmtpConnection } from '../src/smtp/client/index.ts';
import { startFakeSmtpServer } from './helpers/fake-smtp-server.ts';
import type { FakeSmtpServer, FakeSmtpServerOptions } from './helpers/fake-smtp-server.ts';

const HOST = '127.23.1.1';
const FAST = { connect: 500, greeting: 500, ehlo: 500, mail: 500, rcpt: 500, data: 500, dataBlock: 500, endOfData: 500 };

const servers: FakeSmtpServer[] = [];
const connections: SmtpConnection[] = [];
after(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
});

async function fake(options: Omit<FakeSmtpServerOptions, 'host'> = {}): Promise<FakeSmtpServer> {
  const s = await startFakeSmtpServer({ host: HOST, ...options });
  servers.push(s);
  return s;
}

async function open(server: FakeSmtpServer, options: Partial<ClientOptions> = {}): Promise<SmtpConnection> {
  const c = await connectSmtp({ address: server.host, port: server.port, serverName: 'mx.fake.test', helo: 'client.test', tls: 'opportunistic', timeouts: FAST, ...options });
  connections.push(c);
  return c;
}

function message(body: string, ...recipients: string[]): OutboundMessage {
  return { sender: 'from@client.test', recipients: recipients.map((address) => ({ address })), data: Buffer.from(body, 'utf8') };
}

const BODY = 'Subject: hello\r\n\r\nline one\r\n.hidden\r\n..two dots\r\n.\r\nlast\r\n';

describe('SMTP client against a scripted server', () => {
  it('sends the message in BDAT chunks when CHUNKING is offered, the last marked LAST', async () => {
    const s = await fake({ extensions: ['PIPELINING', 'CHUNKING', 'SIZE 100000'] });
    const c = await open(s, { bdatChunkSize: 16 });
    const res = await c.send(message(BODY, 'a@fake.test'));
    assert.equal(res.recipients[0]?.reply.code, 250);
    assert.equal(res.transactionReply, undefined);
    const tx = s.sessions[0]?.transactions[0];
    assert.ok(tx);
    assert.equal(tx.body.toString('utf8'), BODY);
    const rest = BODY.length % 16;
    assert.deepEqual(tx.bdat, [...Array<number>(Math.floor(BODY.length / 16)).fill(16), rest]);
    const bdatLines = s.sessions[0]?.commands.filter((l) => l.startsWith('BDAT')) ?? [];
    assert.equal(bdatLines.at(-1), `BDAT ${rest} LAST`);
    assert.ok(!(s.sessions[0]?.commands.includes('DATA') ?? true), 'no DATA with CHUNKING');
    assert.match(tx.mail, new RegExp(`SIZE=${BODY.length}`));
  });

  it('stops sending chunks after a refused BDAT and fails the transaction', async () => {
    const s = await fake({ extensions: ['CHUNKING'], reply: (cmd) => (cmd === 'BDAT 10' ? '552 5.3.4 too big for me' : undefined) });
    const c = await open(s, { bdatChunkSize: 10 });
    const res = await c.send(message('x'.repeat(35), 'a@fake.test'));
    assert.equal(res.transactionReply?.code, 552);
    assert.equal(res.stage, 'bdat');
    assert.equal(res.recipients[0]?.stage, 'data');
    assert.equal(s.sessions[0]?.commands.filter((l) => l.startsWith('BDAT')).length, 1);
  });

  it('sends an empty message as BDAT 0 LAST', async () => {
    const s = await fake({ extensions: ['CHUNKING'] });
    const c = await open(s);
    const res = await c.send(message('', 'a@fake.test'));
    assert.equal(res.recipients[0]?.reply.code, 250);
    assert.ok(s.sessions[0]?.commands.includes('BDAT 0 LAST'));
  });

  for (const [greeting, temporary] of [
    ['421 4.3.2 not now', true],
    ['554 5.7.1 go away', false],
  ] as const) {
    it(`rejects a ${greeting.slice(0, 3)} greeting as a ${temporary ? 'temporary' : 'permanent'} refusal with the reply`, async () => {
      const s = await fake({ greeting });
      await assert.rejects(open(s), (err) => {
        assert.ok(isSmtpClientError(err, SmtpClientErrorCode.Refused));
        assert.equal(err.stage, 'greeting');
        assert.equal(err.temporary, temporary);
        assert.equal(err.reply?.code, Number(greeting.slice(0, 3)));
        return true;
      });
    });
  }

  it('falls back to HELO when EHLO is refused with a 5xx, and uses no extension', async () => {
    const s = await fake({ reply: (cmd) => (cmd.startsWith('EHLO') ? '502 5.5.1 what is EHLO' : undefined), extensions: ['PIPELINING', 'CHUNKING'] });
    const c = await open(s);
    assert.equal(c.esmtp, false);
    assert.equal(c.capabilities.pipelining, false);
    const res = await c.send(message(BODY, 'a@fake.test'));
    assert.equal(res.recipients[0]?.reply.code, 250);
    const cmds = s.sessions[0]?.commands ?? [];
    assert.deepEqual(cmds.slice(0, 2), ['EHLO client.test', 'HELO client.test']);
    assert.ok(cmds.includes('DATA'));
    assert.ok(cmds.includes('MAIL FROM:<from@client.test>'), 'no ESMTP parameters after HELO');
  });

  it('gives each recipient its own result: 550 and 450 refused at RCPT, the rest the reply to DATA', async () => {
    for (const pipelining of [true, false]) {
      const s = await fake({
        extensions: pipelining ? ['PIPELINING'] : [],
        reply: (cmd) => (cmd.includes('<gone@') ? '550 5.1.1 no such user' : cmd.includes('<busy@') ? '450 4.2.1 try later' : undefined),
      });
      const c = await open(s);
      const res = await c.send(message(BODY, 'ok1@fake.test', 'gone@fake.test', 'busy@fake.test', 'ok2@fake.test'));
      assert.deepEqual(
        res.recipients.map((r) => [r.address, r.reply.code, r.reply.enhanced, r.stage]),
        [
          ['ok1@fake.test', 250, '2.0.0', 'data'],
          ['gone@fake.test', 550, '5.1.1', 'rcpt'],
          ['busy@fake.test', 450, '4.2.1', 'rcpt'],
          ['ok2@fake.test', 250, '2.0.0', 'data'],
        ],
        `pipelining ${pipelining}`,
      );
      assert.deepEqual(s.sessions[0]?.transactions[0]?.accepted, ['ok1@fake.test', 'ok2@fake.test']);
    }
  });

  it('pipelines MAIL, every RCPT and DATA in one write when PIPELINING is offered', async () => {
    const s = await fake({ extensions: ['PIPELINING'] });
    const c = await open(s);
    await c.send(message(BODY, 'a@fake.test', 'b@fake.test'));
    const batch = s.sessions[0]?.batches.find((b) => b[0]?.startsWith('MAIL'));
    assert.deepEqual(batch, ['MAIL FROM:<from@client.test>', 'RCPT TO:<a@fake.test>', 'RCPT TO:<b@fake.test>', 'DATA']);
  });

  it('sends each command alone without PIPELINING', async () => {
    const s = await fake({ extensions: [] });
    const c = await open(s);
    await c.send(message(BODY, 'a@fake.test', 'b@fake.test'));
    assert.ok(s.sessions[0]?.batches.every((b) => b.length === 1));
  });

  it('ends a pipelined DATA that got 354 with a lone "." when no recipient was accepted (RFC 2920 §3.1)', async () => {
    const s = await fake({ extensions: ['PIPELINING'], reply: (cmd) => (cmd.startsWith('RCPT') ? '550 5.1.1 no' : cmd === 'DATA' ? '354 go on anyway' : cmd === '.' ? '554 5.5.1 no valid recipients' : undefined) });
    const c = await open(s);
    const res = await c.send(message(BODY, 'a@fake.test'));
    assert.equal(res.recipients[0]?.reply.code, 550);
    assert.equal(res.recipients[0]?.stage, 'rcpt');
    assert.equal(s.sessions[0]?.transactions[0]?.wire.toString('latin1'), '.\r\n', 'no message content after the 354');
    // The connection is still good for the next message, after an RSET.
    assert.equal(c.open, true);
  });

  it('fails the transaction on a 5xx to DATA and says so for every accepted recipient', async () => {
    const s = await fake({ reply: (cmd) => (cmd === 'DATA' ? '554 5.7.0 no data today' : undefined) });
    const c = await open(s);
    const res = await c.send(message(BODY, 'a@fake.test', 'b@fake.test'));
    assert.equal(res.transactionReply?.code, 554);
    assert.equal(res.stage, 'data');
    assert.deepEqual(res.recipients.map((r) => [r.reply.code, r.stage]), [[554, 'data'], [554, 'data']]);
  });

  it('fails every recipient with the reply to MAIL when MAIL is refused', async () => {
    const s = await fake({ reply: (cmd) => (cmd.startsWith('MAIL') ? '553 5.7.1 sender refused' : undefined) });
    const c = await open(s);
    const res = await c.send(message(BODY, 'a@fake.test', 'b@fake.test'));
    assert.equal(res.stage, 'mail');
    assert.deepEqual(res.recipients.map((r) => [r.reply.code, r.stage]), [[553, 'mail'], [553, 'mail']]);
  });

  it('takes a 421 as the answer for everything after it and does not use the connection again', async () => {
    const s = await fake({ extensions: ['PIPELINING'], reply: (cmd) => (cmd.startsWith('MAIL') ? '421 4.3.2 shutting down' : undefined) });
    const c = await open(s);
    const res = await c.send(message(BODY, 'a@fake.test', 'b@fake.test'));
    assert.equal(res.transactionReply?.code, 421);
    assert.equal(res.stage, 'mail');
    assert.deepEqual(res.recipients.map((r) => r.reply.code), [421, 421]);
    assert.equal(c.open, false);
    await assert.rejects(c.send(message(BODY, 'a@fake.test')), (err) => isSmtpClientError(err));
  });

  it('connects to nothing outside loopback when POSTERN_LOOPBACK_ONLY is set', async (t) => {
    if (process.env['POSTERN_LOOPBACK_ONLY'] !== '1') t.skip('needs POSTERN_LOOPBACK_ONLY=1, as npm test sets it');
    else await assert.rejects(connectSmtp({ address: '192.0.2.1', port: 25, serverName: 'x', helo: 'client.test', tls: 'none', timeouts: FAST }), (err) => isPosternError(err, ErrorCode.LoopbackOnly));
  });

  it('times out at the greeting when the server never answers', async () => {
    const s = await fake({ greeting: null });
    const started = performance.now();
    await assert.rejects(open(s, { timeouts: { ...FAST, greeting: 80 } }), (err) => {
      assert.ok(isSmtpClientError(err, SmtpClientErrorCode.Timeout));
      assert.equal(err.stage, 'greeting');
      assert.equal(err.temporary, true);
      return true;
    });
    assert.ok(performance.now() - started < 400);
  });

  it('rejects with a connect error when nothing listens', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, HOST, r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await assert.rejects(connectSmtp({ address: HOST, port, serverName: 'x', helo: 'client.test', tls: 'none', timeouts: FAST }), (err) => {
      assert.ok(isSmtpClientError(err, SmtpClientErrorCode.Connect));
      assert.equal(err.stage, 'connect');
      assert.equal(err.temporary, true);
      return true;
    });
  });

  it('rejects a transaction broken by a timeout, and the connection is then closed', async () => {
    const s = await fake({ extensions: [], reply: (cmd) => (cmd.startsWith('RCPT') ? null : undefined) });
    const c = await open(s, { timeouts: { ...FAST, rcpt: 60 } });
    await assert.rejects(c.send(message(BODY, 'a@fake.test')), (err) => isSmtpClientError(err, SmtpClientErrorCode.Timeout) && err.stage === 'rcpt');
    assert.equal(c.open, false);
    await assert.rejects(c.send(message(BODY, 'a@fake.test')), (err) => isSmtpClientError(err));
  });

  for (const mode of ['garbage', 'garbage-at-once'] as const) {
    it(`retries in plain text when the server breaks TLS after its 220 to STARTTLS (${mode})`, async () => {
      const s = await fake({ extensions: ['PIPELINING', 'STARTTLS'], starttls: mode });
      const log = memoryLogger();
      const c = await open(s, { logger: log });
      assert.equal(c.tls, false);
      assert.match(c.tlsFailure ?? '', /TLS/);
      assert.equal(s.sessions.length, 2);
      assert.ok(!(s.sessions[1]?.commands.includes('STARTTLS') ?? true), 'no second STARTTLS on the plain-text retry');
      const res = await c.send(message(BODY, 'a@fake.test'));
      assert.equal(res.recipients[0]?.reply.code, 250);
      assert.ok(log.entries.some((e) => e.level === 'warn' && (e.obj as { event?: string }).event === 'smtp.client.tls_failed'));
    });
  }

  it('refuses to go on in plain text when TLS is required and breaks', async () => {
    const s = await fake({ extensions: ['STARTTLS'], starttls: 'garbage' });
    await assert.rejects(open(s, { tls: 'required' }), (err) => isSmtpClientError(err, SmtpClientErrorCode.Tls) && err.temporary);
    assert.equal(s.sessions.length, 1);
  });

  it('refuses a server without STARTTLS when TLS is required', async () => {
    const s = await fake({ extensions: ['PIPELINING'] });
    await assert.rejects(open(s, { tls: 'required' }), (err) => isSmtpClientError(err, SmtpClientErrorCode.Tls) && err.stage === 'starttls');
  });

  describe('with a real STARTTLS', () => {
    let pems: { private: string; cert: string };
    before(async () => {
      pems = await generate([{ name: 'commonName', value: 'mx.fake.test' }], { keySize: 2048 });
    });

    it('upgrades, says EHLO again, and sends over TLS', async () => {
      const s = await fake({ extensions: ['PIPELINING', 'STARTTLS', 'CHUNKING'], starttls: { key: pems.private, cert: pems.cert } });
      const c = await open(s);
      assert.equal(c.tls, true);
      assert.equal(c.tlsFailure, null);
      assert.equal(c.capabilities.startTls, false, 'capabilities come from the EHLO after TLS');
      const res = await c.send(message(BODY, 'a@fake.test'));
      assert.equal(res.recipients[0]?.reply.code, 250);
      assert.equal(s.sessions[0]?.tls, true);
      assert.deepEqual(s.sessions[0]?.commands.filter((l) => l.startsWith('EHLO') || l === 'STARTTLS'), ['EHLO client.test', 'STARTTLS', 'EHLO client.test']);
      assert.equal(s.sessions[0]?.transactions[0]?.body.toString('utf8'), BODY);
    });
  });

  it('speaks LMTP: LHLO, and a reply per accepted recipient after the message', async () => {
    const s = await fake({
      lmtp: true,
      extensions: ['PIPELINING', 'ENHANCEDSTATUSCODES'],
      reply: (cmd) => (cmd.includes('<nobody@') ? '550 5.1.1 no such mailbox' : undefined),
      lmtpReply: (a) => (a.startsWith('full@') ? '452 4.2.2 mailbox full' : `250 2.0.0 <${a}> delivered`),
    });
    const c = await open(s, { lmtp: true, tls: 'none' });
    const res = await c.send(message(BODY, 'one@fake.test', 'nobody@fake.test', 'full@fake.test', 'two@fake.test'));
    assert.deepEqual(
      res.recipients.map((r) => [r.address, r.reply.code, r.stage]),
      [
        ['one@fake.test', 250, 'data'],
        ['nobody@fake.test', 550, 'rcpt'],
        ['full@fake.test', 452, 'data'],
        ['two@fake.test', 250, 'data'],
      ],
    );
    assert.equal(res.recipients[0]?.reply.lines[0], '<one@fake.test> delivered');
    assert.equal(s.sessions[0]?.commands[0], 'LHLO client.test');
  });

  it('reuses one connection for three messages, with RSET only after a transaction left half done', async () => {
    const s = await fake({ extensions: ['PIPELINING'], reply: (cmd) => (cmd.includes('<refused@') ? '550 5.1.1 no' : undefined) });
    const c = await open(s);
    const r1 = await c.send(message('Subject: 1\r\n\r\none\r\n', 'a@fake.test'));
    const r2 = await c.send(message('Subject: 2\r\n\r\ntwo\r\n', 'refused@fake.test'));
    const r3 = await c.send(message('Subject: 3\r\n\r\nthree\r\n', 'b@fake.test'));
    assert.deepEqual([r1, r2, r3].map((r) => r.recipients[0]?.reply.code), [250, 550, 250]);
    assert.equal(s.sessions.length, 1);
    const cmds = s.sessions[0]?.commands ?? [];
    assert.equal(cmds.filter((l) => l === 'RSET').length, 1);
    assert.ok(cmds.indexOf('RSET') > cmds.indexOf('RCPT TO:<refused@fake.test>'));
    assert.deepEqual(s.sessions[0]?.transactions.map((t) => t.body.toString()), ['Subject: 1\r\n\r\none\r\n', 'Subject: 3\r\n\r\nthree\r\n']);
    await c.close();
    assert.equal(cmds.at(-1), 'QUIT');
  });

  it('runs concurrent sends one after the other on one connection', async () => {
    const s = await fake({ extensions: ['PIPELINING'] });
    const c = await open(s);
    const results = await Promise.all([1, 2, 3].map((n) => c.send(message(`Subject: ${n}\r\n\r\nbody\r\n`, `r${n}@fake.test`))));
    assert.ok(results.every((r) => r.recipients[0]?.reply.code === 250));
    assert.deepEqual(s.sessions[0]?.transactions.map((t) => t.accepted[0]), ['r1@fake.test', 'r2@fake.test', 'r3@fake.test']);
  });

  it('puts dot-stuffed lines on the wire and they arrive intact, bare LFs made CRLF', async () => {
    const s = await fake({ extensions: [] });
    const c = await open(s);
    await c.send(message('.hidden\r\n..\r\n.\r\nbare\nend', 'a@fake.test'));
    const tx = s.sessions[0]?.transactions[0];
    assert.equal(tx?.wire.toString('latin1'), '..hidden\r\n...\r\n..\r\nbare\r\nend\r\n.\r\n');
    assert.equal(tx?.body.toString('latin1'), '.hidden\r\n..\r\n.\r\nbare\r\nend\r\n');
  });

  it('refuses locally, without sending, a message over the advertised SIZE', async () => {
    const s = await fake({ extensions: ['SIZE 100'] });
    const c = await open(s);
    const res = await c.send(message('x'.repeat(101), 'a@fake.test', 'b@fake.test'));
    assert.equal(res.transactionReply?.code, 552);
    assert.equal(res.transactionReply?.enhanced, '5.3.4');
    assert.equal(res.local, true);
    assert.deepEqual(res.recipients.map((r) => r.reply.code), [552, 552]);
    assert.ok(!(s.sessions[0]?.commands.some((l) => l.startsWith('MAIL')) ?? true));
    // A message within the limit still goes, with SIZE= on MAIL.
    const ok = await c.send(message('x'.repeat(98), 'a@fake.test'));
    assert.equal(ok.recipients[0]?.reply.code, 250);
    assert.match(s.sessions[0]?.transactions[0]?.mail ?? '', / SIZE=98$/);
  });

  it('fails a message that needs SMTPUTF8 with 5.6.7 when the server does not offer it', async () => {
    const s = await fake({ extensions: ['8BITMIME'] });
    const c = await open(s);
    const res = await c.send(message('Subject: x\r\n\r\nbody\r\n', 'jörg@fake.test'));
    assert.equal(res.transactionReply?.enhanced, '5.6.7');
    assert.ok(res.transactionReply !== undefined && res.transactionReply.code >= 500);
  });

  it('asks for SMTPUTF8 and BODY=8BITMIME when the message needs them and the server offers them', async () => {
    const s = await fake({ extensions: ['8BITMIME', 'SMTPUTF8'] });
    const c = await open(s);
    await c.send(message('Subject: grüße\r\n\r\nbody\r\n', 'jörg@fake.test'));
    assert.equal(s.sessions[0]?.transactions[0]?.mail, 'MAIL FROM:<from@client.test> BODY=8BITMIME SMTPUTF8');
  });

  it('sends no DSN parameters to a server that does not offer DSN', async () => {
    const s = await fake({ extensions: ['PIPELINING'] });
    const c = await open(s);
    await c.send({ ...message('x\r\n', 'a@fake.test'), ret: 'HDRS', envid: 'e1', recipients: [{ address: 'a@fake.test', notify: ['FAILURE'], orcpt: { type: 'rfc822', address: 'a@fake.test' } }] });
    const tx = s.sessions[0]?.transactions[0];
    assert.equal(tx?.mail, 'MAIL FROM:<from@client.test>');
    assert.deepEqual(tx?.rcpts, ['RCPT TO:<a@fake.test>']);
  });

  it('logs one info line per transaction and the dialogue at debug', async () => {
    const s = await fake({ extensions: ['PIPELINING'] });
    const log = memoryLogger();
    const c = await open(s, { logger: log });
    await c.send(message(BODY, 'a@fake.test'));
    const info = log.entries.filter((e) => e.level === 'info');
    assert.equal(info.length, 1);
    assert.equal((info[0]?.obj as { event?: string }).event, 'smtp.client.transaction');
    assert.ok(log.entries.some((e) => e.level === 'debug' && (e.obj as { line?: string }).line === 'RCPT TO:<a@fake.test>'));
  });
});
