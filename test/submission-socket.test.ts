/**
 * Submission (RFC 6409) over real loopback sockets, against the real session, authenticator, store
 * and queue: swaks, Python's smtplib and nodemailer log in over STARTTLS and over implicit TLS
 * (RFC 8314) and their messages reach the queue with source 'submission'; the sender policy
 * (553 5.7.1 for another's MAIL FROM or header From) and the Date and Message-ID added when missing.
 * A tool missing on this machine skips with the reason.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { createAuthenticator } from '../src/auth/authenticator.ts';
import { encodeBase64 } from '../src/auth/sasl.ts';
import { silentLogger } from '../src/core/logger.ts';
import { submissionHooks } from '../src/delivery/submission.ts';
import { startSmtpServer } from '../src/smtp/server/server.ts';
import type { SmtpServer } from '../src/smtp/server/types.ts';
import { hashPassword } from '../src/store/password.ts';
import { openSqliteStore } from '../src/store/sqlite/open.ts';
import type { Store } from '../src/store/types.ts';
import { createTlsSource } from '../src/tls/source.ts';
import { fixedDomains } from '../src/delivery/domains.ts';
import { RawSmtpClient } from './helpers/smtp-socket-client.ts';

const run = promisify(execFile);
const HOST = '127.0.58.1';
const dec = (b: Uint8Array | null): string => new TextDecoder().decode(b ?? new Uint8Array());
const PASSWORD = 'correct horse battery';
const PLAIN = encodeBase64(`\u0000alice@example.test\u0000${PASSWORD}`);

async function which(tool: string): Promise<string | null> {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return null;
}

describe('submission over sockets', () => {
  let store: Store;
  let srv: SmtpServer;
  let port: number;
  let tlsPort: number;
  let queued = 0;

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const passwordHash = await hashPassword(PASSWORD, { params: { N: 2 ** 10, r: 8, p: 1 } });
    await store.createAccount({ address: 'alice@example.test', passwordHash });
    await store.createAccount({ address: 'bob@example.test', passwordHash: await hashPassword('bob', { params: { N: 2 ** 10, r: 8, p: 1 } }) });
    await store.addAlias({ alias: 'sales@example.test', target: 'alice@example.test' });
    await store.addAlias({ alias: 'team@example.test', target: 'bob@example.test' });
    const tls = await createTlsSource({ dataDir: mkdtempSync(join(tmpdir(), 'postern-submission-')), hostname: 'submit.example.test', logger: silentLogger });
    const authenticator = createAuthenticator({ store, maxFailures: 10, lockoutMs: 60_000, delayStepMs: 10, maxDelayMs: 50, logger: silentLogger });
    srv = await startSmtpServer({
      listen: [{ host: HOST, port: 0 }],
      tlsListen: [{ host: HOST, port: 0 }],
      hostname: 'submit.example.test',
      mode: 'submission',
      tls,
      authenticator,
      hooks: submissionHooks({
        domains: fixedDomains([{ name: 'example.test', role: 'primary' }]),
        store,
        verifier: null,
        onQueued: () => queued++,
        logger: silentLogger,
        hostname: 'submit.example.test',
      }),
    });
    port = srv.addresses[0]?.port ?? 0;
    tlsPort = srv.tlsAddresses[0]?.port ?? 0;
  });
  after(async () => {
    await srv.close();
    await store.close();
  });

  /** The queued message whose data matches `pattern`, with its text. */
  async function findQueued(pattern: RegExp): Promise<{ source: string; sender: string; recipients: string[]; text: string }> {
    for (const m of await store.listQueue({ limit: 1000 })) {
      const text = dec(await store.readQueuedData(m.id));
      if (pattern.test(text)) return { source: m.source, sender: m.sender, recipients: m.recipients.map((r) => r.address), text };
    }
    assert.fail(`no queued message matches ${pattern}`);
  }

  async function loggedIn(): Promise<RawSmtpClient> {
    const c = await RawSmtpClient.connect(HOST, port);
    await c.reply('220 submit.example.test');
    await c.send('EHLO client.test', '250');
    await c.send('STARTTLS', '220');
    await c.startTls();
    await c.send('EHLO client.test', '250');
    await c.send(`AUTH PLAIN ${PLAIN}`, '235 2.7.0');
    return c;
  }

  describe('with real clients', () => {
    it('accepts from swaks with --auth PLAIN --tls, and with --tlsc on the implicit-TLS port', async (t) => {
      const swaks = (await which('swaks')) ?? (existsSync('/usr/bin/swaks') ? '/usr/bin/swaks' : null);
      if (swaks === null) return t.skip('swaks is not installed');
      const common = ['--server', HOST, '--from', 'alice@example.test', '--to', 'someone@remote.test', '--auth', 'PLAIN', '--auth-user', 'alice@example.test', '--auth-password', PASSWORD];
      try {
        await run(swaks, [...common, '--port', String(port), '--tls', '--header', 'Subject: swaks starttls'], { timeout: 20_000 });
        await run(swaks, [...common, '--port', String(tlsPort), '--tlsc', '--header', 'Subject: swaks implicit'], { timeout: 20_000 });
      } catch (err) {
        const text = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
        if (/not available|Net::SSLeay|IO::Socket::SSL/i.test(text)) return t.skip(`swaks cannot do TLS here: ${text.split('\n').find((l) => /SSL/.test(l)) ?? ''}`);
        throw err;
      }
      for (const subject of ['swaks starttls', 'swaks implicit']) {
        const m = await findQueued(new RegExp(`Subject: ${subject}`));
        assert.equal(m.source, 'submission');
        assert.equal(m.sender, 'alice@example.test');
        assert.deepEqual(m.recipients, ['someone@remote.test']);
        assert.match(m.text, /with ESMTPSA id\s/);
      }
    });

    it("accepts from Python's smtplib with starttls() and login(), and with SMTP_SSL", async (t) => {
      const python = await which('python3');
      if (python === null) return t.skip('python3 is not installed');
      const script = `
import smtplib, ssl, sys
host, port, tls_port, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(host, port, local_hostname='py.client.test', timeout=10)
s.starttls(context=ctx)
s.login('alice@example.test', password)
s.sendmail('alice@example.test', ['bob@example.test'], b'From: Alice <alice@example.test>\\r\\nSubject: python starttls\\r\\n\\r\\nhello\\r\\n')
s.quit()
s = smtplib.SMTP_SSL(host, tls_port, local_hostname='py.client.test', timeout=10, context=ctx)
s.login('alice@example.test', password)
s.sendmail('sales@example.test', ['carol@elsewhere.test'], b'From: Sales <sales@example.test>\\r\\nSubject: python implicit\\r\\n\\r\\nhello\\r\\n')
s.quit()
`;
      await run(python, ['-c', script, HOST, String(port), String(tlsPort), PASSWORD], { timeout: 30_000 });
      // A local recipient is delivered in the commit that accepts the message, not queued.
      const inbox = (await store.listMessages({ address: 'bob@example.test' })) ?? [];
      const texts = await Promise.all(inbox.map(async (m) => new TextDecoder().decode((await store.readMessage({ address: 'bob@example.test', uid: m.uid })) ?? new Uint8Array())));
      const local = texts.find((x) => /Subject: python starttls/.test(x));
      assert.ok(local !== undefined, 'in bob\'s INBOX');
      assert.match(local, /^Return-Path: <alice@example\.test>\r\nDelivered-To: bob@example\.test\r\n/);
      assert.match(local, /with ESMTPSA id\s/);
      const remote = await findQueued(/Subject: python implicit/);
      assert.equal(remote.source, 'submission');
      assert.equal(remote.sender, 'sales@example.test');
      assert.deepEqual(remote.recipients, ['carol@elsewhere.test']);
    });

    it('accepts from nodemailer over STARTTLS (LOGIN) and over implicit TLS (PLAIN)', async () => {
      const send = async (secure: boolean, method: 'LOGIN' | 'PLAIN', subject: string): Promise<void> => {
        const transport = nodemailer.createTransport({
          host: HOST,
          port: secure ? tlsPort : port,
          secure,
          requireTLS: true,
          name: 'nm.client.test',
          auth: { user: 'alice@example.test', pass: PASSWORD, method },
          tls: { rejectUnauthorized: false },
        });
        try {
          const info = await transport.sendMail({ from: 'alice@example.test', to: ['dave@far.test'], subject, text: 'hi\n' });
          assert.deepEqual(info.accepted, ['dave@far.test']);
        } finally {
          transport.close();
        }
      };
      await send(false, 'LOGIN', 'nodemailer starttls');
      await send(true, 'PLAIN', 'nodemailer implicit');
      for (const subject of ['nodemailer starttls', 'nodemailer implicit']) {
        const m = await findQueued(new RegExp(`Subject: ${subject}`));
        assert.equal(m.source, 'submission');
      }
    });

    it('refuses a wrong password from nodemailer with 535 5.7.8', async () => {
      const transport = nodemailer.createTransport({
        host: HOST,
        port: tlsPort,
        secure: true,
        auth: { user: 'alice@example.test', pass: 'wrong' },
        tls: { rejectUnauthorized: false },
      });
      try {
        await assert.rejects(transport.sendMail({ from: 'alice@example.test', to: 'x@far.test', text: 'x' }), (err: Error & { responseCode?: number }) => err.responseCode === 535);
      } finally {
        transport.close();
      }
    });
  });

  describe('sender policy', () => {
    it('refuses MAIL FROM of another account with 553 5.7.1, and accepts the user and their alias', async () => {
      const c = await loggedIn();
      await c.send('MAIL FROM:<bob@example.test>', '553 5.7.1');
      await c.send('MAIL FROM:<team@example.test>', '553 5.7.1');
      await c.send('MAIL FROM:<alice@remote.test>', '553 5.7.1');
      await c.send('MAIL FROM:<>', '553 5.7.1');
      await c.send('MAIL FROM:<SALES@example.test>', '250 2.1.0');
      await c.send('RSET', '250');
      await c.send('MAIL FROM:<Alice@Example.TEST>', '250 2.1.0');
      await c.send('QUIT', '221');
    });

    it('refuses a forged header From with 553 5.7.1 at the end of DATA, and queues nothing', async () => {
      const c = await loggedIn();
      const before = (await store.listQueue({ limit: 1000 })).length;
      for (const from of ['Bob <bob@example.test>', 'alice@example.test, bob@example.test', 'Team: bob@example.test;', '"alice@example.test" <bob@example.test>']) {
        await c.send('MAIL FROM:<alice@example.test>', '250');
        await c.send('RCPT TO:<x@far.test>', '250');
        await c.send('DATA', '354');
        await c.send(`From: ${from}\r\nSubject: forged\r\n\r\nhi\r\n.`, '553 5.7.1');
      }
      assert.equal((await store.listQueue({ limit: 1000 })).length, before);
      await c.send('QUIT', '221');
    });

    it('accepts a header From of the user or an alias, with display names and comments', async () => {
      const c = await loggedIn();
      await c.send('MAIL FROM:<alice@example.test>', '250');
      await c.send('RCPT TO:<x@far.test>', '250');
      await c.send('DATA', '354');
      await c.send('From: "Smith, Alice" <alice@example.test>, sales@example.test (Sales desk)\r\nSubject: allowed from\r\n\r\nhi\r\n.', '250 2.0.0');
      await c.send('QUIT', '221');
      assert.equal((await findQueued(/Subject: allowed from/)).source, 'submission');
    });

    it('adds Message-ID and Date when missing, after the existing fields, and keeps those given', async () => {
      const c = await loggedIn();
      await c.send('MAIL FROM:<alice@example.test>', '250');
      await c.send('RCPT TO:<x@far.test>', '250');
      await c.send('DATA', '354');
      await c.send('From: alice@example.test\r\nSubject: bare\r\n\r\nbody\r\n.', '250');
      await c.send('MAIL FROM:<alice@example.test>', '250');
      await c.send('RCPT TO:<x@far.test>', '250');
      await c.send('DATA', '354');
      await c.send('From: alice@example.test\r\nSubject: dressed\r\nDate: Tue, 1 Dec 2026 09:05:03 +0000\r\nMessage-ID: <given@client.test>\r\n\r\nbody\r\n.', '250');
      await c.send('QUIT', '221');

      const bare = await findQueued(/Subject: bare/);
      assert.match(bare.text, /\r\nSubject: bare\r\nMessage-ID: <[0-9a-z]+\.[0-9a-z]+@submit\.example\.test>\r\nDate: [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r\n\r\nbody\r\n$/);
      const dressed = await findQueued(/Subject: dressed/);
      assert.equal(dressed.text.match(/^Message-ID:/gim)?.length, 1);
      assert.equal(dressed.text.match(/^Date:/gim)?.length, 1);
      assert.match(dressed.text, /Message-ID: <given@client\.test>/);
    });

    it('refuses unauthenticated mail on the implicit-TLS port with 530 5.7.0', async () => {
      const { connect } = await import('node:tls');
      const socket = connect({ host: HOST, port: tlsPort, rejectUnauthorized: false });
      const lines: string[] = [];
      let buffer = '';
      await new Promise<void>((resolve, reject) => {
        socket.on('error', reject);
        socket.on('data', (d: Buffer) => {
          buffer += d.toString('utf8');
          const parts = buffer.split('\r\n');
          buffer = parts.pop() ?? '';
          for (const l of parts) {
            lines.push(l);
            if (/^220 /.test(l)) socket.write('EHLO c.test\r\nMAIL FROM:<alice@example.test>\r\nQUIT\r\n');
          }
          if (lines.some((l) => l.startsWith('221'))) resolve();
        });
      });
      socket.destroy();
      assert.ok(lines.includes('250-AUTH PLAIN LOGIN'), lines.join('|'));
      assert.ok(!lines.some((l) => l.includes('STARTTLS')));
      assert.ok(lines.some((l) => l.startsWith('530 5.7.0 Authentication required')), lines.join('|'));
    });
  });
});
