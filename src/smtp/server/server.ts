/**
 * The SMTP listener: TCP sockets on each listen address, one `SmtpSession` per connection, STARTTLS
 * by wrapping the same socket with node:tls, implicit-TLS listeners (RFC 8314) that do the same
 * before the greeting, and the limits that belong to connections rather
 * than to a conversation (per client address, in total, unread output). Everything a client does
 * to its socket ends at most its own session; socket errors are logged at debug and forgotten.
 */
import { randomBytes } from 'node:crypto';
import { createServer, isIP } from 'node:net';
import type { Server, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { ErrorCode, errorText, PosternError } from '../../core/errors.ts';
import { formatHostPort } from '../../core/host-port.ts';
import type { HostPort } from '../../core/host-port.ts';
import { silentLogger } from '../../core/logger.ts';
import type { Logger } from '../../core/logger.ts';
import { formatReply, Reply } from '../../core/smtp-reply.ts';
import { isTlsSource, secureContextFor } from '../../tls/context.ts';
import { fixedTlsSource } from '../../tls/types.ts';
import { randomId, SmtpSession } from './session.ts';
import type { SessionIo } from './session.ts';
import { resolveLimits } from './types.ts';
import type { SmtpLimits, SmtpServer, SmtpServerOptions } from './types.ts';

/** A client that stops reading our replies is cut off past this much unsent output. */
const MAX_PENDING_WRITE = 1024 * 1024;
/** After we end a connection, how long the client gets to close its side. */
const LINGER_MS = 5000;

interface Connection {
  session: SmtpSession;
  destroy(): void;
}

export async function startSmtpServer(options: SmtpServerOptions): Promise<SmtpServer> {
  const limits = resolveLimits(options);
  const logger = (options.logger ?? silentLogger).child({ component: 'smtp' });
  const tls = options.tls ?? null;
  // Built per handshake from the source's current material (cached until a reload replaces it).
  const secureContext = tls === null ? null : secureContextFor(isTlsSource(tls) ? tls : fixedTlsSource(tls));
  if (secureContext !== null) secureContext(); // bad material fails here, at start, not at the first client
  const tlsListen = options.tlsListen ?? [];
  if (tlsListen.length > 0 && secureContext === null) {
    throw new PosternError(ErrorCode.Config, 'SMTP server: tls_listen needs a certificate (tls)');
  }
  const connections = new Set<Connection>();
  const perIp = new Map<string, number>();
  /** Implicit-TLS connections still in their handshake. */
  const handshaking = new Set<{ session: null; destroy(): void }>();
  const servers: Server[] = [];
  const addresses: HostPort[] = [];
  const tlsAddresses: HostPort[] = [];
  let closing = false;
  /** Connections waiting for their reverse lookup. */
  let pending = 0;

  const onConnection = (socket: Socket, implicitTls: boolean): void => {
    socket.on('error', (err) => logger.debug({ err: errorText(err) }, 'socket error'));
    const remote = { address: plainAddress(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    const local = { address: plainAddress(socket.localAddress ?? ''), port: socket.localPort ?? 0 };
    const fromIp = perIp.get(remote.address) ?? 0;
    if (closing || pending + connections.size + handshaking.size >= limits.maxConnections || fromIp >= limits.maxConnectionsPerIp) {
      logger.info({ remote: remote.address, open: connections.size, fromIp }, 'connection refused: limit');
      socket.end(formatReply(closing ? Reply.ServiceUnavailable : Reply.TooManyConnections));
      socket.setTimeout(LINGER_MS, () => socket.destroy());
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
    socket.setNoDelay(true);
    socket.pause();
    const cid = randomBytes(6).toString('hex');
    const log = logger.child({ cid, proto: 'smtp', remote: `${remote.address}:${remote.port}` });
    log.debug({ local: `${local.address}:${local.port}` }, 'connected');
    if (options.reverseName === undefined) {
      serve(socket, { cid, log, remote, local, remoteName: null, release, implicitTls });
      return;
    }
    // The greeting waits for the reverse lookup so the name is known before any command.
    pending++;
    socket.once('close', release);
    options
      .reverseName(remote.address)
      .catch((err: unknown) => {
        log.debug({ err: errorText(err) }, 'reverse lookup failed');
        return null;
      })
      .then((remoteName) => {
        pending--;
        if (socket.destroyed) return release();
        if (closing) {
          socket.end(formatReply(Reply.ServiceUnavailable));
          return;
        }
        socket.off('close', release);
        serve(socket, { cid, log, remote, local, remoteName, release, implicitTls });
      });
  };

  const serve = (
    socket: Socket,
    c: {
      cid: string;
      log: Logger;
      remote: { address: string; port: number };
      local: { address: string; port: number };
      remoteName: string | null;
      release: () => void;
      implicitTls: boolean;
    },
  ): void => {
    const log = c.log;
    if (c.implicitTls) {
      // RFC 8314 §3.3: the handshake comes first; the greeting is the first thing sent inside TLS.
      // Until it is done the connection counts toward the limits but has no session to shut down.
      const handshake = { session: null, destroy: () => socket.destroy() };
      handshaking.add(handshake);
      socket.once('close', c.release);
      upgrade(socket, secureContext, limits, null).then(
        (tlsSocket) => {
          handshaking.delete(handshake);
          socket.off('close', c.release);
          if (closing) {
            tlsSocket.end(formatReply(Reply.ServiceUnavailable));
            tlsSocket.once('close', c.release);
            return;
          }
          run(socket, tlsSocket, c);
        },
        (err: unknown) => {
          handshaking.delete(handshake);
          log.debug({ err: errorText(err) }, 'TLS handshake failed');
          socket.destroy();
        },
      );
      return;
    }
    run(socket, socket, c);
  };

  const run = (
    socket: Socket,
    first: Socket,
    c: { cid: string; log: Logger; remote: { address: string; port: number }; local: { address: string; port: number }; remoteName: string | null; release: () => void; implicitTls: boolean },
  ): void => {
    const log = c.log;
    let current: Socket = first;
    const onData = (chunk: Buffer): void => session.receive(chunk);
    const io: SessionIo = {
      write(text) {
        if (current.destroyed || !current.writable) return;
        current.write(text);
        if (current.writableLength > MAX_PENDING_WRITE) {
          log.info({ pending: current.writableLength }, 'client does not read its replies');
          current.destroy();
        }
      },
      close() {
        current.end();
        setTimeout(() => current.destroy(), LINGER_MS).unref();
      },
      startTls() {
        return upgrade(current, secureContext, limits, onData).then((tlsSocket) => {
          current = tlsSocket;
        });
      },
      pause() {
        current.pause();
      },
      resume() {
        current.resume();
      },
    };
    const session = new SmtpSession(
      {
        id: c.cid,
        mode: options.mode ?? 'mx',
        hostname: options.hostname,
        remote: c.remote,
        local: c.local,
        remoteName: c.remoteName,
        hooks: options.hooks,
        logger: log,
        limits,
        tlsAvailable: secureContext !== null,
        tls: c.implicitTls,
        authenticator: options.authenticator ?? null,
        idFactory: options.idFactory ?? randomId,
        now: options.now ?? Date.now,
      },
      io,
    );
    const connection: Connection = { session, destroy: () => current.destroy() };
    connections.add(connection);
    first.on('data', onData);
    socket.on('close', () => {
      connections.delete(connection);
      c.release();
      session.connectionLost();
      log.debug({}, 'disconnected');
    });
    session.start();
    first.resume();
  };

  const bind = async (at: HostPort, implicitTls: boolean): Promise<HostPort> => {
    const server = createServer({ noDelay: true }, (socket) => onConnection(socket, implicitTls));
    server.on('error', (err) => logger.error({ err: errorText(err) }, 'listener error'));
    await listen(server, at);
    servers.push(server);
    const bound = server.address();
    const address = typeof bound === 'object' && bound !== null ? { host: at.host, port: bound.port } : at;
    logger.info({ listen: formatHostPort(address), mode: options.mode ?? 'mx', tls: implicitTls ? 'implicit' : secureContext !== null ? 'starttls' : 'none' }, 'SMTP listening');
    return address;
  };
  try {
    for (const at of options.listen) addresses.push(await bind(at, false));
    for (const at of tlsListen) tlsAddresses.push(await bind(at, true));
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    throw err;
  }

  return {
    addresses,
    tlsAddresses,
    get connectionCount() {
      return connections.size + handshaking.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      const stopped = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const c of connections) c.session.shutdown();
      const sessionsDone = Promise.all([...connections].map((c) => c.session.closed));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, limits.shutdownTimeoutMs);
      });
      await Promise.race([sessionsDone, deadline]);
      clearTimeout(timer);
      for (const c of connections) c.destroy();
      for (const h of handshaking) h.destroy();
      await Promise.all(stopped);
    },
  };
}

