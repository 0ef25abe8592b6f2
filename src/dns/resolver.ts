/**
 * The stub resolver: how Postern asks recursive DNS servers about other domains (their MX records,
 * their hosts' addresses). It is our own rather than node:dns because c-ares hides the TTLs the
 * cache needs (DESIGN.md, Chosen dependencies), and it shares the dns-packet codec with our server.
 *
 * A lookup becomes one of four typed outcomes: records (with the CNAME chain that led to them and
 * the smallest TTL), no data, no such domain, or a temporary failure that names every server asked
 * and what it said. Only the last is worth retrying; the first three are answers and are cached for
 * as long as their TTLs (or, for the negative ones, the SOA's) allow.
 *
 * On the wire: each query goes over UDP from a fresh socket (a random source port chosen by the
 * kernel) with a random 16-bit ID, RD set and an EDNS0 OPT record offering 1232 bytes. A reply is
 * accepted only from the server asked, with our ID and our question; anything else is ignored and
 * we keep waiting until the timeout, so a spoofed packet costs nothing but a log line. A truncated
 * reply sends the same question to the same server over TCP.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { RECURSION_DESIRED, decode, encode } from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { ErrorCode, PosternError, errorText } from '../core/errors.ts';
import type { HostPort } from '../core/host-port.ts';
import { formatHostPort } from '../core/host-port.ts';
import type { Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { assertDestinationAllowed, isLoopbackAddress } from '../core/loopback.ts';
import { DEFAULT_RESOLV_CONF, readResolvConf, resolvConfServers, withoutZone } from './resolv-conf.ts';
import type { WireRecord } from './wire.ts';
import { canonicalName, fromAnswer } from './wire.ts';
import type { ZoneRecordType } from './zone/types.ts';

export type LookupResult =
  /** `records`: the asked type at the end of any CNAME chain; `cnames`: the chain followed, in order.
   *  `ttl`: seconds this answer stays valid (the smallest TTL of the records and the chain). */
  | { kind: 'records'; records: WireRecord[]; cnames: WireRecord[]; ttl: number }
  /** The name exists (at the end of `cnames`, if any) but has no record of that type. */
  | { kind: 'nodata'; cnames: WireRecord[] }
  /** No such name (at the end of `cnames`, if any). */
  | { kind: 'nxdomain'; cnames: WireRecord[] }
  /** Timeout, SERVFAIL, REFUSED, network error, unusable answers, a CNAME loop: ask again later. */
  | { kind: 'temporary'; reason: string };

export interface Resolver {
  /**
   * Never rejects for DNS trouble (that is `temporary`). Rejects with a PosternError for a name that
   * cannot be a DNS name (POSTERN_DNS_PERMANENT) and when the loopback guard refuses a server
   * (POSTERN_LOOPBACK_ONLY).
   */
  lookup(name: string, type: ZoneRecordType): Promise<LookupResult>;
}

export interface ResolverOptions {
  /** null: the nameservers of /etc/resolv.conf (port 53). */
  servers: readonly HostPort[] | null;
  /** How long to wait for one server's reply (UDP, and again for TCP after a truncated reply). */
  timeoutMs: number;
  /** Rounds over the server list before giving up. */
  attempts: number;
  /** Milliseconds clock for the cache. */
  now?: () => number;
  /** A 16-bit query ID; the default draws from node:crypto. */
  randomId?: () => number;
  logger?: Logger;
  /** Default /etc/resolv.conf. */
  resolvConfPath?: string;
  /** Bound on cached answers; the oldest go first. Default 10,000. */
  maxCacheEntries?: number;
}

// RFC 6891 §6.2.5 leaves the size to us; 1232 is DNS Flag Day 2020's choice, which avoids IP fragmentation.
const EDNS_PAYLOAD = 1232;
const MAX_CNAME_HOPS = 8;
const MAX_CACHE_SECONDS = 86_400;
const DEFAULT_CACHE_ENTRIES = 10_000;

