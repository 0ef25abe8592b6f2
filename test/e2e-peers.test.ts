/**
 * Interoperability with real peers, end to end. Independent clients (swaks, Python's smtplib,
 * nodemailer, Postfix's smtp-source load generator) deliver to a Postern primary for domain.test
 * over real sockets; a Postern sender walks the MX of peer.test (served by a Postern DNS server) and
 * delivers to `smtp-server` and to a private Postfix instance, each the final destination of
 * peer.test on 127.0.88.1 in turn. A tool missing on this machine skips with the reason; `.ci/run`
 * installs them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerSession } from 'smtp-server';
import { loadConfig } from '../src/config/load.ts';
import { formatHostPort } from '../src/core/host-port.ts';
import { silentLogger } from '../src/core/logger.ts';
import { startPostern, type RunningPostern } from '../src/main.ts';
import { eventually, inboxSubjects, send, SMTP_PORT, startNode, type LabNode } from './helpers/lab.ts';
import { postfixUnavailable, startPostfix } from './helpers/postfix.ts';
import { tempDir, writeConfig } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

const run = promisify(execFile);
const USER = 'user@domain.test';
/** The Postern primary for domain.test that the client tools talk to. */
const PRIMARY = '127.0.88.2';
/** peer.test's MX: smtp-server, then Postfix. */
const PEER = '127.0.88.1';
const DNS_HOST = '127.0.88.53';
const PEER_ZONE = `$ORIGIN peer.test.
$TTL 300
@       IN SOA  ns1.peer.test. hostmaster.peer.test. ( 2026112901 7200 3600 1209600 300 )
        IN NS   ns1.peer.test.
ns1     IN A    ${DNS_HOST}
@       IN MX   10 mx
mx      IN A    ${PEER}
`;

/** The tool's path: a PATH entry, else one of the usual places; null when it is not installed. */
function which(tool: string, usual: string[] = []): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return usual.find((p) => existsSync(p)) ?? null;
}

/** A DNS-only Postern publishing peer.test. */
async function peerDns(): Promise<{ postern: RunningPostern; resolver: string }> {
  const zones = tempDir('peer-zones');
  writeFileSync(join(zones, 'peer.test.zone'), PEER_ZONE);
  // Its own resolver is never asked, but must not default to the system's.
  const path = writeConfig(`hostname = "ns1.peer.test"\n[log]\nlevel = "silent"\n[dns]\nlisten = ["${DNS_HOST}:0"]\nresolvers = ["${DNS_HOST}:53"]\nzones_dir = ${JSON.stringify(zones)}\n`);
  const postern = await startPostern(loadConfig(path), silentLogger);
  const dns = postern.endpoints().find((e) => e.service === 'dns');
  if (dns === undefined) throw new Error('the DNS server did not start');
  return { postern, resolver: formatHostPort(dns.address) };
}

/** The text of the one INBOX message whose Subject is `subject`, its header lines unfolded. */
async function inboxMessage(node: LabNode, address: string, subject: string): Promise<string> {
  const list = (await node.postern.store.listMessages({ address })) ?? [];
  for (const m of list) {
    const bytes = await node.postern.store.readMessage({ address, uid: m.uid });
    const text = new TextDecoder().decode(bytes ?? new Uint8Array());
    if (new RegExp(`^Subject: ${subject}\r$`, 'm').test(text)) return text.replace(/\r\n[ \t]+/g, ' ');
  }
  throw new Error(`no message "${subject}" in ${address}'s INBOX`);
}

/** The Message-Id of every smtp-source message ("Subject: load") in the INBOX. */
async function loadMessageIds(node: LabNode): Promise<string[]> {
  const ids: string[] = [];
  for (const m of (await node.postern.store.listMessages({ address: USER })) ?? []) {
    const text = new TextDecoder().decode((await node.postern.store.readMessage({ address: USER, uid: m.uid })) ?? new Uint8Array());
    if (!/^Subject: load\r$/m.test(text)) continue;
    ids.push(/^Message-Id: (.*)\r$/im.exec(text)?.[1] ?? '');
  }
  return ids;
}

/** The stdout of a failed child process, to explain the failure. */
function output(err: unknown): string {
  const e = err as { stdout?: unknown; stderr?: unknown; message?: unknown };
  return `${String(e.message ?? err)}\n${String(e.stdout ?? '')}${String(e.stderr ?? '')}`;
}

