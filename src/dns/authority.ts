/**
 * The authoritative name server's brain: one DNS request in, the reply messages out, from the zones
 * we publish and nothing else. We are the source of truth for our zones and a stranger to every
 * other name: a question about a name outside our zones is REFUSED, never forwarded or recursed, so
 * the server cannot be used as an open resolver or a traffic amplifier. Answers follow RFC 1034 §4.3.2
 * (exact match, CNAME chains within our zones, delegations, wildcards), negative answers carry the
 * zone's SOA (RFC 2308), EDNS0 (RFC 6891) sets how much fits in a UDP reply, and zone transfers go
 * only to the addresses the operator allowed, over TCP.
 *
 * Pure: bytes in, bytes out; no sockets, no clock, no logging. `server.ts` owns the sockets.
 *
 * The request is read by a small strict reader of our own rather than dns-packet's `decode`: that
 * one decodes labels as UTF-8 (so the question could not be echoed byte for byte), accepts trailing
 * garbage and counts larger than the data in places, and throws plain errors we would have to sort
 * into FORMERR and drop. Replies are written by dns-packet (`toAnswer` in wire.ts), which does not
 * compress names. The names that must come out octet for octet we write ourselves: the question is
 * spliced in exactly as asked, and every owner name is spliced in from its labels (dns-packet takes
 * names as dotted text, so a label holding a ".", a "\" or octets that are not UTF-8 would not
 * survive it).
 */
import * as dnsPacket from 'dns-packet';
import type { Answer, OptAnswer } from 'dns-packet';
import { ErrorCode, PosternError } from '../core/errors.ts';
import { toAnswer } from './wire.ts';
import type { RData, Zone, ZoneRecord, ZoneRecordType } from './zone/types.ts';

// ---------------------------------------------------------------------------------------------
// Names: wire labels and zone-file names meet in one canonical key.

/**
 * Canonical key of a name: labels lower-cased (ASCII only, RFC 4343), joined by ".", with every byte
 * that is not a printable ASCII character, and "." and "\" themselves, written as `\DDD`. A "." in a
 * key is therefore always a label separator. The root is "".
 */
function labelKey(label: Uint8Array): string {
  let s = '';
  for (const byte of label) {
    const c = byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
    s += c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? String.fromCharCode(c) : '\\' + String(c).padStart(3, '0');
  }
  return s;
}

function keyOfLabels(labels: readonly Uint8Array[]): string {
  return labels.map(labelKey).join('.');
}

/** Labels of a name in presentation form ("a\.b.test", "\065.test", "." for the root). */
function presentationLabels(name: string): Uint8Array[] {
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  const text = name === '.' ? '' : name;
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '\\') {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits !== null) {
        current.push(Number(digits[0]) & 0xff);
        i += 3;
      } else if (i + 1 < text.length) {
        const cp = text.codePointAt(i + 1) ?? 0;
        const escaped = String.fromCodePoint(cp);
        current.push(...encoder.encode(escaped));
        i += escaped.length;
      }
    } else if (ch === '.') {
      // A trailing "." (absolute name) ends the name; an empty label elsewhere is kept as written.
      if (i === text.length - 1 && current.length > 0) break;
      labels.push(Uint8Array.from(current));
      current = [];
    } else {
      const cp = text.codePointAt(i) ?? 0;
      const s = String.fromCodePoint(cp);
      current.push(...encoder.encode(s));
      i += s.length - 1;
    }
  }
  if (text !== '') labels.push(Uint8Array.from(current));
  return labels;
}

function keyOfName(name: string): string {
  return keyOfLabels(presentationLabels(name));
}

/** A name in wire format (RFC 1035 §3.1), uncompressed; throws for labels or names over the limits. */
function wireName(labels: readonly Uint8Array[]): Buffer {
  let length = 1;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) throw new PosternError(ErrorCode.Zone, `a label of ${label.length} octets cannot be written`);
    length += 1 + label.length;
  }
  if (length > 255) throw new PosternError(ErrorCode.Zone, `a name of ${length} octets cannot be written`);
  const out = Buffer.alloc(length);
  let at = 0;
  for (const label of labels) {
    out[at] = label.length;
    out.set(label, at + 1);
    at += 1 + label.length;
  }
  return out;
}

function parentKey(key: string): string | null {
  if (key === '') return null;
  const dot = key.indexOf('.');
  return dot < 0 ? '' : key.slice(dot + 1);
}