// RFC 1035 §4.1.1 and RFC 6895 §2.3
const Rcode = { NoError: 0, FormErr: 1, ServFail: 2, NxDomain: 3, NotImp: 4, Refused: 5 } as const;
const RCODE_NAMES: readonly string[] = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
}

/**
 * An IP address in one spelling, for comparing addresses: IPv6 compressed and lower-case, an
 * IPv4-mapped IPv6 address as plain IPv4, zone suffixes dropped. Anything else comes back trimmed.
 */
export function canonicalAddress(address: string): string {
  const bare = withoutZone(address.trim());
  const family = isIP(bare);
  if (family === 4) return bare;
  if (family !== 6) return bare;
  const compressed = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped === null) return compressed;
  const hi = parseInt(mapped[1] ?? '0', 16);
  const lo = parseInt(mapped[2] ?? '0', 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

interface Question {
  name: string;
  type: ZoneRecordType;
}

/** One exchange with one server over one transport. */
type Exchange =
  | { kind: 'reply'; packet: DecodedPacket }
  | { kind: 'failed'; reason: string };

/** What one server said about the question, after TC and EDNS fallbacks. */
type ServerAnswer =
  | { kind: 'answer'; packet: DecodedPacket; rcode: number }
  /** `final`: asking this server again will not help (REFUSED, NOTIMP, FORMERR, a referral). */
  | { kind: 'failed'; reason: string; final: boolean };

/** A resolved name with how long it may be cached (0: not at all). */
interface Resolved {
  result: LookupResult;
  cacheSeconds: number;
}

interface CacheEntry {
  result: LookupResult;
  storedAt: number;
  expiresAt: number;
}

export function createResolver(options: ResolverOptions): Resolver {
  const logger = (options.logger ?? silentLogger).child({ component: 'resolver' });
  const now = options.now ?? Date.now;
  const randomId = options.randomId ?? (() => randomInt(0, 0x10000));
  const maxEntries = options.maxCacheEntries ?? DEFAULT_CACHE_ENTRIES;
  const { timeoutMs, attempts } = options;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new PosternError(ErrorCode.Config, `resolver timeout must be a positive number of milliseconds, not ${timeoutMs}`);
  }
  if (!(Number.isInteger(attempts) && attempts >= 1)) {
    throw new PosternError(ErrorCode.Config, `resolver attempts must be a whole number of at least 1, not ${attempts}`);
  }

  const servers = configuredServers(options, logger);
  // Checked here as well as before each query, so that a misconfiguration fails at start.
  for (const server of servers) assertDestinationAllowed(server.host, 'DNS query to');

  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<LookupResult>>();

  /** A live cache entry, aged to now, with the whole seconds it has left. */
  function cached(key: string): Resolved | null {
    const entry = cache.get(key);
    if (entry === undefined) return null;
    const t = now();
    if (t >= entry.expiresAt) {
      cache.delete(key);
      return null;
    }
    return { result: aged(entry.result, Math.floor((t - entry.storedAt) / 1000)), cacheSeconds: Math.floor((entry.expiresAt - t) / 1000) };
  }

  function remember(key: string, resolved: Resolved): void {
    if (resolved.result.kind === 'temporary') return;
    const seconds = Math.min(resolved.cacheSeconds, MAX_CACHE_SECONDS);
    if (!(seconds > 0)) return;
    cache.delete(key);
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done === true) break;
      cache.delete(oldest.value);
    }
    const t = now();
    cache.set(key, { result: resolved.result, storedAt: t, expiresAt: t + seconds * 1000 });
  }

  /**
   * Resolves `name` from scratch (or from completed cache entries), following CNAMEs into further
   * queries. `chain` holds the names already passed through, so a loop across queries is caught.
   * Follow-up queries deliberately do not join in-flight lookups: two lookups whose chains point at
   * each other would otherwise wait on each other forever.
   */
  async function resolveName(name: string, type: ZoneRecordType, chain: readonly string[]): Promise<Resolved> {
    const key = cacheKey(name, type);
    const hit = cached(key);
    if (hit !== null) return hit;

    const answer = await exchange({ name, type });
    if (answer.kind === 'temporary') return { result: answer, cacheSeconds: 0 };
    const step = interpret(answer.packet, answer.rcode, { name, type }, chain);
    if (step.kind === 'done') {
      remember(key, step.resolved);
      return step.resolved;
    }
    // Every name in `chain` is one CNAME already followed; the owners of this reply's CNAMEs join it.
    const rest = await resolveName(step.target, type, [...chain, ...step.cnames.map((c) => c.name)]);
    const joined = prependChain(step.cnames, rest);
    if (joined.result.kind === 'temporary') return joined;
    if (joined.result.cnames.length > MAX_CNAME_HOPS) {
      return { result: { kind: 'temporary', reason: `CNAME chain from ${name} longer than ${MAX_CNAME_HOPS} CNAMEs` }, cacheSeconds: 0 };
    }
    remember(key, joined);
    return joined;
  }

  /** Asks the servers in turn, `attempts` rounds, until one gives a usable answer. */
  async function exchange(question: Question): Promise<{ kind: 'answer'; packet: DecodedPacket; rcode: number } | { kind: 'temporary'; reason: string }> {
    const said = new Map<string, string[]>();
    const givenUp = new Set<number>();
    for (let round = 0; round < attempts; round++) {
      for (const [index, server] of servers.entries()) {
        if (givenUp.has(index)) continue;
        const answer = await askServer(server, question);
        if (answer.kind === 'answer') return answer;
        logger.debug({ server: formatHostPort(server), name: question.name, type: question.type, reason: answer.reason }, 'dns server failed');
        const label = formatHostPort(server);
        const list = said.get(label) ?? [];
        if (!list.includes(answer.reason)) list.push(answer.reason);
        said.set(label, list);
        if (answer.final) givenUp.add(index);
      }
      if (givenUp.size === servers.length) break;
    }
    const detail = [...said].map(([server, reasons]) => `${server} ${reasons.join(', then ')}`).join('; ');
    return { kind: 'temporary', reason: `no usable answer for ${question.name} ${question.type}: ${detail}` };
  }

  async function askServer(server: HostPort, question: Question): Promise<ServerAnswer> {
    assertDestinationAllowed(server.host, 'DNS query to');
    let edns = true;
    let udp = await queryUdp(server, question, edns);
    // RFC 6891 §7: a server that does not know EDNS may answer FORMERR; ask it again without, and
    // keep it off for the TCP retry too: the same server would refuse the OPT there as well.
    if (udp.kind === 'reply' && rcodeOf(udp.packet) === Rcode.FormErr) {
      edns = false;
      udp = await queryUdp(server, question, edns);
    }
    if (udp.kind === 'failed') return { kind: 'failed', reason: udp.reason, final: false };
    let packet = udp.packet;
    if (packet.flag_tc) {
      // RFC 1035 §4.2.1: a truncated UDP answer is asked again over TCP, of the same server.
      assertDestinationAllowed(server.host, 'DNS query to');
      const tcp = await queryTcp(server, question, edns);
      if (tcp.kind === 'failed') return { kind: 'failed', reason: `truncated over UDP, then over TCP ${tcp.reason}`, final: false };
      packet = tcp.packet;
    }
    const rcode = rcodeOf(packet);
    if (rcode === Rcode.NoError || rcode === Rcode.NxDomain) {
      if (rcode === Rcode.NoError && isReferral(packet)) {
        return { kind: 'failed', reason: 'answered with a referral (it does not recurse)', final: true };
      }
      return { kind: 'answer', packet, rcode };
    }
    return { kind: 'failed', reason: rcodeName(rcode), final: rcode !== Rcode.ServFail };
  }

  function queryUdp(server: HostPort, question: Question, edns: boolean): Promise<Exchange> {
    return new Promise((resolve) => {
      const id = randomId() & 0xffff;
      const query = encodeQuery(id, question, edns);
      const family = isIP(withoutZone(server.host)) === 6 ? 'udp6' : 'udp4';
      const socket = createSocket({ type: family });
      let ignored = 0;
      let settled = false;
      const finish = (outcome: Exchange): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          socket.close();
        } catch {
          // already closed after an error
        }
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        const note = ignored > 0 ? ` (${ignored} unmatched ${ignored === 1 ? 'reply' : 'replies'} ignored)` : '';
        finish({ kind: 'failed', reason: `timed out after ${timeoutMs} ms${note}` });
      }, timeoutMs);
      socket.on('error', (err) => finish({ kind: 'failed', reason: errorText(err) }));
      socket.on('message', (message: Buffer, from: RemoteInfo) => {
        const packet = fromServer(from, server) ? matchReply(message, id, question) : null;
        if (packet === null) {
          ignored++;
          logger.debug({ server: formatHostPort(server), from: `${from.address}:${from.port}` }, 'ignored a reply that does not match the query');
          return;
        }
        finish({ kind: 'reply', packet });
      });
      // Connecting the socket makes the kernel drop datagrams from anyone else and report an ICMP
      // "port unreachable" as ECONNREFUSED, so a dead server fails at once instead of timing out.
      socket.bind({ port: 0, address: localAddressFor(server.host) }, () => {
        if (settled) return;
        socket.connect(server.port, server.host, () => {
          if (settled) return;
          socket.send(query, (err) => {
            if (err) finish({ kind: 'failed', reason: errorText(err) });
          });
        });
      });
    });
  }

  function queryTcp(server: HostPort, question: Question, edns: boolean): Promise<Exchange> {
    return new Promise((resolve) => {
      const id = randomId() & 0xffff;
      const body = encodeQuery(id, question, edns);
      const frame = Buffer.alloc(2 + body.length);
      // RFC 1035 §4.2.2: each message is preceded by its length in two bytes.
      frame.writeUInt16BE(body.length, 0);
      body.copy(frame, 2);
      const localAddress = localAddressFor(server.host);
      const socket = connect({ host: server.host, port: server.port, ...(localAddress !== undefined ? { localAddress } : {}) });
      let buffered = Buffer.alloc(0);
      let settled = false;
      const finish = (outcome: Exchange): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(outcome);
      };
      const timer = setTimeout(() => finish({ kind: 'failed', reason: `timed out after ${timeoutMs} ms` }), timeoutMs);
      socket.on('connect', () => socket.write(frame));
      socket.on('error', (err) => finish({ kind: 'failed', reason: errorText(err) }));
      socket.on('close', () => finish({ kind: 'failed', reason: 'closed the connection without a matching reply' }));
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2) {
          const length = buffered.readUInt16BE(0);
          if (buffered.length < 2 + length) return;
          const message = buffered.subarray(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          const packet = matchReply(message, id, question);
          if (packet !== null) {
            finish({ kind: 'reply', packet });
            return;
          }
        }
      });
    });
  }

  return {
    lookup(name: string, type: ZoneRecordType): Promise<LookupResult> {
      const qname = canonicalName(name);
      const problem = nameProblem(qname);
      if (problem !== null) {
        return Promise.reject(new PosternError(ErrorCode.DnsPermanent, `cannot look up "${name}": ${problem}`));
      }
      const key = cacheKey(qname, type);
      const hit = cached(key);
      if (hit !== null) return Promise.resolve(hit.result);
      const pending = inflight.get(key);
      if (pending !== undefined) return pending;
      const shared = resolveName(qname, type, [])
        .then((resolved) => resolved.result)
        .finally(() => inflight.delete(key));
      inflight.set(key, shared);
      return shared;
    },
  };
}

