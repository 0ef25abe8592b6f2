/**
 * POP3 sessions driven in-process: bytes in, responses out, no sockets. Mailboxes live in a real
 * SQLite store in memory, seeded through the store's own API; logins go to a table of users.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import type { AuthRequest, AuthResult, Authenticator } from '../../auth/types.ts';
import { memoryLogger, silentLogger } from '../../core/logger.ts';
import type { Logger } from '../../core/logger.ts';
import { openSqliteStore } from '../../store/sqlite/open.ts';
import type { Store } from '../../store/types.ts';
import { unstuffMessage } from '../proto/message.ts';
import { MailboxLocks } from './locks.ts';
import { Pop3Session } from './session.ts';
import type { Pop3Io } from './session.ts';
import { defaultPop3Limits } from './types.ts';
import type { Pop3Limits, Pop3Store } from './types.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const MESSAGES = [
  'From: carol@sender.test\r\nTo: alice@example.test\r\nSubject: first\r\n\r\nHello Alice.\r\n.a line with a dot\r\n.\r\nlast line\r\n',
  'From: dave@sender.test\r\nTo: alice@example.test\r\nSubject: second\r\n\r\nbody 1\r\nbody 2\r\nbody 3\r\n',
];

/** A table of users; "locked@example.test" is always locked out. Remembers each request. */
function tableAuthenticator(): Authenticator & { requests: AuthRequest[] } {
  const users = new Map([
    [ALICE, 'alice-pw'],
    [BOB, 'bob pw with spaces'],
  ]);
  const requests: AuthRequest[] = [];
  return {
    requests,
    async authenticate(request): Promise<AuthResult> {
      requests.push(request);
      const address = request.username.toLowerCase();
      if (address === 'locked@example.test') return { ok: false, locked: true };
      if (users.get(address) === request.password) return { ok: true, address };
      return { ok: false, locked: false };
    },
  };
}

let store: Store;
let uids: number[] = [];

async function seed(): Promise<void> {
  for (const a of await store.listAccounts()) await store.deleteAccount(a.address);
  await store.createAccount({ address: ALICE });
  await store.createAccount({ address: BOB });
  uids = [];
  for (const m of MESSAGES) uids.push((await store.append({ address: ALICE, data: enc(m), internalDate: Date.now() })).uid);
}

before(async () => {
  store = await openSqliteStore({ path: ':memory:' });
});
after(async () => {
  await store.close();
});
beforeEach(seed);

interface Options {
  tls?: boolean;
  tlsAvailable?: boolean;
  tlsFails?: boolean;
  allowPlaintextAuth?: boolean;
  limits?: Partial<Pop3Limits>;
  store?: Pop3Store;
  locks?: MailboxLocks;
  logger?: Logger;
  authenticator?: Authenticator;
}

const WAIT_MS = 3000;
/** Commands whose +OK starts a multi-line response. */
const MULTI = /^(CAPA|LIST|UIDL|RETR \S+|TOP \S+ \S+|AUTH)$/i;

class Transcript {
  output = '';
  unread = '';
  closed = false;
  tlsStarted = 0;
  readonly session: Pop3Session;
  readonly authenticator: Authenticator & { requests?: AuthRequest[] };
  #wake: (() => void) | null = null;

