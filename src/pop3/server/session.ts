/**
 * One POP3 conversation as a state machine (RFC 1939 §3): AUTHORIZATION until a login succeeds,
 * then TRANSACTION over a snapshot of the INBOX taken at login, then UPDATE when the client says
 * QUIT, which is the only moment messages marked with DELE are removed. A connection that ends any
 * other way (dropped, timed out, shut down) removes nothing. Bytes come in through `receive`,
 * responses go out through the `Pop3Io` it was given; it owns no socket, so tests drive it
 * in-process with transcripts, and the listener (server.ts) ties it to a connection and to TLS.
 *
 * Commands are answered strictly in order; several may be waiting (RFC 2449 PIPELINING) and their
 * responses go out together when the input runs dry. Nothing pipelined after STLS is read
 * (RFC 2595 §4, as RFC 3207 §4.2 for SMTP). Anything a handler throws (a store failure, a bug)
 * becomes "-ERR [SYS/TEMP]" with the error logged, so no input crashes the server.
 */
import { decodePlain } from '../../auth/sasl.ts';
import type { Authenticator } from '../../auth/types.ts';
import { errorText } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { parseCommandBytes, parseSaslResponse, redactCommandLine } from '../proto/command.ts';
import type { Pop3Command, Pop3Verb } from '../proto/command.ts';
import { LineReader } from '../../core/line-reader.ts';
import { stuffMessage, topOfMessage } from '../proto/message.ts';
import { continuation, err, multiline, ok } from '../proto/reply.ts';
import type { MailboxLocks } from './locks.ts';
import type { Pop3Limits, Pop3Store } from './types.ts';

/** What the session needs from its connection. */
export interface Pop3Io {
  write(data: string | Uint8Array): void;
  /** Resolves when the connection can take more output (at once while little is unsent). */
  drain(): Promise<void>;
  /** Ends the connection once written data is flushed. */
  close(): void;
  /** Upgrades the connection to TLS; resolves after the handshake, rejects when it fails. */
  startTls(): Promise<void>;
  /** Stop / start delivering input (backpressure while a command runs). */
  pause(): void;
  resume(): void;
}

export interface Pop3SessionOptions {
  /** The connection id, for logs. */
  id: string;
  hostname: string;
  remoteAddress: string;
  store: Pop3Store;
  authenticator: Authenticator;
  locks: MailboxLocks;
  logger: Logger;
  limits: Pop3Limits;
  /** STLS is offered. */
  tlsAvailable: boolean;
  /** The connection is already TLS (the implicit-TLS listener). */
  tls: boolean;
  /** Logins are allowed without TLS. */
  allowPlaintextAuth: boolean;
}

type State = 'authorization' | 'transaction' | 'update' | 'tls' | 'closed';

/** RFC 1939 §4-§6, RFC 2449 §5 (CAPA in both states), RFC 2595 §4 (STLS before login only). */
const allowedIn: Record<Pop3Verb, readonly State[]> = {
  CAPA: ['authorization', 'transaction'],
  QUIT: ['authorization', 'transaction'],
  STLS: ['authorization'],
  USER: ['authorization'],
  PASS: ['authorization'],
  AUTH: ['authorization'],
  STAT: ['transaction'],
  LIST: ['transaction'],
  UIDL: ['transaction'],
  RETR: ['transaction'],
  TOP: ['transaction'],
  DELE: ['transaction'],
  RSET: ['transaction'],
  NOOP: ['transaction'],
};

const Msg = {
  NeedTls: err('log in after STLS: this connection is not encrypted', 'AUTH'),
  BadLogin: err('invalid credentials', 'AUTH'),
  // `locked` refuses even the right password until the lockout ends, so [AUTH] (which makes
  // clients ask the user for a new password) would be wrong; SYS/TEMP says "try again later".
  LockedOut: err('too many failed logins, try again later', 'SYS/TEMP'),
  InUse: err('maildrop already locked by another session', 'IN-USE'),
  NoMailbox: err('no maildrop for this account', 'SYS/PERM'),
  Internal: err('internal error, try again later', 'SYS/TEMP'),
  LineTooLong: err('line too long'),
  TooManyErrors: err('too many errors, closing the connection'),
  TooManyFailures: err('too many failed logins, closing the connection'),
  Idle: err('autologout: idle for too long', 'SYS/TEMP'),
  ShuttingDown: err('server shutting down, try again later', 'SYS/TEMP'),
} as const;

