/**
 * Zones and DNS packets for the DNS server's tests: zones written as short record lists (names
 * relative to the origin, "@" for the apex, a trailing "." for absolute), queries built with
 * dns-packet the way a client would, and replies decoded back.
 */
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, RecordType } from 'dns-packet';
import type { RData, Zone, ZoneRecord } from '../../src/dns/zone/types.ts';

export type RecordSpec = readonly [name: string, data: RData, ttl?: number];

function absolute(name: string, origin: string): string {
  if (name === '@') return origin;
  if (name.endsWith('.')) return name.slice(0, -1).toLowerCase();
  return `${name}.${origin}`.toLowerCase();
}

export function makeZone(origin: string, specs: readonly RecordSpec[], file = `${origin}.zone`): Zone {
  const records: ZoneRecord[] = specs.map(([name, data, ttl], i) => ({
    name: absolute(name, origin),
    ttl: ttl ?? 300,
    class: 'IN',
    data: withAbsoluteTargets(data, origin),
    source: { file, line: i + 1 },
  }));
  return { origin, file, records };
}

function withAbsoluteTargets(data: RData, origin: string): RData {
  const abs = (n: string): string => (n === '.' ? '.' : absolute(n, origin));
  switch (data.type) {
    case 'MX':
      return { ...data, exchange: abs(data.exchange) };
    case 'CNAME':
      return { ...data, target: abs(data.target) };
    case 'NS':
    case 'PTR':
      return { ...data, host: abs(data.host) };
    case 'SRV':
      return { ...data, target: abs(data.target) };
    case 'SOA':
      return { ...data, mname: abs(data.mname), rname: abs(data.rname) };
    default:
      return data;
  }
}

export const A = (address: string): RData => ({ type: 'A', address });
export const AAAA = (address: string): RData => ({ type: 'AAAA', address });
export const MX = (preference: number, exchange: string): RData => ({ type: 'MX', preference, exchange });
export const CNAME = (target: string): RData => ({ type: 'CNAME', target });
export const NS = (host: string): RData => ({ type: 'NS', host });
export const PTR = (host: string): RData => ({ type: 'PTR', host });
export const TXT = (...strings: string[]): RData => ({ type: 'TXT', strings: strings.map((s) => new TextEncoder().encode(s)) });
export const SRV = (priority: number, weight: number, port: number, target: string): RData => ({ type: 'SRV', priority, weight, port, target });
export const CAA = (flags: number, tag: string, value: string): RData => ({ type: 'CAA', flags, tag, value });
export const SOA = (serial = 2026112901, minimum = 300): RData => ({
  type: 'SOA',
  mname: 'ns1',
  rname: 'hostmaster',
  serial,
  refresh: 7200,
  retry: 3600,
  expire: 1209600,
  minimum,
});

/** The apex records every test zone starts with. */
export function apex(serial?: number, minimum?: number, soaTtl = 3600): RecordSpec[] {
  return [
    ['@', SOA(serial, minimum), soaTtl],
    ['@', NS('ns1')],
    ['ns1', A('127.0.0.53')],
  ];
}

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  cd?: boolean;
  /** EDNS0 OPT: absent means no OPT record. */
  edns?: { payload?: number; version?: number; dnssecOk?: boolean };
  class?: 'IN' | 'CH' | 'ANY';
  /** For IXFR: the client's serial, sent as an SOA in the authority section. */
  ixfrSerial?: number;
  type?: 'query' | 'response';
}

/** dns-packet's types leave out ANY, which its encoder knows (255). */
export type QueryType = RecordType | 'ANY';