function isAtOrBelowKey(key: string, origin: string): boolean {
  return origin === '' || key === origin || key.endsWith('.' + origin);
}

// ---------------------------------------------------------------------------------------------
// The zone set: zones indexed for lookups.

type RRsets = ReadonlyMap<ZoneRecordType, readonly ZoneRecord[]>;
type SoaData = Extract<RData, { type: 'SOA' }>;

/** One zone, indexed. */
export interface IndexedZone {
  readonly zone: Zone;
  /** Canonical key of the origin. */
  readonly originKey: string;
  readonly soa: ZoneRecord & { data: SoaData };
  /** Owner key → its RRsets. */
  readonly nodes: ReadonlyMap<string, RRsets>;
  /** Every name that exists: owners, and the names between them and the apex (empty non-terminals). */
  readonly names: ReadonlySet<string>;
  /** Names below the apex that hold NS records: delegations to other servers (RFC 1034 §4.2.1). */
  readonly cuts: ReadonlySet<string>;
  /** The zone's records in file order, each once, apex SOA excluded: the body of a zone transfer. */
  readonly transferBody: readonly ZoneRecord[];
}

export interface ZoneSet {
  readonly zones: readonly Zone[];
  /** Canonical origin key → indexed zone. */
  readonly byOrigin: ReadonlyMap<string, IndexedZone>;
}

