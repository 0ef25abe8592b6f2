/**
 * The authoritative DNS server's sockets: UDP and TCP on every listen address, each request handed
 * to `answer` (authority.ts) and its replies sent back. Anything a client sends is survivable: a
 * broken datagram gets FORMERR or nothing, a TCP client that stalls, floods or sends nonsense is
 * cut off, and no socket error takes the server down. Zones are swapped whole by `setZones` (SIGHUP
 * reload): each request reads the zone set once, so it sees either the old zones or the new ones.
 */
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server as TcpServer, Socket as TcpSocket } from 'node:net';
import { isIP } from 'node:net';
import { ErrorCode, PosternError } from '../core/errors.ts';
import { formatHostPort } from '../core/host-port.ts';
import type { HostPort } from '../core/host-port.ts';
import type { Logger } from '../core/logger.ts';
import { respond } from './authority.ts';
import type { AnswerOptions, ZoneSet } from './authority.ts';

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
  /** A TCP connection with nothing to say for this long is closed (RFC 7766 §6.2.3). Default 5 s. */
  tcpIdleTimeoutMs?: number;
  /** Open TCP connections across all addresses; more are closed at once. Default 200. */
  maxTcpConnections?: number;
  /** The largest query accepted over TCP; a longer one closes the connection. Default 16 KiB. */
  maxTcpMessageBytes?: number;
}

const DEFAULT_IDLE_MS = 5000;
const DEFAULT_MAX_CONNECTIONS = 200;
/** Queries are small (a question and an OPT); nothing legitimate comes near this. */
const DEFAULT_MAX_MESSAGE = 16 * 1024;
/** A client that does not read its replies stops being served past this much unsent data. */
const MAX_PENDING_WRITE = 1024 * 1024;
/** Port 0: the port UDP got may be taken for TCP; try this many fresh ports. */
const PORT_ATTEMPTS = 8;

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

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const log = options.logger;
  const idleMs = options.tcpIdleTimeoutMs ?? DEFAULT_IDLE_MS;
  const maxConnections = options.maxTcpConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxMessage = Math.min(options.maxTcpMessageBytes ?? DEFAULT_MAX_MESSAGE, 65535);
  const transferAllow = [...options.transferAllow];
  let zones = options.zones;
  const connections = new Set<TcpSocket>();
  const endpoints: Endpoint[] = [];
  let closed = false;

  const handle = (request: Buffer, transport: AnswerOptions['transport'], remote: string, port: number): Buffer[] => {
    const current = zones; // read once: a reload mid-request cannot mix two zone sets
    const started = process.hrtime.bigint();
    const { replies, summary } = respond(request, current, { transport, clientAddress: remote, transferAllow });
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

  const onUdp = (socket: UdpSocket) => (message: Buffer, rinfo: { address: string; port: number }) => {
    let replies: Buffer[];
    try {
      replies = handle(message, 'udp', rinfo.address, rinfo.port);
    } catch (err) {
      // respond() does not throw; this guards the socket against a bug in logging or elsewhere.
      log.warn({ proto: 'udp', remote: rinfo.address, err }, 'dns: request handling failed');
      return;
    }
    for (const reply of replies) {
      socket.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) log.warn({ proto: 'udp', remote: rinfo.address, err: err.message }, 'dns: UDP send failed');
      });
    }
  };

  const onTcp = (socket: TcpSocket): void => {
    const remote = socket.remoteAddress ?? '';
    const port = socket.remotePort ?? 0;
    if (closed || connections.size >= maxConnections) {
      log.warn({ proto: 'tcp', remote, open: connections.size }, 'dns: too many TCP connections; closing a new one');
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.setNoDelay(true);
    // RFC 7766 §6.2.3: idle connections are closed by the server, after a few seconds.
    socket.setTimeout(idleMs, () => {
      log.debug({ proto: 'tcp', remote }, 'dns: TCP connection idle; closing');
      socket.destroy();
    });
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // RFC 1035 §4.2.2: each message is preceded by its length; several may arrive at once or in pieces.
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (length > maxMessage) {
          log.warn({ proto: 'tcp', remote, length }, 'dns: TCP message longer than allowed; closing');
          socket.destroy();
          return;
        }
        if (pending.length < 2 + length) break;
        const request = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        let replies: Buffer[];
        try {
          replies = handle(Buffer.from(request), 'tcp', remote, port);
        } catch (err) {
          log.warn({ proto: 'tcp', remote, err }, 'dns: request handling failed');
          socket.destroy();
          return;
        }
        if (replies.length === 0) {
          // Nothing to say to a message we drop (RFC 7766 §7 would allow closing; a client waiting
          // on an ID would otherwise hang until the idle timeout, so we close).
          socket.destroy();
          return;
        }
        for (const reply of replies) {
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          socket.write(framed);
        }
        if (socket.writableLength > MAX_PENDING_WRITE) {
          log.warn({ proto: 'tcp', remote }, 'dns: TCP client does not read its replies; closing');
          socket.destroy();
          return;
        }
      }
    });
    socket.on('error', (err) => {
      log.warn({ proto: 'tcp', remote, err: err.message }, 'dns: TCP connection error');
    });
    socket.on('close', () => connections.delete(socket));
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
      const tcp = createServer({ pauseOnConnect: false, allowHalfOpen: false }, onTcp);
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
    for (const socket of connections) socket.destroy();
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
