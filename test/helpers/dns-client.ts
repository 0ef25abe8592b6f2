/**
 * A bare DNS client for tests: raw bytes over UDP and TCP to a server on loopback, with every wait
 * bounded. It checks nothing about the replies: that is the tests' job.
 */
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

  static open(to: HostPort, timeoutMs = 1000): Promise<TcpDnsConnection> {
    guard(to.host);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: to.host, port: to.port });
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
