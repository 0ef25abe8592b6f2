/**
 * A scriptable DNS server for resolver tests: real UDP and TCP sockets on loopback (one port for
 * both, chosen by the kernel), and a handler that decides, query by query, what to send back: an
 * answer, an error code, nothing at all, a truncated reply, a late one, or deliberately wrong
 * packets (another ID, another question, another source port) to prove they are ignored. It
 * records every query it receives so tests can count what reached the wire.
 */
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { TRUNCATED_RESPONSE, decode, encode } from 'dns-packet';
import type { Answer, DecodedPacket, Packet, RecordType } from 'dns-packet';
import type { HostPort } from '../../src/core/host-port.ts';

export interface FakeQuery {
  transport: 'udp' | 'tcp';
  id: number;
  /** As asked, case preserved. */
  name: string;
  type: string;
  class: string;
  recursionDesired: boolean;
  /** The OPT record's payload size, or null when the query carried no OPT. */
  ednsPayload: number | null;
  from: HostPort;
}

export const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type RcodeName = keyof typeof RCODES;

export type FakeReply =
  /** Send nothing for this query. */
  | { kind: 'drop' }
  | {
      kind: 'reply';
      rcode?: RcodeName;
      answers?: Answer[];
      authorities?: Answer[];
      additionals?: Answer[];
      /** Set TC (the answers are sent as given; a real server would trim them). */
      truncated?: boolean;
      /** Wait this long before sending. */
      delayMs?: number;
      /** Send with this ID instead of the query's (a spoofer's guess). */
      id?: number;
      /** Echo this question instead of the one asked. */
      question?: { name: string; type: RecordType };
      /** UDP only: send from a second socket, so the reply comes from another port. */
      fromOtherPort?: boolean;
    }
  /** Send these bytes as the reply (UDP) or as one framed message (TCP). */
  | { kind: 'raw'; bytes: Buffer; delayMs?: number };

export type FakeHandler = (query: FakeQuery) => FakeReply | FakeReply[];

export interface FakeDnsServer {
  readonly address: HostPort;
  /** Every query received, in order. */
  readonly queries: FakeQuery[];
  /** TCP connections accepted. */
  readonly tcpConnections: () => number;
  /** Queries received for `name` (case-insensitive) and, when given, `type`. */
  count(name: string, type?: string): number;
  setHandler(handler: FakeHandler): void;
  close(): Promise<void>;
}

export async function startFakeDnsServer(options: { host?: string; handler: FakeHandler }): Promise<FakeDnsServer> {
  const host = options.host ?? '127.0.0.1';
  let handler = options.handler;
  const queries: FakeQuery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const connections = new Set<Socket>();
  let tcpAccepted = 0;
  let closed = false;

  const later = (delayMs: number | undefined, send: () => void): void => {
    if (delayMs === undefined || delayMs <= 0) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) send();
    }, delayMs);
    timers.add(timer);
  };

  const { udp, tcp } = await bindBoth(host);
  const other = createSocket(udp.address().family === 'IPv6' ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => other.bind({ port: 0, address: host }, resolve));

  udp.on('message', (message, rinfo) => {
    const packet = tryDecode(message);
    if (packet === null) return;
    const query = describe(packet, 'udp', { host: rinfo.address, port: rinfo.port });
    queries.push(query);
    for (const reply of replies(handler(query))) {
      if (reply.kind === 'drop') continue;
      const bytes = reply.kind === 'raw' ? reply.bytes : build(packet, reply);
      const via = reply.kind === 'reply' && reply.fromOtherPort === true ? other : udp;
      later(reply.delayMs, () => via.send(bytes, rinfo.port, rinfo.address));
    }
  });

  tcp.on('connection', (socket) => {
    tcpAccepted++;
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) return;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        const packet = tryDecode(message);
        if (packet === null) continue;
        const query = describe(packet, 'tcp', { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
        queries.push(query);
        for (const reply of replies(handler(query))) {
          if (reply.kind === 'drop') continue;
          const bytes = reply.kind === 'raw' ? reply.bytes : build(packet, { ...reply, truncated: false });
          const frame = Buffer.alloc(2 + bytes.length);
          frame.writeUInt16BE(bytes.length, 0);
          bytes.copy(frame, 2);
          later(reply.delayMs, () => {
            if (!socket.destroyed) socket.write(frame);
          });
        }
      }
    });
  });

  const address: HostPort = { host, port: udp.address().port };
  return {
    address,
    queries,
    tcpConnections: () => tcpAccepted,
    count(name, type) {
      const n = name.toLowerCase().replace(/\.$/, '');
      return queries.filter((q) => q.name.toLowerCase().replace(/\.$/, '') === n && (type === undefined || q.type === type)).length;
    },
    setHandler(next) {
      handler = next;
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of connections) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => other.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

/** UDP on a kernel-chosen port, then TCP on the same number; another try when TCP finds it taken. */
async function bindBoth(host: string): Promise<{ udp: UdpSocket; tcp: Server }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ port: 0, address: host }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const port = udp.address().port;
    const tcp = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ port, host }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp };
    } catch (err) {
      lastError = err;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
  }
  throw new Error(`could not bind UDP and TCP on one port of ${host}: ${String(lastError)}`);
}