function configuredServers(options: ResolverOptions, logger: Logger): HostPort[] {
  if (options.servers !== null) {
    if (options.servers.length === 0) throw new PosternError(ErrorCode.Config, 'no DNS servers to ask: the resolver list is empty');
    for (const server of options.servers) {
      if (isIP(server.host) === 0 || !Number.isInteger(server.port) || server.port < 1 || server.port > 65535) {
        throw new PosternError(ErrorCode.Config, `DNS server "${server.host}:${server.port}" is not an IP address and port`);
      }
    }
    return [...options.servers];
  }
  const path = options.resolvConfPath ?? DEFAULT_RESOLV_CONF;
  const conf = readResolvConf(path);
  for (const p of conf.problems) logger.warn({ file: path, line: p.line }, `${path}:${p.line}: ${p.message} (line skipped)`);
  const servers = resolvConfServers(conf);
  if (conf.nameservers.length === 0) {
    logger.warn({ file: path }, `${path} ${conf.missing ? 'does not exist' : 'names no nameserver'}: asking ${formatHostPort(servers[0] ?? { host: '127.0.0.1', port: 53 })}`);
  }
  return servers;
}

function cacheKey(name: string, type: ZoneRecordType): string {
  return `${name.toLowerCase()}\u0000${type}`;
}

