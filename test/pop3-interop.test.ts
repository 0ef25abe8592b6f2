/**
 * Real POP3 clients against our server over loopback sockets: Python's poplib (STLS on the plain
 * port, POP3_SSL on the implicit-TLS port; USER/PASS, STAT, LIST, UIDL, RETR, DELE, QUIT) and curl
 * (pop3:// with --ssl-reqd, which makes it say STLS, and pop3s://; LIST, RETR, DELE). Each checks
 * the certificate against the self-signed one the test made. A test is skipped, with the reason,
 * when its tool is missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { AuthResult, Authenticator } from '../src/auth/types.ts';
import { startPop3Server } from '../src/pop3/index.ts';
import type { Pop3Server } from '../src/pop3/index.ts';
import { ensureSelfSignedCertificate } from '../src/smtp/server/certificate.ts';
import { openSqliteStore } from '../src/store/sqlite/open.ts';
import type { Store } from '../src/store/types.ts';
import { fixedTlsSource } from '../src/tls/types.ts';

const HOST = '127.44.4.1';
const NAME = 'pop.example.test';
const ALICE = 'alice@example.test';
const PASSWORD = 'alice pw';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const MESSAGES = [
  'From: carol@sender.test\r\nTo: alice@example.test\r\nSubject: first\r\n\r\nHello Alice.\r\n.a dotted line\r\n.\r\nthe end\r\n',
  'From: dave@sender.test\r\nTo: alice@example.test\r\nSubject: second\r\n\r\nSecond message.\r\n',
];

const authenticator: Authenticator = {
  async authenticate(r): Promise<AuthResult> {
    return r.username.toLowerCase() === ALICE && r.password === PASSWORD ? { ok: true, address: ALICE } : { ok: false, locked: false };
  },
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool without blocking the event loop (the server runs in this process). */
function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'latin1' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function missing(file: string, args: readonly string[]): Promise<string | false> {
  const r = await run(file, args, 10_000);
  return r.code === 0 ? false : `${file} is not usable here: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.code}`}`;
}

const POPLIB = String.raw`
import json, poplib, ssl, sys
host, port, tls_port, cafile, user, password, mode = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=cafile)
# The certificate names pop.example.test and we connect to an address: check the chain, not the name.
ctx.check_hostname = False
out = {}
if mode == 'stls':
    p = poplib.POP3(host, int(port), timeout=20)
    out['capa_before'] = sorted(p.capa().keys())
    p.stls(context=ctx)
    out['capa_after'] = sorted(p.capa().keys())
else:
    p = poplib.POP3_SSL(host, int(tls_port), context=ctx, timeout=20)
    out['capa_after'] = sorted(p.capa().keys())
out['welcome'] = p.getwelcome().decode()
out['user'] = p.user(user).decode()
out['pass'] = p.pass_(password).decode()
out['stat'] = list(p.stat())
out['list'] = [l.decode() for l in p.list()[1]]
out['uidl'] = [l.decode() for l in p.uidl()[1]]
out['retr1'] = b'\r\n'.join(p.retr(1)[1]).decode() + '\r\n'
out['top2'] = [l.decode() for l in p.top(2, 0)[1]]
out['dele'] = p.dele(1).decode()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

