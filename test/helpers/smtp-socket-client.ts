/**
 * A deliberately dumb SMTP client over a real socket for server tests: it writes exactly the bytes
 * it is given (so tests can pipeline, inject and smuggle) and reads replies one at a time. It can
 * upgrade to TLS on demand, accepting any certificate.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { assertDestinationAllowed } from '../../src/core/loopback.ts';

const WAIT_MS = 3000;

export class RawSmtpClient {
  #socket: Socket;
  #unread = '';
  #closed = false;
  #wake: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  static async connect(host: string, port: number, localAddress?: string): Promise<RawSmtpClient> {
    assertDestinationAllowed(host, 'SMTP test connection to');
    const socket = netConnect({ host, port, ...(localAddress === undefined ? {} : { localAddress }) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawSmtpClient(socket);
  }

  #attach(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.#unread += text;
      this.#notify();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#notify();
    });
    socket.on('error', () => {});
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(bytes: string | Uint8Array): void {
    this.#socket.write(bytes);
  }

  async send(line: string, expect?: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(expect);
  }

  /** The next whole reply; asserts it starts with `expect`. */
  async reply(expect?: string, ms = WAIT_MS): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.#unread);
      if (m !== null) {
        this.#unread = this.#unread.slice(m[0].length);
        if (expect !== undefined) assert.ok(m[0].startsWith(expect), `expected ${JSON.stringify(expect)}, got ${JSON.stringify(m[0])}`);
        return m[0];
      }
      if (this.#closed) assert.fail(`connection closed while waiting for ${expect ?? 'a reply'} (unread ${JSON.stringify(this.#unread)})`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no reply within ${ms} ms (expected ${expect ?? 'any'}; unread ${JSON.stringify(this.#unread)})`);
      await this.#sleep(left);
    }
  }

  /** Every reply until the server closes the connection. */
  async repliesUntilClosed(ms = WAIT_MS): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`connection still open after ${ms} ms (unread ${JSON.stringify(this.#unread)})`);
      await this.#sleep(left);
    }
    return this.#unread.split(/(?<=\r\n)(?=\d{3} )/).filter((r) => r !== '');
  }

  async waitClosed(ms = WAIT_MS): Promise<void> {
    await this.repliesUntilClosed(ms);
  }

  /** After the server's 220 to STARTTLS: the TLS handshake on the same socket. */
  async startTls(): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: undefined });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#unread = '';
    this.#attach(secure);
  }

  close(): void {
    this.#socket.destroy();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

/**
 * One plain SMTP transaction, every reply checked: EHLO, MAIL, one RCPT, DATA and the message
 * (given with CRLFs, without the final dot). Resolves with the reply to the message's end.
 */
export async function sendPlain(host: string, port: number, o: { from: string; to: string; message: string; helo?: string }): Promise<string> {
  const c = await RawSmtpClient.connect(host, port);
  try {
    await c.reply('220');
    await c.send(`EHLO ${o.helo ?? 'client.test'}`, '250');
    await c.send(`MAIL FROM:<${o.from}>`, '250');
    await c.send(`RCPT TO:<${o.to}>`, '250');
    await c.send('DATA', '354');
    c.write(`${o.message}.\r\n`);
    return await c.reply('250');
  } finally {
    c.close();
  }
}
