/**
 * Opening a conversation with one address: TCP, the greeting, EHLO (HELO when EHLO is refused with
 * a 5xx, RFC 5321 §3.2; LHLO for LMTP), and STARTTLS when offered (RFC 3207), then EHLO again over
 * TLS. Opportunistic TLS checks no certificate (no MX operator could be asked for one that we would
 * verify, RFC 7435) and, when the handshake fails, the host is tried once more in plain text: mail
 * in clear beats mail stuck behind a broken TLS stack. With `tls: 'required'` it never goes out in
 * clear.
 *
 * Failures here reject with an SmtpClientError; the MX walk reads `temporary` to move on to the
 * next address. A connection, once open, carries any number of transactions (`send`), one at a
 * time, with RSET between them when the previous one left the server mid-transaction.
 */
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { formatHostPort } from '../../core/host-port.ts';
import type { Logger } from '../../core/logger.ts';
import { silentLogger } from '../../core/logger.ts';
import { assertDestinationAllowed } from '../../core/loopback.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { replyText } from '../../core/smtp-reply.ts';
import { NO_CAPABILITIES, parseEhloCapabilities } from '../proto/reply.ts';
import type { SmtpCapabilities } from '../proto/reply.ts';
import { ReplyChannel } from './channel.ts';
import { SmtpClientError, SmtpClientErrorCode, isSmtpClientError } from './errors.ts';
import { runTransaction } from './transaction.ts';
import { DEFAULT_CLIENT_TIMEOUTS } from './types.ts';
import type { ClientOptions, ClientTimeouts, OutboundMessage, TransactionResult } from './types.ts';

const DEFAULT_BDAT_CHUNK = 1024 * 1024;
/** The reply to QUIT changes nothing; waiting long for it only holds a connection slot. */
const QUIT_WAIT_CAP_MS = 10_000;

export interface SmtpConnection {
  readonly capabilities: SmtpCapabilities;
  /** The conversation runs over TLS. */
  readonly tls: boolean;
  /** Why TLS was not used although we tried (handshake failure, STARTTLS refused), or null. */
  readonly tlsFailure: string | null;
  readonly greeting: SmtpReply;
  /** The server answered EHLO/LHLO (false: it only took HELO). */
  readonly esmtp: boolean;
  /** Still usable for another transaction. */
  readonly open: boolean;
  /**
   * One transaction. Resolves with a reply per recipient whatever the server said; rejects with an
   * SmtpClientError only when the conversation broke (then nothing is known of the message).
   */
  send(message: OutboundMessage): Promise<TransactionResult>;
  /**
   * Asks whether the server would take mail for `addresses`: MAIL FROM, a RCPT each, then RSET,
   * never DATA (a recipient callout, as a backup MX asks its primary). The RCPT replies, in order;
   * the MAIL reply stands for all when MAIL is refused. Rejects like `send` when the conversation
   * breaks.
   */
  verify(sender: string, addresses: readonly string[]): Promise<SmtpReply[]>;
  /** QUIT, and close. Never rejects. */
  close(): Promise<void>;
}

export async function connectSmtp(options: ClientOptions): Promise<SmtpConnection> {
  assertDestinationAllowed(options.address, 'SMTP connection to');
  const timeouts: ClientTimeouts = { ...DEFAULT_CLIENT_TIMEOUTS, ...options.timeouts };
  const log = (options.logger ?? silentLogger).child({
    component: options.lmtp === true ? 'lmtp-client' : 'smtp-client',
    server: options.serverName,
    remote: formatHostPort({ host: options.address, port: options.port }),
  });
  try {
    return await openSession(options, timeouts, log, options.tls !== 'none', null);
  } catch (err) {
    if (options.tls !== 'opportunistic' || !isSmtpClientError(err, SmtpClientErrorCode.Tls)) throw err;
    log.warn({ event: 'smtp.client.tls_failed', detail: err.message }, 'TLS failed; trying the host again in plain text');
    return await openSession(options, timeouts, log, false, err.message);
  }
}