function rdataKey(data: RData): string {
  return JSON.stringify(data, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

function indexZone(zone: Zone): IndexedZone {
  const originKey = keyOfName(zone.origin);
  const nodes = new Map<string, Map<ZoneRecordType, ZoneRecord[]>>();
  const names = new Set<string>([originKey]);
  const seen = new Set<string>();
  const transferBody: ZoneRecord[] = [];
  let soa: (ZoneRecord & { data: SoaData }) | null = null;
  for (const record of zone.records) {
    const key = keyOfName(record.name);
    // The zone checks report records outside the origin; here they are simply not served.
    if (!isAtOrBelowKey(key, originKey)) continue;
    // RFC 2181 §5: an RRset holds each record once.
    const dedupe = `${key} ${rdataKey(record.data)}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    const apexSoa = record.data.type === 'SOA' && key === originKey;
    // One SOA per zone: a second one at the apex (which the zone checks report) is not served.
    if (apexSoa && soa !== null) continue;
    let node = nodes.get(key);
    if (node === undefined) {
      node = new Map();
      nodes.set(key, node);
    }
    const rrset = node.get(record.data.type);
    if (rrset === undefined) node.set(record.data.type, [record]);
    else rrset.push(record);
    for (let k: string | null = key; k !== null && !names.has(k); k = parentKey(k)) names.add(k);
    if (apexSoa && record.data.type === 'SOA') {
      soa = { ...record, data: record.data };
      continue;
    }
    transferBody.push(record);
  }
  if (soa === null) {
    throw new PosternError(
      ErrorCode.Zone,
      `${zone.file}: zone ${zone.origin} has no SOA record at its apex; it cannot be served (add "@ IN SOA ...")`,
    );
  }
  const cuts = new Set<string>();
  for (const [key, node] of nodes) {
    if (key !== originKey && node.has('NS')) cuts.add(key);
  }
  return { zone, originKey, soa, nodes, names, cuts, transferBody };
}

/** Indexes zones for `answer`. A second zone with the same origin throws PosternError(Zone). */
export function buildZoneSet(zones: readonly Zone[]): ZoneSet {
  const byOrigin = new Map<string, IndexedZone>();
  for (const zone of zones) {
    const indexed = indexZone(zone);
    const earlier = byOrigin.get(indexed.originKey);
    if (earlier !== undefined) {
      throw new PosternError(
        ErrorCode.Zone,
        `${zone.file}: zone ${zone.origin} is already loaded from ${earlier.zone.file}; each origin may be served from one file only`,
      );
    }
    byOrigin.set(indexed.originKey, indexed);
  }
  return { zones: [...zones], byOrigin };
}

/** The zone with the longest origin at or above `key`, if we serve one. */
function findZone(zones: ZoneSet, key: string): IndexedZone | null {
  for (let k: string | null = key; k !== null; k = parentKey(k)) {
    const zone = zones.byOrigin.get(k);
    if (zone !== undefined) return zone;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Reading the request.

const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
  BADVERS: 16,
} as const;
type RcodeName = keyof typeof Rcode;

const TypeNumber = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;

const TYPE_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(TypeNumber).map(([name, n]) => [n, name]));
const CLASS_IN = 1;
const CLASS_ANY = 255;

/** Types we hold records of, by number. */
const ZONE_TYPES: ReadonlyMap<number, ZoneRecordType> = new Map([
  [TypeNumber.A, 'A'],
  [TypeNumber.NS, 'NS'],
  [TypeNumber.CNAME, 'CNAME'],
  [TypeNumber.SOA, 'SOA'],
  [TypeNumber.PTR, 'PTR'],
  [TypeNumber.MX, 'MX'],
  [TypeNumber.TXT, 'TXT'],
  [TypeNumber.AAAA, 'AAAA'],
  [TypeNumber.SRV, 'SRV'],
  [TypeNumber.CAA, 'CAA'],
]);

interface Header {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  qr: boolean;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

interface Question {
  /** The question section's bytes, echoed as they came. */
  raw: Uint8Array;
  labels: Uint8Array[];
  qtype: number;
  qclass: number;
}

interface Edns {
  payload: number;
  version: number;
  dnssecOk: boolean;
}

interface ParsedRequest {
  header: Header;
  question: Question | null;
  /** Why the message is malformed; null when it is well formed. */
  problem: string | null;
  edns: Edns | null;
  /** The serial in an IXFR request's authority SOA (RFC 1995 §3). */
  ixfrSerial: number | null;
}

const u16 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
const u32 = (b: Uint8Array, at: number): number => ((u16(b, at) << 16) | u16(b, at + 2)) >>> 0;

type NameRead = { ok: true; labels: Uint8Array[]; end: number } | { ok: false; problem: string };

/**
 * A name at `start`. RFC 1035 §4.1.4: a pointer refers to a prior occurrence; each pointer must
 * point before the segment it was reached from, so positions strictly decrease and a loop cannot
 * form. Names are at most 255 octets (RFC 1035 §3.1).
 */
function readName(buf: Uint8Array, start: number, allowPointers: boolean): NameRead {
  const labels: Uint8Array[] = [];
  let pos = start;
  let segmentStart = start;
  let end = -1;
  let length = 1;
  let jumps = 0;
  for (;;) {
    if (pos >= buf.length) return { ok: false, problem: 'name runs past the end of the message' };
    const len = buf[pos] ?? 0;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { ok: true, labels, end };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (!allowPointers) return { ok: false, problem: 'compression pointer in the question name' };
      if (pos + 1 >= buf.length) return { ok: false, problem: 'compression pointer runs past the end of the message' };
      const target = u16(buf, pos) & 0x3fff;
      if (target >= segmentStart) return { ok: false, problem: 'compression pointer loops or points forward' };
      // Cannot happen with the rule above (every jump goes further back); a second guard costs nothing.
      if (++jumps > 127) return { ok: false, problem: 'too many compression pointers' };
      if (end < 0) end = pos + 2;
      pos = target;
      segmentStart = target;
      continue;
    }
    if (kind !== 0) return { ok: false, problem: `unknown label type 0x${kind.toString(16)}` };
    if (pos + 1 + len > buf.length) return { ok: false, problem: 'label runs past the end of the message' };
    length += len + 1;
    if (length > 255) return { ok: false, problem: 'name longer than 255 octets' };
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

function readHeader(buf: Uint8Array): Header {
  const flags = u16(buf, 2);
  return {
    id: u16(buf, 0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
    qdcount: u16(buf, 4),
    ancount: u16(buf, 6),
    nscount: u16(buf, 8),
    arcount: u16(buf, 10),
  };
}

/** null when not even the header is there. */
function parseRequest(buf: Uint8Array): ParsedRequest | null {
  if (buf.length < 12) return null;
  const header = readHeader(buf);
  const result: ParsedRequest = { header, question: null, problem: null, edns: null, ixfrSerial: null };
  if (header.qdcount !== 1) {
    result.problem = `QDCOUNT is ${header.qdcount}, expected 1`;
    return result;
  }
  const name = readName(buf, 12, false);
  if (!name.ok) {
    result.problem = `question: ${name.problem}`;
    return result;
  }
  if (name.end + 4 > buf.length) {
    result.problem = 'question: type and class run past the end of the message';
    return result;
  }
  result.question = {
    raw: buf.subarray(12, name.end + 4),
    labels: name.labels,
    qtype: u16(buf, name.end),
    qclass: u16(buf, name.end + 2),
  };
  let pos = name.end + 4;
  const sections = [
    ['answer', header.ancount],
    ['authority', header.nscount],
    ['additional', header.arcount],
  ] as const;
  for (const [section, count] of sections) {
    for (let i = 0; i < count; i++) {
      const owner = readName(buf, pos, true);
      if (!owner.ok) {
        result.problem = `${section} record ${i + 1}: ${owner.problem}`;
        return result;
      }
      if (owner.end + 10 > buf.length) {
        result.problem = `${section} record ${i + 1}: runs past the end of the message (counts larger than the data?)`;
        return result;
      }
      const type = u16(buf, owner.end);
      const klass = u16(buf, owner.end + 2);
      const ttl = u32(buf, owner.end + 4);
      const rdStart = owner.end + 10;
      const rdEnd = rdStart + u16(buf, owner.end + 8);
      if (rdEnd > buf.length) {
        result.problem = `${section} record ${i + 1}: data runs past the end of the message`;
        return result;
      }
      if (type === TypeNumber.OPT) {
        // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
        if (section !== 'additional' || result.edns !== null || owner.labels.length !== 0) {
          result.problem = 'misplaced or repeated OPT record';
          return result;
        }
        for (let at = rdStart; at < rdEnd; ) {
          if (at + 4 > rdEnd || at + 4 + u16(buf, at + 2) > rdEnd) {
            result.problem = 'OPT option runs past the end of the record';
            return result;
          }
          at += 4 + u16(buf, at + 2);
        }
        result.edns = { payload: klass, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0 };
      } else if (type === TypeNumber.SOA && section === 'authority' && result.question.qtype === TypeNumber.IXFR) {
        const mname = readName(buf, rdStart, true);
        const rname = mname.ok ? readName(buf, mname.end, true) : mname;
        if (rname.ok && rname.end + 4 <= rdEnd) result.ixfrSerial = u32(buf, rname.end);
      }
      pos = rdEnd;
    }
  }
  if (pos !== buf.length) result.problem = `${buf.length - pos} bytes of garbage after the last record`;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Finding the answer.

/**
 * A record to write: dns-packet writes its type, class, TTL and data, and `owner` (a name in wire
 * format) is spliced in as its owner name.
 */
interface OutRecord {
  owner: Uint8Array;
  rr: Answer;
}

function outRecord(owner: Uint8Array, ttl: number, data: RData): OutRecord {
  return { owner, rr: toAnswer('.', ttl, data) };
}

function fromZone(record: ZoneRecord): OutRecord {
  return outRecord(wireName(presentationLabels(record.name)), record.ttl, record.data);
}

interface Resolved {
  rcode: RcodeName;
  aa: boolean;
  answers: OutRecord[];
  authorities: OutRecord[];
  /** Additional records the reply is useless without: a referral's in-domain glue (RFC 9471 §3.1). */
  glue: OutRecord[];
  /** Additional records a reply may go without (RFC 2181 §9). */
  additionals: OutRecord[];
}

type Found =
  | { kind: 'records'; records: readonly ZoneRecord[] }
  | { kind: 'cname'; record: ZoneRecord & { data: Extract<RData, { type: 'CNAME' }> } }
  | { kind: 'nodata' }
  | { kind: 'nxdomain' }
  | { kind: 'referral'; ns: readonly ZoneRecord[] };

/** What we want from a node: one of our types, ANY, or a type we never hold (always NODATA). */
type Want = ZoneRecordType | 'ANY' | null;

/**
 * RFC 8482 §4.1: ANY gets one RRset, not the whole node and not a synthesized HINFO. We hold real
 * data and a one-RRset answer stays small; MX first because the clients that still send ANY are
 * mostly old MTAs looking for where to deliver.
 */
const ANY_PREFERENCE: readonly ZoneRecordType[] = ['MX', 'A', 'AAAA', 'TXT', 'SRV', 'CAA', 'PTR', 'NS', 'SOA'];

/** CNAME chains followed at most this far; a loop stops earlier (RFC 1034 §3.6.2). */
const MAX_CHAIN = 8;

function fromNode(node: RRsets, want: Want): Found {
  const cname = node.get('CNAME')?.[0];
  // ANY at an alias: the CNAME is the one RRset, and the chain is not followed.
  if (cname !== undefined && want === 'ANY') return { kind: 'records', records: [cname] };
  if (cname !== undefined && want !== 'CNAME' && cname.data.type === 'CNAME') {
    return { kind: 'cname', record: { ...cname, data: cname.data } };
  }
  if (want === 'ANY') {
    for (const type of ANY_PREFERENCE) {
      const rrset = node.get(type);
      if (rrset !== undefined && rrset.length > 0) return { kind: 'records', records: rrset };
    }
    return { kind: 'nodata' };
  }
  const rrset = want === null ? undefined : node.get(want);
  return rrset !== undefined && rrset.length > 0 ? { kind: 'records', records: rrset } : { kind: 'nodata' };
}

function lookupInZone(zone: IndexedZone, key: string, want: Want): Found {
  // RFC 1034 §4.3.2 step 3b: below a zone cut the data belongs to another server: refer.
  if (zone.cuts.size > 0 && key !== zone.originKey) {
    const below = key.slice(0, key.length - zone.originKey.length).replace(/\.$/, '').split('.');
    let candidate = zone.originKey;
    for (let i = below.length - 1; i >= 0; i--) {
      candidate = candidate === '' ? (below[i] ?? '') : `${below[i] ?? ''}.${candidate}`;
      const ns = zone.cuts.has(candidate) ? zone.nodes.get(candidate)?.get('NS') : undefined;
      if (ns !== undefined) return { kind: 'referral', ns };
    }
  }
  const node = zone.nodes.get(key);
  if (node !== undefined) return fromNode(node, want);
  // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
  if (zone.names.has(key)) return { kind: 'nodata' };
  // RFC 4592 §3.3.1: a wildcard at the closest encloser answers for names that do not exist.
  let encloser = parentKey(key);
  while (encloser !== null && !zone.names.has(encloser)) encloser = parentKey(encloser);
  if (encloser !== null) {
    const wildcard = zone.nodes.get(encloser === '' ? '*' : `*.${encloser}`);
    if (wildcard !== undefined) return fromNode(wildcard, want);
  }
  return { kind: 'nxdomain' };
}

function negativeSoa(zone: IndexedZone): OutRecord {
  // RFC 2308 §3: the SOA's TTL in a negative answer is the lesser of its TTL and its MINIMUM.
  const soa = zone.soa;
  return outRecord(wireName(presentationLabels(zone.zone.origin)), Math.min(soa.ttl, soa.data.minimum), soa.data);
}

function targetOf(data: RData): string | null {
  switch (data.type) {
    case 'MX':
      return data.exchange;
    case 'NS':
      return data.host;
    case 'SRV':
      return data.target;
    default:
      return null;
  }
}

/** A/AAAA of the MX, NS and SRV targets among `records` that we are authoritative for (and `wanted`). */
function additionalAddresses(zones: ZoneSet, records: readonly ZoneRecord[], wanted: (targetKey: string) => boolean = () => true): OutRecord[] {
  const out: OutRecord[] = [];
  const done = new Set<string>();
  for (const record of records) {
    const target = targetOf(record.data);
    if (target === null || target === '.' || target === '') continue;
    const key = keyOfName(target);
    if (done.has(key) || !wanted(key)) continue;
    done.add(key);
    const node = findZone(zones, key)?.nodes.get(key);
    if (node === undefined) continue;
    for (const type of ['A', 'AAAA'] as const) {
      for (const r of node.get(type) ?? []) out.push(fromZone(r));
    }
  }
  return out;
}

/** `asked`: the question's name in wire format, the owner of the records answering it. */
function resolve(zones: ZoneSet, start: IndexedZone, startKey: string, asked: Uint8Array, want: Want): Resolved {
  const answers: OutRecord[] = [];
  const used: ZoneRecord[] = [];
  const visited = new Set<string>();
  let zone = start;
  let key = startKey;
  // RFC 1034 §4.3.2 step 3c: records found for the asked name, or synthesized from a wildcard, are
  // owned by the name exactly as asked; later links of a chain by their own names.
  let owner = asked;
  const positive = (): Resolved => ({
    rcode: 'NOERROR',
    aa: true,
    answers,
    authorities: [],
    glue: [],
    additionals: additionalAddresses(zones, used),
  });
  for (let step = 0; ; step++) {
    const found = lookupInZone(zone, key, want);
    switch (found.kind) {
      case 'records':
        for (const r of found.records) answers.push(outRecord(owner, r.ttl, r.data));
        used.push(...found.records);
        return positive();
      case 'nodata':
      case 'nxdomain':
        // RFC 6604 §2.1: the RCODE speaks of the last name in the chain.
        return {
          rcode: found.kind === 'nxdomain' ? 'NXDOMAIN' : 'NOERROR',
          aa: true,
          answers,
          authorities: [negativeSoa(zone)],
          glue: [],
          additionals: [],
        };
      case 'referral': {
        if (step > 0) return positive();
        // RFC 1034 §4.3.2 step 3b: not authoritative below the cut; NS in authority, glue if we have it.
        // RFC 9471 §3.1: the addresses of name servers inside the delegated zone cannot be had from
        // anywhere else, so they must come with the referral; others are optional (§3.2).
        const cut = keyOfName(found.ns[0]?.name ?? '');
        const inDomain = (targetKey: string): boolean => isAtOrBelowKey(targetKey, cut);
        return {
          rcode: 'NOERROR',
          aa: false,
          answers: [],
          authorities: found.ns.map(fromZone),
          glue: additionalAddresses(zones, found.ns, inDomain),
          additionals: additionalAddresses(zones, found.ns, (k) => !inDomain(k)),
        };
      }
      case 'cname': {
        answers.push(outRecord(owner, found.record.ttl, found.record.data));
        visited.add(key);
        const target = found.record.data.target;
        const targetKey = keyOfName(target);
        const next = findZone(zones, targetKey);
        // The chain leaves our zones, loops, or runs too long: the resolver takes it from here.
        if (next === null || visited.has(targetKey) || step + 1 >= MAX_CHAIN) return positive();
        zone = next;
        key = targetKey;
        owner = wireName(presentationLabels(target));
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing the reply.

/** RFC 1035 §4.2.1 without EDNS; RFC 6891 §6.2.5 sets the floor of what a client may announce. */
const UDP_MIN = 512;
/** The DNS Flag Day 2020 size: fits the common 1280-byte IPv6 MTU, so replies do not fragment. */
const UDP_MAX = 1232;
const TCP_MAX = 65535;
/** Target size of one message of a zone transfer. */
const TRANSFER_CHUNK = 16384;

export interface AnswerOptions {
  transport: 'udp' | 'tcp';
  clientAddress: string;
  /** Client IPs allowed AXFR/IXFR (TCP only); empty: refuse all. */
  transferAllow: readonly string[];
}

/** What happened to one request, for the server's log. */
export interface AnswerSummary {
  qname: string | null;
  qtype: string | null;
  rcode: RcodeName | 'DROPPED';
  truncated: boolean;
  /** Why a request was dropped or got FORMERR, when it did. */
  problem: string | null;
}

type Reply = Resolved;

const emptyReply = (rcode: RcodeName): Reply => ({ rcode, aa: false, answers: [], authorities: [], glue: [], additionals: [] });

/**
 * dns-packet's message with each record's owner replaced by its wire-format name. dns-packet wrote
 * every one of our records with the root as owner (a single zero octet) and compresses nothing, so
 * each record sits at a known place: owner, 10 octets of type, class, TTL and length, then the data.
 */
function spliceOwners(body: Buffer, records: readonly OutRecord[]): Buffer {
  const parts: Uint8Array[] = [];
  let copied = 0;
  let at = 12; // our messages are encoded without questions
  for (const record of records) {
    if (body[at] !== 0 || at + 11 > body.length) throw new Error('unexpected record layout from the encoder');
    parts.push(body.subarray(copied, at), record.owner);
    at += 1;
    copied = at;
    at += 10 + body.readUInt16BE(at + 8);
  }
  parts.push(body.subarray(copied));
  return Buffer.concat(parts);
}

function optRecord(edns: Edns, extendedRcode: number): OptAnswer {
  return {
    type: 'OPT',
    name: '.',
    // What we can receive: our own buffer size, not the client's (RFC 6891 §6.2.3).
    udpPayloadSize: UDP_MAX,
    extendedRcode,
    ednsVersion: 0,
    // RFC 3225 §3: the DO bit is copied into the response.
    flags: edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
    flag_do: edns.dnssecOk,
    options: [],
  };
}

function encodeMessage(
  header: Header,
  question: Question | null,
  edns: Edns | null,
  reply: Reply,
  tc: boolean,
): Buffer {
  const code = Rcode[reply.rcode];
  const flags =
    (header.opcode << 11) |
    (reply.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    (tc ? dnsPacket.TRUNCATED_RESPONSE : 0) |
    (header.rd ? dnsPacket.RECURSION_DESIRED : 0) |
    (header.cd ? dnsPacket.CHECKING_DISABLED : 0) |
    (code & 0xf);
  const extra = [...reply.glue, ...reply.additionals];
  const rrs = (records: readonly OutRecord[]): Answer[] => records.map((r) => r.rr);
  const additionals = edns === null ? rrs(extra) : [...rrs(extra), optRecord(edns, code >> 4)];
  const encoded = dnsPacket.encode({
    type: 'response',
    id: header.id,
    flags,
    questions: [],
    answers: rrs(reply.answers),
    authorities: rrs(reply.authorities),
    additionals,
  });
  // The OPT record comes last and keeps the root as its owner.
  const body = spliceOwners(encoded, [...reply.answers, ...reply.authorities, ...extra]);
  if (question === null) return body;
  // The question exactly as asked, case and all (dns-packet writes no compression pointers, so the
  // rest of the message does not care where it starts).
  const out = Buffer.concat([body.subarray(0, 12), question.raw, body.subarray(12)]);
  out.writeUInt16BE(1, 4);
  return out;
}

/**
 * The reply within `limit` bytes: whole if it fits; else without the optional additional records
 * (RFC 2181 §9: their absence sets no TC); else TC with only the question and OPT. Required glue is
 * never dropped alone: a referral without it is truncated (RFC 9471 §3.1).
 */
function encodeWithin(header: Header, question: Question, edns: Edns | null, reply: Reply, limit: number): { message: Buffer; truncated: boolean } {
  const whole = encodeMessage(header, question, edns, reply, false);
  if (whole.length <= limit) return { message: whole, truncated: false };
  if (reply.additionals.length > 0) {
    const lean = encodeMessage(header, question, edns, { ...reply, additionals: [] }, false);
    if (lean.length <= limit) return { message: lean, truncated: false };
  }
  const empty = { ...reply, answers: [], authorities: [], glue: [], additionals: [] };
  return { message: encodeMessage(header, question, edns, empty, true), truncated: true };
}

function udpLimit(edns: Edns | null): number {
  if (edns === null) return UDP_MIN;
  return Math.max(UDP_MIN, Math.min(edns.payload, UDP_MAX));
}

/** "::ffff:127.0.0.1" and "127.0.0.1" are the same client. */
function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped?.[1] ?? a;
}

/** RFC 1982 §3.2: is serial `a` the same as or newer than `b`? */
function serialAtLeast(a: number, b: number): boolean {
  const diff = (a - b) >>> 0;
  return diff === 0 || diff < 0x80000000;
}

/** RFC 5936 §2.2: SOA, every record, SOA; split over messages of about TRANSFER_CHUNK bytes. */
function transferMessages(header: Header, question: Question, edns: Edns | null, zone: IndexedZone, ixfrSerial: number | null): Buffer[] {
  const soa = outRecord(wireName(presentationLabels(zone.zone.origin)), zone.soa.ttl, zone.soa.data);
  const reply = (answers: OutRecord[]): Reply => ({ ...emptyReply('NOERROR'), aa: true, answers });
  // RFC 1995 §2: a client already at our serial (or newer) gets our SOA alone.
  if (ixfrSerial !== null && serialAtLeast(ixfrSerial, zone.soa.data.serial)) {
    return [encodeMessage(header, question, edns, reply([soa]), false)];
  }
  const all = [soa, ...zone.transferBody.map(fromZone), soa];
  const messages: Buffer[] = [];
  let batch: OutRecord[] = [];
  let size = 0;
  const flush = (): void => {
    // RFC 5936 §2.2.1: the question goes in the first message; later ones may leave it out.
    const first = messages.length === 0;
    messages.push(encodeMessage(header, first ? question : null, first ? edns : null, reply(batch), false));
    batch = [];
    size = 0;
  };
  for (const a of all) {
    const length = dnsPacket.encodingLength({ answers: [a.rr] }) - 12 - 1 + a.owner.length;
    if (batch.length > 0 && size + length > TRANSFER_CHUNK) flush();
    batch.push(a);
    size += length;
  }
  flush();
  return messages;
}

function typeName(qtype: number): string {
  return TYPE_NAMES.get(qtype) ?? `TYPE${qtype}`;
}

/** `answer` with a summary of what it did, for logging. */
export function respond(request: Uint8Array, zones: ZoneSet, options: AnswerOptions): { replies: Buffer[]; summary: AnswerSummary } {
  const summary: AnswerSummary = { qname: null, qtype: null, rcode: 'DROPPED', truncated: false, problem: null };
  let parsed: ParsedRequest | null = null;
  try {
    parsed = parseRequest(request);
    if (parsed === null) {
      summary.problem = 'shorter than a DNS header';
      return { replies: [], summary };
    }
    const { header, question, edns } = parsed;
    if (question !== null) {
      summary.qname = keyOfLabels(question.labels) || '.';
      summary.qtype = typeName(question.qtype);
    }
    // A response sent to us: answering it could start a loop between two servers (RFC 1035 §7.3).
    if (header.qr) {
      summary.problem = 'a response (QR set), not a query';
      return { replies: [], summary };
    }
    const reply = (rcode: RcodeName, withEdns: Edns | null = edns, q: Question | null = question): Buffer[] => {
      summary.rcode = rcode;
      return [encodeMessage(header, q, withEdns, emptyReply(rcode), false)];
    };
    if (header.opcode !== 0) return { replies: reply('NOTIMP', parsed.problem === null ? edns : null), summary };
    if (parsed.problem !== null || question === null) {
      summary.problem = parsed.problem;
      // Not knowing what else in the message is broken, the OPT is not trusted either.
      return { replies: reply('FORMERR', null), summary };
    }
    // RFC 6891 §6.1.3: we speak EDNS version 0 only.
    if (edns !== null && edns.version > 0) return { replies: reply('BADVERS'), summary };
    if (question.qclass !== CLASS_IN && question.qclass !== CLASS_ANY) return { replies: reply('REFUSED'), summary };
    const qtype = question.qtype;
    if (qtype === TypeNumber.OPT) return { replies: reply('FORMERR'), summary };
    // Meta-types other than the ones we handle (MAILA, MAILB, TKEY, TSIG, …), RFC 6895 §3.1.
    if (qtype >= 128 && qtype <= 254 && qtype !== TypeNumber.AXFR && qtype !== TypeNumber.IXFR) {
      return { replies: reply('NOTIMP'), summary };
    }
    const qkey = keyOfLabels(question.labels);

    if (qtype === TypeNumber.AXFR || qtype === TypeNumber.IXFR) {
      const client = normalizeAddress(options.clientAddress);
      const allowed = options.transport === 'tcp' && options.transferAllow.some((a) => normalizeAddress(a) === client);
      if (!allowed) return { replies: reply('REFUSED'), summary };
      const zone = zones.byOrigin.get(qkey);
      // RFC 5936 §2.2.1: a transfer of something that is not one of our zones' apex.
      if (zone === undefined) return { replies: reply('NOTAUTH'), summary };
      summary.rcode = 'NOERROR';
      const ixfrSerial = qtype === TypeNumber.IXFR ? parsed.ixfrSerial : null;
      return { replies: transferMessages(header, question, edns, zone, ixfrSerial), summary };
    }

    const zone = findZone(zones, qkey);
    // Never recurse: a name outside our zones is not ours to answer (no open resolver).
    if (zone === null) return { replies: reply('REFUSED'), summary };
    const want: Want = qtype === TypeNumber.ANY ? 'ANY' : (ZONE_TYPES.get(qtype) ?? null);
    // The question's name in wire format, straight from the request: owners are written as asked.
    const asked = Buffer.from(question.raw.subarray(0, question.raw.length - 4));
    const resolved = resolve(zones, zone, qkey, asked, want);
    const limit = options.transport === 'udp' ? udpLimit(edns) : TCP_MAX;
    const { message, truncated } = encodeWithin(header, question, edns, resolved, limit);
    summary.rcode = resolved.rcode;
    summary.truncated = truncated;
    return { replies: [message], summary };
  } catch (err) {
    // A zone record dns-packet cannot encode: SERVFAIL rather than silence or a crash.
    summary.problem = `internal error: ${err instanceof Error ? err.message : String(err)}`;
    if (parsed === null) return { replies: [], summary };
    try {
      summary.rcode = 'SERVFAIL';
      return { replies: [encodeMessage(parsed.header, parsed.question, null, emptyReply('SERVFAIL'), false)], summary };
    } catch {
      summary.rcode = 'DROPPED';
      return { replies: [], summary };
    }
  }
}

/** The reply messages to send, in order (AXFR may need several on TCP); [] means drop silently. */
export function answer(request: Uint8Array, zones: ZoneSet, options: AnswerOptions): Buffer[] {
  return respond(request, zones, options).replies;
}