/** Stop reading from the connection while this much input waits unprocessed. */
const INPUT_HIGH_WATER = 64 * 1024;
/** RETR and TOP write messages in pieces of this size, waiting for the connection in between. */
const WRITE_CHUNK = 64 * 1024;
// RETR reads ahead (see #read): at most this many messages, and this many bytes, per store call.
const AHEAD_COUNT = 32;
const AHEAD_BYTES = 1024 * 1024;

interface Entry {
  uid: number;
  size: number;
  deleted: boolean;
}

interface Maildrop {
  /** The account's address as the store has it. */
  address: string;
  uidValidity: number;
  /** Message number n is entries[n - 1]; fixed for the session (RFC 1939 §3). */
  entries: Entry[];
}

const decoder = new TextDecoder();

export class Pop3Session {
  readonly #o: Pop3SessionOptions;
  readonly #io: Pop3Io;
  readonly #log: Logger;
  readonly #lines: LineReader;
  #state: State = 'authorization';
  #tls: boolean;
  #input: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #out: string[] = [];
  #running = false;
  #errors = 0;
  #authFailures = 0;
  #shuttingDown = false;
  /** USER given, waiting for PASS. */
  #user: string | null = null;
  /** AUTH PLAIN sent "+ ", waiting for the client's response line. */
  #saslPending = false;
  #maildrop: Maildrop | null = null;
  /** Messages read ahead of the client's RETRs, by UID. */
  readonly #ahead = new Map<number, Uint8Array>();
  #release: (() => void) | null = null;
  #updating = false;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;

  #resolveClosed!: () => void;
  /** Settles when the session has ended, for whatever reason. */
  readonly closed: Promise<void>;

  constructor(options: Pop3SessionOptions, io: Pop3Io) {
    this.#o = options;
    this.#io = io;
    this.#log = options.logger;
    this.#tls = options.tls;
    this.#lines = new LineReader({ maxLineLength: options.limits.maxLineLength, allowBareLf: true });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** The logged-in account, or null. */
  get user(): string | null {
    return this.#maildrop?.address ?? null;
  }

  /** Sends the greeting and starts the idle clock. */
  start(): void {
    // No APOP timestamp: APOP (RFC 1939 §7) needs the password in clear on the server.
    this.#send(ok(`${this.#o.hostname} POP3 Postern ready`));
    this.#flush();
    this.#armIdle();
  }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    // During STLS nothing counts (RFC 2595 §4); after QUIT there is nothing left to say.
    if (this.#state !== 'authorization' && this.#state !== 'transaction') return;
    if (chunk.length === 0) return;
    this.#clearIdle();
    this.#input.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > INPUT_HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#io.pause();
    }
    void this.#run();
  }

