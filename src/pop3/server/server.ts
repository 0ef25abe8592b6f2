/**
 * The POP3 listeners: plain TCP sockets that offer STLS (RFC 2595) and implicit-TLS ones
 * (RFC 8314), one `Pop3Session` per connection, and the limits that belong to connections rather
 * than to a conversation (per client address, in total, unread output). The TLS key and
 * certificate come from a TlsSource each time a handshake starts, so a reload reaches new
 * connections without a restart. Whatever a client does to its socket ends at most its own
 * session; socket errors are logged at debug and forgotten.
 */
import { randomBytes } from 'node:crypto';
import { createServer, isIP } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { ErrorCode, errorText, PosternError } from '../../core/errors.ts';
import { formatHostPort } from '../../core/host-port.ts';
import type { HostPort } from '../../core/host-port.ts';
import { silentLogger } from '../../core/logger.ts';
import type { Logger } from '../../core/logger.ts';
import type { TlsMaterial, TlsSource } from '../../tls/types.ts';
import { err } from '../proto/reply.ts';
import { MailboxLocks } from './locks.ts';
import { Pop3Session } from './session.ts';
import type { Pop3Io } from './session.ts';
import { resolvePop3Limits } from './types.ts';
import type { Pop3Limits, Pop3Server, Pop3ServerOptions } from './types.ts';

/** A client that stops reading our responses is cut off past this much unsent output. */
const MAX_PENDING_WRITE = 1024 * 1024;
/** A message is written in pieces; the next piece waits until less than this is unsent. */
const DRAIN_BELOW = 256 * 1024;
/** After we end a connection, how long the client gets to close its side. */
const LINGER_MS = 5000;

interface Connection {
  session: Pop3Session;
  destroy(): void;
}

export async function startPop3Server(options: Pop3ServerOptions): Promise<Pop3Server> {
  const limits = resolvePop3Limits(options.limits);
  const logger = (options.logger ?? silentLogger).child({ component: 'pop3' });
  const locks = options.locks ?? new MailboxLocks();
  if (options.tls === null && options.tlsListen.length > 0) {
    throw new PosternError(ErrorCode.Config, 'POP3 tls_listen needs TLS material (tls.cert and tls.key, or a generated certificate)');
  }
  const secureContext = contextCache(options.tls);
  const connections = new Set<Connection>();
  const perIp = new Map<string, number>();
  const servers: Server[] = [];
  const addresses: HostPort[] = [];
  const tlsAddresses: HostPort[] = [];
  /** Implicit-TLS connections still in their handshake (not yet sessions). */
  const handshaking = new Set<Socket>();
  let closing = false;

  const onConnection = (socket: Socket, implicitTls: boolean): void => {
    socket.on('error', (e) => logger.debug({ err: errorText(e) }, 'socket error'));
    const remote = { address: plainAddress(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    const fromIp = perIp.get(remote.address) ?? 0;
    if (closing || handshaking.size + connections.size >= limits.maxConnections || fromIp >= limits.maxConnectionsPerIp) {
      logger.info({ remote: remote.address, open: connections.size, fromIp }, 'connection refused: limit');
      // On the TLS port a clear-text answer would only confuse the client's TLS stack.
      if (implicitTls) socket.destroy();
      else {
        socket.end(err(closing ? 'server shutting down' : 'too many connections, try again later', 'SYS/TEMP'));
        // Read (and drop) what comes, so the client's close is seen without waiting for the timer.
        socket.on('data', () => {});
        socket.resume();
        setTimeout(() => socket.destroy(), LINGER_MS).unref();
      }
      return;
    }
    perIp.set(remote.address, fromIp + 1);
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      const n = (perIp.get(remote.address) ?? 1) - 1;
      if (n <= 0) perIp.delete(remote.address);
      else perIp.set(remote.address, n);
    };
    socket.once('close', release);
    socket.setNoDelay(true);
    const cid = randomBytes(6).toString('hex');
    const log = logger.child({ cid, proto: implicitTls ? 'pop3s' : 'pop3', remote: `${remote.address}:${remote.port}` });
    log.debug({ local: `${socket.localAddress ?? ''}:${socket.localPort ?? 0}` }, 'connected');
    if (!implicitTls) {
      serve(socket, socket, false, remote.address, cid, log);
      return;
    }
    handshaking.add(socket);
    const finish = (): void => {
      handshaking.delete(socket);
    };
    socket.once('close', finish);
    handshake(socket, secureContext, limits).then(
      (tlsSocket) => {
        finish();
        if (closing || socket.destroyed) {
          tlsSocket.destroy();
          return;
        }
        serve(socket, tlsSocket, true, remote.address, cid, log);
      },
      (e: unknown) => {
        finish();
        log.debug({ err: errorText(e) }, 'TLS handshake failed');
        socket.destroy();
      },
    );
  };

  /** `raw` is the TCP socket (its close ends the session); `socket` is what we talk over. */
  const serve = (raw: Socket, socket: Socket, tls: boolean, remoteAddress: string, cid: string, log: Logger): void => {
    let current: Socket = socket;
    const onData = (chunk: Buffer): void => session.receive(chunk);
    const io: Pop3Io = {
      write(data) {
        if (current.destroyed || !current.writable) return;
        current.write(data);
        if (current.writableLength > MAX_PENDING_WRITE + DRAIN_BELOW) {
          log.info({ pending: current.writableLength }, 'client does not read its responses');
          current.destroy();
        }
      },
      drain() {
        return waitForDrain(current, limits.idleTimeoutMs);
      },
      close() {
        current.end();
        setTimeout(() => current.destroy(), LINGER_MS).unref();
      },
      startTls() {
        // Bytes that reach us in clear text from now on were pipelined after STLS; the TLS
        // layer takes the socket from here (RFC 2595 §4).
        current.removeListener('data', onData);
        return handshake(current, secureContext, limits).then((tlsSocket) => {
          current = tlsSocket;
          tlsSocket.on('data', onData);
        });
      },
      pause() {
        current.pause();
      },
      resume() {
        current.resume();
      },
    };
    const session = new Pop3Session(
      {
        id: cid,
        hostname: options.hostname,
        remoteAddress,
        store: options.store,
        authenticator: options.authenticator,
        locks,
        logger: log,
        limits,
        tlsAvailable: options.tls !== null,
        tls,
        allowPlaintextAuth: options.allowPlaintextAuth === true,
      },
      io,
    );
    const connection: Connection = { session, destroy: () => current.destroy() };
    connections.add(connection);
    socket.on('data', onData);
    raw.on('close', () => {
      connections.delete(connection);
      session.connectionLost();
      log.debug({}, 'disconnected');
    });
    session.start();
    socket.resume();
  };

  const bind = async (list: readonly HostPort[], implicitTls: boolean, into: HostPort[]): Promise<void> => {
    for (const at of list) {
      // Paused until a session is ready for the bytes (pauseOnConnect).
      const server = createServer({ noDelay: true, pauseOnConnect: true }, (s) => onConnection(s, implicitTls));
      server.on('error', (e) => logger.error({ err: errorText(e) }, 'listener error'));
      await listen(server, at);
      servers.push(server);
      const bound = server.address();
      const actual = typeof bound === 'object' && bound !== null ? { host: at.host, port: bound.port } : at;
      into.push(actual);
      logger.info({ listen: formatHostPort(actual), tls: implicitTls }, 'POP3 listening');
    }
  };

  try {
    await bind(options.listen, false, addresses);
    await bind(options.tlsListen, true, tlsAddresses);
  } catch (e) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    throw e;
  }

  return {
    addresses,
    tlsAddresses,
    get connectionCount() {
      return connections.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      const stopped = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const s of handshaking) s.destroy();
      for (const c of connections) c.session.shutdown();
      const sessionsDone = Promise.all([...connections].map((c) => c.session.closed));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, limits.shutdownTimeoutMs);
      });
      await Promise.race([sessionsDone, deadline]);
      clearTimeout(timer);
      for (const c of connections) c.destroy();
      await Promise.all(stopped);
    },
  };
}