function replies(r: FakeReply | FakeReply[]): FakeReply[] {
  return Array.isArray(r) ? r : [r];
}

function tryDecode(message: Buffer): DecodedPacket | null {
  try {
    return decode(message);
  } catch {
    return null;
  }
}

function describe(packet: DecodedPacket, transport: 'udp' | 'tcp', from: HostPort): FakeQuery {
  const q = packet.questions?.[0];
  const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT');
  return {
    transport,
    id: packet.id ?? 0,
    name: q?.name ?? '',
    type: q?.type ?? '',
    class: q?.class ?? '',
    recursionDesired: packet.flag_rd,
    ednsPayload: opt !== undefined && opt.type === 'OPT' ? opt.udpPayloadSize : null,
    from,
  };
}

function build(query: DecodedPacket, reply: Extract<FakeReply, { kind: 'reply' }>): Buffer {
  const rcode = RCODES[reply.rcode ?? 'NOERROR'];
  // dns-packet puts the response code in the low four bits of `flags`.
  let flags = rcode | (query.flag_rd ? 0x100 : 0) | 0x80;
  if (reply.truncated === true) flags |= TRUNCATED_RESPONSE;
  const packet: Packet = {
    type: 'response',
    id: reply.id ?? query.id ?? 0,
    flags,
    questions: reply.question !== undefined ? [{ ...reply.question, class: 'IN' }] : (query.questions ?? []),
    answers: reply.answers ?? [],
    authorities: reply.authorities ?? [],
    additionals: reply.additionals ?? [],
  };
  return encode(packet);
}

/** Answer records in dns-packet's shape, for handlers. */
export const rr = {
  a: (name: string, address: string, ttl = 300): Answer => ({ type: 'A', name, ttl, class: 'IN', data: address }),
  aaaa: (name: string, address: string, ttl = 300): Answer => ({ type: 'AAAA', name, ttl, class: 'IN', data: address }),
  cname: (name: string, target: string, ttl = 300): Answer => ({ type: 'CNAME', name, ttl, class: 'IN', data: target }),
  mx: (name: string, preference: number, exchange: string, ttl = 300): Answer => ({ type: 'MX', name, ttl, class: 'IN', data: { preference, exchange } }),
  ns: (name: string, host: string, ttl = 300): Answer => ({ type: 'NS', name, ttl, class: 'IN', data: host }),
  soa: (zone: string, minimum: number, ttl = 3600): Answer => ({
    type: 'SOA',
    name: zone,
    ttl,
    class: 'IN',
    data: { mname: `ns1.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 7200, retry: 3600, expire: 1209600, minimum },
  }),
};