async function openSession(options: ClientOptions, timeouts: ClientTimeouts, log: Logger, tryTls: boolean, tlsFailure: string | null): Promise<SmtpConnection> {
  const socket = await tcpConnect(options, timeouts.connect);
  const channel = new ReplyChannel(socket, log);
  try {
    const greeting = await channel.read('greeting', timeouts.greeting);
    if (greeting.code !== 220) {
      // RFC 5321 §3.1: a 554 greeting is answered with QUIT; so is a 4xx one, out of politeness.
      quietly(() => channel.writeCommands('quit', 'QUIT\r\n'));
      throw new SmtpClientError({ code: SmtpClientErrorCode.Refused, stage: 'greeting', message: 'server refused the connection', reply: greeting });
    }
    let hello = await sayHello(channel, options, timeouts);
    let secure = false;
    let noTls = tlsFailure;
    if (tryTls && hello.capabilities.startTls) {
      channel.writeCommands('starttls', 'STARTTLS\r\n');
      const r = await channel.read('starttls', timeouts.ehlo);
      if (r.code === 220) {
        // RFC 3207 §4.2: SNI must be a host name, never an address literal.
        await channel.startTls({ servername: isIP(options.serverName) === 0 ? options.serverName : undefined, timeoutMs: timeouts.ehlo });
        secure = true;
        // RFC 3207 §4.2: forget everything learnt before the handshake and ask again.
        hello = await sayHello(channel, options, timeouts);
      } else if (options.tls === 'required') {
        throw new SmtpClientError({ code: SmtpClientErrorCode.Tls, stage: 'starttls', message: 'server refused STARTTLS and TLS is required', reply: r, temporary: true });
      } else {
        noTls = `STARTTLS refused: ${replyText(r)}`;
      }
    } else if (options.tls === 'required') {
      quietly(() => channel.writeCommands('quit', 'QUIT\r\n'));
      throw new SmtpClientError({ code: SmtpClientErrorCode.Tls, stage: 'starttls', message: 'server does not offer STARTTLS and TLS is required', temporary: true });
    }
    log.debug({ tls: secure, esmtp: hello.esmtp, capabilities: hello.capabilities }, 'smtp session open');
    return new Connection({ channel, options, timeouts, log, greeting, hello, tls: secure, tlsFailure: noTls });
  } catch (err) {
    channel.destroy();
    throw err;
  }
}

interface Hello {
  esmtp: boolean;
  capabilities: SmtpCapabilities;
}

async function sayHello(channel: ReplyChannel, options: ClientOptions, timeouts: ClientTimeouts): Promise<Hello> {
  if (options.lmtp === true) {
    channel.writeCommands('ehlo', `LHLO ${options.helo}\r\n`);
    const r = await channel.read('ehlo', timeouts.ehlo);
    if (r.code !== 250) throw new SmtpClientError({ code: SmtpClientErrorCode.Refused, stage: 'ehlo', message: 'server refused LHLO', reply: r });
    return { esmtp: true, capabilities: parseEhloCapabilities(r) };
  }
  channel.writeCommands('ehlo', `EHLO ${options.helo}\r\n`);
  const r = await channel.read('ehlo', timeouts.ehlo);
  if (r.code === 250) return { esmtp: true, capabilities: parseEhloCapabilities(r) };
  // RFC 5321 §3.2: a server that does not know EHLO says 5xx; it still knows HELO. A 4xx (421) is
  // the server going away, not a verdict on EHLO.
  if (r.code < 500) throw new SmtpClientError({ code: SmtpClientErrorCode.Refused, stage: 'ehlo', message: 'server refused EHLO', reply: r });
  channel.writeCommands('helo', `HELO ${options.helo}\r\n`);
  const h = await channel.read('helo', timeouts.ehlo);
  if (h.code !== 250) throw new SmtpClientError({ code: SmtpClientErrorCode.Refused, stage: 'helo', message: 'server refused EHLO and HELO', reply: h });
  return { esmtp: false, capabilities: NO_CAPABILITIES };
}

function tcpConnect(options: ClientOptions, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: options.address,
      port: options.port,
      ...(options.sourceAddress !== undefined && options.sourceAddress !== null ? { localAddress: options.sourceAddress } : {}),
    });
    const done = (err?: SmtpClientError): void => {
      clearTimeout(timer);
      socket.off('connect', connected);
      socket.off('error', failed);
      if (err === undefined) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(err);
      }
    };
    // Commands are small writes answered before the next one goes: Nagle's delay would cost
    // every pipelined group a round of delayed ACK.
    const connected = (): void => {
      socket.setNoDelay(true);
      done();
    };
    const failed = (cause: Error): void =>
      done(new SmtpClientError({ code: SmtpClientErrorCode.Connect, stage: 'connect', message: `cannot connect: ${cause.message}`, cause }));
    const timer = setTimeout(() => done(new SmtpClientError({ code: SmtpClientErrorCode.Timeout, stage: 'connect', message: `no connection within ${timeoutMs} ms` })), timeoutMs);
    socket.once('connect', connected);
    socket.once('error', failed);
  });
}

function quietly(f: () => void): void {
  try {
    f();
  } catch {
    // Best effort: the connection is being given up anyway.
  }
}

class Connection implements SmtpConnection {
  readonly capabilities: SmtpCapabilities;
  readonly tls: boolean;
  readonly tlsFailure: string | null;
  readonly greeting: SmtpReply;
  readonly esmtp: boolean;
  readonly #channel: ReplyChannel;
  readonly #options: ClientOptions;
  readonly #timeouts: ClientTimeouts;
  readonly #log: Logger;
  /** Sends run one after the other, whoever calls. */
  #queue: Promise<unknown> = Promise.resolve();
  #needsReset = false;
  #closing = false;
  #closed = false;

