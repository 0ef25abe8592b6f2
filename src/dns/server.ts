/**
 * The authoritative DNS server's sockets: UDP and TCP on every listen address, each request handed
 * to `answer` (authority.ts) and its replies sent back. Anything a client sends is survivable: a
 * broken datagram gets FORMERR or nothing, a datagram from source port 0 (spoofed: nobody can
 * receive there) is dropped, and no send can throw out of a handler. TCP is where a client can hold
 * on to resources, so RFC 7766 §6.2 sets the rules: a connection with no query in progress is closed
 * after a short idle time, a message must arrive whole within a deadline of its first octet however
 * slowly it trickles, every connection has a maximum lifetime, one client address holds a bounded
 * number of connections, and at the global cap the least useful connection (the longest idle, else
 * the one whose message has been arriving the longest) is closed to make room for the newcomer,
 * which a cap that refused newcomers would lock out. Warnings about misbehaving clients are
 * rate-limited, so a flood of them cannot become a flood of log lines. Zones are swapped whole by
 * `setZones` (SIGHUP reload): each request reads the zone set once, so it sees either the old zones
 * or the new ones.
 */
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server as TcpServer, Socket as TcpSocket } from 'node:net';
import { isIP } from 'node:net';
import { ErrorCode, PosternError, errorText } from '../core/errors.ts';
import { formatHostPort } from '../core/host-port.ts';
import type { HostPort } from '../core/host-port.ts';
import type { Logger } from '../core/logger.ts';
import { respond } from './authority.ts';
import type { AnswerOptions, AnswerSummary, ZoneSet } from './authority.ts';
import { AnswerCache } from './answer-cache.ts';

export interface DnsServer {
  /** What is actually bound (port 0 resolved to the real port). */
  readonly addresses: readonly HostPort[];
  /** Atomic swap, used by SIGHUP reload. */
  setZones(zones: ZoneSet): void;
  close(): Promise<void>;
}

export interface DnsServerOptions {
  listen: readonly HostPort[];
  zones: ZoneSet;
  /** Client IPs allowed AXFR/IXFR over TCP; empty: refuse all. */
  transferAllow: readonly string[];
  logger: Logger;
  /** A TCP connection with no query in progress for this long is closed (RFC 7766 §6.2.3). Default 5 s. */
  tcpIdleTimeoutMs?: number;
  /** Once the first octet of a TCP message arrived, the rest must follow within this long. Default 3 s. */
  tcpMessageTimeoutMs?: number;
  /** A TCP connection is closed this long after it opened, however busy it is. Default 60 s. */
  tcpMaxLifetimeMs?: number;
  /** Open TCP connections across all addresses; at the cap the least useful is closed to admit a new one. Default 200. */
  maxTcpConnections?: number;
  /** Open TCP connections from one client address; at the cap that client's least useful is closed. Default 16. */
  maxTcpConnectionsPerClient?: number;
  /** The largest query accepted over TCP; a longer one closes the connection. Default 16 KiB. */
  maxTcpMessageBytes?: number;
}

const DEFAULT_IDLE_MS = 5000;
/** A query is one segment; seconds to complete one is generous for any real client. */
const DEFAULT_MESSAGE_MS = 3000;
const DEFAULT_LIFETIME_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 200;
const DEFAULT_MAX_PER_CLIENT = 16;
/** Queries are small (a question and an OPT); nothing legitimate comes near this. */
const DEFAULT_MAX_MESSAGE = 16 * 1024;
/** A client that does not read its replies stops being served past this much unsent data. */
const MAX_PENDING_WRITE = 1024 * 1024;
/** A connection closed gently (FIN after its pending replies) is cut off if still open after this. */
const CLOSE_GRACE_MS = 1000;
/** Each kind of warning is logged at most once per this interval, with a count of those suppressed. */
const WARN_INTERVAL_MS = 10_000;
/** Port 0: the port UDP got may be taken for TCP; try this many fresh ports. */
const PORT_ATTEMPTS = 8;

