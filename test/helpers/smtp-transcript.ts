/**
 * An SMTP session driven in-process, no sockets: `await s.send('RCPT TO:<x@y>', '550 5.1.1')`
 * sends a line and checks the start of the reply to it. Hooks are fakes that record what they saw;
 * recipients whose local part starts with "unknown" are refused with 550 5.1.1.
 */
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/core/logger.ts';
import type { Logger } from '../../src/core/logger.ts';
import { reply, SmtpReplyError } from '../../src/core/smtp-reply.ts';
import { SmtpSession } from '../../src/smtp/server/session.ts';
import type { SessionIo, SessionOptions } from '../../src/smtp/server/session.ts';
import { defaultLimits } from '../../src/smtp/server/types.ts';
import type { DeliveredMessage, SessionInfo, SmtpHooks, SmtpLimits, Transaction } from '../../src/smtp/server/types.ts';

export interface RecordingHooks extends SmtpHooks {
  delivered: Array<{ message: DeliveredMessage; session: SessionInfo }>;
  senders: Transaction[];
}

/** Accepts every sender, refuses local parts starting "unknown", records each delivery. */
export function recordingHooks(overrides: Partial<SmtpHooks> = {}): RecordingHooks {
  const delivered: RecordingHooks['delivered'] = [];
  const senders: Transaction[] = [];
  return {
    delivered,
    senders,
    async checkSender(tx) {
      senders.push(structuredClone(tx));
    },
    async checkRecipient(r) {
      if (r.mailbox.local.toLowerCase().startsWith('unknown')) throw new SmtpReplyError(reply(550, '5.1.1', 'no such user'));
    },
    async deliver(message, session) {
      delivered.push({ message: structuredClone(message), session });
    },
    ...overrides,
  };
}

export interface TranscriptOptions {
  mode?: SessionOptions['mode'];
  limits?: Partial<SmtpLimits>;
  hooks?: SmtpHooks;
  tlsAvailable?: boolean;
  /** What startTls() does: resolve (default) or reject. */
  tlsFails?: boolean;
  logger?: Logger;
  now?: () => number;
  hostname?: string;
  remoteAddress?: string;
}

export interface Transcript {
  readonly session: SmtpSession;
  readonly hooks: RecordingHooks | SmtpHooks;
  readonly delivered: RecordingHooks['delivered'];
  /** Everything the server wrote, in order. */
  readonly output: string;
  readonly closed: boolean;
  readonly tlsStarted: number;
  readonly pauses: number;
  /** Sends `line` + CRLF; resolves to the next reply (all its lines); asserts it starts with `expect`. */
  send(line: string, expect?: string): Promise<string>;
  /** Sends raw bytes without waiting. */
  write(bytes: string | Uint8Array): void;
  /** The next reply; asserts it starts with `expect`. */
  reply(expect?: string): Promise<string>;
  /** Sends lines in one write (pipelining) and returns that many replies. */
  pipeline(lines: string[]): Promise<string[]>;
  /** Resolves once the session has closed (or fails after `ms`). */
  waitClosed(ms?: number): Promise<void>;
}

const WAIT_MS = 2000;

export async function transcript(options: TranscriptOptions = {}): Promise<Transcript> {
  const hooks = options.hooks ?? recordingHooks();
  let output = '';
  let unread = '';
  let closed = false;
  let tlsStarted = 0;
  let pauses = 0;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const io: SessionIo = {
    write(text) {
      output += text;
      unread += text;
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    async startTls() {
      tlsStarted++;
      if (options.tlsFails === true) throw new Error('handshake failed');
    },
    pause() {
      pauses++;
    },
    resume() {},
  };
  let ids = 0;
  const session = new SmtpSession(
    {
      id: 'test',
      mode: options.mode ?? 'mx',
      hostname: options.hostname ?? 'mx.test',
      remote: { address: options.remoteAddress ?? '127.0.0.9', port: 40000 },
      local: { address: '127.0.0.1', port: 25 },
      remoteName: null,
      hooks,
      logger: options.logger ?? silentLogger,
      limits: { ...defaultLimits, ...options.limits },
      tlsAvailable: options.tlsAvailable ?? false,
      idFactory: () => `ID${++ids}`,
      now: options.now ?? Date.now,
    },
    io,
  );
  void session.closed.then(() => {
    closed = true;
    notify();
  });

  /** Takes one complete reply off `unread`, or null. */
  const take = (): string | null => {
    const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(unread);
    if (m === null) return null;
    unread = unread.slice(m[0].length);
    return m[0];
  };
  const nextReply = async (expect?: string): Promise<string> => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const r = take();
      if (r !== null) {
        if (expect !== undefined) assert.ok(r.startsWith(expect), `expected a reply starting ${JSON.stringify(expect)}, got ${JSON.stringify(r)}`);
        return r;
      }
      if (closed) assert.fail(`session closed while waiting for a reply (expected ${expect ?? 'any'}); output so far: ${JSON.stringify(output)}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no reply within ${WAIT_MS} ms (expected ${expect ?? 'any'}); output: ${JSON.stringify(output)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };
  const write = (bytes: string | Uint8Array): void => {
    session.receive(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  };

  session.start();
  await nextReply('220 ');

  return {
    session,
    hooks,
    delivered: 'delivered' in hooks ? (hooks as RecordingHooks).delivered : [],
    get output() {
      return output;
    },
    get closed() {
      return closed;
    },
    get tlsStarted() {
      return tlsStarted;
    },
    get pauses() {
      return pauses;
    },
    async send(line, expect) {
      write(`${line}\r\n`);
      return nextReply(expect);
    },
    write,
    reply: nextReply,
    async pipeline(lines) {
      write(lines.map((l) => `${l}\r\n`).join(''));
      const out: string[] = [];
      for (let i = 0; i < lines.length; i++) out.push(await nextReply());
      return out;
    },
    async waitClosed(ms = WAIT_MS) {
      const deadline = Date.now() + ms;
      while (!closed) {
        const left = deadline - Date.now();
        if (left <= 0) assert.fail(`session still open after ${ms} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    },
  };
}