  constructor(init: { channel: ReplyChannel; options: ClientOptions; timeouts: ClientTimeouts; log: Logger; greeting: SmtpReply; hello: Hello; tls: boolean; tlsFailure: string | null }) {
    this.#channel = init.channel;
    this.#options = init.options;
    this.#timeouts = init.timeouts;
    this.#log = init.log;
    this.greeting = init.greeting;
    this.capabilities = init.hello.capabilities;
    this.esmtp = init.hello.esmtp;
    this.tls = init.tls;
    this.tlsFailure = init.tlsFailure;
  }

  get open(): boolean {
    return !this.#closed && !this.#closing && this.#channel.alive;
  }

  send(message: OutboundMessage): Promise<TransactionResult> {
    const run = this.#queue.then(() => this.#send(message));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #send(message: OutboundMessage): Promise<TransactionResult> {
    if (!this.open) {
      throw this.#channel.failure ?? new SmtpClientError({ code: SmtpClientErrorCode.Closed, stage: 'mail', message: 'connection is closed' });
    }
    const started = performance.now();
    if (this.#needsReset) {
      this.#channel.writeCommands('rset', 'RSET\r\n');
      const r = await this.#channel.read('rset', this.#timeouts.mail);
      if (r.code !== 250) {
        this.#channel.destroy();
        throw new SmtpClientError({ code: SmtpClientErrorCode.Refused, stage: 'rset', message: 'server refused RSET', reply: r });
      }
      this.#needsReset = false;
    }
    let outcome;
    try {
      outcome = await runTransaction(
        { channel: this.#channel, capabilities: this.capabilities, timeouts: this.#timeouts, lmtp: this.#options.lmtp === true, bdatChunkSize: this.#options.bdatChunkSize ?? DEFAULT_BDAT_CHUNK },
        message,
      );
    } catch (err) {
      this.#channel.destroy();
      this.#log.info(
        { event: 'smtp.client.transaction', sender: message.sender, recipients: message.recipients.length, tls: this.tls, ms: Math.round(performance.now() - started), error: (err as Error).message },
        'transaction broke off',
      );
      throw err;
    }
    this.#needsReset = !outcome.clean;
    if (outcome.closing) {
      this.#closing = true;
      this.#channel.destroy();
    }
    const r = outcome.result;
    this.#log.info(
      {
        event: 'smtp.client.transaction',
        sender: message.sender,
        recipients: message.recipients.length,
        accepted: r.recipients.filter((x) => x.reply.code >= 200 && x.reply.code < 300).length,
        tls: this.tls,
        bytes: outcome.bytes,
        ...(outcome.bareLineFeeds > 0 ? { bareLineFeedsFixed: outcome.bareLineFeeds } : {}),
        ms: Math.round(performance.now() - started),
        ...(r.transactionReply !== undefined ? { stage: r.stage, reply: replyText(r.transactionReply), local: r.local === true } : {}),
      },
      'transaction done',
    );
    return r;
  }

  verify(sender: string, addresses: readonly string[]): Promise<SmtpReply[]> {
    const run = this.#queue.then(() => this.#verify(sender, addresses));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #verify(sender: string, addresses: readonly string[]): Promise<SmtpReply[]> {
    if (!this.open) {
      throw this.#channel.failure ?? new SmtpClientError({ code: SmtpClientErrorCode.Closed, stage: 'mail', message: 'connection is closed' });
    }
    for (const a of [sender, ...addresses]) {
      if (/[\r\n<>]/.test(a)) throw new SmtpClientError({ code: SmtpClientErrorCode.Protocol, stage: 'mail', message: `refusing to send an unsafe address: ${JSON.stringify(a)}` });
    }
    try {
      if (this.#needsReset) {
        this.#channel.writeCommands('rset', 'RSET\r\n');
        await this.#channel.read('rset', this.#timeouts.mail);
        this.#needsReset = false;
      }
      this.#channel.writeCommands('mail', `MAIL FROM:<${sender}>\r\n`);
      const mail = await this.#channel.read('mail', this.#timeouts.mail);
      if (mail.code >= 300) return addresses.map(() => mail);
      const replies: SmtpReply[] = [];
      for (const address of addresses) {
        this.#channel.writeCommands('rcpt', `RCPT TO:<${address}>\r\n`);
        replies.push(await this.#channel.read('rcpt', this.#timeouts.rcpt));
      }
      this.#channel.writeCommands('rset', 'RSET\r\n');
      await this.#channel.read('rset', this.#timeouts.mail);
      return replies;
    } catch (err) {
      this.#channel.destroy();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    if (this.#channel.alive) {
      try {
        this.#channel.writeCommands('quit', 'QUIT\r\n');
        await this.#channel.read('quit', Math.min(this.#timeouts.mail, QUIT_WAIT_CAP_MS));
      } catch {
        // The server may hang up first; either way we are done.
      }
    }
    this.#channel.destroy();
  }
}
