/**
 * `[storage] blobs` through the composition root (the server's SQLite store on its worker thread):
 * a message in over SMTP lands as a file under the blobs directory, reads back over POP3 and IMAP
 * (Python's poplib and imaplib), and its file goes when POP3 deletes it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../src/store/password.ts';
import { tempDir } from './helpers/postern.ts';
import { eventually, inboxSubjects, SMTP_PORT, startNode, type LabNode } from './helpers/lab.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const HOST = '127.20.40.1';
const python = spawnSync('python3', ['--version']).status === 0;

function py(script: string, timeoutMs = 30_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('python3', ['-c', script], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function bodyFiles(dir: string): string[] {
  const out: string[] = [];
  // The fan-out directories only: the directory also holds postern-store-id, naming its database.
  for (const a of readdirSync(dir).filter((n) => /^[0-9a-f]{2}$/.test(n))) for (const b of readdirSync(join(dir, a))) for (const f of readdirSync(join(dir, a, b))) out.push(`${a}/${b}/${f}`);
  return out;
}

describe('postern start with [storage] blobs', () => {
  let node: LabNode;
  let blobs: string;
  before(async () => {
    const dir = tempDir('blobs-node');
    blobs = join(dir, 'bodies');
    mkdirSync(blobs);
    node = await startNode(
      {
        hostname: 'mail.domain.test',
        address: HOST,
        domains: [['domain.test', 'primary']],
        // Relative: resolved against the config file's folder, as data_dir is.
        config: { storage: { blobs: 'bodies' }, pop3: { listen: [`${HOST}:1110`] }, imap: { listen: [`${HOST}:1143`] } },
      },
      '127.0.0.1:53',
      dir,
    );
    await node.postern.store.createAccount({ address: 'bob@domain.test', passwordHash: await hashPassword('bob-pw') });
  });
  after(async () => {
    await node?.postern.stop();
  });

  it('takes a message over SMTP into a body file, reads it over POP3 and IMAP, and unlinks it on DELE', async (t) => {
    if (!python) {
      t.skip('python3 not installed');
      return;
    }
    assert.equal(node.postern.config.storage.blobs, blobs);
    const sent = await py(`
import smtplib
s = smtplib.SMTP('${HOST}', ${SMTP_PORT}, timeout=10)
s.sendmail('alice@elsewhere.test', ['bob@domain.test'], b'From: alice@elsewhere.test\\r\\nTo: bob@domain.test\\r\\nSubject: in a file\\r\\n\\r\\nbody kept on disk\\r\\n')
s.quit()
`);
    assert.equal(sent.status, 0, sent.stderr);
    await eventually(async () => (await inboxSubjects(node, 'bob@domain.test')).includes('in a file'), 15_000, 'delivery to bob');
    // The queue's copy, if the message went through the queue, leaves with it.
    await eventually(async () => (await node.postern.store.listQueue()).length === 0, 15_000, 'an empty queue');
    assert.equal(bodyFiles(blobs).length, 1, 'one file: the message in bob\'s INBOX');

    const read = await py(`
import imaplib, poplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4('${HOST}', 1143); m.starttls(ssl_context=ctx); m.login('bob@domain.test', 'bob-pw')
m.select('INBOX', readonly=True); typ, data = m.fetch('1', '(BODY.PEEK[TEXT])')
print('imap', data[0][1].decode().strip())
m.logout()
p = poplib.POP3('${HOST}', 1110); p.stls(context=ctx); p.user('bob@domain.test'); p.pass_('bob-pw')
count, size = p.stat(); lines = p.retr(1)[1]
print('pop3', count, [l.decode() for l in lines if l.startswith(b'Subject:')][0], lines[-1].decode())
p.dele(1); p.quit()
`);
    assert.equal(read.status, 0, read.stderr);
    assert.match(read.stdout, /^imap body kept on disk$/m);
    assert.match(read.stdout, /^pop3 1 Subject: in a file body kept on disk$/m);
    await eventually(async () => (await node.postern.store.countMessages({ address: 'bob@domain.test' })) === 0, 15_000, 'the POP3 deletion');
    assert.deepEqual(bodyFiles(blobs), []);
  });
});