describe('peers, end to end', () => {
  let dns: RunningPostern;
  let resolver: string;
  let primary: LabNode;
  let sender: LabNode;

  before(async () => {
    ({ postern: dns, resolver } = await peerDns());
    primary = await startNode({ hostname: 'mx.domain.test', address: PRIMARY, domains: [['domain.test', 'primary']], accounts: [USER] }, resolver);
    sender = await startNode({ hostname: 'sender.test' }, resolver);
  });
  after(async () => {
    for (const n of [sender, primary]) await n?.postern.stop();
    await dns?.stop();
  });

  describe('clients deliver to a Postern primary', () => {
    it('accepts a message from swaks over STARTTLS and files it in the INBOX', { timeout: 30_000 }, async (t) => {
      const swaks = which('swaks', ['/usr/bin/swaks']);
      if (swaks === null) return t.skip('swaks not installed: apt-get install swaks');
      try {
        await run(swaks, ['--server', PRIMARY, '--port', String(SMTP_PORT), '--tls', '--helo', 'swaks.client.test', '--from', 'swaks@sender.test', '--to', USER, '--header', 'Subject: from swaks', '--body', 'hello from swaks'], { timeout: 20_000 });
      } catch (err) {
        const text = output(err);
        if (/Net::SSLeay|IO::Socket::SSL|TLS not available/i.test(text) && !/<\*\*/.test(text)) return t.skip(`swaks cannot do TLS here: ${text.split('\n')[0]}`);
        assert.fail(`swaks failed: ${text}`);
      }
      await eventually(async () => (await inboxSubjects(primary, USER)).includes('from swaks'), 10_000, 'the swaks message in the INBOX');
      const text = await inboxMessage(primary, USER, 'from swaks');
      assert.match(text, /^Return-Path: <swaks@sender\.test>\r\n/);
      assert.match(text, /^Received: from swaks\.client\.test .* with ESMTPS id /m, 'received over TLS');
      assert.match(text, /\r\n\r\nhello from swaks\r\n/);
    });

    it("accepts a message from Python's smtplib over STARTTLS and files it in the INBOX", { timeout: 30_000 }, async (t) => {
      const python = which('python3', ['/usr/bin/python3']);
      if (python === null) return t.skip('python3 not installed: apt-get install python3');
      const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname='py.client.test', timeout=10) as s:
    s.starttls(context=ctx)
    s.ehlo('py.client.test')
    refused = s.sendmail('py@sender.test', [sys.argv[3]], b'From: py@sender.test\\r\\nTo: ' + sys.argv[3].encode() + b'\\r\\nSubject: from smtplib\\r\\n\\r\\nline one\\r\\n.leading dot\\r\\n')
    assert refused == {}, refused
`;
      try {
        await run(python, ['-c', script, PRIMARY, String(SMTP_PORT), USER], { timeout: 20_000 });
      } catch (err) {
        assert.fail(`smtplib failed: ${output(err)}`);
      }
      await eventually(async () => (await inboxSubjects(primary, USER)).includes('from smtplib'), 10_000, 'the smtplib message in the INBOX');
      const text = await inboxMessage(primary, USER, 'from smtplib');
      assert.match(text, /^Received: from py\.client\.test .* with ESMTPS id /m, 'received over TLS');
      // smtplib dot-stuffs the leading dot; the stored message has it back as one.
      assert.match(text, /\r\n\r\nline one\r\n\.leading dot\r\n$/);
    });

    it('accepts a message from nodemailer over STARTTLS and files it in the INBOX', { timeout: 30_000 }, async () => {
      const transport = nodemailer.createTransport({ host: PRIMARY, port: SMTP_PORT, secure: false, requireTLS: true, name: 'nm.client.test', tls: { rejectUnauthorized: false }, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 10_000 });
      try {
        const info = await transport.sendMail({ from: 'nm@sender.test', to: [USER], subject: 'from nodemailer', text: 'hello\n.dot line\n' });
        assert.deepEqual(info.accepted, [USER]);
        assert.deepEqual(info.rejected, []);
      } finally {
        transport.close();
      }
      await eventually(async () => (await inboxSubjects(primary, USER)).includes('from nodemailer'), 10_000, 'the nodemailer message in the INBOX');
      const text = await inboxMessage(primary, USER, 'from nodemailer');
      assert.match(text, /^Received: from nm\.client\.test .* with ESMTPS id /m, 'received over TLS');
      assert.match(text, /\r\n\.dot line\r\n/);
    });

    it("accepts smtp-source's load of 200 messages in 5 sessions, every one in the INBOX", { timeout: 90_000 }, async (t) => {
      const source = which('smtp-source', ['/usr/sbin/smtp-source']);
      if (source === null) return t.skip('smtp-source not installed: apt-get install postfix (it comes with it)');
      const before = (await inboxSubjects(primary, USER)).length;
      try {
        await run(source, ['-s', '5', '-m', '200', '-S', 'load', '-M', 'load.client.test', '-f', 'a@sender.test', '-t', USER, `${PRIMARY}:${SMTP_PORT}`], { timeout: 60_000 });
      } catch (err) {
        assert.fail(`smtp-source failed: ${output(err)}`);
      }
      const subjects = await eventually(async () => {
        const s = await inboxSubjects(primary, USER);
        return s.length >= before + 200 ? s : null;
      }, 30_000, '200 load messages in the INBOX');
      assert.equal(subjects.filter((s) => s === 'load').length, 200, 'each message once');
      assert.equal(subjects.length, before + 200);
      const sample = await inboxMessage(primary, USER, 'load');
      assert.match(sample, /^Received: from load\.client\.test \(unknown \[127\.0\.0\.1\]\) by mx\.domain\.test with E?SMTP id /m);
      assert.match(sample, /\r\nSubject: load\r\n\r\nLa de da de da 1\.\r\nLa de da de da 2\.\r\nLa de da de da 3\.\r\nLa de da de da 4\.\r\n$/, 'the body arrives intact');
      assert.equal(new Set(await loadMessageIds(primary)).size, 200, 'two hundred distinct messages');
      // The last message is removed from the queue just after its delivery is committed.
      await eventually(async () => (await primary.postern.store.listQueue()).length === 0, 10_000, 'the primary queue empty');
    });
  });

  describe('Postern delivers to peers', () => {
    it('delivers to smtp-server, the MX of peer.test, with the right envelope and body', { timeout: 30_000 }, async () => {
      const received: Array<{ envelope: SMTPServerSession['envelope']; data: string; secure: boolean; helo: string }> = [];
      const server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['AUTH'],
        logger: false,
        // Our pooled connection stays open after the message: close it soon rather than in 30 s.
        closeTimeout: 200,
        onData(stream, session, cb) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            received.push({ envelope: structuredClone(session.envelope), data: Buffer.concat(chunks).toString('utf8'), secure: session.secure, helo: session.hostNameAppearsAs });
            cb(null, 'queued by smtp-server');
          });
        },
      });
      server.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(SMTP_PORT, PEER, resolve);
      });
      assert.equal((server.server.address() as AddressInfo).port, SMTP_PORT);
      try {
        const id = await send(sender, 'someone@peer.test', 'to smtp-server');
        await eventually(() => received.length > 0, 15_000, 'smtp-server to receive the message');
        await eventually(async () => (await sender.postern.store.listQueue()).length === 0, 5000, "the sender's queue to empty");
        assert.equal(received.length, 1, 'delivered once');
        const got = received[0]!;
        assert.equal(got.envelope.mailFrom === false ? null : got.envelope.mailFrom.address, 'alice@sender.test');
        assert.deepEqual(got.envelope.rcptTo.map((r) => r.address), ['someone@peer.test']);
        assert.equal(got.helo, 'sender.test');
        assert.equal(got.secure, true, 'opportunistic STARTTLS was used');
        const original = `From: alice@sender.test\r\nTo: someone@peer.test\r\nSubject: to smtp-server\r\nMessage-ID: <${id}@sender.test>\r\n\r\nhello\r\n`;
        assert.ok(got.data.endsWith(original), `the body arrives intact:\n${got.data}`);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('delivers to a private Postfix, the final destination of peer.test, into its Maildir', { timeout: 60_000 }, async (t) => {
      const reason = postfixUnavailable();
      if (reason !== null) return t.skip(reason);
      const postfix = await startPostfix({ address: PEER, port: SMTP_PORT, domain: 'peer.test', mailboxes: ['someone'] });
      try {
        const id = await send(sender, 'someone@peer.test', 'to postfix');
        const files = await eventually(() => {
          const f = postfix.newMessages('someone');
          return f.length > 0 ? f : null;
        }, 20_000, "the message in Postfix's Maildir").catch((err: unknown) => {
          throw new Error(`${String(err)}\nPostfix log:\n${postfix.log()}`);
        });
        await eventually(async () => (await sender.postern.store.listQueue()).length === 0, 5000, "the sender's queue to empty");
        assert.equal(files.length, 1, 'delivered once');
        const text = readFileSync(files[0]!, 'utf8');
        // virtual(8) writes LF line ends and adds the envelope as headers of its own.
        assert.match(text, /^Return-Path: <alice@sender\.test>\n/);
        assert.match(text, /^Delivered-To: someone@peer\.test\n/m);
        assert.match(text, /^Received: from sender\.test \(unknown \[127\.0\.0\.1\]\)\n(?:\t.*\n)*?\tby mx\.peer\.test \(Postfix\) with ESMTPS/m, 'received over TLS');
        // Postfix's cleanup(8) adds the Date: header the message lacked; nothing else changes.
        const tail = `From: alice@sender.test\nTo: someone@peer.test\nSubject: to postfix\nMessage-ID: <${id}@sender.test>\nDate: `;
        assert.ok(text.includes(tail), `the headers arrive intact:\n${text}`);
        assert.match(text, /\nDate: [^\n]+\n\nhello\n$/, 'the body arrives intact');
        assert.match(postfix.log(), /status=sent \(delivered to maildir\)/);
      } finally {
        await postfix.stop();
      }
    });
  });
});
