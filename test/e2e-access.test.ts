/**
 * The access services as a user meets them, through the real composition root: alice submits a
 * message with AUTH over STARTTLS, it is delivered into bob's INBOX, and bob reads it over IMAP and
 * over POP3 — every step with Python's own smtplib, imaplib and poplib.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { hashPassword } from '../src/store/password.ts';
import { eventually, inboxSubjects, startNode, type LabNode } from './helpers/lab.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const HOST = '127.0.99.1';
const python = spawnSync('python3', ['--version']).status === 0;

/** Runs a Python script without blocking this process's event loop: the server under test lives here. */
function py(script: string, timeoutMs = 30_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('python3', ['-c', script], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('submission, IMAP and POP3 through the composition root', () => {
  let node: LabNode;
  before(async () => {
    node = await startNode(
      {
        hostname: 'mail.domain.test',
        address: HOST,
        domains: [['domain.test', 'primary']],
        config: {
          submission: { listen: [`${HOST}:5870`], tls_listen: [`${HOST}:4650`] },
          imap: { listen: [`${HOST}:1143`], tls_listen: [`${HOST}:9930`] },
          pop3: { listen: [`${HOST}:1110`], tls_listen: [`${HOST}:9950`] },
        },
      },
      '127.0.0.1:53',
    );
    for (const [address, password] of [['alice@domain.test', 'alice-pw'], ['bob@domain.test', 'bob-pw']] as const) {
      await node.postern.store.createAccount({ address, passwordHash: await hashPassword(password) });
    }
  });
  after(async () => {
    await node?.postern.stop();
  });

  it('lists every access endpoint', () => {
    const services = node.postern.endpoints().map((e) => `${e.service} ${e.protocol} ${e.address.port}`);
    for (const want of ['submission starttls 5870', 'submission tls 4650', 'imap starttls 1143', 'imap tls 9930', 'pop3 stls 1110', 'pop3 tls 9950']) {
      assert.ok(services.includes(want), `${want} in ${services.join(', ')}`);
    }
  });

  it('alice submits to bob; bob reads it over IMAP and POP3', async (t) => {
    if (!python) {
      t.skip('python3 not installed');
      return;
    }
    const script = `
import smtplib, imaplib, poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('${HOST}', 5870, timeout=10); s.starttls(context=ctx); s.login('alice@domain.test', 'alice-pw')
s.sendmail('alice@domain.test', ['bob@domain.test'], b'From: alice@domain.test\\r\\nTo: bob@domain.test\\r\\nSubject: hello bob\\r\\n\\r\\nsee you\\r\\n')
s.quit()
print('submitted')
`;
    const sent = await py(script);
    assert.equal(sent.status, 0, sent.stderr);
    await eventually(async () => (await inboxSubjects(node, 'bob@domain.test')).includes('hello bob'), 15_000, 'delivery to bob');

    const read = `
import imaplib, poplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4('${HOST}', 1143); m.starttls(ssl_context=ctx); m.login('bob@domain.test', 'bob-pw')
m.select('INBOX'); typ, ids = m.search(None, 'SUBJECT', '"hello bob"')
typ, data = m.fetch(ids[0].split()[0], '(BODY[HEADER.FIELDS (SUBJECT FROM)])')
print('imap', data[0][1].decode().strip().replace('\\r\\n', ' | '))
m.logout()
p = poplib.POP3_SSL('${HOST}', 9950, context=ctx); p.user('bob@domain.test'); p.pass_('bob-pw')
count, size = p.stat(); lines = p.retr(count)[1]
print('pop3', count, [l.decode() for l in lines if l.startswith(b'Subject:')][0])
p.quit()
`;
    const got = await py(read);
    assert.equal(got.status, 0, got.stderr);
    assert.match(got.stdout, /^imap (From: alice@domain\.test \| Subject: hello bob|Subject: hello bob \| From: alice@domain\.test)$/m);
    assert.match(got.stdout, /^pop3 1 Subject: hello bob$/m);
  });

  it('refuses a login with a wrong password on every service, and to send as someone else', async (t) => {
    if (!python) {
      t.skip('python3 not installed');
      return;
    }
    const script = `
import smtplib, imaplib, poplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL('${HOST}', 4650, context=ctx, timeout=10)
try: s.login('alice@domain.test', 'wrong'); print('smtp accepted')
except smtplib.SMTPAuthenticationError as e: print('smtp refused', e.smtp_code)
s.login('alice@domain.test', 'alice-pw')
try: s.sendmail('bob@domain.test', ['bob@domain.test'], b'Subject: forged\\r\\n\\r\\nx\\r\\n'); print('forged accepted')
except smtplib.SMTPSenderRefused as e: print('forged refused', e.smtp_code)
s.quit()
m = imaplib.IMAP4_SSL('${HOST}', 9930, ssl_context=ctx)
try: m.login('bob@domain.test', 'wrong'); print('imap accepted')
except imaplib.IMAP4.error: print('imap refused')
p = poplib.POP3('${HOST}', 1110); p.stls(context=ctx); p.user('bob@domain.test')
try: p.pass_('wrong'); print('pop3 accepted')
except poplib.error_proto: print('pop3 refused')
`;
    const r = await py(script, 60_000);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['smtp refused 535', 'forged refused 553', 'imap refused', 'pop3 refused']);
  });
});
