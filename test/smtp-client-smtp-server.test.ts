/**
 * The SMTP client against `smtp-server`, an independent implementation: what it received (envelope,
 * bytes, ESMTP and DSN parameters) is what we meant to send, in plain text and over STARTTLS.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { connectSmtp } from '../src/smtp/client/index.ts';
import type { ClientOptions, OutboundMessage, SmtpConnection } from '../src/smtp/client/index.ts';

const HOST = '127.23.2.1';
const TIMEOUTS = { connect: 2000, greeting: 2000, ehlo: 2000, mail: 2000, rcpt: 2000, data: 2000, dataBlock: 2000, endOfData: 2000 };

interface Received {
  session: SMTPServerSession;
  envelope: SMTPServerSession['envelope'];
  data: Buffer;
  secure: boolean;
}

interface Peer {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

async function startPeer(options: Partial<SMTPServerOptions>): Promise<Peer> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    size: 1024 * 1024,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('unknown@')) {
        const err = Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 });
        cb(err);
        return;
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ session, envelope: structuredClone(session.envelope), data: Buffer.concat(chunks), secure: session.secure });
        cb(null, 'queued by smtp-server');
      });
    },
    ...options,
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const connections: SmtpConnection[] = [];
const peers: Peer[] = [];
after(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await Promise.all(peers.map((p) => p.close()));
});

async function open(peer: Peer, options: Partial<ClientOptions> = {}): Promise<SmtpConnection> {
  const c = await connectSmtp({ address: HOST, port: peer.port, serverName: 'peer.test', helo: 'client.test', tls: 'opportunistic', timeouts: TIMEOUTS, ...options });
  connections.push(c);
  return c;
}

const BODY = 'From: a@client.test\r\nTo: b@peer.test\r\nSubject: über\r\n\r\n.hidden line\r\n..two\r\n.\r\nend\r\n';

function message(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return { sender: 'a@client.test', recipients: [{ address: 'b@peer.test' }, { address: 'c@peer.test' }], data: Buffer.from(BODY, 'utf8'), ...overrides };
}

describe('SMTP client against smtp-server', () => {
  let pems: { private: string; cert: string };
  before(async () => {
    pems = await generate([{ name: 'commonName', value: 'peer.test' }], { keySize: 2048 });
  });

  it('delivers in plain text with PIPELINING: envelope and bytes arrive as sent', async () => {
    const peer = await startPeer({ hideSTARTTLS: true });
    peers.push(peer);
    const c = await open(peer);
    assert.equal(c.tls, false);
    assert.equal(c.tlsFailure, null);
    assert.equal(c.capabilities.pipelining, true);
    assert.equal(c.capabilities.size, 1024 * 1024);
    const res = await c.send(message());
    assert.deepEqual(res.recipients.map((r) => [r.address, r.reply.code, r.stage]), [
      ['b@peer.test', 250, 'data'],
      ['c@peer.test', 250, 'data'],
    ]);
    const got = peer.received[0];
    assert.ok(got);
    assert.equal(got.envelope.mailFrom && got.envelope.mailFrom.address, 'a@client.test');
    assert.deepEqual(got.envelope.rcptTo.map((r) => r.address), ['b@peer.test', 'c@peer.test']);
    assert.equal(got.data.toString('utf8'), BODY, 'dot-stuffed lines arrive intact');
    assert.equal((got.envelope as { bodyType?: string }).bodyType, '8bitmime');
    assert.equal(got.secure, false);
  });

  it('upgrades with STARTTLS to a self-signed certificate and delivers over TLS', async () => {
    const peer = await startPeer({ key: pems.private, cert: pems.cert });
    peers.push(peer);
    const c = await open(peer);
    assert.equal(c.tls, true);
    const res = await c.send(message());
    assert.equal(res.recipients[0]?.reply.code, 250);
    assert.equal(peer.received[0]?.secure, true);
    assert.equal(peer.received[0]?.data.toString('utf8'), BODY);
  });

  it('stays in plain text when told not to use TLS, even when STARTTLS is offered', async () => {
    const peer = await startPeer({ key: pems.private, cert: pems.cert });
    peers.push(peer);
    const c = await open(peer, { tls: 'none' });
    assert.equal(c.tls, false);
    await c.send(message());
    assert.equal(peer.received[0]?.secure, false);
  });

  it('passes DSN parameters on, xtext-encoded, when the server offers DSN', async () => {
    const peer = await startPeer({ hideSTARTTLS: true, hideDSN: false });
    peers.push(peer);
    const c = await open(peer);
    assert.equal(c.capabilities.dsn, true);
    await c.send(
      message({
        ret: 'HDRS',
        envid: 'id+1=x',
        recipients: [
          { address: 'b@peer.test', notify: ['SUCCESS', 'FAILURE'], orcpt: { type: 'rfc822', address: 'b+tag@peer.test' } },
          { address: 'c@peer.test', notify: ['NEVER'] },
        ],
      }),
    );
    const env = peer.received[0]?.envelope as unknown as {
      dsn: { ret: string; envid: string };
      rcptTo: Array<{ address: string; dsn?: { notify?: string[]; orcpt?: string } }>;
    };
    assert.deepEqual(env.dsn, { ret: 'HDRS', envid: 'id+1=x' });
    assert.deepEqual(env.rcptTo[0]?.dsn, { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;b+tag@peer.test' });
    assert.deepEqual(env.rcptTo[1]?.dsn, { notify: ['NEVER'] });
  });

  it('sends no DSN parameters when the server hides DSN', async () => {
    const peer = await startPeer({ hideSTARTTLS: true, hideDSN: true });
    peers.push(peer);
    const c = await open(peer);
    assert.equal(c.capabilities.dsn, false);
    const res = await c.send(message({ ret: 'FULL', envid: 'e', recipients: [{ address: 'b@peer.test', notify: ['FAILURE'] }] }));
    assert.equal(res.recipients[0]?.reply.code, 250);
  });

  it('reports a refused recipient and delivers to the others, and the connection carries a second message', async () => {
    const peer = await startPeer({ hideSTARTTLS: true });
    peers.push(peer);
    const c = await open(peer);
    const res = await c.send(message({ recipients: [{ address: 'unknown@peer.test' }, { address: 'b@peer.test' }] }));
    assert.deepEqual(res.recipients.map((r) => [r.reply.code, r.stage]), [[550, 'rcpt'], [250, 'data']]);
    const res2 = await c.send(message({ sender: '', recipients: [{ address: 'c@peer.test' }] }));
    assert.equal(res2.recipients[0]?.reply.code, 250);
    assert.equal(peer.received.length, 2);
    assert.deepEqual(peer.received[0]?.envelope.rcptTo.map((r) => r.address), ['b@peer.test']);
    const nullSender = peer.received[1]?.envelope.mailFrom;
    assert.equal(nullSender && nullSender.address, '', 'the null sender arrives as <>');
  });

  it('asks for SMTPUTF8 for an internationalised address', async () => {
    const peer = await startPeer({ hideSTARTTLS: true });
    peers.push(peer);
    const c = await open(peer);
    const res = await c.send(message({ recipients: [{ address: 'jörg@peer.test' }] }));
    assert.equal(res.recipients[0]?.reply.code, 250);
    assert.equal((peer.received[0]?.envelope as { smtpUtf8?: boolean }).smtpUtf8, true);
    assert.equal(peer.received[0]?.envelope.rcptTo[0]?.address, 'jörg@peer.test');
  });
});
