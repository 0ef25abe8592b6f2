/**
 * The IMAP listeners: plain sockets that offer STARTTLS (143) and implicit-TLS sockets (993), one
 * `ImapSession` per connection, and the limits that belong to connections (per client address,
 * in total). The TLS context is built from the source's current material and rebuilt when a
 * reload gives new material. What a client does to its socket ends at most its own session.
 */
import { randomBytes } from 'node:crypto';
import { createServer, isIP } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { ErrorCode, errorText, PosternError } from '../../core/errors.ts';
import { formatHostPort, type HostPort } from '../../core/host-port.ts';
import { silentLogger } from '../../core/logger.ts';
import type { TlsMaterial, TlsSource } from '../../tls/types.ts';
import type { Chunk } from '../proto/format.ts';
import { createIdlePoller } from './idle-poll.ts';
import { withSharedReads } from './shared-reads.ts';
import { ImapSession, type SessionIo } from './session.ts';
import { StructureCache } from './structure-cache.ts';
import { resolveImapLimits, type ImapServer, type ImapServerOptions } from './types.ts';

/** Output a client may leave unread before we stop producing more for it (FETCH waits). */
const HIGH_WATER = 4 * 1024 * 1024;
const LINGER_MS = 5000;
const HANDSHAKE_MS = 30_000;

function contextCache(source: TlsSource | null): () => SecureContext | null {
  let material: TlsMaterial | null = null;
  let context: SecureContext | null = null;
  return () => {
    if (source === null) return null;
    const m = source.current();
    if (m !== material || context === null) {
      context = createSecureContext({ key: m.key, cert: m.cert });
      material = m;
    }
    return context;
  };
}

