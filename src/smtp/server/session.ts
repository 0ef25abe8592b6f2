/**
 * One SMTP (or LMTP) conversation as a state machine: bytes in through `receive`, replies out
 * through the `SessionIo` it was given. It owns no socket, so tests drive it in-process with
 * transcripts; the listener (server.ts) ties it to a connection and to TLS.
 *
 * Commands are read and answered strictly in order; several may be waiting (RFC 2920 PIPELINING)
 * and their replies go out together when the input runs dry. Nothing is read as a command past
 * DATA's 354 (what follows is the message) or past STARTTLS (what follows is discarded: RFC 3207
 * §4.2, CVE-2011-0411). Handlers throw SmtpReplyError; `#run` turns that into the reply in one
 * place and turns anything else into 451 4.3.0 with the error logged, so no input crashes the
 * server.
 */
import { randomBytes } from 'node:crypto';
import { decodeLoginStep, decodePlain, encodeBase64 } from '../../auth/sasl.ts';
import type { AuthResult, Authenticator } from '../../auth/types.ts';
import { errorText } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { formatReply, reply, Reply, replyText, SmtpReplyError, withText } from '../../core/smtp-reply.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { BdatReader } from '../proto/bdat-reader.ts';
import type { BdatResult } from '../proto/bdat-reader.ts';
import { concatBytes } from '../proto/bytes.ts';
import { parseCommandBytes, redactCommandLine } from '../proto/command.ts';
import type { Command } from '../proto/command.ts';
import { DataReader } from '../proto/data-reader.ts';
import type { DataResult } from '../proto/data-reader.ts';
import { formatMailbox } from '../proto/mailbox.ts';
import { LineReader } from '../../core/line-reader.ts';
import { countReceived } from '../../message/headers.ts';
import { receivedHeader, receivedProtocol } from '../../message/received.ts';
import type { Recipient, SessionInfo, SmtpHooks, SmtpLimits, SmtpMode, Transaction } from './types.ts';

/** What the session needs from its connection. */
export interface SessionIo {
  write(text: string): void;
  /** Ends the connection once written data is flushed. */
  close(): void;
  /** Upgrades the connection to TLS; resolves after the handshake, rejects when it fails. */
  startTls(): Promise<void>;
  /** Stop / start delivering input (backpressure while a hook runs). */
  pause(): void;
  resume(): void;
}

export interface SessionOptions {
  /** The connection id, also SessionInfo.id. */
  id: string;
  mode: SmtpMode;
  hostname: string;
  remote: { address: string; port: number };
  local: { address: string; port: number };
  /** The client's reverse DNS name, for Received; null gives "unknown". */
  remoteName: string | null;
  hooks: SmtpHooks;
  logger: Logger;
  limits: SmtpLimits;
  /** STARTTLS is offered. */
  tlsAvailable: boolean;
  /** The connection is already TLS (implicit TLS, RFC 8314: port 465). */
  tls?: boolean;
  /** Checks AUTH; null or absent: AUTH is not offered. */
  authenticator?: Authenticator | null;
  idFactory: () => string;
  now: () => number;
}