export function query(name: string, qtype: QueryType, options: QueryOptions = {}): Buffer {
  const type = qtype as RecordType;
  const flags = (options.rd ? dnsPacket.RECURSION_DESIRED : 0) | (options.cd ? dnsPacket.CHECKING_DISABLED : 0);
  return dnsPacket.encode({
    type: options.type ?? 'query',
    id: options.id ?? 4242,
    flags,
    questions: [{ name, type, class: options.class ?? 'IN' }],
    authorities:
      options.ixfrSerial === undefined
        ? []
        : [{ name, type: 'SOA', ttl: 0, data: { mname: 'x', rname: 'y', serial: options.ixfrSerial, refresh: 0, retry: 0, expire: 0, minimum: 0 } }],
    additionals:
      options.edns === undefined
        ? []
        : [
            {
              name: '.',
              type: 'OPT',
              udpPayloadSize: options.edns.payload ?? 1232,
              extendedRcode: 0,
              ednsVersion: options.edns.version ?? 0,
              flags: options.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
              flag_do: options.edns.dnssecOk ?? false,
              options: [],
            },
          ],
  });
}

export interface Reply {
  packet: DecodedPacket;
  rcode: string;
  /** The full RCODE, with the upper bits from the OPT record (RFC 6891 §6.1.3). */
  fullRcode: number;
  aa: boolean;
  tc: boolean;
  /** Answer section as "name TYPE data" lines, for readable assertions. */
  answer: string[];
  authority: string[];
  additional: string[];
  opt: { udpPayloadSize: number; ednsVersion: number; flag_do: boolean } | null;
}

function dataText(a: dnsPacket.Answer): string {
  switch (a.type) {
    case 'MX':
      return `${a.data.preference ?? 0} ${a.data.exchange}`;
    case 'SOA':
      return `${a.data.mname} ${a.data.rname} ${a.data.serial ?? 0}`;
    case 'TXT':
      return (Array.isArray(a.data) ? a.data : [a.data]).map((d) => JSON.stringify(d.toString())).join(' ');
    case 'SRV':
      return `${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${a.data.target}`;
    case 'CAA':
      return `${a.data.flags ?? 0} ${a.data.tag} ${JSON.stringify(a.data.value)}`;
    case 'OPT':
      return `payload=${a.udpPayloadSize}`;
    default:
      return typeof a.data === 'string' ? a.data : JSON.stringify(a.data);
  }
}

export function rrText(a: dnsPacket.Answer): string {
  return a.type === 'OPT' ? `OPT ${dataText(a)}` : `${a.name} ${a.ttl ?? 0} ${a.type} ${dataText(a)}`;
}

export function decodeReply(message: Uint8Array): Reply {
  const packet = dnsPacket.decode(Buffer.from(message));
  const optAnswer = (packet.additionals ?? []).find((a) => a.type === 'OPT');
  const opt = optAnswer !== undefined && optAnswer.type === 'OPT' ? optAnswer : null;
  const low = Buffer.from(message).readUInt16BE(2) & 0xf;
  return {
    packet,
    rcode: (packet as unknown as { rcode: string }).rcode,
    fullRcode: ((opt?.extendedRcode ?? 0) << 4) | low,
    aa: packet.flag_aa,
    tc: packet.flag_tc,
    answer: (packet.answers ?? []).map(rrText),
    authority: (packet.authorities ?? []).map(rrText),
    additional: (packet.additionals ?? []).filter((a) => a.type !== 'OPT').map(rrText),
    opt: opt === null ? null : { udpPayloadSize: opt.udpPayloadSize, ednsVersion: opt.ednsVersion, flag_do: opt.flag_do },
  };
}

/** Prefixes each message with its 2-byte length (RFC 1035 §4.2.2). */
export function frame(...messages: Uint8Array[]): Buffer {
  return Buffer.concat(
    messages.flatMap((m) => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(m.length);
      return [length, Buffer.from(m)];
    }),
  );
}

/** A deterministic byte source, so a "random bytes" case fails the same way every time. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The fixed 12-byte header of a query with the given counts. */
export function header(id: number, counts: { qd?: number; an?: number; ns?: number; ar?: number }, flags = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(counts.qd ?? 0, 4);
  h.writeUInt16BE(counts.an ?? 0, 6);
  h.writeUInt16BE(counts.ns ?? 0, 8);
  h.writeUInt16BE(counts.ar ?? 0, 10);
  return h;
}