/** "::ffff:127.0.0.1" is an IPv4 client: show and count it as one. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

function listen(server: Server, at: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(
        new PosternError(ErrorCode.Config, `SMTP server cannot listen on ${formatHostPort(at)}: ${errorText(err)}`, { cause: err }),
      );
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port, exclusive: true, ipv6Only: isIP(at.host) === 6 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * RFC 3207: the same connection, now TLS (or, for implicit TLS, from the start). Resolves once the
 * handshake is done; `onData` then reads from the TLS socket.
 */
function upgrade(socket: Socket, context: (() => SecureContext) | null, limits: SmtpLimits, onData: ((chunk: Buffer) => void) | null): Promise<TLSSocket> {
  if (context === null) return Promise.reject(new Error('no TLS configured'));
  // Bytes that reach us in clear text from now on are the client's pipelined input after
  // STARTTLS; the session discards them, and the TLS layer takes the socket from here.
  if (onData !== null) socket.removeListener('data', onData);
  return new Promise((resolve, reject) => {
    const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext: context() });
    const timer = setTimeout(() => {
      tlsSocket.destroy();
      reject(new Error('TLS handshake timed out'));
    }, limits.idleTimeoutMs);
    timer.unref();
    tlsSocket.once('secure', () => {
      clearTimeout(timer);
      if (onData !== null) tlsSocket.on('data', onData);
      resolve(tlsSocket);
    });
    tlsSocket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
      tlsSocket.destroy();
    });
  });
}
