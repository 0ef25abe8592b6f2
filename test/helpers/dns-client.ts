/**
 * A bare DNS client for tests: raw bytes over UDP and TCP to a server on loopback, with every wait
 * bounded. It checks nothing about the replies: that is the tests' job.
 */
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { assertDestinationAllowed } from '../../src/core/loopback.ts';
import type { HostPort } from '../../src/core/host-port.ts';

function guard(host: string): void {
  // Tests never send off the machine, whatever the environment says.
  assertDestinationAllowed(host, 'test DNS query to', { POSTERN_LOOPBACK_ONLY: '1' });
}

/** One datagram out, the first datagram back, or null after `timeoutMs`. */
export function udpExchange(to: HostPort, message: Uint8Array, timeoutMs = 1000): Promise<Buffer | null> {
  guard(to.host);
  const socket = createSocket(isIP(to.host) === 6 ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(null), timeoutMs);
    const finish = (reply: Buffer | null): void => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    socket.on('message', (reply) => finish(reply));
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.send(message, to.port, to.host);
  });
}

/** A TCP connection that reads length-prefixed messages as they arrive. */
export class TcpDnsConnection {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly messages: Buffer[] = [];
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 2 && this.buffer.length >= 2 + this.buffer.readUInt16BE(0)) {
        const length = this.buffer.readUInt16BE(0);
        this.messages.push(this.buffer.subarray(2, 2 + length));
        this.buffer = this.buffer.subarray(2 + length);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      // reported through `closed`
    });
  }

  /** `from`: the local address to connect from (any 127/8 address works on loopback). */
  static open(to: HostPort, timeoutMs = 1000, from?: string): Promise<TcpDnsConnection> {
    guard(to.host);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: to.host, port: to.port, ...(from !== undefined ? { localAddress: from } : {}) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TCP connect to ${to.host}:${to.port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new TcpDnsConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next `count` messages; fewer if the server closes or `timeoutMs` passes. */
  async read(count: number, timeoutMs = 1000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.messages.splice(0, count);
  }

  /** Resolves true when the server closes the connection within `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One query over a fresh TCP connection: the replies it gets (several for a zone transfer). */
export async function tcpExchange(to: HostPort, framedQuery: Uint8Array, replies = 1, timeoutMs = 1000): Promise<Buffer[]> {
  const connection = await TcpDnsConnection.open(to, timeoutMs);
  try {
    connection.write(framedQuery);
    return await connection.read(replies, timeoutMs);
  } finally {
    connection.close();
  }
}

/**
 * Sends one UDP datagram to an IPv4 address from source port 0, which no ordinary socket can do: a
 * raw socket builds the UDP header (through python3, since Node has no raw sockets). Needs root or
 * CAP_NET_RAW; resolves to the reason when it cannot, so the caller can skip.
 */
export function sendFromPortZero(to: HostPort, message: Uint8Array): { sent: true } | { sent: false; reason: string } {
  guard(to.host);
  if (isIP(to.host) !== 4) return { sent: false, reason: 'only IPv4 is supported' };
  const script = [
    'import socket, struct, sys',
    'dst, port, payload = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])',
    '# source port 0, length, checksum 0 (none, RFC 768)',
    "udp = struct.pack('!HHHH', 0, port, 8 + len(payload), 0) + payload",
    'try:',
    '    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)',
    'except PermissionError as e:',
    '    print(e); sys.exit(77)',
    's.sendto(udp, (dst, 0))',
  ].join('\n');
  const run = spawnSync('python3', ['-c', script, to.host, String(to.port), Buffer.from(message).toString('hex')], { encoding: 'utf8', timeout: 5000 });
  if (run.error !== undefined) return { sent: false, reason: `python3 not available: ${run.error.message}` };
  if (run.status === 77) return { sent: false, reason: `raw sockets need root or CAP_NET_RAW (${run.stdout.trim()})` };
  if (run.status !== 0) return { sent: false, reason: `python3 failed: ${run.stderr.trim()}` };
  return { sent: true };
}
