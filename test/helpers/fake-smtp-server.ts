/**
 * A scriptable SMTP (or LMTP) server for client tests: a raw `net` server on loopback that speaks
 * just enough of the protocol to take a message by DATA or BDAT, and lets a test override the reply
 * to any command (including never replying) to play the servers `smtp-server` cannot: CHUNKING,
 * refusing greetings, EHLO refused, per-recipient LMTP replies, a STARTTLS that answers 220 and then
 * sends garbage. It records what reached it: every command, which commands arrived in the same read
 * (to see pipelining), and each message as it was on the wire and as unstuffed.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface FakeTransaction {
  mail: string;
  rcpts: string[];
  /** Recipients the server said 2xx to. */
  accepted: string[];
  /** After the 354: the bytes up to and including the terminating "." CRLF; for BDAT the chunks joined. */
  wire: Buffer;
  /** The message as the server would store it (unstuffed, no terminator). */
  body: Buffer;
  /** BDAT chunk sizes in order; empty for DATA. */
  bdat: number[];
}

export interface FakeSession {
  commands: string[];
  /** Commands grouped by the socket read they arrived in: a pipelining client sends several in one. */
  batches: string[][];
  transactions: FakeTransaction[];
  tls: boolean;
}

/**
 * A reply for a command line (".": the end of a message, by DATA or BDAT LAST): a string (lines
 * joined by CRLF; the last CRLF is added), null to never answer, undefined for the default.
 */
export type ReplyOverride = (command: string, session: FakeSession) => string | null | undefined;

export interface FakeSmtpServerOptions {
  host: string;
  /** Default "220 fake.test ESMTP"; null: connect and say nothing. */
  greeting?: string | null;
  /** EHLO keywords after the greeting line. Default PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES. */
  extensions?: string[];
  lmtp?: boolean;
  reply?: ReplyOverride;
  /** LMTP: the reply for each accepted recipient after the message. Default 250. */
  lmtpReply?: (address: string) => string;
  /**
   * What STARTTLS does: a real upgrade with this key and certificate; or 220, then garbage in
   * answer to the client's TLS hello ('garbage'), or garbage right behind the 220 ('garbage-at-once').
   */
  starttls?: 'garbage' | 'garbage-at-once' | { key: string; cert: string };
}

export interface FakeSmtpServer {
  host: string;
  port: number;
  sessions: FakeSession[];
  close(): Promise<void>;
}

type Mode = { kind: 'command' } | { kind: 'data' } | { kind: 'bdat'; remaining: number; last: boolean; command: string };