  constructor(o: Options) {
    this.authenticator = o.authenticator ?? tableAuthenticator();
    const io: Pop3Io = {
      write: (data) => {
        const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
        this.output += text;
        this.unread += text;
        this.#notify();
      },
      drain: async () => {},
      close: () => {
        this.closed = true;
        this.#notify();
      },
      startTls: async () => {
        this.tlsStarted++;
        if (o.tlsFails === true) throw new Error('handshake failed');
      },
      pause() {},
      resume() {},
    };
    this.session = new Pop3Session(
      {
        id: 'test',
        hostname: 'pop.example.test',
        remoteAddress: '127.0.0.9',
        store: o.store ?? store,
        authenticator: this.authenticator,
        locks: o.locks ?? new MailboxLocks(),
        logger: o.logger ?? silentLogger,
        limits: { ...defaultPop3Limits, ...o.limits },
        tlsAvailable: o.tlsAvailable ?? true,
        tls: o.tls ?? true,
        allowPlaintextAuth: o.allowPlaintextAuth ?? false,
      },
      io,
    );
    void this.session.closed.then(() => {
      this.closed = true;
      this.#notify();
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #take(multi: boolean): string | null {
    const eol = this.unread.indexOf('\r\n');
    if (eol < 0) return null;
    let end = eol + 2;
    if (multi && this.unread.startsWith('+OK')) {
      if (this.unread.slice(end).startsWith('.\r\n')) end += 3;
      else {
        const term = this.unread.indexOf('\r\n.\r\n', end - 2);
        if (term < 0) return null;
        end = term + 5;
      }
    }
    const r = this.unread.slice(0, end);
    this.unread = this.unread.slice(end);
    return r;
  }

  async #wait(left: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** The next response (all its lines); asserts it starts with `expect`. */
  async reply(expect?: string, multi = false): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const r = this.#take(multi);
      if (r !== null) {
        if (expect !== undefined) assert.ok(r.startsWith(expect), `expected ${JSON.stringify(expect)}, got ${JSON.stringify(r)}`);
        return r;
      }
      if (this.closed) assert.fail(`closed while waiting for ${expect ?? 'a response'}; output: ${JSON.stringify(this.output)}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no response within ${WAIT_MS} ms; output: ${JSON.stringify(this.output)}`);
      await this.#wait(left);
    }
  }

  write(bytes: string | Uint8Array): void {
    this.session.receive(typeof bytes === 'string' ? enc(bytes) : bytes);
  }

  async send(line: string, expect?: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(expect, MULTI.test(line));
  }

  async waitClosed(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail('session still open');
      await this.#wait(left);
    }
  }
}

async function connect(o: Options = {}): Promise<Transcript> {
  const t = new Transcript(o);
  t.session.start();
  await t.reply('+OK');
  return t;
}

async function login(o: Options = {}, user = ALICE, password = 'alice-pw'): Promise<Transcript> {
  const t = await connect(o);
  await t.send(`USER ${user}`, '+OK');
  await t.send(`PASS ${password}`, '+OK maildrop has');
  return t;
}

const sizes = (): number[] => MESSAGES.map((m) => enc(m).length);
const total = (): number => sizes().reduce((a, b) => a + b, 0);

async function inboxUids(address = ALICE): Promise<number[]> {
  return ((await store.listMessages({ address })) ?? []).map((m) => m.uid);
}

describe('POP3 session: greeting and CAPA', () => {
  it('greets with +OK and its hostname', async () => {
    const t = await connect();
    assert.equal(t.output, '+OK pop.example.test POP3 Postern ready\r\n');
  });

  it('advertises STLS but no logins on a plain connection before STLS (RFC 2449, RFC 2595)', async () => {
    const t = await connect({ tls: false });
    const r = await t.send('CAPA', '+OK');
    assert.equal(
      r,
      '+OK capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nIMPLEMENTATION Postern\r\n.\r\n',
    );
  });

  it('advertises USER and SASL PLAIN, without STLS, over TLS', async () => {
    const t = await connect({ tls: true });
    const r = await t.send('CAPA', '+OK');
    assert.match(r, /\r\nUSER\r\nSASL PLAIN\r\n/);
    assert.doesNotMatch(r, /STLS/);
  });

  it('leaves STLS out when no TLS is configured', async () => {
    const t = await connect({ tls: false, tlsAvailable: false, allowPlaintextAuth: true });
    const r = await t.send('CAPA', '+OK');
    assert.doesNotMatch(r, /STLS/);
    assert.match(r, /\r\nUSER\r\n/);
  });

  it('answers CAPA after login too, without the login capabilities', async () => {
    const t = await login();
    const r = await t.send('CAPA', '+OK');
    assert.match(r, /\r\nTOP\r\nUIDL\r\n/);
    assert.doesNotMatch(r, /USER|SASL|STLS/);
  });
});

