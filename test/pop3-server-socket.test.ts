/**
 * The POP3 server over real loopback sockets: STLS with a self-signed certificate (and the
 * pipelined-injection case of RFC 2595 §4), implicit TLS, a certificate reload, the per-address
 * connection limit, one session per maildrop across connections, dropped connections, a large
 * message, the idle timeout and graceful close. Mailboxes live in a SQLite store in a temp dir.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { AuthResult, Authenticator } from '../src/auth/types.ts';
import { isPosternError } from '../src/core/errors.ts';
import { startPop3Server } from '../src/pop3/index.ts';
import type { Pop3Server, Pop3ServerOptions } from '../src/pop3/index.ts';
import { ensureSelfSignedCertificate } from '../src/smtp/server/certificate.ts';
import { openSqliteStore } from '../src/store/sqlite/open.ts';
import type { Store } from '../src/store/types.ts';
import type { TlsMaterial } from '../src/tls/types.ts';
import { fixedTlsSource } from '../src/tls/types.ts';

const HOST = '127.44.3.1';
const CLIENT = '127.44.3.20';
const NAME = 'pop.example.test';
const ALICE = 'alice@example.test';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const WAIT_MS = 10_000;

const users = new Map([
  [ALICE, 'alice-pw'],
  ['bob@example.test', 'bob-pw'],
]);
const authenticator: Authenticator = {
  async authenticate(r): Promise<AuthResult> {
    const address = r.username.toLowerCase();
    return users.get(address) === r.password ? { ok: true, address } : { ok: false, locked: false };
  },
};

/** A POP3 client that reads whole responses; multi-line ones when asked. */
class PopClient {
  socket: Socket;
  #buf = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | null = null;

  constructor(socket: Socket) {
    this.socket = socket;
    this.#attach(socket);
  }