export async function startFakeSmtpServer(options: FakeSmtpServerOptions): Promise<FakeSmtpServer> {
  const sessions: FakeSession[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    const session: FakeSession = { commands: [], batches: [], transactions: [], tls: false };
    sessions.push(session);
    serve(socket, session, options);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: options.host,
    port,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(initial: Socket, session: FakeSession, options: FakeSmtpServerOptions): void {
  let socket: Socket = initial;
  let input = Buffer.alloc(0);
  let mode: Mode = { kind: 'command' };
  let tx: FakeTransaction | null = null;
  let wireParts: Buffer[] = [];
  let paused = false;
  let garbageOnNextRead = false;

  const send = (text: string | null): void => {
    if (text === null || socket.destroyed) return;
    socket.write(`${text}\r\n`);
  };
  const override = (command: string): string | null | undefined => options.reply?.(command, session);
  const ehloReply = (): string => {
    const ext = (options.extensions ?? ['PIPELINING', '8BITMIME', 'ENHANCEDSTATUSCODES']).filter((e) => !(session.tls && e === 'STARTTLS'));
    const lines = ['fake.test hello', ...ext];
    return lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\r\n');
  };
  const endOfMessage = (): void => {
    if (tx === null) return;
    tx.wire = Buffer.concat(wireParts);
    wireParts = [];
    tx.body = tx.bdat.length > 0 ? tx.wire : unstuff(tx.wire);
    session.transactions.push(tx);
    const accepted = tx.accepted;
    tx = null;
    const o = override('.');
    if (o !== undefined) return send(o);
    if (options.lmtp === true) {
      for (const a of accepted) send(options.lmtpReply?.(a) ?? `250 2.0.0 <${a}> delivered`);
    } else {
      send('250 2.0.0 queued as fake');
    }
  };

  const command = (line: string): void => {
    session.commands.push(line);
    const verb = (line.split(' ')[0] ?? '').toUpperCase();
    const o = override(line);
    switch (verb) {
      case 'EHLO':
      case 'LHLO':
        return send(o !== undefined ? o : ehloReply());
      case 'HELO':
        return send(o !== undefined ? o : '250 fake.test');
      case 'MAIL': {
        const r = o !== undefined ? o : '250 2.1.0 sender ok';
        if (r !== null && r.startsWith('2')) tx = { mail: line, rcpts: [], accepted: [], wire: Buffer.alloc(0), body: Buffer.alloc(0), bdat: [] };
        return send(r);
      }
      case 'RCPT': {
        if (tx === null) return send(o !== undefined ? o : '503 5.5.1 need MAIL first');
        tx.rcpts.push(line);
        const r = o !== undefined ? o : '250 2.1.5 recipient ok';
        if (r !== null && r.startsWith('2')) tx.accepted.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
        return send(r);
      }
      case 'DATA': {
        const r = o !== undefined ? o : tx === null || tx.accepted.length === 0 ? '554 5.5.1 no valid recipients' : '354 go ahead';
        if (r !== null && r.startsWith('354')) {
          tx ??= { mail: '', rcpts: [], accepted: [], wire: Buffer.alloc(0), body: Buffer.alloc(0), bdat: [] };
          mode = { kind: 'data' };
        }
        return send(r);
      }
      case 'BDAT': {
        const [, n = '0', last] = line.split(' ');
        mode = { kind: 'bdat', remaining: Number(n), last: (last ?? '').toUpperCase() === 'LAST', command: line };
        tx?.bdat.push(Number(n));
        return;
      }
      case 'RSET':
        tx = null;
        return send(o !== undefined ? o : '250 2.0.0 reset');
      case 'NOOP':
        return send(o !== undefined ? o : '250 2.0.0 ok');
      case 'QUIT':
        send(o !== undefined ? o : '221 2.0.0 bye');
        socket.end();
        return;
      case 'STARTTLS': {
        if (options.starttls === undefined) return send(o !== undefined ? o : '502 5.5.1 no STARTTLS here');
        send('220 2.0.0 go ahead');
        if (options.starttls === 'garbage-at-once') {
          socket.write(GARBAGE);
          return;
        }
        if (options.starttls === 'garbage') {
          garbageOnNextRead = true;
          return;
        }
        paused = true;
        input = Buffer.alloc(0);
        const secure = new TLSSocket(socket, { isServer: true, key: options.starttls.key, cert: options.starttls.cert });
        secure.on('error', () => undefined);
        secure.on('secure', () => {
          session.tls = true;
          tx = null;
        });
        secure.on('data', onData);
        socket.off('data', onData);
        socket = secure;
        paused = false;
        return;
      }
      default:
        return send(o !== undefined ? o : '502 5.5.2 unknown command');
    }
  };

  const pump = (): void => {
    const batch: string[] = [];
    for (let guard = 0; guard < 100_000 && !paused; guard++) {
      if (mode.kind === 'command') {
        const eol = input.indexOf('\r\n');
        if (eol === -1) break;
        const line = input.subarray(0, eol).toString('utf8');
        input = input.subarray(eol + 2);
        batch.push(line);
        command(line);
      } else if (mode.kind === 'data') {
        const whole = Buffer.concat([...wireParts, input]);
        const end = whole.subarray(0, 3).toString('latin1') === '.\r\n' ? 0 : whole.indexOf('\r\n.\r\n');
        if (end === -1) {
          wireParts = [whole];
          input = Buffer.alloc(0);
          break;
        }
        const stop = end === 0 ? 3 : end + 5;
        wireParts = [whole.subarray(0, stop)];
        input = whole.subarray(stop);
        mode = { kind: 'command' };
        endOfMessage();
      } else {
        const take = Math.min(mode.remaining, input.length);
        wireParts.push(input.subarray(0, take));
        input = input.subarray(take);
        mode.remaining -= take;
        if (mode.remaining > 0) break;
        const { last, command: bdatCommand } = mode;
        mode = { kind: 'command' };
        if (last) {
          endOfMessage();
        } else {
          const o = override(bdatCommand);
          send(o !== undefined ? o : '250 2.0.0 chunk ok');
        }
      }
    }
    if (batch.length > 0) session.batches.push(batch);
  };

  function onData(chunk: Buffer): void {
    if (garbageOnNextRead) {
      garbageOnNextRead = false;
      socket.write(GARBAGE);
      return;
    }
    input = Buffer.concat([input, chunk]);
    pump();
  }

  socket.on('data', onData);
  const greeting = options.greeting === undefined ? '220 fake.test ESMTP' : options.greeting;
  send(greeting);
}

const GARBAGE = Buffer.from('this is not a TLS record at all\r\n\x00\x01\x02');

/** RFC 5321 §4.5.2 from the receiving side: drop the terminator and one leading dot per line. */
function unstuff(wire: Buffer): Buffer {
  const s = wire.toString('latin1');
  const body = s === '.\r\n' ? '' : s.slice(0, -3);
  return Buffer.from(body.replace(/(^|\r\n)\./g, '$1'), 'latin1');
}