describe('POP3 session: STLS (RFC 2595)', () => {
  it('upgrades, then allows logins', async () => {
    const t = await connect({ tls: false });
    await t.send('STLS', '+OK begin TLS negotiation');
    await new Promise((r) => setImmediate(r));
    assert.equal(t.tlsStarted, 1);
    const caps = await t.send('CAPA', '+OK');
    assert.match(caps, /USER/);
    assert.doesNotMatch(caps, /STLS/);
    await t.send(`USER ${ALICE}`, '+OK');
    await t.send('PASS alice-pw', '+OK maildrop has 2 messages');
  });

  it('discards anything pipelined after STLS', async () => {
    const t = await connect({ tls: false });
    t.write(`STLS\r\nUSER ${ALICE}\r\nPASS alice-pw\r\n`);
    await t.reply('+OK begin TLS');
    await new Promise((r) => setImmediate(r));
    // The pipelined USER was thrown away: PASS now has no USER before it.
    await t.send('PASS alice-pw', '-ERR send USER first');
    assert.equal(t.unread, '');
  });

  it('refuses STLS when TLS is active, and when it is not configured', async () => {
    const a = await connect({ tls: true });
    await a.send('STLS', '-ERR TLS is already active');
    const b = await connect({ tls: false, tlsAvailable: false });
    await b.send('STLS', '-ERR STLS is not available');
  });

  it('refuses STLS after login', async () => {
    const t = await login({ tls: false, allowPlaintextAuth: true });
    await t.send('STLS', '-ERR STLS is not allowed after login');
  });

  it('closes the connection when the handshake fails', async () => {
    const t = await connect({ tls: false, tlsFails: true });
    await t.send('STLS', '+OK');
    await t.waitClosed();
  });
});

