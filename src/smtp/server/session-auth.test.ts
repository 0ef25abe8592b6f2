/**
 * AUTH (RFC 4954) and the submission rules (RFC 6409) in session transcripts: offered and accepted
 * only over TLS, PLAIN with and without an initial response, LOGIN's two steps, cancel, bad base64,
 * the replies for failure and lockout, and MAIL refused until the client has logged in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthRequest, AuthResult, Authenticator } from '../../auth/types.ts';
import { encodeBase64 } from '../../auth/sasl.ts';
import { memoryLogger, silentLogger } from '../../core/logger.ts';
import type { Logger } from '../../core/logger.ts';
import { SmtpSession } from './session.ts';
import type { SessionIo } from './session.ts';
import { defaultLimits } from './types.ts';
import type { SessionInfo, SmtpHooks, SmtpLimits, SmtpMode } from './types.ts';

/** Users and passwords; "locked@example.test" is always locked; "broken@…" makes it throw. */
function tableAuthenticator(): Authenticator & { requests: AuthRequest[] } {
  const users: Record<string, string> = { 'alice@example.test': 'alice-secret', 'bob@example.test': 'pässwörd' };
  const requests: AuthRequest[] = [];
  return {
    requests,
    async authenticate(r): Promise<AuthResult> {
      requests.push(r);
      if (r.username === 'locked@example.test') return { ok: false, locked: true };
      if (r.username === 'broken@example.test') throw new Error('store down');
      const key = r.username.toLowerCase();
      return users[key] === r.password ? { ok: true, address: key } : { ok: false, locked: false };
    },
  };
}

interface Driver {
  send(line: string, expect?: string): Promise<string>;
  readonly closed: boolean;
  readonly senders: SessionInfo[];
  readonly delivered: SessionInfo[];
  readonly info: SessionInfo;
}