/** A SecureContext for the source's current material, rebuilt only when the material changes. */
function contextCache(source: TlsSource | null): () => SecureContext | null {
  let material: TlsMaterial | null = null;
  let context: SecureContext | null = null;
  return () => {
    if (source === null) return null;
    const now = source.current();
    if (now !== material || context === null) {
      context = createSecureContext({ key: now.key, cert: now.cert });
      material = now;
    }
    return context;
  };
}

/** Server side of a TLS handshake over `socket`; resolves once it is done. */
function handshake(socket: Socket, secureContext: () => SecureContext | null, limits: Pop3Limits): Promise<TLSSocket> {
  let context: SecureContext | null;
  try {
    context = secureContext();
  } catch (e) {
    return Promise.reject(e);
  }
  if (context === null) return Promise.reject(new Error('no TLS configured'));
  return new Promise((resolve, reject) => {
    const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext: context });
    const timer = setTimeout(() => {
      tlsSocket.destroy();
      reject(new Error('TLS handshake timed out'));
    }, limits.handshakeTimeoutMs);
    timer.unref();
    tlsSocket.once('secure', () => {
      clearTimeout(timer);
      resolve(tlsSocket);
    });
    tlsSocket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
      tlsSocket.destroy();
    });
    tlsSocket.once('close', () => {
      clearTimeout(timer);
      reject(new Error('connection closed during the TLS handshake'));
    });
    // The raw socket was paused until now (pauseOnConnect); the TLS layer reads it from here.
    socket.resume();
  });
}

/** Resolves when `socket` has little unsent output, or is gone; a client that reads nothing for
 *  `timeoutMs` is cut off. */
function waitForDrain(socket: Socket, timeoutMs: number): Promise<void> {
  if (socket.destroyed || socket.writableLength < DRAIN_BELOW) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, timeoutMs);
    timer.unref();
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** "::ffff:127.0.0.1" is an IPv4 client: show and count it as one. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

function listen(server: Server, at: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      reject(new PosternError(ErrorCode.Config, `POP3 server cannot listen on ${formatHostPort(at)}: ${errorText(e)}`, { cause: e }));
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port, exclusive: true, ipv6Only: isIP(at.host) === 6 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