/**
 * A `warn` that logs each kind at most once per interval; the next one logged says how many were
 * suppressed in between. What a hostile client triggers at will must not be able to fill the disk.
 */
export function rateLimitedWarn(log: Logger, intervalMs = WARN_INTERVAL_MS, now: () => number = () => performance.now()) {
  const state = new Map<string, { last: number; suppressed: number }>();
  return (kind: string, obj: object, msg: string): void => {
    const t = now();
    const s = state.get(kind);
    if (s !== undefined && t - s.last < intervalMs) {
      s.suppressed++;
      return;
    }
    const suppressed = s?.suppressed ?? 0;
    state.set(kind, { last: t, suppressed: 0 });
    log.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  };
}

type Warn = ReturnType<typeof rateLimitedWarn>;

/** What the UDP path needs from around it; `send` is dgram's `Socket.send`, which can throw. */
export interface DatagramIo {
  answer(request: Buffer, remote: string, port: number): Buffer[];
  send(reply: Buffer, port: number, address: string, done: (err: Error | null) => void): void;
  warn: Warn;
}

/**
 * One datagram in, its replies out. Never throws: it runs as a socket event listener, where a throw
 * is an uncaught exception that ends the process. Exported for its tests, which hand it datagrams no
 * unprivileged socket can send.
 */
export function onDatagram(message: Buffer, from: { address: string; port: number }, io: DatagramIo): void {
  try {
    // RFC 768: source port 0 means no reply is wanted, and no socket can receive one there; such a
    // datagram is forged (and dgram's send throws for port 0).
    if (from.port === 0) {
      io.warn('udp-port-0', { proto: 'udp', remote: from.address }, 'dns: dropped a datagram from source port 0');
      return;
    }
    for (const reply of io.answer(message, from.address, from.port)) {
      io.send(reply, from.port, from.address, (err) => {
        if (err) io.warn('udp-send', { proto: 'udp', remote: from.address, err: err.message }, 'dns: UDP send failed');
      });
    }
  } catch (err) {
    try {
      io.warn('udp-handler', { proto: 'udp', remote: from.address, err: errorText(err) }, 'dns: UDP request handling failed');
    } catch {
      // Nothing is left to tell; the server keeps running.
    }
  }
}

export type Protocol = 'UDP' | 'TCP';

/** The error for a failed bind, saying what to do about it. Exported for its tests. */
export function bindError(err: unknown, at: HostPort, protocol: Protocol): PosternError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const where = `${formatHostPort(at)} (${protocol})`;
  const advice: Record<string, string> = {
    EACCES:
      at.port < 1024
        ? `port ${at.port} is below 1024: run as root, or give node CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep "$(command -v node)"), or use a port above 1024 such as 5353`
        : 'permission denied by the system',
    EADDRINUSE: 'another server is already listening there; stop it or choose another port in dns.listen',
    EADDRNOTAVAIL: `${at.host} is not an address of this machine; use one of its addresses (127.0.0.1, ::1, …) in dns.listen`,
    EAFNOSUPPORT: `this machine does not support ${isIP(at.host) === 6 ? 'IPv6' : 'this address family'}; remove ${at.host} from dns.listen`,
    EINVAL: 'the address cannot be bound (is it a local unicast address?)',
  };
  const reason = (code !== undefined ? advice[code] : undefined) ?? (err instanceof Error ? err.message : String(err));
  return new PosternError(ErrorCode.Config, `DNS server cannot listen on ${where}: ${code ?? 'error'}: ${reason}`, { cause: err });
}