describe('POP3 session: logging in', () => {
  it('refuses USER, PASS and AUTH before STLS on the plain port with [AUTH]', async () => {
    const t = await connect({ tls: false });
    await t.send(`USER ${ALICE}`, '-ERR [AUTH] log in after STLS');
    await t.send('PASS alice-pw', '-ERR [AUTH] log in after STLS');
    await t.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '-ERR [AUTH] log in after STLS');
    assert.equal((t.authenticator.requests ?? []).length, 0);
  });

  it('allows USER/PASS in clear text only when told to', async () => {
    await login({ tls: false, allowPlaintextAuth: true });
  });

  it('logs in with USER and PASS and reports the maildrop', async () => {
    const t = await login();
    assert.match(t.output, new RegExp(`\\+OK maildrop has 2 messages \\(${total()} octets\\)\r\n$`));
  });

  it('asks the authenticator with the pop3 service and the client address', async () => {
    const t = await login({}, 'Alice@Example.Test');
    assert.deepEqual(t.authenticator.requests, [{ username: 'Alice@Example.Test', password: 'alice-pw', remoteAddress: '127.0.0.9', service: 'pop3' }]);
  });

  it('takes the rest of the PASS line as the password, spaces included (RFC 1939 §7)', async () => {
    await login({}, BOB, 'bob pw with spaces');
  });

  it('answers a wrong password and an unknown user alike with -ERR [AUTH] invalid credentials', async () => {
    const t = await connect();
    await t.send(`USER ${ALICE}`, '+OK');
    const wrong = await t.send('PASS nope', '-ERR');
    await t.send('USER nobody@example.test', '+OK');
    const unknown = await t.send('PASS nope', '-ERR');
    assert.equal(wrong, '-ERR [AUTH] invalid credentials\r\n');
    assert.equal(unknown, wrong);
  });

  it('needs USER again after a failed PASS', async () => {
    const t = await connect();
    await t.send(`USER ${ALICE}`, '+OK');
    await t.send('PASS nope', '-ERR [AUTH]');
    await t.send('PASS alice-pw', '-ERR send USER first');
  });

  it('refuses PASS without USER', async () => {
    const t = await connect();
    await t.send('PASS alice-pw', '-ERR send USER first');
  });

  it('answers a locked-out login with [SYS/TEMP], not [AUTH]', async () => {
    const t = await connect();
    await t.send('USER locked@example.test', '+OK');
    await t.send('PASS whatever', '-ERR [SYS/TEMP] too many failed logins, try again later');
  });

  it('hangs up after too many failed logins on one connection', async () => {
    const t = await connect({ limits: { maxAuthFailures: 2 } });
    await t.send(`USER ${ALICE}`, '+OK');
    await t.send('PASS bad1', '-ERR [AUTH]');
    await t.send(`USER ${ALICE}`, '+OK');
    await t.send('PASS bad2', '-ERR [AUTH]');
    await t.reply('-ERR too many failed logins');
    await t.waitClosed();
  });

  it('logs in with AUTH PLAIN and an initial response (RFC 5034)', async () => {
    const t = await connect();
    await t.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '+OK maildrop has 2 messages');
  });

  it('logs in with AUTH PLAIN after an empty "+ " challenge', async () => {
    const t = await connect();
    const r = await t.send('AUTH PLAIN');
    assert.equal(r, '+ \r\n');
    await t.send(b64(`${ALICE}\0${ALICE}\0alice-pw`), '+OK maildrop has');
  });

  it('keeps the SASL response out of the protocol trace', async () => {
    const logger = memoryLogger();
    const t = await connect({ logger });
    await t.send('AUTH PLAIN');
    await t.send(b64(`\0${ALICE}\0alice-pw`), '+OK');
    await t.send('QUIT', '+OK');
    const traced = JSON.stringify(logger.entries);
    assert.doesNotMatch(traced, /alice-pw/);
    assert.doesNotMatch(traced, new RegExp(b64(`\0${ALICE}\0alice-pw`).slice(0, 12)));
  });

  it('keeps PASS out of the protocol trace', async () => {
    const logger = memoryLogger();
    await login({ logger });
    assert.doesNotMatch(JSON.stringify(logger.entries), /alice-pw/);
  });

  it('answers -ERR to a cancelled AUTH ("*") and stays in AUTHORIZATION', async () => {
    const t = await connect();
    await t.send('AUTH PLAIN', '+ ');
    await t.send('*', '-ERR [AUTH] authentication cancelled');
    await t.send(`USER ${ALICE}`, '+OK');
  });

  it('refuses a malformed PLAIN response, a wrong one, and another authorization identity', async () => {
    const t = await connect({ limits: { maxAuthFailures: 10 } });
    await t.send('AUTH PLAIN', '+ ');
    await t.send('not base64!', '-ERR [AUTH]');
    await t.send(`AUTH PLAIN ${b64('no nuls')}`, '-ERR [AUTH] malformed PLAIN response');
    await t.send('AUTH PLAIN =', '-ERR [AUTH] malformed PLAIN response');
    await t.send(`AUTH PLAIN ${b64(`\0${ALICE}\0wrong`)}`, '-ERR [AUTH] invalid credentials');
    await t.send(`AUTH PLAIN ${b64(`${BOB}\0${ALICE}\0alice-pw`)}`, '-ERR [AUTH] invalid credentials');
  });

  it('lists its SASL mechanisms for a bare AUTH, and refuses others', async () => {
    const t = await connect();
    assert.equal(await t.send('AUTH', '+OK'), '+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n');
    await t.send('AUTH CRAM-MD5', '-ERR [AUTH] SASL mechanism CRAM-MD5 is not supported');
  });

  it('refuses TRANSACTION commands before login', async () => {
    const t = await connect();
    for (const c of ['STAT', 'LIST', 'UIDL', 'RETR 1', 'TOP 1 1', 'DELE 1', 'RSET', 'NOOP']) {
      await t.send(c, `-ERR ${c.split(' ')[0]} is not allowed before login`);
    }
  });

  it('refuses APOP as an unknown command', async () => {
    const t = await connect();
    await t.send(`APOP ${ALICE} c4c9334bac560ecc979e58001b3e22fb`, '-ERR unknown command');
  });

  it('says goodbye to QUIT before login and closes', async () => {
    const t = await connect();
    await t.send('QUIT', '+OK pop.example.test signing off');
    await t.waitClosed();
  });

  it('refuses USER and AUTH after login', async () => {
    const t = await login();
    await t.send(`USER ${ALICE}`, '-ERR USER is not allowed after login');
    await t.send('AUTH PLAIN', '-ERR AUTH is not allowed after login');
  });
});

describe('POP3 session: one session per maildrop', () => {
  it('refuses a second login to the same maildrop with [IN-USE] until the first QUITs', async () => {
    const locks = new MailboxLocks();
    const first = await login({ locks });
    const second = await connect({ locks });
    await second.send(`USER ${ALICE}`, '+OK');
    await second.send('PASS alice-pw', '-ERR [IN-USE] maildrop already locked');
    await first.send('QUIT', '+OK');
    await second.send(`USER ${ALICE}`, '+OK');
    await second.send('PASS alice-pw', '+OK maildrop has');
  });

  it('releases the lock when the connection drops', async () => {
    const locks = new MailboxLocks();
    const first = await login({ locks });
    first.session.connectionLost();
    assert.equal(locks.isLocked(ALICE), false);
    await login({ locks });
  });

  it('locks per account: another account logs in meanwhile', async () => {
    const locks = new MailboxLocks();
    await login({ locks });
    await login({ locks }, BOB, 'bob pw with spaces');
  });

  it('does not count [IN-USE] as a failed login', async () => {
    const locks = new MailboxLocks();
    await login({ locks });
    const second = await connect({ locks, limits: { maxAuthFailures: 1 } });
    await second.send(`AUTH PLAIN ${b64(`\0${ALICE}\0alice-pw`)}`, '-ERR [IN-USE]');
    await second.send('CAPA', '+OK');
  });
});