/** RFC 5321 §4.5.3.1.10-style messages for the replies the session sends. */
const Msg = {
  NoHelo: withText(Reply.BadSequence, 'send EHLO or HELO first'),
  NoLhlo: withText(Reply.BadSequence, 'send LHLO first'),
  UseLhlo: reply(500, '5.5.1', 'this is LMTP: use LHLO'),
  NestedMail: withText(Reply.BadSequence, 'sender already given'),
  NoMail: withText(Reply.BadSequence, 'send MAIL FROM first'),
  NoRcpt: withText(Reply.BadSequence, 'send RCPT TO first'),
  NoValidRcpt: reply(554, '5.5.1', 'no valid recipients'),
  DataAfterBdat: withText(Reply.BadSequence, 'DATA cannot follow BDAT in one transaction'),
  BinaryNeedsBdat: withText(Reply.BadSequence, 'BODY=BINARYMIME needs BDAT'),
  BinaryUnsupported: reply(555, '5.5.4', 'BODY=BINARYMIME is not supported here'),
  ParamsNeedEhlo: reply(555, '5.5.4', 'ESMTP parameters need EHLO'),
  TlsActive: withText(Reply.BadSequence, 'TLS is already active'),
  NoTls: reply(502, '5.5.1', 'STARTTLS not available'),
  AuthLater: reply(502, '5.5.1', 'AUTH not available'),
  // RFC 4954 §4 and §6.
  AuthOk: reply(235, '2.7.0', 'authentication successful'),
  AuthFailed: reply(535, '5.7.8', 'authentication credentials invalid'),
  AuthTemporary: reply(454, '4.7.0', 'temporary authentication failure, try again later'),
  AuthAlready: withText(Reply.BadSequence, 'already authenticated'),
  AuthInTransaction: withText(Reply.BadSequence, 'AUTH is not allowed during a mail transaction'),
  AuthMechanism: reply(504, '5.5.4', 'unrecognised authentication type: use PLAIN or LOGIN'),
  AuthNeedsTls: reply(538, '5.7.11', 'encryption required for requested authentication mechanism: issue STARTTLS first'),
  AuthCancelled: reply(501, '5.7.0', 'authentication cancelled'),
  AuthBadBase64: reply(501, '5.5.2', 'cannot decode the base64 response'),
  AuthLineTooLong: reply(500, '5.5.6', 'authentication exchange line is too long'),
  TooManyAuthFailures: reply(421, '4.7.0', 'too many failed logins, closing the connection'),
  // RFC 6409 §4.3 (and RFC 3207 §4 for the text): submission needs a login, and a login needs TLS.
  AuthRequired: withText(Reply.AuthRequired, 'Authentication required'),
  StartTlsFirst: withText(Reply.MustIssueStartTls, 'Must issue a STARTTLS command first'),
  Vrfy: reply(252, '2.5.2', 'cannot verify the user, but will accept the message and attempt delivery'),
  Help: reply(214, '2.0.0', 'see RFC 5321'),
  Reset: withText(Reply.Ok, 'reset'),
  TooManyErrors: reply(421, '4.7.0', 'too many errors, closing the connection'),
  IdleTimeout: Reply.TimeOut,
  DataTimeout: withText(Reply.TimeOut, 'no data for too long, closing the connection'),
  SlowData: withText(Reply.TimeOut, 'data arriving too slowly, closing the connection'),
  ShuttingDown: withText(Reply.ServiceUnavailable, 'shutting down, try again later'),
  LineTooLong: Reply.LineTooLong,
  BareLfInCommand: withText(Reply.SyntaxError, 'syntax error: command lines end with CRLF'),
  MessageTooBig: Reply.MessageTooBig,
} as const;

/** Replies that count as protocol errors toward maxErrors. */
function countsAsError(r: SmtpReply): boolean {
  return (r.code >= 500 && r.code <= 504) || r.code === 555;
}

/** Stop reading from the connection while this much input waits unprocessed. */
const INPUT_HIGH_WATER = 256 * 1024;

type State = 'command' | 'data' | 'bdat' | 'tls' | 'closed';

type Helo = { verb: 'EHLO' | 'HELO' | 'LHLO'; domain: string };

/** An AUTH exchange waiting for the client's next base64 line (RFC 4954 §4). */
type AuthExchange = { mechanism: 'PLAIN' } | { mechanism: 'LOGIN'; username: string | null };

/** RFC 4954 §4: the challenges of LOGIN, base64 of "Username:" and "Password:". */
const LOGIN_USERNAME = encodeBase64('Username:');
const LOGIN_PASSWORD = encodeBase64('Password:');

export class SmtpSession {
  readonly #o: SessionOptions;
  readonly #io: SessionIo;
  readonly #log: Logger;
  readonly #info: SessionInfo;
  readonly #lines: LineReader;
  #state: State = 'command';
  #input: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #out: string[] = [];
  #running = false;
  #errors = 0;
  #shuttingDown = false;

  #helo: Helo | null = null;
  #authExchange: AuthExchange | null = null;
  #authFailures = 0;
  #tx: Transaction | null = null;
  /** RCPT commands tried in this transaction, accepted or not. */
  #rcptTried = 0;
  /** The transaction has begun BDAT chunks. */
  #usedBdat = false;
  #messageId: string | null = null;
  #data: DataReader | null = null;
  /** The transaction's BDAT message. */
  #bdat: BdatReader | null = null;
  /** The reader of the chunk being read: #bdat, or one that discards a refused chunk. */
  #chunk: BdatReader | null = null;
  /** This BDAT chunk is consumed and answered with this reply instead of joining a message. */
  #bdatRefusal: SmtpReply | null = null;

  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  #rateTimer: ReturnType<typeof setInterval> | null = null;
  #contentStart = 0;
  #contentBytes = 0;