/** Why a name cannot go into a query (RFC 1035 §2.3.4: labels of 63 octets, names of 255). */
function nameProblem(name: string): string | null {
  if (name === '.') return null;
  if (name.length > 253) return 'longer than 253 characters';
  for (const label of name.split('.')) {
    if (label === '') return 'has an empty label';
    if (label.length > 63) return 'has a label longer than 63 characters';
  }
  return null;
}

function localAddressFor(host: string): string | undefined {
  // Keep loopback traffic on loopback: no socket of ours listens on other interfaces for it.
  if (!isLoopbackAddress(host)) return undefined;
  return isIP(host) === 6 ? '::1' : '127.0.0.1';
}

function fromServer(from: RemoteInfo, server: HostPort): boolean {
  return from.port === server.port && canonicalAddress(from.address) === canonicalAddress(server.host);
}

function encodeQuery(id: number, question: Question, edns: boolean): Buffer {
  const packet: Packet = {
    type: 'query',
    id,
    flags: RECURSION_DESIRED,
    questions: [{ name: question.name, type: question.type, class: 'IN' }],
  };
  if (edns) {
    packet.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
  }
  return encode(packet);
}

/** The reply when `message` answers our query (ID, QR, and the question echoed); otherwise null. */
function matchReply(message: Buffer, id: number, question: Question): DecodedPacket | null {
  if (message.length < 12 || message.readUInt16BE(0) !== id) return null;
  let packet: DecodedPacket;
  try {
    packet = decode(message);
  } catch {
    return null;
  }
  if (!packet.flag_qr) return null;
  // RFC 5452 §3: the question must match in name (case-insensitively), type and class.
  const questions = packet.questions ?? [];
  const q = questions[0];
  if (questions.length !== 1 || q === undefined) return null;
  if (canonicalName(q.name) !== question.name || q.type !== question.type || (q.class ?? 'IN') !== 'IN') return null;
  return packet;
}