  /** The connection went away. Nothing marked for deletion is deleted (RFC 1939 §6). */
  connectionLost(): void {
    if (this.#state === 'closed') return;
    this.#log.debug({ state: this.#state }, 'connection lost');
    this.#end();
  }

  /** Graceful stop: now if waiting for a command, else after the command in progress. A session
   *  in UPDATE finishes its deletions first. */
  shutdown(): void {
    this.#shuttingDown = true;
    if (!this.#running && (this.#state === 'authorization' || this.#state === 'transaction')) {
      this.#send(Msg.ShuttingDown);
      this.#close();
    }
  }

  // ---- the loop ----

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (await this.#step());
    } catch (e) {
      // A bug of ours, never the client's doing: say so and hang up rather than go on in an
      // unknown state.
      this.#log.error({ err: errorText(e) }, 'session failed');
      this.#send(Msg.Internal);
      this.#close();
    } finally {
      this.#running = false;
    }
    if (this.#state === 'closed' || this.#state === 'tls' || this.#state === 'update') return;
    if (this.#shuttingDown) {
      this.#send(Msg.ShuttingDown);
      this.#close();
      return;
    }
    // Input that arrived while the last step was finishing has not been looked at yet.
    if (this.#input.length > 0) return this.#run();
    this.#flush();
    if (this.#paused && this.#queued <= INPUT_HIGH_WATER / 2) {
      this.#paused = false;
      this.#io.resume();
    }
    this.#armIdle();
  }

  /** Handles one line; false when it must wait for input. */
  async #step(): Promise<boolean> {
    if (this.#state !== 'authorization' && this.#state !== 'transaction') return false;
    if (this.#shuttingDown) return false;
    for (const chunk of this.#input) this.#lines.push(chunk);
    this.#input = [];
    const r = this.#lines.next();
    this.#queued = this.#lines.buffered;
    if (r.kind === 'need-more') return false;
    if (r.kind === 'error') {
      this.#trace('in', '(line too long)');
      this.#saslPending = false;
      this.#protocolError(Msg.LineTooLong);
      return true;
    }
    try {
      if (this.#saslPending) await this.#saslResponse(r.line);
      else await this.#command(r.line);
    } catch (e) {
      this.#log.error({ err: errorText(e) }, 'command failed');
      this.#send(Msg.Internal);
    }
    return true;
  }

  async #command(line: Uint8Array): Promise<void> {
    const parsed = parseCommandBytes(line);
    this.#trace('in', redactCommandLine(decoder.decode(line)));
    if (parsed.kind === 'error') return this.#protocolError(err(parsed.message));
    const cmd = parsed.command;
    if (!allowedIn[cmd.verb].includes(this.#state)) {
      const where = this.#state === 'authorization' ? 'before login' : 'after login';
      return this.#protocolError(err(`${cmd.verb} is not allowed ${where}`));
    }
    await this.#handle(cmd);
  }

  // ---- commands ----

  #handle(cmd: Pop3Command): Promise<void> | void {
    switch (cmd.verb) {
      case 'CAPA':
        return this.#send(multiline('capability list follows', this.#capabilities()));
      case 'STLS':
        return this.#startTls();
      case 'USER':
        if (!this.#needLoginAllowed()) return;
        this.#user = cmd.name;
        return this.#send(ok('send PASS'));
      case 'PASS': {
        if (!this.#needLoginAllowed()) return;
        const user = this.#user;
        // RFC 1939 §7: after a failed PASS the client starts again with USER.
        this.#user = null;
        if (user === null) return this.#protocolError(err('send USER first'));
        return this.#login(user, cmd.password);
      }
      case 'AUTH':
        return this.#auth(cmd);
      case 'QUIT':
        if (this.#state === 'transaction') return this.#update();
        this.#send(ok(`${this.#o.hostname} signing off`));
        return this.#close();
      case 'STAT': {
        const { count, size } = this.#totals();
        return this.#send(ok(`${count} ${size}`));
      }
      case 'LIST':
        return this.#list(cmd.msg);
      case 'UIDL':
        return this.#uidl(cmd.msg);
      case 'RETR':
        return this.#retrieve(cmd.msg, null);
      case 'TOP':
        return this.#retrieve(cmd.msg, cmd.lines);
      case 'DELE': {
        const entry = this.#entry(cmd.msg);
        if (entry === null) return;
        entry.deleted = true;
        return this.#send(ok(`message ${cmd.msg} deleted`));
      }
      case 'RSET': {
        for (const e of this.#drop().entries) e.deleted = false;
        const { count, size } = this.#totals();
        return this.#send(ok(`maildrop has ${count} messages (${size} octets)`));
      }
      case 'NOOP':
        return this.#send(ok());
    }
  }

  /** RFC 2449 §6. USER and SASL only where a login is allowed now; STLS only before TLS. */
  #capabilities(): string[] {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE'];
    if (this.#state === 'authorization') {
      if (this.#loginAllowed()) caps.push('USER', 'SASL PLAIN');
      if (this.#o.tlsAvailable && !this.#tls) caps.push('STLS');
    }
    caps.push('IMPLEMENTATION Postern');
    return caps;
  }

  #loginAllowed(): boolean {
    return this.#tls || this.#o.allowPlaintextAuth;
  }

  /** RFC 2595 §2.2 (as RFC 3501 LOGINDISABLED): no passwords in clear text. */
  #needLoginAllowed(): boolean {
    if (this.#loginAllowed()) return true;
    this.#user = null;
    this.#protocolError(Msg.NeedTls);
    return false;
  }

  #startTls(): void {
    if (this.#tls) return this.#protocolError(err('TLS is already active'));
    if (!this.#o.tlsAvailable) return this.#protocolError(err('STLS is not available'));
    this.#send(ok('begin TLS negotiation'));
    this.#flush();
    // RFC 2595 §4: whatever the client pipelined after STLS is thrown away.
    this.#state = 'tls';
    this.#clearIdle();
    this.#lines.discard();
    this.#input = [];
    this.#queued = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#io.resume();
    }
    this.#io.startTls().then(
      () => {
        if (this.#state === 'closed') return;
        // Forget anything said before TLS.
        this.#user = null;
        this.#tls = true;
        this.#state = 'authorization';
        this.#log.debug({}, 'TLS started');
        this.#armIdle();
        void this.#run();
      },
      (e: unknown) => {
        this.#log.debug({ err: errorText(e) }, 'TLS handshake failed');
        this.#end();
      },
    );
  }

  /** RFC 5034 §4. */
  async #auth(cmd: Extract<Pop3Command, { verb: 'AUTH' }>): Promise<void> {
    if (!this.#needLoginAllowed()) return;
    this.#user = null;
    // A bare AUTH lists the mechanisms, as the SASL draft before RFC 5034 had it; Outlook asks.
    if (cmd.mechanism === null) return this.#send(multiline('SASL mechanisms follow', ['PLAIN']));
    if (cmd.mechanism !== 'PLAIN') return this.#protocolError(err(`SASL mechanism ${cmd.mechanism} is not supported`, 'AUTH'));
    if (cmd.initialResponse === null) {
      this.#saslPending = true;
      this.#send(continuation());
      return;
    }
    // RFC 5034 §4: "=" is an empty initial response.
    return this.#plain(cmd.initialResponse === '=' ? '' : cmd.initialResponse);
  }

  async #saslResponse(line: Uint8Array): Promise<void> {
    this.#saslPending = false;
    this.#trace('in', '***');
    const r = parseSaslResponse(line);
    // RFC 5034 §4: "*" cancels, and the server must answer -ERR.
    if (r.kind === 'cancel') return this.#send(err('authentication cancelled', 'AUTH'));
    if (r.kind === 'error') return this.#loginFailed(err(r.message, 'AUTH'));
    return this.#plain(r.text);
  }

  async #plain(response: string): Promise<void> {
    const p = decodePlain(response);
    if (!p.ok) return this.#loginFailed(err(`malformed PLAIN response: ${p.reason}`, 'AUTH'));
    // We let no one act for another account: an authorization identity must be the user itself.
    if (p.authzid !== '' && p.authzid.toLowerCase() !== p.username.toLowerCase()) return this.#loginFailed(Msg.BadLogin);
    return this.#login(p.username, p.password);
  }

  async #login(username: string, password: string): Promise<void> {
    const result = await this.#o.authenticator.authenticate({
      username,
      password,
      remoteAddress: this.#o.remoteAddress,
      service: 'pop3',
    });
    if (this.#state !== 'authorization') return;
    if (!result.ok) {
      this.#log.info({ user: username, locked: result.locked }, 'login failed');
      return this.#loginFailed(result.locked ? Msg.LockedOut : Msg.BadLogin);
    }
    const address = result.address;
    const release = await this.#o.locks.acquire(address);
    if (release === null) {
      this.#log.info({ user: address }, 'maildrop in use');
      return this.#send(Msg.InUse);
    }
    try {
      const mailbox = await this.#o.store.getMailbox({ address });
      const messages = mailbox === null ? null : await this.#o.store.listMessages({ address });
      if (this.#state !== 'authorization') return release();
      if (mailbox === null || messages === null) {
        release();
        this.#log.warn({ user: address }, 'account has no INBOX');
        return this.#send(Msg.NoMailbox);
      }
      this.#release = release;
      this.#maildrop = {
        address,
        uidValidity: mailbox.uidValidity,
        entries: messages.map((m) => ({ uid: m.uid, size: m.size, deleted: false })),
      };
      this.#state = 'transaction';
      this.#log.info({ user: address, messages: messages.length }, 'logged in');
      const { count, size } = this.#totals();
      this.#send(ok(`maildrop has ${count} messages (${size} octets)`));
    } catch (e) {
      release();
      throw e;
    }
  }

  #loginFailed(response: string): void {
    this.#authFailures++;
    this.#send(response);
    if (this.#authFailures >= this.#o.limits.maxAuthFailures) {
      this.#log.info({ failures: this.#authFailures }, 'too many failed logins');
      this.#send(Msg.TooManyFailures);
      this.#close();
    }
  }

  #drop(): Maildrop {
    if (this.#maildrop === null) throw new Error('no maildrop in TRANSACTION state');
    return this.#maildrop;
  }

  #totals(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (const e of this.#drop().entries) {
      if (e.deleted) continue;
      count++;
      size += e.size;
    }
    return { count, size };
  }

  /** RFC 1939 §5: a message number must exist and not be marked deleted. Answers -ERR if not. */
  #entry(msg: number): Entry | null {
    const e = this.#drop().entries[msg - 1];
    if (e === undefined) {
      this.#send(err('no such message'));
      return null;
    }
    if (e.deleted) {
      this.#send(err(`message ${msg} already deleted`));
      return null;
    }
    return e;
  }