function bindUdp(at: HostPort): Promise<UdpSocket> {
  const socket = createSocket({ type: isIP(at.host) === 6 ? 'udp6' : 'udp4', ipv6Only: isIP(at.host) === 6, reuseAddr: false });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: at.host, port: at.port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function listenTcp(server: TcpServer, at: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port, ipv6Only: isIP(at.host) === 6, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

function closeTcp(server: TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

interface Endpoint {
  address: HostPort;
  udp: UdpSocket;
  tcp: TcpServer;
}

/** "::ffff:127.0.0.1" and "127.0.0.1" are one client. */
function clientKey(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/**
 * One TCP client connection. `state` says what it is waiting for: `fresh`, its first message (it
 * has sent nothing yet); `reading`, the rest of a message whose first octet arrived at `since`;
 * `idle`, a next message after its last was answered at `since`.
 */
interface TcpClient {
  readonly socket: TcpSocket;
  readonly remote: string;
  readonly key: string;
  state: 'fresh' | 'reading' | 'idle';
  since: number;
  timer: NodeJS.Timeout | null;
  lifetime: NodeJS.Timeout | null;
  gone: boolean;
}

/**
 * The connection to close to make room (RFC 7766 §6.2.2 leaves the choice to the server): the one
 * idle the longest, since its client has its answers and can reconnect; otherwise the one that has
 * waited the longest for its message to complete, which is what a slow or stalled client looks like.
 * A fresh connection competes with the slow ones by its age, so a newcomer about to send its query
 * is the last to go.
 */
function leastUseful(clients: Iterable<TcpClient>): TcpClient | null {
  let best: TcpClient | null = null;
  for (const c of clients) {
    if (c.gone) continue;
    if (best === null) {
      best = c;
      continue;
    }
    const idle = c.state === 'idle';
    const bestIdle = best.state === 'idle';
    if (idle !== bestIdle ? idle : c.since < best.since) best = c;
  }
  return best;
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const log = options.logger;
  const warn = rateLimitedWarn(log);
  const idleMs = options.tcpIdleTimeoutMs ?? DEFAULT_IDLE_MS;
  const messageMs = options.tcpMessageTimeoutMs ?? DEFAULT_MESSAGE_MS;
  const lifetimeMs = options.tcpMaxLifetimeMs ?? DEFAULT_LIFETIME_MS;
  const maxConnections = Math.max(1, options.maxTcpConnections ?? DEFAULT_MAX_CONNECTIONS);
  const maxPerClient = Math.max(1, options.maxTcpConnectionsPerClient ?? DEFAULT_MAX_PER_CLIENT);
  const maxMessage = Math.min(options.maxTcpMessageBytes ?? DEFAULT_MAX_MESSAGE, 65535);
  const transferAllow = [...options.transferAllow];
  let zones = options.zones;
  const clients = new Set<TcpClient>();
  /** Every open TCP socket, tracked or on its way out after a gentle close: all go when the server closes. */
  const sockets = new Set<TcpSocket>();
  const byAddress = new Map<string, Set<TcpClient>>();
  const endpoints: Endpoint[] = [];
  let closed = false;

  const answers = new AnswerCache();
  const handle = (request: Buffer, transport: AnswerOptions['transport'], remote: string, port: number): Buffer[] => {
    const current = zones; // read once: a reload mid-request cannot mix two zone sets
    const started = process.hrtime.bigint();
    const hit = answers.get(current, transport, request);
    let replies: Buffer[];
    let summary: AnswerSummary;
    if (hit !== null) {
      replies = [hit.reply];
      summary = hit.summary;
    } else {
      ({ replies, summary } = respond(request, current, { transport, clientAddress: remote, transferAllow }));
      answers.put(current, transport, request, replies, summary);
    }
    log.debug(
      {
        proto: transport,
        remote,
        port,
        qname: summary.qname,
        qtype: summary.qtype,
        rcode: summary.rcode,
        tc: summary.truncated,
        problem: summary.problem ?? undefined,
        bytes: replies.reduce((n, r) => n + r.length, 0),
        us: Number((process.hrtime.bigint() - started) / 1000n),
      },
      'dns query',
    );
    return replies;
  };

  const onUdp = (socket: UdpSocket) => {
    const io: DatagramIo = {
      answer: (request, remote, port) => handle(request, 'udp', remote, port),
      send: (reply, port, address, done) => socket.send(reply, port, address, (err) => done(err ?? null)),
      warn,
    };
    return (message: Buffer, rinfo: { address: string; port: number }): void => onDatagram(message, rinfo, io);
  };

  /** Stops tracking a connection: its timers, and its place under the caps. */
  const forget = (client: TcpClient): void => {
    if (client.gone) return;
    client.gone = true;
    if (client.timer !== null) clearTimeout(client.timer);
    if (client.lifetime !== null) clearTimeout(client.lifetime);
    client.timer = null;
    client.lifetime = null;
    clients.delete(client);
    const mine = byAddress.get(client.key);
    mine?.delete(client);
    if (mine?.size === 0) byAddress.delete(client.key);
  };

  /** Cut off at once: for clients that misbehave, or whose place another client needs. */
  const drop = (client: TcpClient): void => {
    forget(client);
    client.socket.destroy();
  };

  /** FIN after the replies already written; cut off if the client does not let them drain. */
  const closeGently = (client: TcpClient): void => {
    forget(client);
    client.socket.end();
    setTimeout(() => client.socket.destroy(), CLOSE_GRACE_MS).unref();
  };

  const enter = (client: TcpClient, state: TcpClient['state']): void => {
    client.state = state;
    client.since = performance.now();
    if (client.timer !== null) clearTimeout(client.timer);
    if (state === 'reading') {
      // RFC 7766 §6.2.2: a message trickled an octet at a time would otherwise hold the connection
      // for ever; the deadline runs from its first octet and is not extended by later ones.
      client.timer = setTimeout(() => {
        warn('tcp-slow', { proto: 'tcp', remote: client.remote, ms: messageMs }, 'dns: TCP message not complete within the deadline; closing');
        drop(client);
      }, messageMs);
    } else {
      // RFC 7766 §6.2.3: a connection with no query in progress is closed after a few seconds.
      client.timer = setTimeout(() => {
        log.debug({ proto: 'tcp', remote: client.remote }, 'dns: TCP connection idle; closing');
        closeGently(client);
      }, idleMs);
    }
  };

  /** Room for one more connection from `key`, made by closing the least useful one where a cap is reached. */
  const makeRoom = (key: string, remote: string): void => {
    const mine = byAddress.get(key);
    if (mine !== undefined && mine.size >= maxPerClient) {
      const victim = leastUseful(mine);
      if (victim !== null) {
        warn('tcp-client-cap', { proto: 'tcp', remote, open: mine.size }, 'dns: too many TCP connections from one client; closing its least useful one');
        drop(victim);
      }
    }
    if (clients.size >= maxConnections) {
      const victim = leastUseful(clients);
      if (victim !== null) {
        warn('tcp-cap', { proto: 'tcp', remote: victim.remote, open: clients.size }, 'dns: TCP connection limit reached; closing the least useful connection');
        drop(victim);
      }
    }
  };

  /** The framed replies written to the client; false when the connection had to be closed. */
  const serveMessage = (client: TcpClient, request: Buffer, port: number): boolean => {
    const replies = handle(request, 'tcp', client.remote, port);
    if (replies.length === 0) {
      // Nothing to say to a message we drop (RFC 7766 §7 would allow closing; a client waiting
      // on an ID would otherwise hang until the idle timeout, so we close).
      drop(client);
      return false;
    }
    for (const reply of replies) {
      const framed = Buffer.alloc(2 + reply.length);
      framed.writeUInt16BE(reply.length, 0);
      reply.copy(framed, 2);
      client.socket.write(framed);
    }
    if (client.socket.writableLength > MAX_PENDING_WRITE) {
      warn('tcp-unread', { proto: 'tcp', remote: client.remote }, 'dns: TCP client does not read its replies; closing');
      drop(client);
      return false;
    }
    return true;
  };

  const onTcp = (socket: TcpSocket): void => {
    const remote = socket.remoteAddress ?? '';
    const port = socket.remotePort ?? 0;
    if (closed) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('error', (err) => {
      warn('tcp-error', { proto: 'tcp', remote, err: err.message }, 'dns: TCP connection error');
    });
    const key = clientKey(remote);
    makeRoom(key, remote);
    const client: TcpClient = { socket, remote, key, state: 'fresh', since: 0, timer: null, lifetime: null, gone: false };
    clients.add(client);
    let mine = byAddress.get(key);
    if (mine === undefined) {
      mine = new Set();
      byAddress.set(key, mine);
    }
    mine.add(client);
    socket.setNoDelay(true);
    enter(client, 'fresh');
    // Busy or not, a connection does not live for ever: its place comes back to the pool.
    client.lifetime = setTimeout(() => {
      log.debug({ proto: 'tcp', remote }, 'dns: TCP connection reached its maximum lifetime; closing');
      if (client.state === 'reading') drop(client);
      else closeGently(client);
    }, lifetimeMs);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (client.gone) return;
      try {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        if (client.state !== 'reading' && pending.length > 0) enter(client, 'reading');
        // RFC 1035 §4.2.2: each message is preceded by its length; several may arrive at once or in pieces.
        while (pending.length >= 2) {
          const length = pending.readUInt16BE(0);
          if (length > maxMessage) {
            warn('tcp-too-long', { proto: 'tcp', remote, length }, 'dns: TCP message longer than allowed; closing');
            drop(client);
            return;
          }
          if (pending.length < 2 + length) break;
          const request = Buffer.from(pending.subarray(2, 2 + length));
          pending = pending.subarray(2 + length);
          if (!serveMessage(client, request, port)) return;
          // The next message's deadline runs from now, when its first octets are already here.
          enter(client, pending.length > 0 ? 'reading' : 'idle');
        }
      } catch (err) {
        warn('tcp-handler', { proto: 'tcp', remote, err: errorText(err) }, 'dns: TCP request handling failed; closing');
        drop(client);
      }
    });
    socket.on('close', () => {
      sockets.delete(socket);
      forget(client);
    });
  };

  const openEndpoint = async (at: HostPort): Promise<Endpoint> => {
    const attempts = at.port === 0 ? PORT_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      let udp: UdpSocket;
      try {
        udp = await bindUdp(at);
      } catch (err) {
        throw bindError(err, at, 'UDP');
      }
      const port = udp.address().port;
      const tcp = createServer({ pauseOnConnect: false, allowHalfOpen: false }, (socket) => {
        // A listener that throws would end the process; a connection we fail to set up is closed.
        try {
          onTcp(socket);
        } catch (err) {
          warn('tcp-handler', { proto: 'tcp', remote: socket.remoteAddress, err: errorText(err) }, 'dns: TCP connection setup failed; closing');
          socket.destroy();
        }
      });
      try {
        await listenTcp(tcp, { host: at.host, port });
      } catch (err) {
        await closeUdp(udp);
        const inUse = (err as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE';
        if (inUse && attempt < attempts) continue; // the ephemeral UDP port is taken for TCP: another port
        throw bindError(err, { host: at.host, port }, 'TCP');
      }
      udp.on('message', onUdp(udp));
      udp.on('error', (err) => log.warn({ proto: 'udp', address: formatHostPort(at), err: err.message }, 'dns: UDP socket error'));
      tcp.on('error', (err) => log.warn({ proto: 'tcp', address: formatHostPort(at), err: err.message }, 'dns: TCP server error'));
      return { address: { host: at.host, port }, udp, tcp };
    }
  };

  const closeAll = async (): Promise<void> => {
    closed = true;
    for (const client of [...clients]) forget(client);
    for (const socket of sockets) socket.destroy();
    await Promise.all(endpoints.flatMap((e) => [closeUdp(e.udp), closeTcp(e.tcp)]));
    endpoints.length = 0;
  };

  try {
    for (const at of options.listen) endpoints.push(await openEndpoint(at));
  } catch (err) {
    await closeAll();
    throw err;
  }

  const addresses = endpoints.map((e) => e.address);
  log.debug({ listen: addresses.map(formatHostPort), zones: zones.zones.map((z) => z.origin) }, 'dns: listening');

  let closing: Promise<void> | null = null;
  return {
    addresses,
    setZones(next: ZoneSet): void {
      zones = next;
    },
    close(): Promise<void> {
      closing ??= closeAll();
      return closing;
    },
  };
}
