/**
 * How the lab injects mail: as a user would, over SMTP submission with implicit TLS (RFC 8314)
 * and AUTH PLAIN (RFC 4616) to the scenario's sender host, several messages on one connection.
 * The sender host then finds the recipient's MX and delivers, which is what the scenarios show.
 * The certificate is the host's own self-signed one, so it is not verified: this is a lab on loopback.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { encodeBase64 } from '../auth/sasl.ts';
import { parseReply } from '../smtp/proto/reply.ts';

export interface LabMessage {
  from: string;
  to: string;
  subject: string;
}

export interface SubmitOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  messages: readonly LabMessage[];
  /** Called after each message the server accepted. */
  onSent?: (sent: number) => void;
  /** Bound for each reply. */
  replyTimeoutMs?: number;
}

/** The message text, CRLF line endings; subjects are the lab's keys for counting, so they stay ASCII. */
export function labMessageText(m: LabMessage, n: number): string {
  return [`From: ${m.from}`, `To: ${m.to}`, `Subject: ${m.subject}`, `Message-ID: <lab-${Date.now().toString(36)}-${n}@postern.lab>`, '', `Sent by postern lab: ${m.subject}.`, ''].join('\r\n');
}

class Conversation {
  readonly #socket: Socket;
  #buffer = new Uint8Array(0);
  #waiting: (() => void) | null = null;
  #closed: Error | null = null;
  readonly #timeoutMs: number;

  constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (d: Buffer) => {
      const next = new Uint8Array(this.#buffer.length + d.length);
      next.set(this.#buffer);
      next.set(d, this.#buffer.length);
      this.#buffer = next;
      this.#waiting?.();
    });
    const end = (err?: Error): void => {
      this.#closed ??= err ?? new Error('the server closed the connection');
      this.#waiting?.();
    };
    socket.on('error', end);
    socket.on('close', () => end());
  }

  /** The next reply; throws unless its code is `want` (a single digit: its class). */
  async reply(want: string, what: string): Promise<string> {
    const until = Date.now() + this.#timeoutMs;
    for (;;) {
      const r = parseReply(this.#buffer);
      if (r.kind === 'reply') {
        this.#buffer = this.#buffer.slice(r.consumed);
        const text = `${r.reply.code}${r.reply.enhanced === null ? '' : ` ${r.reply.enhanced}`} ${r.reply.lines.join(' / ')}`;
        if (!String(r.reply.code).startsWith(want)) throw new Error(`${what}: ${text}`);
        return text;
      }
      if (r.kind === 'error') throw new Error(`${what}: unreadable reply (${r.detail})`);
      if (this.#closed !== null) throw new Error(`${what}: ${this.#closed.message}`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`${what}: no reply within ${this.#timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiting = () => {
          clearTimeout(timer);
          this.#waiting = null;
          resolve();
        };
      });
    }
  }

  send(text: string): void {
    this.#socket.write(text);
  }
}

/** Submits every message; resolves with how many were accepted, throws at the first refusal. */
export async function submitMessages(o: SubmitOptions): Promise<number> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: o.host, port: o.port, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  const c = new Conversation(socket, o.replyTimeoutMs ?? 30_000);
  let sent = 0;
  try {
    await c.reply('2', 'greeting');
    c.send('EHLO lab.postern.test\r\n');
    await c.reply('2', 'EHLO');
    c.send(`AUTH PLAIN ${encodeBase64(`\0${o.username}\0${o.password}`)}\r\n`);
    await c.reply('2', 'AUTH');
    for (const m of o.messages) {
      c.send(`MAIL FROM:<${m.from}>\r\n`);
      await c.reply('2', 'MAIL');
      c.send(`RCPT TO:<${m.to}>\r\n`);
      await c.reply('2', `RCPT ${m.to}`);
      c.send('DATA\r\n');
      await c.reply('3', 'DATA');
      // RFC 5321 §4.5.2: no line of ours starts with a dot, so no stuffing is needed.
      c.send(`${labMessageText(m, sent)}.\r\n`);
      await c.reply('2', 'end of DATA');
      sent++;
      o.onSent?.(sent);
    }
    c.send('QUIT\r\n');
    await c.reply('2', 'QUIT').catch(() => '');
  } finally {
    socket.destroy();
  }
  return sent;
}

/** The first line a server says on connecting (an IMAP or POP3 greeting), or an error's text. */
export function readGreeting(host: string, port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    let text = '';
    const finish = (line: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    };
    const timer = setTimeout(() => finish(`no greeting within ${timeoutMs} ms`), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\n');
      if (end >= 0) finish(text.slice(0, end).trim());
    });
    socket.on('error', (err) => finish(`cannot connect: ${err.message}`));
  });
}

export interface RcptProbeOptions {
  host: string;
  port: number;
  from: string;
  to: string;
  timeoutMs?: number;
}

/**
 * Asks an MX host whether it would take mail for `to`, the way a sending server starts (greeting,
 * EHLO, MAIL, RCPT), and leaves before DATA: no message is ever sent. The RCPT reply, or what
 * went wrong before it.
 */
export async function rcptProbe(o: RcptProbeOptions): Promise<string> {
  const socket = netConnect({ host: o.host, port: o.port });
  const c = new Conversation(socket, o.timeoutMs ?? 10_000);
  try {
    await c.reply('2', 'greeting');
    c.send('EHLO lab.postern.test\r\n');
    await c.reply('2', 'EHLO');
    c.send(`MAIL FROM:<${o.from}>\r\n`);
    await c.reply('2', 'MAIL');
    c.send(`RCPT TO:<${o.to}>\r\n`);
    const reply = await c.reply('', 'RCPT');
    c.send('QUIT\r\n');
    return reply;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    socket.destroy();
  }
}
