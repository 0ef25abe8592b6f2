/**
 * A load generator over plain `node:net`: several SMTP sessions in parallel, each sending messages
 * one after another on its own connection (EHLO once, then MAIL, RCPT, DATA per message), counting
 * which messages got their 250 after the final dot. It exists to check the promise behind that 250
 * (DESIGN.md "Durability"), so it depends on nothing of ours beyond the loopback guard: a session
 * whose connection dies (the server killed under it) reconnects after a pause and carries on, and
 * every wait is bounded, by a reply timeout, a limit on consecutive failed connections, and an
 * overall deadline.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { assertDestinationAllowed } from '../../src/core/loopback.ts';

export interface LoadMessage {
  sender: string;
  recipient: string;
  /** The message as it travels, CRLF line endings, without the terminating dot. */
  data: string;
}

export interface SmtpLoadOptions {
  host: string;
  port: number;
  /** Connections at once. */
  sessions: number;
  /** Messages attempted in all: each index in [0, total) is tried exactly once. */
  total: number;
  message(index: number): LoadMessage;
  helo?: string;
  /** How long to wait for any one reply. Default 10 s. */
  replyTimeoutMs?: number;
  /** Pause before a session reconnects. Default 100 ms. */
  reconnectPauseMs?: number;
  /** A session gives up after this many failed connections in a row. Default 100. */
  maxConnectFailures?: number;
  /** The whole run stops attempting new messages after this long. Default 60 s. */
  deadlineMs?: number;
}

export interface SmtpLoadResult {
  /** Indexes of messages answered 250 after the final dot. */
  accepted: number[];
  /** Messages for which MAIL was sent. */
  attempted: number;
  /** Why the other attempted messages got no 250: "connection lost", "timeout", or the reply's first line's code. */
  refusals: Record<string, number>;
  /** Connections that failed before the session was ready (refused, no greeting, 4xx greeting). */
  connectFailures: number;
  /** Sessions that stopped early (too many failed connections in a row, or the deadline). */
  abandoned: string[];
}

export interface SmtpLoad {
  /** Messages answered 250 so far. */
  acceptedCount(): number;
  /** Settles when every session has finished. */
  readonly done: Promise<SmtpLoadResult>;
  /** Stops attempting new messages; sessions finish their current one. */
  stop(): void;
}

class ConnectionLost extends Error {}
class ReplyTimeout extends Error {}

/** One connection: writes commands, reads whole replies (RFC 5321 §4.2.1 multi-line), each wait bounded. */
class Connection {
  #socket: Socket;
  #unread = '';
  #closed = false;
  #wake: (() => void) | null = null;

  constructor(socket: Socket) {
    this.#socket = socket;
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

  static open(host: string, port: number, timeoutMs: number): Promise<Connection> {
    assertDestinationAllowed(host, 'SMTP load connection to');
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ReplyTimeout('connect timed out'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new Connection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      });
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  write(text: string): void {
    if (!this.#closed) this.#socket.write(text);
  }

  /** The next whole reply, e.g. "250 2.0.0 queued as …" (the last line, without CRLF). */
  async reply(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3}(?: [^\r\n]*)?)\r\n/.exec(this.#unread);
      if (m !== null) {
        this.#unread = this.#unread.slice(m[0].length);
        return m[1] ?? '';
      }
      if (this.#closed) throw new ConnectionLost('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new ReplyTimeout(`no reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async command(line: string, timeoutMs: number): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** RFC 5321 §4.5.2: a line that starts with a dot gets one more. */
function dotStuff(data: string): string {
  return data.replace(/(^|\r\n)\./g, '$1..');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the sessions at once; see `SmtpLoad`. */
export function startSmtpLoad(options: SmtpLoadOptions): SmtpLoad {
  const replyTimeoutMs = options.replyTimeoutMs ?? 10_000;
  const pauseMs = options.reconnectPauseMs ?? 100;
  const maxConnectFailures = options.maxConnectFailures ?? 100;
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  const helo = options.helo ?? 'load.test';
  const accepted: number[] = [];
  const refusals: Record<string, number> = {};
  const abandoned: string[] = [];
  let next = 0;
  let connectFailures = 0;
  let stopped = false;

  const refused = (why: string) => (refusals[why] = (refusals[why] ?? 0) + 1);
  const claim = (): number | null => (stopped || next >= options.total || Date.now() >= deadline ? null : next++);
  const more = () => !stopped && next < options.total && Date.now() < deadline;

  async function ready(): Promise<Connection> {
    const c = await Connection.open(options.host, options.port, replyTimeoutMs);
    try {
      const greeting = await c.reply(replyTimeoutMs);
      if (!greeting.startsWith('220')) throw new Error(`greeting ${greeting}`);
      const ehlo = await c.command(`EHLO ${helo}`, replyTimeoutMs);
      if (!ehlo.startsWith('250')) throw new Error(`EHLO ${ehlo}`);
      return c;
    } catch (err) {
      c.close();
      throw err;
    }
  }

  /** One message on a ready connection: true when the final dot got 250. */
  async function transaction(c: Connection, m: LoadMessage): Promise<{ ok: true } | { ok: false; why: string }> {
    const steps: Array<[string, string]> = [
      [`MAIL FROM:<${m.sender}>`, '250'],
      [`RCPT TO:<${m.recipient}>`, '250'],
      ['DATA', '354'],
    ];
    for (const [line, want] of steps) {
      const r = await c.command(line, replyTimeoutMs);
      if (!r.startsWith(want)) return { ok: false, why: `${line.split(/[ :]/)[0]} ${r.slice(0, 3)}` };
    }
    const body = dotStuff(m.data);
    c.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    const r = await c.reply(replyTimeoutMs);
    return r.startsWith('250') ? { ok: true } : { ok: false, why: `end of data ${r.slice(0, 3)}` };
  }

  async function session(name: string): Promise<void> {
    let c: Connection | null = null;
    let failuresInARow = 0;
    while (more()) {
      if (c === null) {
        if (failuresInARow >= maxConnectFailures) {
          abandoned.push(`${name}: ${failuresInARow} failed connections in a row`);
          return;
        }
        try {
          c = await ready();
          failuresInARow = 0;
        } catch {
          connectFailures++;
          failuresInARow++;
          await sleep(pauseMs);
          continue;
        }
      }
      const index = claim();
      if (index === null) break;
      try {
        const r = await transaction(c, options.message(index));
        if (r.ok) {
          accepted.push(index);
          continue;
        }
        // Anything unexpected: start over on a fresh connection rather than reason about the state.
        refused(r.why);
      } catch (err) {
        refused(err instanceof ReplyTimeout ? 'timeout' : 'connection lost');
      }
      c.close();
      c = null;
      await sleep(pauseMs);
    }
    if (c !== null) {
      await c.command('QUIT', Math.min(replyTimeoutMs, 1000)).catch(() => '');
      c.close();
    }
    if (next < options.total && !stopped) abandoned.push(`${name}: deadline reached`);
  }

  const done = Promise.all(Array.from({ length: options.sessions }, (_, i) => session(`session ${i + 1}`))).then(
    (): SmtpLoadResult => ({ accepted: [...accepted].sort((a, b) => a - b), attempted: next, refusals, connectFailures, abandoned }),
  );
  return {
    acceptedCount: () => accepted.length,
    done,
    stop: () => {
      stopped = true;
    },
  };
}