describe('POP3 session: TRANSACTION', () => {
  it('answers STAT with the count and total size in octets', async () => {
    const t = await login();
    await t.send('STAT', `+OK 2 ${total()}\r\n`);
  });

  it('lists every message with its size, and one message alone', async () => {
    const t = await login();
    const [s1, s2] = sizes();
    assert.equal(await t.send('LIST'), `+OK 2 messages (${total()} octets)\r\n1 ${s1}\r\n2 ${s2}\r\n.\r\n`);
    assert.equal(await t.send('LIST 2'), `+OK 2 ${s2}\r\n`);
    await t.send('LIST 3', '-ERR no such message');
    await t.send('LIST 0', '-ERR syntax');
  });

  it('gives each message a unique id made of UIDVALIDITY and UID', async () => {
    const t = await login();
    const mailbox = await store.getMailbox({ address: ALICE });
    const v = mailbox?.uidValidity;
    assert.equal(await t.send('UIDL'), `+OK unique-id listing follows\r\n1 ${v}.${uids[0]}\r\n2 ${v}.${uids[1]}\r\n.\r\n`);
    assert.equal(await t.send('UIDL 1'), `+OK 1 ${v}.${uids[0]}\r\n`);
    await t.send('UIDL 9', '-ERR no such message');
  });

  it('keeps unique ids across sessions while message numbers shift', async () => {
    const t = await login();
    const before = await t.send('UIDL 2');
    await t.send('DELE 1', '+OK');
    await t.send('QUIT', '+OK');
    const u = await login();
    const after = await u.send('UIDL 1');
    assert.equal(after.replace('+OK 1 ', ''), before.replace('+OK 2 ', ''));
  });

  it('sends a message with RETR, byte-stuffed, as stored', async () => {
    const t = await login();
    const r = await t.send('RETR 1');
    const [first, ...rest] = r.split('\r\n');
    assert.equal(first, `+OK ${sizes()[0]} octets`);
    const body = rest.join('\r\n');
    assert.match(body, /\r\n\.\.a line with a dot\r\n\.\.\r\nlast line\r\n\.\r\n$/);
    assert.equal(Buffer.from(unstuffMessage(Buffer.from(body, 'latin1')) ?? []).toString(), MESSAGES[0]);
  });

  it('sends the header and the first lines of the body with TOP', async () => {
    const t = await login();
    assert.equal(
      await t.send('TOP 2 0'),
      '+OK top of message follows\r\nFrom: dave@sender.test\r\nTo: alice@example.test\r\nSubject: second\r\n\r\n.\r\n',
    );
    assert.match(await t.send('TOP 2 2'), /\r\n\r\nbody 1\r\nbody 2\r\n\.\r\n$/);
    await t.send('TOP 3 1', '-ERR no such message');
  });

  it('marks with DELE, hides marked messages, and refuses to touch them again', async () => {
    const t = await login();
    await t.send('DELE 1', '+OK message 1 deleted');
    await t.send('STAT', `+OK 1 ${sizes()[1]}\r\n`);
    assert.equal(await t.send('LIST'), `+OK 1 messages (${sizes()[1]} octets)\r\n2 ${sizes()[1]}\r\n.\r\n`);
    assert.doesNotMatch(await t.send('UIDL'), /\r\n1 /);
    await t.send('RETR 1', '-ERR message 1 already deleted');
    await t.send('TOP 1 0', '-ERR message 1 already deleted');
    await t.send('LIST 1', '-ERR message 1 already deleted');
    await t.send('DELE 1', '-ERR message 1 already deleted');
    // Still in the store until QUIT.
    assert.deepEqual(await inboxUids(), uids);
  });

  it('unmarks everything with RSET', async () => {
    const t = await login();
    await t.send('DELE 1', '+OK');
    await t.send('DELE 2', '+OK');
    await t.send('RSET', `+OK maildrop has 2 messages (${total()} octets)`);
    await t.send('RETR 1', '+OK');
  });

  it('answers NOOP', async () => {
    const t = await login();
    await t.send('NOOP', '+OK\r\n');
  });

  it('deletes marked messages on QUIT (UPDATE state) and says how many', async () => {
    const t = await login();
    await t.send('DELE 1', '+OK');
    await t.send('QUIT', '+OK pop.example.test signing off (1 messages deleted)');
    await t.waitClosed();
    assert.deepEqual(await inboxUids(), [uids[1]]);
  });

  it('deletes nothing when the connection drops without QUIT', async () => {
    const t = await login();
    await t.send('DELE 1', '+OK');
    await t.send('DELE 2', '+OK');
    t.session.connectionLost();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await inboxUids(), uids);
  });

  it('answers -ERR [SYS/TEMP] when some deletions fail, and still deletes the rest', async () => {
    let calls = 0;
    const failing: Pop3Store = {
      getMailbox: (r) => store.getMailbox(r),
      listMessages: (r) => store.listMessages(r),
      readMessage: (r) => store.readMessage(r),
      readMessages: (r) => store.readMessages(r),
      async deleteMessage(r) {
        if (calls++ === 0) throw new Error('disk full');
        return store.deleteMessage(r);
      },
    };
    const t = await login({ store: failing });
    await t.send('DELE 1', '+OK');
    await t.send('DELE 2', '+OK');
    await t.send('QUIT', '-ERR [SYS/TEMP] some deleted messages not removed');
    await t.waitClosed();
    assert.deepEqual(await inboxUids(), [uids[0]]);
  });

  it('keeps message numbers fixed for the session: new mail shows up in the next one', async () => {
    const t = await login();
    await store.append({ address: ALICE, data: enc('Subject: new\r\n\r\nnew\r\n'), internalDate: Date.now() });
    await t.send('STAT', '+OK 2 ');
    await t.send('QUIT', '+OK');
    const u = await login();
    await u.send('STAT', '+OK 3 ');
  });

  it('reads the messages after the one asked for in the same store call, and answers the next RETRs from them', async () => {
    const calls: number[][] = [];
    const counting: Pop3Store = {
      getMailbox: (r) => store.getMailbox(r),
      listMessages: (r) => store.listMessages(r),
      readMessage: (r) => store.readMessage(r),
      async readMessages(r) {
        calls.push([...r.uids]);
        return store.readMessages(r);
      },
      deleteMessage: (r) => store.deleteMessage(r),
    };
    uids.push((await store.append({ address: ALICE, data: enc('Subject: third\r\n\r\nthree\r\n'), internalDate: Date.now() })).uid);
    const t = await login({ store: counting });
    await t.send('DELE 2', '+OK');
    const each: string[] = [];
    for (const n of [1, 3, 1]) each.push(await t.send(`RETR ${n}`, '+OK'));
    assert.deepEqual(
      each.map((r) => /Subject: (\w+)/.exec(r)?.[1]),
      ['first', 'third', 'first'],
    );
    assert.deepEqual(calls, [[uids[0], uids[2]], [uids[0], uids[2]]], 'one call for RETR 1 and 3 (2 is deleted), one more when 1 is asked again');
    await t.send('QUIT', '+OK');
  });

  it('answers -ERR for a message removed meanwhile by someone else', async () => {
    const t = await login();
    await store.deleteMessage({ address: ALICE, uid: uids[0] as number });
    await t.send('RETR 1', '-ERR message 1 is no longer in the maildrop');
    await t.send('DELE 1', '+OK');
    await t.send('QUIT', '+OK');
  });

  it('answers -ERR [SYS/TEMP] when the store fails, and goes on', async () => {
    const broken: Pop3Store = {
      getMailbox: (r) => store.getMailbox(r),
      listMessages: (r) => store.listMessages(r),
      async readMessage() {
        throw new Error('I/O error');
      },
      async readMessages() {
        throw new Error('I/O error');
      },
      deleteMessage: (r) => store.deleteMessage(r),
    };
    const logger = memoryLogger();
    const t = await login({ store: broken, logger });
    await t.send('RETR 1', '-ERR [SYS/TEMP] internal error');
    await t.send('STAT', '+OK 2');
    assert.ok(logger.entries.some((e) => e.level === 'error' && JSON.stringify(e.obj).includes('I/O error')));
  });

  it('answers -ERR [SYS/TEMP] when the store fails during login, and releases the lock', async () => {
    const locks = new MailboxLocks();
    const broken: Pop3Store = {
      async getMailbox() {
        throw new Error('database locked');
      },
      listMessages: (r) => store.listMessages(r),
      readMessage: (r) => store.readMessage(r),
      readMessages: (r) => store.readMessages(r),
      deleteMessage: (r) => store.deleteMessage(r),
    };
    const t = await connect({ store: broken, locks });
    await t.send(`USER ${ALICE}`, '+OK');
    await t.send('PASS alice-pw', '-ERR [SYS/TEMP]');
    assert.equal(locks.isLocked(ALICE), false);
  });

  it('answers an empty maildrop', async () => {
    const t = await login({}, BOB, 'bob pw with spaces');
    await t.send('STAT', '+OK 0 0\r\n');
    assert.equal(await t.send('LIST'), '+OK 0 messages (0 octets)\r\n.\r\n');
    assert.equal(await t.send('UIDL'), '+OK unique-id listing follows\r\n.\r\n');
    await t.send('RETR 1', '-ERR no such message');
  });
});

