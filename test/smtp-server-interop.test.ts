/**
 * Independent SMTP clients deliver to our server: Python's smtplib, swaks and nodemailer, each
 * with STARTTLS against the generated certificate. A tool missing on this machine skips with the
 * reason.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { ensureSelfSignedCertificate } from '../src/smtp/server/certificate.ts';
import { startSmtpServer } from '../src/smtp/server/server.ts';
import type { SmtpServer } from '../src/smtp/server/types.ts';
import { recordingHooks } from './helpers/smtp-transcript.ts';
import type { RecordingHooks } from './helpers/smtp-transcript.ts';

const run = promisify(execFile);
const HOST = '127.0.25.2';
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

async function which(tool: string): Promise<string | null> {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return null;
}

describe('SMTP server interop', () => {
  let srv: SmtpServer;
  let hooks: RecordingHooks;
  let port: number;
  before(async () => {
    const tls = await ensureSelfSignedCertificate(mkdtempSync(join(tmpdir(), 'postern-interop-')), 'mx.test');
    hooks = recordingHooks();
    srv = await startSmtpServer({ listen: [{ host: HOST, port: 0 }], hostname: 'mx.test', hooks, tls });
    port = srv.addresses[0]?.port ?? 0;
  });
  after(async () => {
    await srv.close();
  });

  function last(): { text: string; from: string; to: string[]; tls: boolean } {
    const d = hooks.delivered.at(-1);
    assert.ok(d !== undefined, 'nothing delivered');
    const tx = d.message.transaction;
    return {
      text: dec(d.message.data),
      from: `${tx.sender?.local}@${tx.sender?.domain}`,
      to: tx.recipients.map((r) => `${r.mailbox.local}@${r.mailbox.domain}`),
      tls: d.session.tls,
    };
  }

  it("accepts a message from Python's smtplib over STARTTLS", async (t) => {
    const python = await which('python3');
    if (python === null) return t.skip('python3 is not installed');
    const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname='py.client.test', timeout=10) as s:
    s.starttls(context=ctx)
    s.ehlo('py.client.test')
    refused = s.sendmail('py@sender.test', ['bob@mx.test', 'carol@mx.test'], b'Subject: from python\\r\\n\\r\\nline one\\r\\n.leading dot\\r\\n')
    assert refused == {}, refused
`;
    const before = hooks.delivered.length;
    await run(python, ['-c', script, HOST, String(port)], { timeout: 15_000 });
    assert.equal(hooks.delivered.length, before + 1);
    const m = last();
    assert.equal(m.from, 'py@sender.test');
    assert.deepEqual(m.to, ['bob@mx.test', 'carol@mx.test']);
    assert.equal(m.tls, true);
    assert.match(m.text, /^Received: from py\.client\.test .*with ESMTPS id/s);
    assert.match(m.text, /Subject: from python\r\n\r\nline one\r\n\.leading dot\r\n$/);
  });

  it('accepts a message from swaks, in plain text and over STARTTLS', async (t) => {
    const swaks = (await which('swaks')) ?? (existsSync('/usr/bin/swaks') ? '/usr/bin/swaks' : null);
    if (swaks === null) return t.skip('swaks is not installed');
    const common = ['--server', HOST, '--port', String(port), '--from', 'swaks@sender.test', '--to', 'bob@mx.test', '--helo', 'swaks.client.test'];
    const before = hooks.delivered.length;
    await run(swaks, [...common, '--header', 'Subject: plain swaks', '--body', 'hello from swaks'], { timeout: 15_000 });
    assert.equal(hooks.delivered.length, before + 1);
    assert.match(last().text, /Subject: plain swaks/);
    assert.equal(last().tls, false);
    try {
      await run(swaks, [...common, '--tls', '--header', 'Subject: tls swaks'], { timeout: 15_000 });
    } catch (err) {
      const text = String((err as { stdout?: string }).stdout ?? err);
      if (/not available|Net::SSLeay|IO::Socket::SSL/i.test(text)) return t.skip(`swaks cannot do TLS here: ${text.split('\n')[0]}`);
      throw err;
    }
    assert.equal(hooks.delivered.length, before + 2);
    assert.equal(last().tls, true);
    assert.match(last().text, /Subject: tls swaks/);
  });

  it('accepts a message from nodemailer over STARTTLS', async () => {
    const transport = nodemailer.createTransport({
      host: HOST,
      port,
      secure: false,
      requireTLS: true,
      name: 'nm.client.test',
      tls: { rejectUnauthorized: false },
    });
    const before = hooks.delivered.length;
    try {
      const info = await transport.sendMail({
        from: 'nm@sender.test',
        to: ['bob@mx.test'],
        subject: 'from nodemailer',
        text: 'hello\n.dot line\n',
      });
      assert.deepEqual(info.accepted, ['bob@mx.test']);
    } finally {
      transport.close();
    }
    assert.equal(hooks.delivered.length, before + 1);
    const m = last();
    assert.equal(m.from, 'nm@sender.test');
    assert.equal(m.tls, true);
    assert.match(m.text, /Subject: from nodemailer/);
    assert.match(m.text, /\r\n\.dot line\r\n/);
  });
});
