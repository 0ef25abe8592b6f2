/**
 * scenarios/5-vps, the tutorial's "basic configuration": one Postern at 127.60.0.1 serves DNS, SMTP,
 * submission, IMAP and POP3 for domain.test. alice sends through submission; bob reads over IMAP and
 * POP3; mail to an outside domain leaves through the MX walk. The clients are Python's smtplib,
 * imaplib and poplib, and curl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../src/store/password.ts';
import { eventually, inboxSubjects, startNode, type LabNode } from './helpers/lab.ts';
import { SCENARIOS, tempDir } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const VPS = '127.60.0.1';
const OUTSIDE = '127.60.0.99';
const has = (tool: string, arg = '--version') => spawnSync(tool, [arg]).status === 0;
const python = has('python3');
const curl = has('curl');

function run(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

describe('scenario 5-vps: one server for everything', () => {
  let vps: LabNode;
  let outside: LabNode;
  before(async () => {
    const zones = join(tempDir('vps-zones'), 'zones');
    mkdirSync(zones);
    copyFileSync(join(SCENARIOS, '5-vps', 'domain.test.zone'), join(zones, 'domain.test.zone'));
    writeFileSync(
      join(zones, 'outside.test.zone'),
      `$ORIGIN outside.test.\n$TTL 300\n@ IN SOA ns1 hostmaster ( 1 7200 3600 1209600 300 )\n  IN NS ns1\nns1 IN A ${VPS}\n@ IN MX 10 mx\nmx IN A ${OUTSIDE}\n`,
    );
    const resolver = `${VPS}:5353`;
    vps = await startNode(
      {
        hostname: 'mail.domain.test',
        address: VPS,
        domains: [['domain.test', 'primary']],
        config: {
          dns: { listen: [resolver], zones_dir: zones },
          submission: { listen: [`${VPS}:5870`], tls_listen: [`${VPS}:4650`] },
          imap: { listen: [`${VPS}:1143`], tls_listen: [`${VPS}:9930`] },
          pop3: { listen: [`${VPS}:1110`], tls_listen: [`${VPS}:9950`] },
        },
      },
      resolver,
    );
    outside = await startNode({ hostname: 'mx.outside.test', address: OUTSIDE, domains: [['outside.test', 'primary']], accounts: ['friend@outside.test'] }, resolver);
    for (const [address, password] of [['alice@domain.test', 'alice-pw'], ['bob@domain.test', 'bob-pw']] as const) {
      await vps.postern.store.createAccount({ address, passwordHash: await hashPassword(password) });
    }
  });
  after(async () => {
    await outside?.postern.stop();
    await vps?.postern.stop();
  });

  it('publishes the basic configuration\'s records itself', async (t) => {
    if (!has('dig', '-v')) {
      t.skip('dig not installed: apt-get install bind9-dnsutils');
      return;
    }
    const r = await run('dig', [`@${VPS}`, '-p', '5353', 'domain.test', 'MX', '+norecurse', '+short']);
    assert.equal(r.stdout.trim(), '10 mail.domain.test.');
  });

  it('alice sends to bob and to a friend outside; bob reads it over IMAP and POP3, the friend\'s server receives it', async (t) => {
    if (!python) {
      t.skip('python3 not installed');
      return;
    }
    const send = await run('python3', [
      '-c',
      `
import smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('${VPS}', 5870, timeout=10); s.starttls(context=ctx); s.login('alice@domain.test', 'alice-pw')
s.sendmail('alice@domain.test', ['bob@domain.test', 'friend@outside.test'], b'From: alice@domain.test\\r\\nTo: bob@domain.test, friend@outside.test\\r\\nSubject: basic configuration\\r\\n\\r\\nhello\\r\\n')
s.quit()
`,
    ]);
    assert.equal(send.status, 0, send.stderr);
    await eventually(async () => (await inboxSubjects(vps, 'bob@domain.test')).includes('basic configuration'), 15_000, 'bob\'s copy');
    await eventually(async () => (await inboxSubjects(outside, 'friend@outside.test')).includes('basic configuration'), 15_000, 'the outside copy, by the MX walk');
    const read = await run('python3', [
      '-c',
      `
import imaplib, poplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4('${VPS}', 1143); m.starttls(ssl_context=ctx); m.login('bob@domain.test', 'bob-pw')
m.select('INBOX'); typ, ids = m.search(None, 'SUBJECT', '"basic configuration"'); print('imap', len(ids[0].split()))
typ, data = m.fetch(ids[0].split()[0], '(BODYSTRUCTURE)'); print('structure', data[0].decode())
m.logout()
p = poplib.POP3('${VPS}', 1110); p.stls(context=ctx); p.user('bob@domain.test'); p.pass_('bob-pw')
print('pop3', p.stat()[0]); p.quit()
`,
    ]);
    assert.equal(read.status, 0, read.stderr);
    assert.match(read.stdout, /^imap 1$/m);
    assert.match(read.stdout, /BODYSTRUCTURE \("TEXT" "PLAIN"/i);
    assert.match(read.stdout, /^pop3 1$/m);
  });

  it('curl sends through submission with --ssl-reqd and credentials, and reads over IMAP and POP3', async (t) => {
    if (!curl) {
      t.skip('curl not installed: apt-get install curl');
      return;
    }
    const message = 'From: alice@domain.test\r\nTo: bob@domain.test\r\nSubject: sent by curl\r\n\r\nhi from curl\r\n';
    const sent = await run('curl', ['-sS', '--ssl-reqd', '-k', `smtp://${VPS}:5870`, '--user', 'alice@domain.test:alice-pw', '--mail-from', 'alice@domain.test', '--mail-rcpt', 'bob@domain.test', '--upload-file', '-'], message);
    assert.equal(sent.status, 0, sent.stderr);
    await eventually(async () => (await inboxSubjects(vps, 'bob@domain.test')).includes('sent by curl'), 15_000, 'the curl message');
    const uid = ((await vps.postern.store.listMessages({ address: 'bob@domain.test' })) ?? []).at(-1)?.uid;
    const imap = await run('curl', ['-sS', '--ssl-reqd', '-k', `imap://${VPS}:1143/INBOX;UID=${uid}`, '--user', 'bob@domain.test:bob-pw']);
    assert.equal(imap.status, 0, imap.stderr);
    assert.match(imap.stdout, /Subject: sent by curl/);
    const pop = await run('curl', ['-sS', '-k', `pop3s://${VPS}:9950/`, '--user', 'bob@domain.test:bob-pw']);
    assert.equal(pop.status, 0, pop.stderr);
    assert.match(pop.stdout, /^1 \d+\r?\n2 \d+/m, 'two messages listed');
    const noTls = await run('curl', ['-sS', `smtp://${VPS}:5870`, '--user', 'alice@domain.test:alice-pw', '--mail-from', 'alice@domain.test', '--mail-rcpt', 'bob@domain.test', '--upload-file', '-'], message);
    assert.notEqual(noTls.status, 0, 'no login without TLS');
  });
});
