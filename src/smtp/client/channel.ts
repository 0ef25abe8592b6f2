/**
 * The socket under a client conversation: commands go out as lines, replies come back parsed and
 * queued in order (so pipelined replies are read one by one as they arrive), and every wait has a
 * timeout named by its stage. Once anything goes wrong (a timeout, a garbled reply, the peer gone)
 * the channel is dead and says why to every later read: a reply stream out of step cannot be
 * trusted again.
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../core/logger.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { parseReply } from '../proto/reply.ts';
import { SmtpClientError, SmtpClientErrorCode } from './errors.ts';
import type { ClientStage } from './types.ts';

/** Message bytes go to the socket in blocks of this size, each with its own drain timeout. */
const BLOCK_SIZE = 64 * 1024;

interface Waiter {
  resolve: (r: SmtpReply) => void;
  reject: (err: SmtpClientError) => void;
  timer: NodeJS.Timeout;
}

export class ReplyChannel {
  #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #replies: SmtpReply[] = [];
  #waiter: Waiter | null = null;
  #failure: SmtpClientError | null = null;
  /** The stage of the latest read or write, for errors that arrive between them. */
  #stage: ClientStage = 'greeting';
  readonly #log: Logger;
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);
  readonly #onClose = (): void => this.#fail(this.#closedError());
  readonly #onError = (err: Error): void => this.#fail(this.#closedError(err));

  constructor(socket: Socket, log: Logger) {
    this.#socket = socket;
    this.#log = log;
    this.#attach(socket);
  }

  get alive(): boolean {
    return this.#failure === null;
  }

  get failure(): SmtpClientError | null {
    return this.#failure;
  }

  /** The next reply, waiting at most `timeoutMs` for it. */
  read(stage: ClientStage, timeoutMs: number): Promise<SmtpReply> {
    this.#stage = stage;
    const queued = this.#replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#waiter !== null) throw new Error('ReplyChannel.read while another read waits');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new SmtpClientError({ code: SmtpClientErrorCode.Timeout, stage, message: `no reply within ${timeoutMs} ms` }));
      }, timeoutMs);
      this.#waiter = { resolve, reject, timer };
    });
  }

  /** Command lines, CRLF included; several at once when pipelining. */
  writeCommands(stage: ClientStage, text: string): void {
    this.#stage = stage;
    if (this.#failure !== null) throw this.#failure;
    for (const line of text.split('\r\n')) if (line !== '') this.#log.debug({ dir: 'C', line }, 'smtp trace');
    this.#socket.write(text);
  }

  /** Message bytes, in blocks; each block must drain within `blockTimeoutMs` (RFC 5321 §4.5.3.2.5). */
  async writeData(stage: ClientStage, data: Uint8Array, blockTimeoutMs: number): Promise<void> {
    this.#stage = stage;
    this.#log.debug({ dir: 'C', bytes: data.length }, 'smtp trace: message data');
    for (let at = 0; at < data.length; at += BLOCK_SIZE) {
      if (this.#failure !== null) throw this.#failure;
      if (!this.#socket.write(data.subarray(at, at + BLOCK_SIZE))) await this.#drain(stage, blockTimeoutMs);
    }
    if (this.#failure !== null) throw this.#failure;
  }

  /**
   * Upgrades the connection to TLS after the server's 220 to STARTTLS (RFC 3207). Anything the
   * server sent after that 220 and before the handshake would be read as if it had come over TLS:
   * refused (the client's side of CVE-2011-0411).
   */
  async startTls(options: { servername: string | undefined; timeoutMs: number }): Promise<TLSSocket> {
    this.#stage = 'tls';
    if (this.#failure !== null || this.#buffer.length > 0 || this.#replies.length > 0) {
      const detail = this.#failure !== null ? this.#failure.message : 'server sent data after its 220 to STARTTLS, before the handshake';
      const err = new SmtpClientError({ code: SmtpClientErrorCode.Tls, stage: 'tls', message: `cannot start TLS: ${detail}`, cause: this.#failure ?? undefined });
      this.#fail(err);
      throw err;
    }
    const raw = this.#socket;
    this.#detach(raw);
    const secure = tlsConnect({ socket: raw, servername: options.servername, rejectUnauthorized: false });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`TLS handshake not done within ${options.timeoutMs} ms`)), options.timeoutMs);
        const done = (err?: Error): void => {
          clearTimeout(timer);
          secure.off('secureConnect', ok);
          secure.off('error', done);
          secure.off('close', closed);
          if (err === undefined) resolve();
          else reject(err);
        };
        const ok = (): void => done();
        const closed = (): void => done(new Error('connection closed during the TLS handshake'));
        secure.once('secureConnect', ok);
        secure.once('error', done);
        secure.once('close', closed);
      });
    } catch (cause) {
      secure.destroy();
      raw.destroy();
      const err = new SmtpClientError({ code: SmtpClientErrorCode.Tls, stage: 'tls', message: `TLS handshake failed: ${(cause as Error).message}`, cause });
      this.#failure = err;
      throw err;
    }
    this.#socket = secure;
    this.#attach(secure);
    this.#log.debug({ protocol: secure.getProtocol(), cipher: secure.getCipher().name }, 'smtp trace: TLS established');
    return secure;
  }

  /** Ends the conversation for good. */
  destroy(): void {
    if (this.#failure === null) this.#failure = new SmtpClientError({ code: SmtpClientErrorCode.Closed, stage: this.#stage, message: 'connection closed by us' });
    this.#rejectWaiter(this.#failure);
    this.#socket.destroy();
  }

  #attach(socket: Socket): void {
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  #detach(socket: Socket): void {
    socket.off('data', this.#onData);
    socket.off('close', this.#onClose);
    socket.off('error', this.#onError);
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    let broken: SmtpClientError | null = null;
    for (;;) {
      const got = parseReply(this.#buffer);
      if (got.kind === 'need-more') break;
      if (got.kind === 'error') {
        broken = new SmtpClientError({ code: SmtpClientErrorCode.Protocol, stage: this.#stage, message: `bad reply from the server (${got.reason}): ${got.detail}` });
        break;
      }
      this.#buffer = this.#buffer.subarray(got.consumed);
      this.#log.debug({ dir: 'S', code: got.reply.code, enhanced: got.reply.enhanced, lines: got.reply.lines }, 'smtp trace');
      this.#replies.push(got.reply);
    }
    // The replies before a garbled one are still the server's answers: hand them out first.
    const waiter = this.#waiter;
    const next = this.#replies.shift();
    if (waiter !== null && next !== undefined) {
      this.#waiter = null;
      clearTimeout(waiter.timer);
      waiter.resolve(next);
    } else if (next !== undefined) {
      this.#replies.unshift(next);
    }
    if (broken !== null) this.#fail(broken);
  }

  #drain(stage: ClientStage, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = this.#socket;
      const done = (err?: SmtpClientError): void => {
        clearTimeout(timer);
        socket.off('drain', drained);
        socket.off('close', closed);
        if (err === undefined) resolve();
        else reject(err);
      };
      const drained = (): void => done();
      const closed = (): void => done(this.#failure ?? this.#closedError());
      const timer = setTimeout(() => {
        const err = new SmtpClientError({ code: SmtpClientErrorCode.Timeout, stage, message: `a block of message data did not drain within ${timeoutMs} ms` });
        this.#fail(err);
        done(err);
      }, timeoutMs);
      socket.on('drain', drained);
      socket.on('close', closed);
    });
  }

  #closedError(cause?: Error): SmtpClientError {
    const detail = cause === undefined ? 'connection closed by the server' : `connection failed: ${cause.message}`;
    return new SmtpClientError({ code: SmtpClientErrorCode.Closed, stage: this.#stage, message: detail, cause });
  }

  #fail(err: SmtpClientError): void {
    if (this.#failure === null) {
      this.#failure = err;
      this.#socket.destroy();
    }
    this.#rejectWaiter(this.#failure);
  }

  #rejectWaiter(err: SmtpClientError): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    this.#waiter = null;
    clearTimeout(waiter.timer);
    waiter.reject(err);
  }
}