  #list(msg: number | null): void {
    if (msg !== null) {
      const e = this.#entry(msg);
      if (e !== null) this.#send(ok(`${msg} ${e.size}`));
      return;
    }
    const lines: string[] = [];
    this.#drop().entries.forEach((e, i) => {
      if (!e.deleted) lines.push(`${i + 1} ${e.size}`);
    });
    const { count, size } = this.#totals();
    this.#send(multiline(`${count} messages (${size} octets)`, lines));
  }

  /** RFC 1939 §7: a unique-id is 1 to 70 characters 0x21-0x7E and never changes for a message.
   *  UIDVALIDITY.UID stays the same across sessions, and changes when UIDs are reset. */
  #uidl(msg: number | null): void {
    const drop = this.#drop();
    const id = (e: Entry): string => `${drop.uidValidity}.${e.uid}`;
    if (msg !== null) {
      const e = this.#entry(msg);
      if (e !== null) this.#send(ok(`${msg} ${id(e)}`));
      return;
    }
    const lines: string[] = [];
    drop.entries.forEach((e, i) => {
      if (!e.deleted) lines.push(`${i + 1} ${id(e)}`);
    });
    this.#send(multiline('unique-id listing follows', lines));
  }

  /**
   * The bytes of message `msg`. Clients fetch a maildrop in order, RETR after RETR, and each
   * read is a round trip to the store's thread: so a miss reads this message and the next ones
   * (up to AHEAD_COUNT messages or AHEAD_BYTES) in one store call, and the following RETRs are
   * answered from them. A message's bytes never change, so what was read ahead stays right.
   */
  async #read(drop: Maildrop, msg: number, e: Entry): Promise<Uint8Array | null> {
    const hit = this.#ahead.get(e.uid);
    if (hit !== undefined) {
      this.#ahead.delete(e.uid);
      return hit;
    }
    this.#ahead.clear();
    const uids = [e.uid];
    let bytes = e.size;
    for (let i = msg; i < drop.entries.length && uids.length < AHEAD_COUNT; i++) {
      const next = drop.entries[i] as Entry;
      if (next.deleted) continue;
      if (bytes + next.size > AHEAD_BYTES) break;
      bytes += next.size;
      uids.push(next.uid);
    }
    if (uids.length === 1) return this.#o.store.readMessage({ address: drop.address, uid: e.uid });
    let data: Uint8Array | null = null;
    for (const r of (await this.#o.store.readMessages({ address: drop.address, uids })) ?? []) {
      if (r.uid === e.uid) data = r.data;
      else this.#ahead.set(r.uid, r.data);
    }
    return data;
  }

  /** RETR (lines null) or TOP. */
  async #retrieve(msg: number, lines: number | null): Promise<void> {
    const e = this.#entry(msg);
    if (e === null) return;
    const drop = this.#drop();
    const data = await this.#read(drop, msg, e);
    if (this.#state !== 'transaction') return;
    if (data === null) return this.#send(err(`message ${msg} is no longer in the maildrop`));
    const status = ok(lines === null ? `${e.size} octets` : 'top of message follows');
    this.#trace('out', status.trimEnd());
    // The status line (and anything still pending) goes in the same buffer as the message: one
    // write, so one TLS record and one system call for a message that fits in a chunk.
    const head = Buffer.from(this.#out.join('') + status, 'utf8');
    this.#out = [];
    await this.#writeLarge(stuffMessage(lines === null ? data : topOfMessage(data, lines), head));
  }

  /** RFC 1939 §6: the UPDATE state. */
  async #update(): Promise<void> {
    const drop = this.#drop();
    this.#state = 'update';
    this.#updating = true;
    const doomed = drop.entries.filter((e) => e.deleted);
    let failed = 0;
    try {
      for (const e of doomed) {
        try {
          // False means someone else removed it first: gone either way.
          await this.#o.store.deleteMessage({ address: drop.address, uid: e.uid });
        } catch (e2) {
          failed++;
          this.#log.error({ err: errorText(e2), uid: e.uid }, 'delete failed');
        }
      }
    } finally {
      this.#updating = false;
      this.#release?.();
      this.#release = null;
    }
    this.#log.info({ user: drop.address, deleted: doomed.length - failed, failed }, 'update');
    if (failed > 0) this.#send(err('some deleted messages not removed', 'SYS/TEMP'));
    else this.#send(ok(`${this.#o.hostname} signing off (${doomed.length} messages deleted)`));
    this.#close();
  }

  // ---- output, errors, timers ----

  #protocolError(response: string): void {
    this.#send(response);
    this.#errors++;
    if (this.#errors >= this.#o.limits.maxErrors) {
      this.#log.info({ errors: this.#errors }, 'too many errors');
      this.#send(Msg.TooManyErrors);
      this.#close();
    }
  }

  #send(text: string): void {
    if (this.#state === 'closed') return;
    this.#trace('out', text.length > 200 ? `${text.slice(0, 200)}…` : text.trimEnd());
    this.#out.push(text);
  }

  #flush(): void {
    if (this.#out.length === 0) return;
    const text = this.#out.join('');
    this.#out = [];
    this.#io.write(text);
  }

  /** Writes a message in pieces, waiting for the client to take each one. */
  async #writeLarge(data: Uint8Array): Promise<void> {
    this.#flush();
    for (let at = 0; at < data.length; at += WRITE_CHUNK) {
      if (this.#state === 'closed') return;
      this.#io.write(data.subarray(at, Math.min(at + WRITE_CHUNK, data.length)));
      await this.#io.drain();
    }
  }

  #trace(dir: 'in' | 'out', line: string): void {
    this.#log.debug({ dir, line }, 'pop3');
  }

  #armIdle(): void {
    this.#clearIdle();
    if (this.#state !== 'authorization' && this.#state !== 'transaction') return;
    this.#idleTimer = setTimeout(() => {
      if (this.#running || this.#state === 'closed') return;
      // RFC 1939 §3: an autologout does not enter UPDATE; nothing is deleted.
      this.#log.info({ state: this.#state }, 'autologout');
      this.#send(Msg.Idle);
      this.#close();
    }, this.#o.limits.idleTimeoutMs);
    this.#idleTimer.unref?.();
  }

  #clearIdle(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  /** Sends what is pending, then ends the connection. */
  #close(): void {
    if (this.#state === 'closed') return;
    this.#flush();
    this.#end();
    this.#io.close();
  }

  #end(): void {
    this.#state = 'closed';
    this.#clearIdle();
    this.#input = [];
    this.#lines.discard();
    this.#saslPending = false;
    // During UPDATE the deletions finish first and release the lock themselves.
    if (!this.#updating) {
      this.#release?.();
      this.#release = null;
    }
    this.#resolveClosed();
  }
}
