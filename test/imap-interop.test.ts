/**
 * Independent IMAP clients against our server over real sockets: Python's imaplib (STARTTLS and
 * IMAP4_SSL; list, select, fetch BODYSTRUCTURE, store, search, copy, expunge, append, IDLE by raw
 * commands) and curl (LIST, FETCH a message by UID). A tool missing on this machine skips with the
 * reason.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Authenticator } from '../src/auth/types.ts';
import { startImapServer } from '../src/imap/server/server.ts';
import type { ImapServer } from '../src/imap/server/types.ts';
import { openSqliteStore } from '../src/store/sqlite/open.ts';
import type { Store } from '../src/store/types.ts';
import { ensureSelfSignedCertificate } from '../src/tls/self-signed.ts';
import { fixedTlsSource } from '../src/tls/types.ts';

const run = promisify(execFile);
const HOST = '127.0.43.1';
const USER = 'bob@example.test';
const PASS = 'secret pass';

function which(tool: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return null;
}

const auth: Authenticator = {
  async authenticate({ username, password }) {
    return username.toLowerCase() === USER && password === PASS ? { ok: true, address: USER } : { ok: false, locked: false };
  },
};

const message = (subject: string, body: string): Uint8Array =>
  Buffer.from(`From: Alice <alice@example.test>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nDate: Thu, 15 Jan 2026 10:00:00 +0000\r\n\r\n${body}`);

const PY_HEADER = `
import imaplib, ssl, sys, time, socket
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
host, port, tls_port, user, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def check(ok, what):
    if not ok:
        print('FAIL', what); sys.exit(1)
`;

describe('IMAP interop', () => {
  let store: Store;
  let srv: ImapServer;
  let port = 0;
  let tlsPort = 0;
  const python = which('python3');
  const curl = which('curl');

  before(async () => {
    const tls = await ensureSelfSignedCertificate(mkdtempSync(join(tmpdir(), 'postern-imap-')), 'imap.example.test');
    store = await openSqliteStore({ path: ':memory:' });
    await store.createAccount({ address: USER });
    srv = await startImapServer({
      listen: [{ host: HOST, port: 0 }],
      tlsListen: [{ host: HOST, port: 0 }],
      hostname: 'imap.example.test',
      store,
      authenticator: auth,
      tls: fixedTlsSource({ key: tls.key, cert: tls.cert }),
    });
    port = srv.addresses[0]?.port ?? 0;
    tlsPort = srv.tlsAddresses[0]?.port ?? 0;
  });
  after(async () => {
    await srv.close();
    await store.close();
  });

  const py = async (script: string): Promise<string> => {
    const { stdout } = await run(python as string, ['-c', PY_HEADER + script, HOST, String(port), String(tlsPort), USER, PASS], { timeout: 30_000 });
    return stdout;
  };

  /** Runs a script and calls `action` once it prints `marker`. */
  const pyWhen = (marker: string, action: () => Promise<void>, script: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(python as string, ['-c', PY_HEADER + script, HOST, String(port), String(tlsPort), USER, PASS]);
      let out = '';
      let fired = false;
      const timer = setTimeout(() => child.kill(), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!fired && out.includes(marker)) {
          fired = true;
          action().catch(reject);
        }
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`python exited ${code}: ${out}`));
      });
    });

  it('imaplib: STARTTLS login, list, select, fetch, store, search, copy, expunge, append', { skip: python === null ? 'python3 is not installed' : false }, async () => {
    await store.append({ address: USER, data: message('first', 'one\r\n'), internalDate: Date.UTC(2026, 0, 15) });
    await store.append({ address: USER, data: message('second', 'two\r\n'), internalDate: Date.UTC(2026, 0, 16) });
    const out = await py(`
m = imaplib.IMAP4(host, port)
check('LOGINDISABLED' in m.capabilities, 'LOGINDISABLED before TLS')
try:
    m.login(user, password); check(False, 'login before TLS refused')
except imaplib.IMAP4.error:
    pass
m.starttls(ssl_context=ctx)
typ, _ = m.login(user, password); check(typ == 'OK', 'login')
typ, boxes = m.list(); check(typ == 'OK', 'list')
names = b' '.join(boxes).decode()
check('\\\\Sent' in names and '"INBOX"' in names, 'special-use in LIST: ' + names)
typ, data = m.select('INBOX'); check(data == [b'2'], 'select exists')
typ, data = m.fetch('1:2', '(UID FLAGS BODYSTRUCTURE RFC822.SIZE)'); check(typ == 'OK' and len(data) == 2, 'fetch')
check(b'BODYSTRUCTURE ("TEXT" "PLAIN"' in data[0], 'bodystructure %r' % data[0])
typ, data = m.fetch('2', '(BODY[])'); check(data[0][1].endswith(b'two\\r\\n'), 'body')
typ, data = m.fetch('2', '(FLAGS)'); check(b'\\\\Seen' in data[0], 'seen set by BODY[] %r' % data)
typ, data = m.search(None, 'SUBJECT', 'first'); check(data == [b'1'], 'search subject %r' % data)
typ, data = m.search(None, 'UNSEEN'); check(data == [b'1'], 'search unseen %r' % data)
typ, data = m.uid('SEARCH', 'BODY', 'two'); check(data == [b'2'], 'uid search body %r' % data)
typ, data = m.search(None, 'SINCE', '16-Jan-2026'); check(data == [b'2'], 'search since %r' % data)
typ, data = m.copy('1', 'Archive'); check(typ == 'OK' and b'COPYUID' in data[0], 'copy %r' % data)
typ, data = m.store('1', '+FLAGS', '(\\\\Deleted)'); check(typ == 'OK', 'store')
typ, data = m.expunge(); check(data == [b'1'], 'expunge %r' % data)
typ, data = m.select('INBOX'); check(data == [b'1'], 'one left')
typ, data = m.append('Drafts', '(\\\\Draft)', None, b'Subject: draft\\r\\n\\r\\nbody\\r\\n'); check(typ == 'OK' and b'APPENDUID' in data[0], 'append %r' % data)
typ, data = m.status('Archive', '(MESSAGES UIDNEXT UNSEEN)'); check(b'MESSAGES 1' in data[0], 'status %r' % data)
m.logout()
print('OK')
`);
    assert.equal(out.trim(), 'OK');
  });

  it('imaplib: IMAP4_SSL login and an IDLE that hears a delivery', { skip: python === null ? 'python3 is not installed' : false }, async () => {
    const script = pyWhen('IDLING', async () => {
      await store.append({ address: USER, data: message('during idle', 'three\r\n'), internalDate: Date.now() });
    }, `
m = imaplib.IMAP4_SSL(host, tls_port, ssl_context=ctx)
m.login(user, password)
m.select('INBOX')
tag = m._new_tag().decode()
m.send(('%s IDLE\\r\\n' % tag).encode())
check(m.readline().startswith(b'+'), 'idle continuation')
print('IDLING', flush=True)
sys.stdout.flush()
m.sock.settimeout(10)
started = time.time()
line = m.readline()
check(line.endswith(b'EXISTS\\r\\n'), 'exists during idle %r' % line)
m.send(b'DONE\\r\\n')
while True:
    line = m.readline()
    if line.startswith(tag.encode()):
        check(b' OK ' in line, 'idle done %r' % line); break
m.logout()
print('OK')
`);
    assert.match(await script, /OK\s*$/);
  });

  it('curl: lists mailboxes and fetches a message by UID over STARTTLS', { skip: curl === null ? 'curl is not installed' : false }, async () => {
    const r = await store.append({ address: USER, mailbox: 'Archive', data: message('for curl', 'curl body\r\n'), internalDate: Date.now() });
    const base = ['--ssl-reqd', '-k', '-s', '--max-time', '20', '-u', `${USER}:${PASS}`];
    const list = await run(curl as string, [...base, `imap://${HOST}:${port}/`], { timeout: 30_000 });
    assert.match(list.stdout, /\* LIST \([^)]*\) "\/" "?Archive"?/);
    const fetched = await run(curl as string, [...base, `imap://${HOST}:${port}/Archive;UID=${r.uid}`], { timeout: 30_000 });
    assert.match(fetched.stdout, /Subject: for curl/);
    assert.match(fetched.stdout, /curl body/);
    const ssl = await run(curl as string, [...base, `imaps://${HOST}:${tlsPort}/Archive;UID=${r.uid};SECTION=HEADER`], { timeout: 30_000 });
    assert.match(ssl.stdout, /Subject: for curl/);
  });
});