  #resolveClosed!: () => void;
  /** Settles when the session has ended, for whatever reason. */
  readonly closed: Promise<void>;

  constructor(options: SessionOptions, io: SessionIo) {
    this.#o = options;
    this.#io = io;
    this.#log = options.logger;
    this.#info = {
      id: options.id,
      mode: options.mode,
      remote: { ...options.remote },
      local: { ...options.local },
      helo: null,
      tls: options.tls === true,
      authenticated: null,
    };
    this.#lines = new LineReader({ maxLineLength: options.limits.maxLineLength });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** A copy of what the hooks see. */
  get info(): SessionInfo {
    return { ...this.#info, remote: { ...this.#info.remote }, local: { ...this.#info.local } };
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Sends the greeting and starts the idle clock. */
  start(): void {
    const greeting = reply(220, null, `${this.#o.hostname} ${this.#o.mode === 'lmtp' ? 'LMTP' : 'ESMTP'} Postern`);
    this.#send(greeting);
    this.#flush();
    this.#armIdle();
  }

  /** Bytes from the client. */
  receive(chunk: Uint8Array): void {
    if (this.#state === 'closed' || chunk.length === 0) return;
    // RFC 3207 §4.2: nothing sent before the TLS handshake counts (CVE-2011-0411).
    if (this.#state === 'tls') return;
    this.#clearIdle();
    if (this.#state === 'data' || this.#state === 'bdat') this.#contentBytes += chunk.length;
    this.#input.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > INPUT_HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#io.pause();
    }
    void this.#run();
  }

  /** The connection went away (the client closed it, or a socket error). */
  connectionLost(): void {
    if (this.#state === 'closed') return;
    this.#log.debug({}, 'connection lost');
    this.#end();
  }

  /** Graceful stop: 421 now if waiting for a command, else after the command in progress. */
  shutdown(): void {
    this.#shuttingDown = true;
    if (!this.#running && this.#state === 'command') {
      this.#send(Msg.ShuttingDown);
      this.#close();
    }
  }

  // ---- the loop ----

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#state !== 'closed' && (await this.#step()));
    } catch (err) {
      // A bug of ours, never the client's doing: say so and hang up rather than continue in an
      // unknown state.
      this.#log.error({ err: errorText(err) }, 'session failed');
      this.#send(Reply.ServiceUnavailable);
      this.#close();
    } finally {
      this.#running = false;
    }
    if (this.#state === 'closed') return;
    // Input that arrived while the last step was finishing has not been looked at yet.
    if (this.#input.length > 0 && this.#state !== 'tls') return this.#run();
    if (this.#shuttingDown && this.#state === 'command') {
      this.#send(Msg.ShuttingDown);
      this.#close();
      return;
    }
    this.#flush();
    if (this.#paused && this.#queued <= INPUT_HIGH_WATER / 2) {
      this.#paused = false;
      this.#io.resume();
    }
    this.#armIdle();
  }

  /** Does one unit of work; false when it must wait for input. */
  async #step(): Promise<boolean> {
    switch (this.#state) {
      case 'command': {
        for (const chunk of this.#input) this.#lines.push(chunk);
        this.#input = [];
        this.#queued = this.#lines.buffered;
        const r = this.#lines.next();
        this.#queued = this.#lines.buffered;
        if (r.kind === 'need-more') return false;
        if (r.kind === 'error' && this.#authExchange !== null) {
          this.#authExchange = null;
          this.#protocolError(Msg.AuthLineTooLong);
          return true;
        }
        if (r.kind === 'error') {
          this.#log.debug({ dir: 'in', problem: r.problem }, 'bad command line');
          this.#protocolError(r.problem === 'line-too-long' ? Msg.LineTooLong : Msg.BareLfInCommand);
          return true;
        }
        if (this.#authExchange !== null) await this.#authResponse(r.line);
        else await this.#command(r.line);
        return true;
      }
      case 'data':
      case 'bdat': {
        const chunk = this.#input.shift();
        if (chunk === undefined) return false;
        this.#queued -= chunk.length;
        if (this.#state === 'data') {
          const r = (this.#data as DataReader).push(chunk);
          if (r.kind !== 'need-more') await this.#dataEnded(r);
        } else {
          const r = (this.#chunk as BdatReader).push(chunk);
          if (r.kind !== 'need-more') await this.#chunkEnded(r);
        }
        return true;
      }
      case 'tls':
      case 'closed':
        return false;
    }
  }

  async #command(line: Uint8Array): Promise<void> {
    const parsed = parseCommandBytes(line, { smtputf8: this.#tx?.mailParams.smtputf8 === true });
    this.#trace('in', new TextDecoder().decode(line));
    if (parsed.kind === 'error') {
      if (parsed.verb === null) this.#protocolError(parsed.reply);
      else this.#reply(parsed.reply);
      return;
    }
    try {
      await this.#handle(parsed.command);
    } catch (err) {
      this.#replyForError(err);
    }
  }

  #replyForError(err: unknown): void {
    if (err instanceof SmtpReplyError) {
      this.#reply(err.reply);
      if (err.close) this.#close();
      return;
    }
    this.#log.error({ err: errorText(err) }, 'hook failed');
    this.#send(Reply.LocalError);
  }

  // ---- commands ----

  #handle(cmd: Command): Promise<void> | void {
    switch (cmd.verb) {
      case 'EHLO':
      case 'HELO':
      case 'LHLO':
        return this.#hello(cmd);
      case 'MAIL':
        return this.#mail(cmd);
      case 'RCPT':
        return this.#rcpt(cmd);
      case 'DATA':
        return this.#dataCommand();
      case 'BDAT':
        return this.#bdatCommand(cmd);
      case 'RSET':
        this.#resetTransaction();
        return this.#reply(Msg.Reset);
      case 'NOOP':
        return this.#reply(Reply.Ok);
      case 'QUIT':
        this.#reply(Reply.Closing);
        return this.#close();
      case 'VRFY':
        // Never reveal which accounts exist (RFC 5321 §3.5.3 allows 252).
        return this.#reply(Msg.Vrfy);
      case 'HELP':
        return this.#reply(Msg.Help);
      case 'STARTTLS':
        return this.#startTls();
      case 'AUTH':
        return this.#authCommand(cmd);
    }
  }

  #hello(cmd: Extract<Command, { verb: 'EHLO' | 'HELO' | 'LHLO' }>): void {
    const lmtp = this.#o.mode === 'lmtp';
    if (lmtp !== (cmd.verb === 'LHLO')) {
      return this.#protocolError(lmtp ? Msg.UseLhlo : withText(Reply.SyntaxError, 'command not recognised'));
    }
    // RFC 5321 §4.1.4: a new EHLO resets the transaction.
    this.#resetTransaction();
    this.#helo = { verb: cmd.verb, domain: cmd.domain };
    this.#info.helo = cmd.domain;
    if (cmd.verb === 'HELO') return this.#reply(reply(250, null, this.#o.hostname));
    const lines = [
      this.#o.hostname,
      'PIPELINING',
      `SIZE ${this.#o.limits.maxMessageSize}`,
      '8BITMIME',
      'SMTPUTF8',
      'ENHANCEDSTATUSCODES',
      'CHUNKING',
    ];
    if (this.#o.tlsAvailable && !this.#info.tls) lines.push('STARTTLS');
    // RFC 4954 §4: passwords only over TLS, so AUTH is not even offered before it.
    if (this.#authOffered()) lines.push('AUTH PLAIN LOGIN');
    lines.push('DSN');
    this.#reply(reply(250, null, ...lines));
  }

  #needHello(): boolean {
    if (this.#helo !== null) return true;
    this.#protocolError(this.#o.mode === 'lmtp' ? Msg.NoLhlo : Msg.NoHelo);
    return false;
  }

  async #mail(cmd: Extract<Command, { verb: 'MAIL' }>): Promise<void> {
    if (!this.#needHello()) return;
    if (this.#o.mode === 'submission' && this.#info.authenticated === null) {
      return this.#reply(this.#o.tlsAvailable && !this.#info.tls ? Msg.StartTlsFirst : Msg.AuthRequired);
    }
    if (this.#tx !== null) return this.#protocolError(Msg.NestedMail);
    const p = cmd.params;
    const anyParam = p.size !== null || p.body !== null || p.smtputf8 || p.ret !== null || p.envid !== null;
    if (anyParam && this.#helo?.verb === 'HELO') return this.#protocolError(Msg.ParamsNeedEhlo);
    if (p.body === 'BINARYMIME') return this.#protocolError(Msg.BinaryUnsupported);
    // RFC 1870 §6.1: refuse at once what we would refuse after the transfer.
    if (p.size !== null && p.size > this.#o.limits.maxMessageSize) return this.#reply(Msg.MessageTooBig);
    const tx: Transaction = { sender: cmd.sender, mailParams: p, recipients: [] };
    await this.#o.hooks.checkSender?.(tx, this.info);
    if (this.#state === 'closed') return;
    this.#tx = tx;
    this.#rcptTried = 0;
    this.#reply(Reply.SenderOk);
  }

  async #rcpt(cmd: Extract<Command, { verb: 'RCPT' }>): Promise<void> {
    if (!this.#needHello()) return;
    const tx = this.#tx;
    if (tx === null) return this.#protocolError(Msg.NoMail);
    const p = cmd.params;
    if ((p.notify !== null || p.orcpt !== null) && this.#helo?.verb === 'HELO') return this.#protocolError(Msg.ParamsNeedEhlo);
    this.#rcptTried++;
    // RFC 5321 §4.5.3.1.10: 452 asks the client to send the rest in another transaction.
    if (tx.recipients.length >= this.#o.limits.maxRecipients) return this.#reply(Reply.TooManyRecipients);
    const recipient: Recipient = { mailbox: cmd.recipient, params: p };
    await this.#o.hooks.checkRecipient(recipient, tx, this.info);
    if (this.#state === 'closed' || this.#tx !== tx) return;
    tx.recipients.push(recipient);
    this.#reply(Reply.RecipientOk);
  }

  #transactionProblem(): SmtpReply | null {
    if (this.#helo === null) return this.#o.mode === 'lmtp' ? Msg.NoLhlo : Msg.NoHelo;
    if (this.#tx === null) return Msg.NoMail;
    if (this.#tx.recipients.length === 0) return this.#rcptTried > 0 ? Msg.NoValidRcpt : Msg.NoRcpt;
    return null;
  }

  #dataCommand(): void {
    const problem = this.#transactionProblem();
    if (problem !== null) return problem.code === 554 ? this.#reply(problem) : this.#protocolError(problem);
    if (this.#usedBdat) return this.#protocolError(Msg.DataAfterBdat);
    if (this.#tx?.mailParams.body === 'BINARYMIME') return this.#protocolError(Msg.BinaryNeedsBdat);
    this.#messageId = this.#o.idFactory();
    this.#data = new DataReader({ maxSize: this.#o.limits.maxMessageSize });
    this.#reply(Reply.StartData);
    this.#flush();
    this.#enterContent('data');
  }

  #bdatCommand(cmd: Extract<Command, { verb: 'BDAT' }>): void {
    // RFC 3030 §2: the chunk's octets follow whatever we answer, so they are always consumed.
    const refusal = this.#transactionProblem();
    if (refusal !== null) {
      this.#bdatRefusal = refusal;
      this.#chunk = new BdatReader({ maxSize: 0, discard: true });
    } else {
      if (this.#bdat === null) {
        this.#usedBdat = true;
        this.#messageId = this.#o.idFactory();
        this.#bdat = new BdatReader({ maxSize: this.#o.limits.maxMessageSize });
      }
      this.#chunk = this.#bdat;
    }
    this.#chunk.begin(cmd.size, cmd.last);
    this.#enterContent('bdat');
  }

  #startTls(): void {
    if (!this.#o.tlsAvailable) return this.#protocolError(Msg.NoTls);
    if (this.#info.tls) return this.#protocolError(Msg.TlsActive);
    this.#reply(Reply.ReadyForTls);
    this.#flush();
    // RFC 3207 §4.2: whatever the client pipelined after STARTTLS is thrown away.
    this.#state = 'tls';
    this.#lines.discard();
    this.#input = [];
    this.#queued = 0;
    this.#io.startTls().then(
      () => {
        if (this.#state === 'closed') return;
        // RFC 3207 §4.2: forget everything learned before TLS; the client must EHLO again.
        this.#resetTransaction();
        this.#helo = null;
        this.#info.helo = null;
        this.#info.authenticated = null;
        this.#info.tls = true;
        this.#state = 'command';
        this.#log.debug({}, 'TLS started');
        void this.#run();
      },
      (err: unknown) => {
        this.#log.debug({ err: errorText(err) }, 'TLS handshake failed');
        this.#end();
      },
    );
  }

  // ---- AUTH (RFC 4954) ----

  #authOffered(): boolean {
    return this.#o.authenticator !== undefined && this.#o.authenticator !== null && this.#info.tls && this.#o.mode !== 'lmtp';
  }

  async #authCommand(cmd: Extract<Command, { verb: 'AUTH' }>): Promise<void> {
    if (this.#o.authenticator === undefined || this.#o.authenticator === null || this.#o.mode === 'lmtp') return this.#protocolError(Msg.AuthLater);
    if (!this.#needHello()) return;
    if (!this.#info.tls) return this.#reply(Msg.AuthNeedsTls);
    if (this.#info.authenticated !== null) return this.#protocolError(Msg.AuthAlready);
    if (this.#tx !== null) return this.#protocolError(Msg.AuthInTransaction);
    // RFC 4954 §4: "=" is an initial response of zero length.
    const initial = cmd.initialResponse === '=' ? '' : cmd.initialResponse;
    switch (cmd.mechanism) {
      case 'PLAIN':
        if (initial === null) {
          this.#authExchange = { mechanism: 'PLAIN' };
          return this.#sendContinue('');
        }
        return this.#plain(initial);
      case 'LOGIN': {
        if (initial === null || initial === '') {
          this.#authExchange = { mechanism: 'LOGIN', username: null };
          return this.#sendContinue(LOGIN_USERNAME);
        }
        const username = decodeLoginStep(initial);
        if (username === null) return this.#protocolError(Msg.AuthBadBase64);
        this.#authExchange = { mechanism: 'LOGIN', username };
        return this.#sendContinue(LOGIN_PASSWORD);
      }
      default:
        return this.#protocolError(Msg.AuthMechanism);
    }
  }

  /** A line of an AUTH exchange: never a command, never logged as sent. */
  async #authResponse(line: Uint8Array): Promise<void> {
    const exchange = this.#authExchange as AuthExchange;
    this.#authExchange = null;
    const text = new TextDecoder().decode(line).trim();
    this.#trace('in', text === '*' ? '*' : '***');
    // RFC 4954 §4: "*" cancels the exchange.
    if (text === '*') return this.#protocolError(Msg.AuthCancelled);
    if (exchange.mechanism === 'PLAIN') return this.#plain(text);
    const step = decodeLoginStep(text);
    if (step === null) return this.#protocolError(Msg.AuthBadBase64);
    if (exchange.username === null) {
      this.#authExchange = { mechanism: 'LOGIN', username: step };
      return this.#sendContinue(LOGIN_PASSWORD);
    }
    return this.#login(exchange.username, step);
  }

  async #plain(response: string): Promise<void> {
    const plain = decodePlain(response);
    if (!plain.ok) {
      if (plain.reason === 'not base64') return this.#protocolError(Msg.AuthBadBase64);
      this.#log.info({ reason: plain.reason }, 'AUTH PLAIN malformed');
      return this.#authFailed();
    }
    // RFC 4616 §2: acting as another user is not something we offer.
    if (plain.authzid !== '' && plain.authzid.toLowerCase() !== plain.username.toLowerCase()) {
      this.#log.info({ username: plain.username }, 'AUTH PLAIN with another authorization identity');
      return this.#authFailed();
    }
    return this.#login(plain.username, plain.password);
  }

  async #login(username: string, password: string): Promise<void> {
    const authenticator = this.#o.authenticator as Authenticator;
    let result: AuthResult;
    try {
      result = await authenticator.authenticate({
        username,
        password,
        remoteAddress: this.#info.remote.address,
        service: 'submission',
      });
    } catch (err) {
      this.#log.error({ err: errorText(err) }, 'authenticator failed');
      return this.#reply(Msg.AuthTemporary);
    }
    if (this.#state === 'closed') return;
    if (result.ok) {
      this.#info.authenticated = result.address;
      this.#log.info({ user: result.address }, 'authenticated');
      return this.#reply(Msg.AuthOk);
    }
    if (result.locked) return this.#reply(Msg.AuthTemporary);
    return this.#authFailed();
  }

  /** RFC 4954 §4: `"334" SP [base64] CRLF`: the space stays even when the challenge is empty
   *  (formatReply trims it), since some clients look for it. */
  #sendContinue(challenge: string): void {
    if (this.#state === 'closed') return;
    this.#trace('out', `334 ${challenge}`);
    this.#out.push(`334 ${challenge}\r\n`);
  }

  #authFailed(): void {
    this.#reply(Msg.AuthFailed);
    this.#authFailures++;
    if (this.#authFailures >= this.#o.limits.maxAuthFailures) {
      this.#log.info({ failures: this.#authFailures }, 'too many failed logins');
      this.#send(Msg.TooManyAuthFailures);
      this.#close();
    }
  }

  // ---- message content ----

  #enterContent(state: 'data' | 'bdat'): void {
    this.#state = state;
    const rest = this.#lines.takeRest();
    if (rest.length > 0) this.#input.unshift(rest);
    this.#contentStart = this.#o.now();
    this.#contentBytes = this.#input.reduce((n, c) => n + c.length, 0);
    this.#stopRateCheck();
    const grace = this.#o.limits.minDataRateGraceMs;
    if (this.#o.limits.minDataRate > 0) {
      this.#rateTimer = setInterval(() => this.#checkRate(), Math.max(grace, 10));
      this.#rateTimer.unref?.();
    }
  }

  #leaveContent(rest: Uint8Array): void {
    this.#stopRateCheck();
    this.#state = 'command';
    if (rest.length > 0) {
      this.#input.unshift(rest);
      this.#queued += rest.length;
    }
  }

  #checkRate(): void {
    if (this.#state !== 'data' && this.#state !== 'bdat') return this.#stopRateCheck();
    const elapsed = this.#o.now() - this.#contentStart;
    if (elapsed < this.#o.limits.minDataRateGraceMs) return;
    const rate = this.#contentBytes / (elapsed / 1000);
    if (rate >= this.#o.limits.minDataRate) return;
    this.#log.info({ rate: Math.round(rate), bytes: this.#contentBytes, elapsedMs: elapsed }, 'data too slow');
    this.#send(Msg.SlowData);
    this.#close();
  }

  #stopRateCheck(): void {
    if (this.#rateTimer !== null) clearInterval(this.#rateTimer);
    this.#rateTimer = null;
  }

  async #dataEnded(r: Exclude<DataResult, { kind: 'need-more' }>): Promise<void> {
    this.#data = null;
    this.#leaveContent(r.rest);
    if (r.kind === 'error') {
      this.#log.info({ problem: r.problem, size: r.size }, 'message refused');
      this.#finalReplies(r.reply);
      this.#resetTransaction();
      return;
    }
    await this.#accept(r.data);
  }

  async #chunkEnded(r: Exclude<BdatResult, { kind: 'need-more' }>): Promise<void> {
    this.#chunk = null;
    this.#leaveContent(r.rest);
    const refusal = this.#bdatRefusal;
    if (refusal !== null) {
      this.#bdatRefusal = null;
      return countsAsError(refusal) ? this.#protocolError(refusal) : this.#reply(refusal);
    }
    if (r.kind === 'chunk') return this.#reply(reply(250, '2.0.0', `${r.size} octets received`));
    this.#bdat = null;
    if (r.kind === 'error') {
      this.#log.info({ problem: r.problem, size: r.size }, 'message refused');
      this.#finalReplies(r.reply);
      // RFC 3030 §3: the transaction is over; later chunks find no transaction and get 503.
      this.#resetTransaction();
      return;
    }
    await this.#accept(r.data);
  }

  /** The message is whole: check it, stamp it, hand it over, answer. */
  async #accept(content: Uint8Array): Promise<void> {
    const tx = this.#tx as Transaction;
    const id = this.#messageId ?? this.#o.idFactory();
    try {
      // RFC 5321 §6.3: a loop shows as a pile of Received headers.
      if (countReceived(content) > 50) {
        this.#log.info({ id }, 'mail loop: too many Received headers');
        return this.#finalReplies(Reply.MailLoop);
      }
      const header = this.#receivedFor(tx, id);
      const data = concatBytes([new TextEncoder().encode(header), content]);
      let result: void | SmtpReply[];
      try {
        result = await this.#o.hooks.deliver({ id, transaction: tx, data }, this.info);
      } catch (err) {
        if (err instanceof SmtpReplyError) {
          this.#log.info({ id, reply: replyText(err.reply) }, 'message refused by delivery');
          this.#finalReplies(err.reply);
          if (err.close) this.#close();
        } else {
          this.#log.error({ id, err: errorText(err) }, 'delivery failed');
          this.#finalReplies(Reply.LocalError);
        }
        return;
      }
      if (this.#state === 'closed') return;
      this.#log.info(
        { id, from: formatMailbox(tx.sender), rcpts: tx.recipients.length, size: content.length },
        'message accepted',
      );
      const ok = withText(Reply.Ok, `queued as ${id}`);
      if (this.#o.mode === 'lmtp' && Array.isArray(result)) {
        const replies: SmtpReply[] = result;
        if (replies.length !== tx.recipients.length) {
          this.#log.error({ id, got: replies.length, want: tx.recipients.length }, 'deliver returned the wrong number of replies');
        }
        // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
        tx.recipients.forEach((_, i) => this.#send(replies[i] ?? Reply.LocalError));
      } else {
        this.#finalReplies(ok);
      }
    } finally {
      this.#resetTransaction();
    }
  }

  /** SMTP: one reply. LMTP: the same reply for every recipient (RFC 2033 §4.2). */
  #finalReplies(r: SmtpReply): void {
    const count = this.#o.mode === 'lmtp' ? Math.max(1, this.#tx?.recipients.length ?? 1) : 1;
    for (let i = 0; i < count; i++) this.#send(r);
  }

  #receivedFor(tx: Transaction, id: string): string {
    const helo = this.#helo as Helo;
    const only = tx.recipients.length === 1 ? tx.recipients[0] : undefined;
    const header = receivedHeader({
      helo: helo.domain,
      remoteAddress: this.#info.remote.address,
      remoteHost: this.#o.remoteName ?? 'unknown',
      by: this.#o.hostname,
      with: receivedProtocol({
        ehlo: helo.verb !== 'HELO',
        tls: this.#info.tls,
        authenticated: this.#info.authenticated !== null,
        lmtp: helo.verb === 'LHLO',
      }),
      id,
      ...(only === undefined ? {} : { for: formatMailbox(only.mailbox) }),
      date: new Date(this.#o.now()),
    });
    return `${header}\r\n`;
  }

  #resetTransaction(): void {
    this.#tx = null;
    this.#rcptTried = 0;
    this.#usedBdat = false;
    this.#messageId = null;
    this.#bdat = null;
  }

  // ---- output, errors, timers ----

  #reply(r: SmtpReply): void {
    this.#send(r);
  }

  /** A protocol error: answered, counted, and the connection closed after maxErrors. */
  #protocolError(r: SmtpReply): void {
    this.#send(r);
    if (!countsAsError(r)) return;
    this.#errors++;
    if (this.#errors >= this.#o.limits.maxErrors) {
      this.#log.info({ errors: this.#errors }, 'too many errors');
      this.#send(Msg.TooManyErrors);
      this.#close();
    }
  }

  #send(r: SmtpReply): void {
    if (this.#state === 'closed') return;
    const text = formatReply(r);
    this.#trace('out', text.trimEnd());
    this.#out.push(text);
  }

  #flush(): void {
    if (this.#out.length === 0 || this.#state === 'closed') return;
    const text = this.#out.join('');
    this.#out = [];
    this.#io.write(text);
  }

  #trace(dir: 'in' | 'out', text: string): void {
    this.#log.debug({ dir, line: dir === 'in' ? redactCommandLine(text) : text }, 'smtp');
  }

  #armIdle(): void {
    this.#clearIdle();
    if (this.#state === 'closed' || this.#state === 'tls') return;
    const content = this.#state === 'data' || this.#state === 'bdat';
    const ms = content ? this.#o.limits.dataTimeoutMs : this.#o.limits.idleTimeoutMs;
    this.#idleTimer = setTimeout(() => {
      if (this.#running || this.#state === 'closed') return;
      this.#log.info({ state: this.#state }, 'timeout');
      this.#send(content ? Msg.DataTimeout : Msg.IdleTimeout);
      this.#close();
    }, ms);
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
    this.#stopRateCheck();
    this.#input = [];
    this.#lines.discard();
    this.#data = null;
    this.#bdat = null;
    this.#chunk = null;
    this.#resolveClosed();
  }
}

/** 16 base32 characters (80 random bits): short enough for logs, unique enough for a queue. */
export function randomId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  for (const b of randomBytes(16)) out += alphabet[b & 31];
  return out;
}