async function session(o: { mode?: SmtpMode; tls?: boolean; tlsAvailable?: boolean; authenticator?: Authenticator | null; logger?: Logger; limits?: Partial<SmtpLimits> } = {}): Promise<Driver> {
  let unread = '';
  let closed = false;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const senders: SessionInfo[] = [];
  const delivered: SessionInfo[] = [];
  const hooks: SmtpHooks = {
    async checkSender(_tx, info) {
      senders.push(info);
    },
    async checkRecipient() {},
    async deliver(_m, info) {
      delivered.push(info);
    },
  };
  const io: SessionIo = {
    write(text) {
      unread += text;
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    async startTls() {},
    pause() {},
    resume() {},
  };
  const s = new SmtpSession(
    {
      id: 't',
      mode: o.mode ?? 'submission',
      hostname: 'submit.test',
      remote: { address: '192.0.2.7', port: 50000 },
      local: { address: '127.0.0.1', port: 587 },
      remoteName: null,
      hooks,
      logger: o.logger ?? silentLogger,
      limits: { ...defaultLimits, ...o.limits },
      tlsAvailable: o.tlsAvailable ?? true,
      tls: o.tls ?? false,
      authenticator: o.authenticator === undefined ? tableAuthenticator() : o.authenticator,
      idFactory: () => 'ID1',
      now: Date.now,
    },
    io,
  );
  const next = async (expect?: string): Promise<string> => {
    const deadline = Date.now() + 2000;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(unread);
      if (m !== null) {
        unread = unread.slice(m[0].length);
        if (expect !== undefined) assert.ok(m[0].startsWith(expect), `expected ${JSON.stringify(expect)}, got ${JSON.stringify(m[0])}`);
        return m[0];
      }
      if (closed) assert.fail(`closed while waiting for ${expect ?? 'a reply'}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no reply (expected ${expect ?? 'any'})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };
  s.start();
  await next('220 ');
  return {
    async send(line, expect) {
      s.receive(new TextEncoder().encode(`${line}\r\n`));
      return next(expect);
    },
    get closed() {
      return closed;
    },
    senders,
    delivered,
    get info() {
      return s.info;
    },
  };
}

const plain = (user: string, password: string, authzid = ''): string => encodeBase64(`${authzid}\u0000${user}\u0000${password}`);

/** A session over TLS after STARTTLS and a second EHLO. */
async function overTls(o: Parameters<typeof session>[0] = {}): Promise<Driver> {
  const s = await session(o);
  await s.send('EHLO client.test', '250');
  await s.send('STARTTLS', '220 2.0.0');
  await s.send('EHLO client.test', '250');
  return s;
}

describe('SMTP AUTH: only over TLS', () => {
  it('does not advertise AUTH before STARTTLS, and advertises PLAIN and LOGIN after it', async () => {
    const s = await session();
    const before = await s.send('EHLO client.test', '250');
    assert.doesNotMatch(before, /AUTH/);
    assert.match(before, /250-STARTTLS\r\n/);
    await s.send('STARTTLS', '220 2.0.0');
    const after = await s.send('EHLO client.test', '250');
    assert.match(after, /250-AUTH PLAIN LOGIN\r\n/);
    assert.doesNotMatch(after, /STARTTLS/);
  });

  it('refuses AUTH before TLS with 538 5.7.11 and never asks the authenticator', async () => {
    const auth = tableAuthenticator();
    const s = await session({ authenticator: auth });
    await s.send('EHLO client.test', '250');
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '538 5.7.11');
    await s.send('AUTH LOGIN', '538 5.7.11');
    assert.equal(auth.requests.length, 0);
  });

  it('refuses MAIL before STARTTLS with 530 5.7.0 Must issue a STARTTLS command first', async () => {
    const s = await session();
    await s.send('EHLO client.test', '250');
    await s.send('MAIL FROM:<alice@example.test>', '530 5.7.0 Must issue a STARTTLS command first');
  });

  it('refuses MAIL over TLS before AUTH with 530 5.7.0 Authentication required', async () => {
    const s = await overTls();
    await s.send('MAIL FROM:<alice@example.test>', '530 5.7.0 Authentication required');
    assert.equal(s.senders.length, 0);
  });

  it('offers AUTH at once on an implicit-TLS connection', async () => {
    const s = await session({ tls: true });
    const r = await s.send('EHLO client.test', '250');
    assert.match(r, /250-AUTH PLAIN LOGIN\r\n/);
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '235 2.7.0');
  });

  it('refuses AUTH before EHLO with 503 5.5.1', async () => {
    const s = await session({ tls: true });
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '503 5.5.1');
  });

  it('answers AUTH with 502 5.5.1 when the server has no authenticator', async () => {
    const s = await session({ tls: true, authenticator: null, mode: 'mx' });
    const r = await s.send('EHLO client.test', '250');
    assert.doesNotMatch(r, /AUTH/);
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '502 5.5.1');
  });
});

describe('SMTP AUTH PLAIN', () => {
  it('logs in with an initial response: 235 2.7.0, then MAIL is accepted and the hooks see the user', async () => {
    const s = await overTls();
    await s.send(`AUTH PLAIN ${plain('Alice@Example.test', 'alice-secret')}`, '235 2.7.0');
    assert.equal(s.info.authenticated, 'alice@example.test');
    await s.send('MAIL FROM:<alice@example.test>', '250 2.1.0');
    assert.equal(s.senders[0]?.authenticated, 'alice@example.test');
  });

  it('logs in through a continuation: 334 with an empty challenge, then the response', async () => {
    const s = await overTls();
    assert.equal(await s.send('AUTH PLAIN', '334'), '334 \r\n');
    await s.send(plain('bob@example.test', 'pässwörd'), '235 2.7.0');
  });

  it('passes the client address and the service to the authenticator', async () => {
    const auth = tableAuthenticator();
    const s = await overTls({ authenticator: auth });
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '235');
    assert.deepEqual(auth.requests, [{ username: 'alice@example.test', password: 'alice-secret', remoteAddress: '192.0.2.7', service: 'submission' }]);
  });

  it('refuses a wrong password with 535 5.7.8 and lets the client try again', async () => {
    const s = await overTls();
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'wrong')}`, '535 5.7.8');
    assert.equal(s.info.authenticated, null);
    await s.send('MAIL FROM:<alice@example.test>', '530 5.7.0');
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '235 2.7.0');
  });

  it('answers 454 4.7.0 when the address or account is locked out, and when the authenticator fails', async () => {
    const s = await overTls();
    await s.send(`AUTH PLAIN ${plain('locked@example.test', 'whatever')}`, '454 4.7.0');
    await s.send(`AUTH PLAIN ${plain('broken@example.test', 'whatever')}`, '454 4.7.0');
  });

  it('refuses a second AUTH once authenticated with 503 5.5.1', async () => {
    const s = await overTls();
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '235');
    await s.send(`AUTH PLAIN ${plain('bob@example.test', 'pässwörd')}`, '503 5.5.1');
    assert.equal(s.info.authenticated, 'alice@example.test');
  });

  it('refuses AUTH during a mail transaction with 503 5.5.1', async () => {
    const s = await session({ mode: 'mx', tls: true });
    await s.send('EHLO client.test', '250');
    await s.send('MAIL FROM:<x@y.test>', '250');
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '503 5.5.1');
  });

  it('cancels on "*" with 501 5.7.0, and the next line is a command again', async () => {
    const s = await overTls();
    await s.send('AUTH PLAIN', '334');
    await s.send('*', '501 5.7.0');
    await s.send('NOOP', '250');
  });

  it('refuses a response that is not base64 with 501 5.5.2, as initial response or continuation', async () => {
    const s = await overTls();
    await s.send('AUTH PLAIN', '334');
    await s.send('this is not base64!', '501 5.5.2');
    await s.send('AUTH PLAIN', '334');
    await s.send('abc', '501 5.5.2');
    // The command parser refuses characters that base64 cannot have.
    await s.send('AUTH PLAIN ab!c', '501');
  });

  it('refuses a PLAIN response without the NUL separators, or acting as another user, with 535 5.7.8', async () => {
    const auth = tableAuthenticator();
    const s = await overTls({ authenticator: auth });
    await s.send(`AUTH PLAIN ${encodeBase64('alice@example.test alice-secret')}`, '535 5.7.8');
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret', 'bob@example.test')}`, '535 5.7.8');
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret', 'alice@example.test')}`, '235 2.7.0');
    assert.equal(auth.requests.length, 1);
  });

  it('refuses an unknown mechanism with 504 5.5.4', async () => {
    const s = await overTls();
    await s.send('AUTH CRAM-MD5', '504 5.5.4');
  });

  it('closes with 421 4.7.0 after too many failed logins in one session', async () => {
    const s = await overTls({ limits: { maxAuthFailures: 3 } });
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'a')}`, '535');
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'b')}`, '535');
    const r = await s.send(`AUTH PLAIN ${plain('alice@example.test', 'c')}`, '535');
    assert.match(r, /^535 /);
    assert.ok(s.closed);
  });

  it('refuses an exchange line that is too long with 500 5.5.6', async () => {
    const s = await overTls({ limits: { maxLineLength: 100 } });
    await s.send('AUTH PLAIN', '334');
    await s.send('A'.repeat(200), '500 5.5.6');
    await s.send('NOOP', '250');
  });
});