describe('POP3 interop with real clients', () => {
  let dir: string;
  let store: Store;
  let srv: Pop3Server;
  let cafile: string;
  let uids: number[];
  let uidValidity: number;
  let plainPort: number;
  let tlsPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-pop3-interop-'));
    store = await openSqliteStore({ path: join(dir, 'store.db') });
    const material = await ensureSelfSignedCertificate(join(dir, 'tls'), NAME);
    cafile = join(dir, 'ca.pem');
    writeFileSync(cafile, material.cert);
    srv = await startPop3Server({
      listen: [{ host: HOST, port: 0 }],
      tlsListen: [{ host: HOST, port: 0 }],
      hostname: NAME,
      store,
      authenticator,
      tls: fixedTlsSource(material),
    });
    plainPort = srv.addresses[0]?.port ?? 0;
    tlsPort = srv.tlsAddresses[0]?.port ?? 0;
  });
  after(async () => {
    await srv.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await store.deleteAccount(ALICE);
    await store.createAccount({ address: ALICE });
    uids = [];
    for (const m of MESSAGES) uids.push((await store.append({ address: ALICE, data: enc(m), internalDate: Date.now() })).uid);
    uidValidity = (await store.getMailbox({ address: ALICE }))?.uidValidity ?? 0;
  });
  const inbox = async (): Promise<number[]> => ((await store.listMessages({ address: ALICE })) ?? []).map((m) => m.uid);
  const sizes = MESSAGES.map((m) => enc(m).length);

  async function poplib(mode: 'stls' | 'ssl'): Promise<Record<string, unknown>> {
    const r = await run('python3', ['-c', POPLIB, HOST, String(plainPort), String(tlsPort), cafile, ALICE, PASSWORD, mode]);
    assert.equal(r.code, 0, `poplib failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  const python = async (): Promise<string | false> => missing('python3', ['-c', 'import poplib, ssl']);

  it('poplib: STLS on the plain port, USER/PASS, STAT, LIST, UIDL, RETR, TOP, DELE, QUIT', async (t) => {
    const skip = await python();
    if (skip !== false) return t.skip(skip);
    const out = await poplib('stls');
    assert.ok((out['capa_before'] as string[]).includes('STLS'));
    assert.ok(!(out['capa_before'] as string[]).includes('USER'));
    assert.deepEqual(out['capa_after'], ['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']);
    assert.match(out['pass'] as string, /^\+OK maildrop has 2 messages/);
    assert.deepEqual(out['stat'], [2, sizes[0]! + sizes[1]!]);
    assert.deepEqual(out['list'], [`1 ${sizes[0]}`, `2 ${sizes[1]}`]);
    assert.deepEqual(out['uidl'], [`1 ${uidValidity}.${uids[0]}`, `2 ${uidValidity}.${uids[1]}`]);
    // poplib takes the stuffed dots off again.
    assert.equal(out['retr1'], MESSAGES[0]);
    assert.deepEqual(out['top2'], ['From: dave@sender.test', 'To: alice@example.test', 'Subject: second', '']);
    assert.match(out['quit'] as string, /^\+OK .*1 messages deleted/);
    assert.deepEqual(await inbox(), [uids[1]]);
  });

  it('poplib: POP3_SSL on the implicit-TLS port', async (t) => {
    const skip = await python();
    if (skip !== false) return t.skip(skip);
    const out = await poplib('ssl');
    assert.ok(!(out['capa_after'] as string[]).includes('STLS'));
    assert.deepEqual(out['list'], [`1 ${sizes[0]}`, `2 ${sizes[1]}`]);
    assert.equal(out['retr1'], MESSAGES[0]);
    assert.deepEqual(await inbox(), [uids[1]]);
  });

  const curl = async (): Promise<string | false> => {
    const r = await run('curl', ['--version'], 10_000);
    if (r.code !== 0) return 'curl is not installed';
    return /\bpop3s\b/.test(r.stdout) ? false : 'this curl was built without pop3/pop3s';
  };
  /** curl with the CA, our name mapped to our address (no resolver), and the credentials. */
  const curlArgs = (port: number): string[] => [
    '--silent',
    '--show-error',
    '--max-time',
    '20',
    '--cacert',
    cafile,
    '--resolve',
    `${NAME}:${port}:${HOST}`,
    '--user',
    `${ALICE}:${PASSWORD}`,
  ];

  it('curl: pop3:// with --ssl-reqd lists and fetches over STLS', async (t) => {
    const skip = await curl();
    if (skip !== false) return t.skip(skip);
    const list = await run('curl', [...curlArgs(plainPort), '--ssl-reqd', `pop3://${NAME}:${plainPort}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, `1 ${sizes[0]}\r\n2 ${sizes[1]}\r\n`);
    const retr = await run('curl', [...curlArgs(plainPort), '--ssl-reqd', `pop3://${NAME}:${plainPort}/1`]);
    assert.equal(retr.code, 0, retr.stderr);
    assert.equal(retr.stdout, MESSAGES[0]);
  });

  it('curl: without --ssl-reqd the plain port offers no login', async (t) => {
    const skip = await curl();
    if (skip !== false) return t.skip(skip);
    const r = await run('curl', [...curlArgs(plainPort), '--verbose', `pop3://${NAME}:${plainPort}/`]);
    // CAPA offers no login before STLS, so curl gives up without sending the password.
    assert.equal(r.code, 67, r.stderr);
    assert.doesNotMatch(r.stderr, /> (USER|PASS|AUTH)/);
    assert.equal(r.stdout, '');
  });

  it('curl: pop3s:// lists, fetches and deletes', async (t) => {
    const skip = await curl();
    if (skip !== false) return t.skip(skip);
    const list = await run('curl', [...curlArgs(tlsPort), `pop3s://${NAME}:${tlsPort}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, `1 ${sizes[0]}\r\n2 ${sizes[1]}\r\n`);
    const retr = await run('curl', [...curlArgs(tlsPort), `pop3s://${NAME}:${tlsPort}/2`]);
    assert.equal(retr.stdout, MESSAGES[1]);
    // curl's custom command for a message: DELE, then QUIT makes it happen.
    const dele = await run('curl', [...curlArgs(tlsPort), '--request', 'DELE', '--list-only', `pop3s://${NAME}:${tlsPort}/1`]);
    assert.equal(dele.code, 0, dele.stderr);
    assert.deepEqual(await inbox(), [uids[1]]);
  });
});