  #attach(s: Socket): void {
    s.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#notify();
    });
    s.on('close', () => {
      this.#closed = true;
      this.#notify();
    });
    s.on('error', () => {});
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  static async plain(port: number, localAddress = CLIENT): Promise<PopClient> {
    const s = netConnect({ host: HOST, port, localAddress });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new PopClient(s);
  }

  static async tls(port: number, ca: string, localAddress = CLIENT): Promise<PopClient> {
    const raw = netConnect({ host: HOST, port, localAddress });
    const s = tlsConnect({ socket: raw, ca, servername: NAME });
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', resolve);
      s.once('error', reject);
    });
    return new PopClient(s);
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(text: string): void {
    this.socket.write(text);
  }

  async #until(take: () => number): Promise<Buffer> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const end = take();
      if (end >= 0) {
        const r = this.#buf.subarray(0, end);
        this.#buf = this.#buf.subarray(end);
        return r;
      }
      if (this.#closed) assert.fail(`closed while waiting; got ${JSON.stringify(this.#buf.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no response within ${WAIT_MS} ms; got ${JSON.stringify(this.#buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** One status line; asserts it starts with `expect`. */
  async reply(expect?: string): Promise<string> {
    const line = (
      await this.#until(() => {
        const i = this.#buf.indexOf('\r\n');
        return i < 0 ? -1 : i + 2;
      })
    ).toString('latin1');
    if (expect !== undefined) assert.ok(line.startsWith(expect), `expected ${JSON.stringify(expect)}, got ${JSON.stringify(line)}`);
    return line;
  }

  /** A multi-line response after its +OK, terminator included. */
  async lines(): Promise<Buffer> {
    await this.reply('+OK');
    return this.#until(() => {
      if (this.#buf.subarray(0, 3).toString() === '.\r\n') return 3;
      const i = this.#buf.indexOf('\r\n.\r\n');
      return i < 0 ? -1 : i + 5;
    });
  }

  async send(line: string, expect?: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(expect);
  }

  async sendMulti(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return (await this.lines()).toString('latin1');
  }

  /** STLS, then the handshake over the same socket; checks the certificate against `ca`. */
  async stls(ca: string): Promise<void> {
    await this.send('STLS', '+OK');
    await this.handshake(ca);
  }

  /** The client side of the TLS handshake over the connection as it is. */
  async handshake(ca: string): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const s: TLSSocket = tlsConnect({ socket: raw, ca, servername: NAME });
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', resolve);
      s.once('error', reject);
    });
    this.socket = s;
    this.#attach(s);
  }

  async waitClosed(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail('connection still open');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('POP3 server over sockets', () => {
  let dir: string;
  let store: Store;
  let material: TlsMaterial & { fingerprint: string };
  let uids: number[];
  const servers: Pop3Server[] = [];
  const clients: PopClient[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-pop3-'));
    store = await openSqliteStore({ path: join(dir, 'store.db') });
    material = await ensureSelfSignedCertificate(join(dir, 'tls'), NAME);
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const s of servers) await s.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const s of servers.splice(0)) await s.close();
    for (const a of await store.listAccounts()) await store.deleteAccount(a.address);
    await store.createAccount({ address: ALICE });
    await store.createAccount({ address: 'bob@example.test' });
    uids = [];
    for (const subject of ['one', 'two']) {
      const data = enc(`From: carol@sender.test\r\nSubject: ${subject}\r\n\r\n.dot line\r\nbody ${subject}\r\n`);
      uids.push((await store.append({ address: ALICE, data, internalDate: Date.now() })).uid);
    }
  });

  async function start(options: Partial<Pop3ServerOptions> = {}): Promise<Pop3Server> {
    const srv = await startPop3Server({
      listen: [{ host: HOST, port: 0 }],
      tlsListen: [{ host: HOST, port: 0 }],
      hostname: NAME,
      store,
      authenticator,
      tls: fixedTlsSource(material),
      ...options,
    });
    servers.push(srv);
    return srv;
  }
  const plainPort = (s: Pop3Server): number => s.addresses[0]?.port ?? 0;
  const tlsPort = (s: Pop3Server): number => s.tlsAddresses[0]?.port ?? 0;
  async function plain(s: Pop3Server, local = CLIENT): Promise<PopClient> {
    const c = await PopClient.plain(plainPort(s), local);
    clients.push(c);
    await c.reply(`+OK ${NAME} POP3 Postern ready`);
    return c;
  }
  async function implicit(s: Pop3Server, ca = material.cert): Promise<PopClient> {
    const c = await PopClient.tls(tlsPort(s), ca);
    clients.push(c);
    await c.reply(`+OK ${NAME}`);
    return c;
  }
  const inbox = async (): Promise<number[]> => ((await store.listMessages({ address: ALICE })) ?? []).map((m) => m.uid);

  it('upgrades with STLS, then logs in, lists, retrieves and deletes on QUIT', async () => {
    const srv = await start();
    const c = await plain(srv);
    assert.match(await c.sendMulti('CAPA'), /^STLS\r\n/m);
    await c.send(`USER ${ALICE}`, '-ERR [AUTH]');
    await c.stls(material.cert);
    const caps = await c.sendMulti('CAPA');
    assert.match(caps, /^USER\r\n/m);
    assert.doesNotMatch(caps, /STLS/);
    await c.send(`USER ${ALICE}`, '+OK');
    await c.send('PASS alice-pw', '+OK maildrop has 2 messages');
    assert.match(await c.sendMulti('LIST'), /^1 \d+\r\n2 \d+\r\n\.\r\n$/);
    assert.match(await c.sendMulti('RETR 1'), /\r\n\r\n\.\.dot line\r\nbody one\r\n\.\r\n$/);
    await c.send('DELE 1', '+OK');
    await c.send('QUIT', '+OK');
    await c.waitClosed();
    assert.deepEqual(await inbox(), [uids[1]]);
  });

  it('throws away commands pipelined in clear text after STLS', async () => {
    const srv = await start();
    const c = await plain(srv);
    // In one segment: the injected USER must not survive into the TLS session.
    c.write(`STLS\r\nUSER ${ALICE}\r\n`);
    await c.reply('+OK begin TLS');
    await c.handshake(material.cert);
    await c.send('PASS alice-pw', '-ERR send USER first');
  });

  it('serves implicit TLS: logins at once, no STLS', async () => {
    const srv = await start();
    const c = await implicit(srv);
    const caps = await c.sendMulti('CAPA');
    assert.match(caps, /^SASL PLAIN\r\n/m);
    assert.doesNotMatch(caps, /STLS/);
    await c.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '+OK maildrop has 2');
    assert.match(await c.sendMulti('UIDL'), /^1 \d+\.\d+\r\n2 \d+\.\d+\r\n\.\r\n$/);
    await c.send('QUIT', '+OK');
  });

  it('uses new TLS material from its source for the next connection', async () => {
    const other = await ensureSelfSignedCertificate(join(dir, 'tls2'), NAME);
    let current: TlsMaterial = material;
    const srv = await start({ tls: { current: () => current } });
    const a = await implicit(srv, material.cert);
    current = { key: other.key, cert: other.cert };
    const b = await implicit(srv, other.cert);
    // Each client checked the certificate against its own CA; the fingerprints say which it got.
    assert.equal((a.socket as TLSSocket).getPeerCertificate().fingerprint256, material.fingerprint);
    assert.equal((b.socket as TLSSocket).getPeerCertificate().fingerprint256, other.fingerprint);
  });

  it('survives a client that speaks clear text to the TLS port', async () => {
    const srv = await start({ limits: { handshakeTimeoutMs: 500 } });
    const c = await PopClient.plain(tlsPort(srv));
    clients.push(c);
    c.write('USER alice\r\n');
    await c.waitClosed();
    const d = await implicit(srv);
    await d.send('QUIT', '+OK');
  });

  it('refuses connections past the per-address limit with [SYS/TEMP]', async () => {
    const srv = await start({ limits: { maxConnectionsPerIp: 2 } });
    await plain(srv);
    await plain(srv);
    const third = await PopClient.plain(plainPort(srv));
    clients.push(third);
    await third.reply('-ERR [SYS/TEMP] too many connections');
    await third.waitClosed();
    // Another client address is counted on its own.
    const elsewhere = await plain(srv, '127.44.3.21');
    await elsewhere.send('QUIT', '+OK');
  });

  it('refuses a second session on the same maildrop with [IN-USE], across connections', async () => {
    const srv = await start();
    const a = await implicit(srv);
    await a.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '+OK');
    const b = await implicit(srv);
    await b.send(`USER ${ALICE}`, '+OK');
    await b.send('PASS alice-pw', '-ERR [IN-USE]');
    await a.send('QUIT', '+OK');
    await a.waitClosed();
    await b.send(`USER ${ALICE}`, '+OK');
    await b.send('PASS alice-pw', '+OK');
  });

  it('deletes nothing when the client drops the connection, and frees the maildrop', async () => {
    const srv = await start();
    const a = await implicit(srv);
    await a.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '+OK');
    await a.send('DELE 1', '+OK');
    await a.send('DELE 2', '+OK');
    a.destroy();
    const deadline = Date.now() + WAIT_MS;
    while (srv.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await inbox(), uids);
    const b = await implicit(srv);
    await b.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '+OK maildrop has 2');
  });

  it('sends a large message whole, byte-stuffed', async () => {
    const line = `.${'x'.repeat(76)}\r\n`;
    const body = line.repeat(Math.ceil((4 * 1024 * 1024) / line.length));
    const data = enc(`Subject: big\r\n\r\n${body}`);
    await store.append({ address: 'bob@example.test', data, internalDate: Date.now() });
    const srv = await start();
    const c = await implicit(srv);
    await c.send(`AUTH PLAIN ${b64('\0bob@example.test\0bob-pw')}`, '+OK maildrop has 1');
    await c.send('LIST 1', `+OK 1 ${data.length}`);
    c.write('RETR 1\r\n');
    const got = await c.lines();
    const expected = `Subject: big\r\n\r\n${body.replaceAll('\r\n.', '\r\n..').replace(/^\./, '..')}.\r\n`;
    assert.equal(got.length, Buffer.byteLength(expected));
    assert.equal(got.toString('latin1'), expected);
    await c.send('NOOP', '+OK');
  });

  it('cuts off a client that stops reading its responses', async () => {
    const data = enc(`Subject: big\r\n\r\n${'y'.repeat(1000)}\r\n`.repeat(1000));
    await store.append({ address: 'bob@example.test', data, internalDate: Date.now() });
    const srv = await start({ limits: { idleTimeoutMs: 300 } });
    const c = await implicit(srv);
    await c.send(`AUTH PLAIN ${b64('\0bob@example.test\0bob-pw')}`, '+OK');
    c.socket.pause();
    c.write('RETR 1\r\n'.repeat(50));
    const deadline = Date.now() + WAIT_MS;
    while (srv.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(srv.connectionCount, 0);
  });

  it('does not wait for a client stuck in the TLS handshake when closing', async () => {
    const srv = await start({ limits: { handshakeTimeoutMs: 60_000 } });
    const c = await PopClient.plain(tlsPort(srv));
    clients.push(c);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await srv.close();
    assert.ok(Date.now() - started < 30_000);
    await c.waitClosed();
  });

  it('logs out an idle client', async () => {
    const srv = await start({ limits: { idleTimeoutMs: 200 } });
    const c = await plain(srv);
    await c.reply('-ERR [SYS/TEMP] autologout');
    await c.waitClosed();
  });

  it('ends idle sessions on close and stops listening', async () => {
    const srv = await start();
    const c = await implicit(srv);
    await c.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '+OK');
    await c.send('DELE 1', '+OK');
    await srv.close();
    await c.reply('-ERR [SYS/TEMP] server shutting down');
    await c.waitClosed();
    assert.deepEqual(await inbox(), uids);
    await assert.rejects(PopClient.plain(plainPort(srv)));
  });

  it('refuses to start an implicit-TLS listener without TLS material', async () => {
    await assert.rejects(
      startPop3Server({ listen: [], tlsListen: [{ host: HOST, port: 0 }], hostname: NAME, store, authenticator, tls: null }),
      (e: unknown) => isPosternError(e, 'POSTERN_CONFIG'),
    );
  });
});