describe('POP3 session: pipelining, errors and limits', () => {
  it('answers pipelined commands in order (RFC 2449 PIPELINING)', async () => {
    const t = await connect();
    t.write(`USER ${ALICE}\r\nPASS alice-pw\r\nSTAT\r\nLIST 1\r\nNOOP\r\n`);
    await t.reply('+OK send PASS');
    await t.reply('+OK maildrop has');
    await t.reply(`+OK 2 ${total()}`);
    await t.reply(`+OK 1 ${sizes()[0]}`);
    await t.reply('+OK');
  });

  it('answers a line that is too long with -ERR and carries on', async () => {
    const t = await login({ limits: { maxLineLength: 64 } });
    await t.send(`NOOP ${'x'.repeat(100)}`, '-ERR line too long');
    await t.send('NOOP', '+OK');
  });

  it('takes a bare LF as a line end', async () => {
    const t = await login();
    t.write('STAT\n');
    await t.reply('+OK 2');
  });

  it('hangs up after too many errors', async () => {
    const t = await connect({ limits: { maxErrors: 3 } });
    await t.send('FOO', '-ERR unknown command');
    await t.send('BAR', '-ERR unknown command');
    await t.send('STAT', '-ERR STAT is not allowed');
    await t.reply('-ERR too many errors');
    await t.waitClosed();
  });

  it('logs out an idle session (RFC 1939 §3) and deletes nothing', async () => {
    const t = await login({ limits: { idleTimeoutMs: 50 } });
    await t.send('DELE 1', '+OK');
    await t.reply('-ERR [SYS/TEMP] autologout');
    await t.waitClosed();
    assert.deepEqual(await inboxUids(), uids);
  });

  it('ends an idle session on shutdown without deleting anything', async () => {
    const t = await login();
    await t.send('DELE 1', '+OK');
    t.session.shutdown();
    await t.reply('-ERR [SYS/TEMP] server shutting down');
    await t.waitClosed();
    assert.deepEqual(await inboxUids(), uids);
  });

  it('never fails on whatever lines a client sends', async () => {
    const line = fc.oneof(
      fc.constantFrom('STAT', 'LIST', 'UIDL', 'RETR 1', 'TOP 2 1', 'DELE 1', 'RSET', 'NOOP', 'CAPA', 'AUTH PLAIN', '*', 'LIST 99', 'USER x'),
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 25 }), async (lines) => {
        const logger = memoryLogger();
        const t = await login({ logger, limits: { maxErrors: 1000, maxAuthFailures: 1000 } });
        t.write(Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1'));
        await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual(logger.entries.filter((e) => e.level === 'error'), []);
        // Every response line is a status line, a continuation, or part of a multi-line response.
        assert.ok(t.output.endsWith('\r\n'));
        t.session.connectionLost();
      }),
      { numRuns: 60 },
    );
    assert.deepEqual(await inboxUids(), uids);
  });
});