const QUESTION_WWW = Buffer.from([3, 0x77, 0x77, 0x77, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1]); // www.test A IN

/**
 * Broken requests and what the server must do with each: FORMERR when the header (and so the ID) is
 * readable, silence when it is not (or when it is a response, which must never be answered).
 */
export function malformedPackets(): Array<readonly [what: string, bytes: Buffer, want: 'FORMERR' | 'drop']> {
  const good = query('www.test', 'A');
  const withCounts = (counts: { qd?: number; an?: number; ns?: number; ar?: number }): Buffer => {
    const b = Buffer.from(good);
    b.writeUInt16BE(counts.qd ?? 1, 4);
    b.writeUInt16BE(counts.an ?? 0, 6);
    b.writeUInt16BE(counts.ns ?? 0, 8);
    b.writeUInt16BE(counts.ar ?? 0, 10);
    return b;
  };
  // An additional record whose owner name is a pointer to itself.
  const selfPointer = Buffer.concat([header(7, { qd: 1, ar: 1 }), QUESTION_WWW, Buffer.from([0xc0, 26, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
  // Two pointers that point at each other: 26 → 28 is forward, 28 → 26 backward but into a loop.
  const pointerPair = Buffer.concat([
    header(8, { qd: 1, ar: 1 }),
    QUESTION_WWW,
    Buffer.from([1, 0x61, 0xc0, 26, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]),
  ]);
  const opt = Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
  return [
    ['an empty datagram', Buffer.alloc(0), 'drop'],
    ['a truncated header (5 bytes)', good.subarray(0, 5), 'drop'],
    ['a header of 11 bytes', good.subarray(0, 11), 'drop'],
    ['a header alone that promises a question', header(1, { qd: 1 }), 'FORMERR'],
    ['a label that runs past the end', Buffer.concat([header(2, { qd: 1 }), Buffer.from([5, 0x61, 0x62])]), 'FORMERR'],
    ['a question without type and class', Buffer.concat([header(3, { qd: 1 }), QUESTION_WWW.subarray(0, 11)]), 'FORMERR'],
    ['a compression pointer in the question', Buffer.concat([header(4, { qd: 1 }), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), 'FORMERR'],
    ['a compression pointer to itself', selfPointer, 'FORMERR'],
    ['a compression pointer loop through a label', pointerPair, 'FORMERR'],
    ['an unknown label type (0x40)', Buffer.concat([header(5, { qd: 1 }), Buffer.from([0x41, 0x61, 0, 0, 1, 0, 1])]), 'FORMERR'],
    ['a name longer than 255 octets', Buffer.concat([header(6, { qd: 1 }), ...Array.from({ length: 5 }, () => Buffer.from([63, ...Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]), 'FORMERR'],
    ['an answer count larger than the data', withCounts({ an: 5 }), 'FORMERR'],
    ['an additional count larger than the data', withCounts({ ar: 1 }), 'FORMERR'],
    ['no question (QDCOUNT 0)', withCounts({ qd: 0 }), 'FORMERR'],
    ['two questions counted (QDCOUNT 2)', withCounts({ qd: 2 }), 'FORMERR'],
    ['garbage after the question', Buffer.concat([good, Buffer.from([1, 2, 3])]), 'FORMERR'],
    ['an OPT record in the answer section', Buffer.concat([header(9, { qd: 1, an: 1 }), QUESTION_WWW, opt]), 'FORMERR'],
    ['two OPT records', Buffer.concat([header(10, { qd: 1, ar: 2 }), QUESTION_WWW, opt, opt]), 'FORMERR'],
    ['record data longer than the message', Buffer.concat([header(11, { qd: 1, ar: 1 }), QUESTION_WWW, Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1])]), 'FORMERR'],
    ['a response (QR set) sent to us', Buffer.from(query('www.test', 'A', { type: 'response' })), 'drop'],
    ['random bytes with a header-sized prefix', Buffer.concat([header(12, { qd: 3, an: 200, ns: 9, ar: 77 }), seededBytes(42, 60)]), 'FORMERR'],
  ];
}