function rcodeOf(packet: DecodedPacket): number {
  const base = (packet.flags ?? 0) & 0xf;
  const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT');
  // RFC 6891 §6.1.3: the OPT record carries the upper eight bits of the response code.
  const upper = opt !== undefined && opt.type === 'OPT' ? opt.extendedRcode : 0;
  return (upper << 4) | base;
}

/** NOERROR without answers, without an SOA, with NS records: a non-recursive server pointing elsewhere. */
function isReferral(packet: DecodedPacket): boolean {
  const authorities = packet.authorities ?? [];
  return (
    (packet.answers ?? []).length === 0 &&
    !packet.flag_aa &&
    !authorities.some((a) => a.type === 'SOA') &&
    authorities.some((a) => a.type === 'NS')
  );
}

function isInternet(a: Answer): boolean {
  return a.type !== 'OPT' && (a.class === undefined || a.class === 'IN');
}

type Step = { kind: 'done'; resolved: Resolved } | { kind: 'follow'; cnames: WireRecord[]; target: string };

/**
 * Reads one reply: walks the CNAME chain from the question's name through the answer section and
 * takes the asked type at its end. Records for other names are ignored (they answer nothing we
 * asked). A chain whose end the reply leaves unanswered, without saying the end has no data, is
 * followed with another query.
 */