describe('SMTP AUTH LOGIN', () => {
  it('asks for the user name and then the password, in base64', async () => {
    const s = await overTls();
    assert.equal(await s.send('AUTH LOGIN'), `334 ${encodeBase64('Username:')}\r\n`);
    assert.equal(await s.send(encodeBase64('alice@example.test')), `334 ${encodeBase64('Password:')}\r\n`);
    await s.send(encodeBase64('alice-secret'), '235 2.7.0');
    assert.equal(s.info.authenticated, 'alice@example.test');
  });

  it('takes the user name as an initial response', async () => {
    const s = await overTls();
    await s.send(`AUTH LOGIN ${encodeBase64('alice@example.test')}`, `334 ${encodeBase64('Password:')}`);
    await s.send(encodeBase64('alice-secret'), '235 2.7.0');
  });

  it('refuses a wrong password with 535 5.7.8', async () => {
    const s = await overTls();
    await s.send('AUTH LOGIN', '334');
    await s.send(encodeBase64('alice@example.test'), '334');
    await s.send(encodeBase64('nope'), '535 5.7.8');
  });

  it('cancels at either step on "*", and refuses bad base64 at either step', async () => {
    const s = await overTls();
    await s.send('AUTH LOGIN', '334');
    await s.send('*', '501 5.7.0');
    await s.send('AUTH LOGIN', '334');
    await s.send(encodeBase64('alice@example.test'), '334');
    await s.send('*', '501 5.7.0');
    await s.send('AUTH LOGIN', '334');
    await s.send('%%%', '501 5.5.2');
    await s.send('AUTH LOGIN', '334');
    await s.send(encodeBase64('alice@example.test'), '334');
    await s.send('abc', '501 5.5.2');
  });
});

describe('SMTP AUTH: traces', () => {
  it('never logs the credentials of PLAIN or LOGIN', async () => {
    const logger = memoryLogger();
    const s = await overTls({ logger });
    await s.send(`AUTH PLAIN ${plain('alice@example.test', 'alice-secret')}`, '235');
    const t = await overTls({ logger });
    await t.send('AUTH LOGIN', '334');
    await t.send(encodeBase64('bob@example.test'), '334');
    await t.send(encodeBase64('pässwörd'), '235');
    const u = await overTls({ logger });
    await u.send('AUTH PLAIN', '334');
    await u.send(plain('alice@example.test', 'wrong-one'), '535');
    const all = JSON.stringify(logger.entries);
    for (const secret of ['alice-secret', 'pässwörd', 'wrong-one', plain('alice@example.test', 'alice-secret'), encodeBase64('pässwörd'), plain('alice@example.test', 'wrong-one')]) {
      assert.ok(!all.includes(secret), `the log contains ${secret}`);
    }
    assert.ok(all.includes('AUTH PLAIN ***'));
  });

  it('starts over after STARTTLS: not authenticated until a login over TLS', async () => {
    // In MX mode with AUTH over implicit TLS nothing changes; after STARTTLS the session starts
    // over (RFC 3207 §4.2), so `authenticated` is null until the client logs in over TLS.
    const s = await overTls({ mode: 'mx' });
    assert.equal(s.info.authenticated, null);
    assert.equal(s.info.tls, true);
  });

  it('does not require AUTH for MAIL in MX mode', async () => {
    const s = await session({ mode: 'mx' });
    await s.send('EHLO client.test', '250');
    await s.send('MAIL FROM:<x@y.test>', '250');
  });
});