export async function startImapServer(options: ImapServerOptions): Promise<ImapServer> {
  const limits = resolveImapLimits(options.limits);
  const structures = limits.structureCacheBytes > 0 ? new StructureCache(limits.structureCacheBytes) : null;
  const logger = (options.logger ?? silentLogger).child({ component: 'imap' });
  const secureContext = contextCache(options.tls);
  const idlePoller = createIdlePoller(options.store, limits.pollIntervalMs, logger);
  const { store, stop: stopSharedReads } = withSharedReads(options.store);
  const sessions = new Set<{ session: ImapSession; destroy(): void }>();
  const perIp = new Map<string, number>();
  const servers: Server[] = [];
  const addresses: HostPort[] = [];
  const tlsAddresses: HostPort[] = [];
  let closing = false;

  const onConnection = (raw: Socket, implicitTls: boolean): void => {
    raw.on('error', (err) => logger.debug({ err: errorText(err) }, 'socket error'));
    const remote = plainAddress(raw.remoteAddress ?? '');
    const fromIp = perIp.get(remote) ?? 0;
    if (closing || sessions.size >= limits.maxConnections || fromIp >= limits.maxConnectionsPerIp) {
      logger.info({ remote, open: sessions.size, fromIp }, 'connection refused: limit');
      if (!implicitTls) raw.end('* BYE Too many connections; try again later\r\n');
      else raw.destroy();
      return;
    }
    perIp.set(remote, fromIp + 1);
    const release = (): void => {
      const n = (perIp.get(remote) ?? 1) - 1;
      if (n <= 0) perIp.delete(remote);
      else perIp.set(remote, n);
    };
    raw.once('close', release);
    raw.setNoDelay(true);
    const cid = randomBytes(6).toString('hex');
    const log = logger.child({ cid, proto: 'imap', remote: `${remote}:${raw.remotePort ?? 0}` });
    if (!implicitTls) return serve(raw, raw, false, log, remote, cid);
    const context = secureContext();
    if (context === null) return void raw.destroy();
    const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext: context });
    const timer = setTimeout(() => tlsSocket.destroy(), HANDSHAKE_MS);
    timer.unref();
    tlsSocket.on('error', (err) => {
      log.debug({ err: errorText(err) }, 'TLS error');
      tlsSocket.destroy();
    });
    tlsSocket.once('secure', () => {
      clearTimeout(timer);
      serve(raw, tlsSocket, true, log, remote, cid);
    });
  };

  const serve = (raw: Socket, first: Socket, secure: boolean, log: typeof logger, remote: string, cid: string): void => {
    let current: Socket = first;
    const onData = (chunk: Buffer): void => session.receive(chunk);
    const io: SessionIo = {
      write(chunks: readonly Chunk[]) {
        if (current.destroyed || !current.writable) return;
        // A response is dozens of small chunks (every quoted string of an ENVELOPE is one). A
        // socket write each costs a system call, and over TLS a record and an SSL_write each:
        // runs of text are joined and the rest goes out corked, as one write.
        const parts: Chunk[] = [];
        let text = '';
        for (const c of chunks) {
          if (typeof c === 'string') text += c;
          else if (c.byteLength > 0) {
            if (text !== '') parts.push(text);
            text = '';
            parts.push(c);
          }
        }
        if (text !== '') parts.push(text);
        if (parts.length === 1) {
          current.write(parts[0] as Chunk);
          return;
        }
        current.cork();
        for (const p of parts) current.write(p);
        current.uncork();
      },
      drain() {
        if (current.destroyed || current.writableLength < HIGH_WATER) return Promise.resolve();
        return new Promise((resolve) => {
          const done = (): void => {
            current.off('drain', done);
            current.off('close', done);
            resolve();
          };
          current.on('drain', done);
          current.on('close', done);
        });
      },
      close() {
        current.end();
        setTimeout(() => current.destroy(), LINGER_MS).unref();
      },
      startTls() {
        const context = secureContext();
        if (context === null) return Promise.reject(new Error('no TLS configured'));
        // From here bytes in clear text are pipelined input the session does not read.
        raw.removeListener('data', onData);
        return new Promise<void>((resolve, reject) => {
          const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext: context });
          const timer = setTimeout(() => {
            tlsSocket.destroy();
            reject(new Error('TLS handshake timed out'));
          }, HANDSHAKE_MS);
          timer.unref();
          tlsSocket.once('secure', () => {
            clearTimeout(timer);
            current = tlsSocket;
            tlsSocket.on('data', onData);
            resolve();
          });
          tlsSocket.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
            tlsSocket.destroy();
          });
        });
      },
      pause() {
        current.pause();
      },
      resume() {
        current.resume();
      },
    };
    const session = new ImapSession(
      {
        id: cid,
        hostname: options.hostname,
        store,
        authenticator: options.authenticator,
        remoteAddress: remote,
        secure,
        tlsAvailable: options.tls !== null,
        allowInsecureAuth: options.allowInsecureAuth ?? false,
        limits,
        logger: log,
        now: options.now ?? Date.now,
        idlePoller,
        structures,
      },
      io,
    );
    const entry = { session, destroy: () => current.destroy() };
    sessions.add(entry);
    first.on('data', onData);
    raw.on('close', () => {
      sessions.delete(entry);
      session.connectionLost();
      log.debug({}, 'disconnected');
    });
    log.debug({ secure }, 'connected');
    session.start();
  };

  try {
    for (const [list, implicit] of [
      [options.listen, false],
      [options.tlsListen ?? [], true],
    ] as const) {
      if (implicit && list.length > 0 && options.tls === null) {
        throw new PosternError(ErrorCode.Config, 'IMAP tls_listen needs TLS material');
      }
      for (const at of list) {
        const server = createServer({ noDelay: true }, (s) => onConnection(s, implicit));
        server.on('error', (err) => logger.error({ err: errorText(err) }, 'listener error'));
        await listen(server, at);
        servers.push(server);
        const bound = server.address();
        const hp = typeof bound === 'object' && bound !== null ? { host: at.host, port: bound.port } : at;
        (implicit ? tlsAddresses : addresses).push(hp);
        logger.info({ listen: formatHostPort(hp), tls: implicit }, 'IMAP listening');
      }
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    throw err;
  }

  return {
    addresses,
    tlsAddresses,
    get connectionCount() {
      return sessions.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      idlePoller.close();
      stopSharedReads();
      const stopped = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const s of sessions) s.session.shutdown();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...sessions].map((s) => s.session.closed)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, limits.shutdownTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const s of sessions) s.destroy();
      await Promise.all(stopped);
    },
  };
}

function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

function listen(server: Server, at: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new PosternError(ErrorCode.Config, `IMAP server cannot listen on ${formatHostPort(at)}: ${errorText(err)}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port, exclusive: true, ipv6Only: isIP(at.host) === 6 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