function interpret(packet: DecodedPacket, rcode: number, question: Question, chain: readonly string[]): Step {
  const answers = (packet.answers ?? []).filter(isInternet).map(fromAnswer).filter((r) => r !== null);
  const seen = new Set<string>([...chain, question.name]);
  const cnames: WireRecord[] = [];
  let current = question.name;
  for (;;) {
    const here = answers.filter((r) => r.name === current);
    const records = here.filter((r) => r.data.type === question.type);
    if (records.length > 0) {
      const ttl = Math.min(...records.map((r) => r.ttl), ...cnames.map((c) => c.ttl));
      return { kind: 'done', resolved: { result: { kind: 'records', records, cnames, ttl }, cacheSeconds: ttl } };
    }
    if (question.type === 'CNAME') break;
    const alias = here.find((r) => r.data.type === 'CNAME');
    if (alias === undefined || alias.data.type !== 'CNAME') break;
    cnames.push(alias);
    const target = alias.data.target;
    if (seen.has(target)) {
      return { kind: 'done', resolved: { result: { kind: 'temporary', reason: `CNAME loop: ${[...seen, target].join(' -> ')}` }, cacheSeconds: 0 } };
    }
    if (cnames.length + chain.length > MAX_CNAME_HOPS) {
      return { kind: 'done', resolved: { result: { kind: 'temporary', reason: `CNAME chain from ${question.name} longer than ${MAX_CNAME_HOPS} CNAMEs` }, cacheSeconds: 0 } };
    }
    seen.add(target);
    current = target;
  }

  const soa = negativeSoa(packet, current);
  const chainTtl = cnames.length > 0 ? Math.min(...cnames.map((c) => c.ttl)) : Infinity;
  // RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM); without an SOA, not at all.
  const negativeTtl = soa === null ? 0 : Math.min(soa.ttl, soa.minimum, chainTtl);
  if (rcode === Rcode.NxDomain) {
    // RFC 6604: with a CNAME chain, the response code is about the chain's last name.
    return { kind: 'done', resolved: { result: { kind: 'nxdomain', cnames }, cacheSeconds: negativeTtl } };
  }
  if (cnames.length === 0 || soa !== null) {
    return { kind: 'done', resolved: { result: { kind: 'nodata', cnames }, cacheSeconds: negativeTtl } };
  }
  return { kind: 'follow', cnames, target: current };
}

/** The authority section's SOA when it covers `name` (RFC 2308 §2.2), with its TTL and minimum. */
function negativeSoa(packet: DecodedPacket, name: string): { ttl: number; minimum: number } | null {
  for (const a of packet.authorities ?? []) {
    if (a.type !== 'SOA' || !isInternet(a)) continue;
    const record = fromAnswer(a);
    if (record === null || record.data.type !== 'SOA') continue;
    const owner = record.name;
    if (owner === '.' || owner === name || name.endsWith(`.${owner}`)) {
      return { ttl: record.ttl, minimum: record.data.minimum };
    }
  }
  return null;
}

function prependChain(cnames: WireRecord[], rest: Resolved): Resolved {
  const result = rest.result;
  if (result.kind === 'temporary') return rest;
  const chainTtl = Math.min(...cnames.map((c) => c.ttl));
  const all = [...cnames, ...result.cnames];
  if (result.kind === 'records') {
    const ttl = Math.min(result.ttl, chainTtl);
    return { result: { kind: 'records', records: result.records, cnames: all, ttl }, cacheSeconds: Math.min(rest.cacheSeconds, ttl) };
  }
  return { result: { kind: result.kind, cnames: all }, cacheSeconds: Math.min(rest.cacheSeconds, chainTtl) };
}

/** A cached result as it stands `elapsed` seconds after it was stored: TTLs counted down. */
function aged(result: LookupResult, elapsed: number): LookupResult {
  if (elapsed <= 0 || result.kind === 'temporary') return result;
  const age = (r: WireRecord): WireRecord => ({ ...r, ttl: Math.max(0, r.ttl - elapsed) });
  if (result.kind === 'records') {
    return { kind: 'records', records: result.records.map(age), cnames: result.cnames.map(age), ttl: Math.max(0, result.ttl - elapsed) };
  }
  return { kind: result.kind, cnames: result.cnames.map(age) };
}
