/**
 * The MX plan: where mail for a domain goes (RFC 5321 §5.1, RFC 7505; DESIGN.md "Outbound
 * delivery"). A domain's MX records name the hosts that accept its mail, each with a preference:
 * lower is tried first, and hosts of equal preference share the load, so their order is shuffled on
 * every plan. A domain without MX records but with an address is its own mail host (the implicit
 * MX); a single MX of "." says the domain takes no mail at all (null MX).
 *
 * A host may appear in the list as ourselves, when we are a backup MX: then only the hosts more
 * preferred than us are candidates, since handing the mail to an equal or less preferred host could
 * bounce it back and forth. If nothing is more preferred than us, the mail has nowhere to go: that
 * is a configuration error to report, never a loop.
 *
 * `mxTargets` only plans; it connects to nothing. The plan says, case by case, either the targets
 * to try in order (each with its addresses in order) and what was skipped and why, or the decision
 * that ends delivery for now (temporary) or for good (permanent).
 */
import { isIP } from 'node:net';
import type { LookupResult, Resolver } from './resolver.ts';
import { canonicalAddress } from './resolver.ts';
import { canonicalName } from './wire.ts';

export interface MxOptions {
  resolver: Resolver;
  /**
   * Who we are. An MX host is us when its name (or the name its CNAME chain ends at) is one of
   * `hostnames`, or when any of its addresses is one of `addresses`. Give concrete addresses: a
   * wildcard listen address (0.0.0.0, ::) matches no MX host, so expand it to the machine's own
   * addresses first.
   */
  self: { hostnames: readonly string[]; addresses: readonly string[] };
  /** In [0, 1); orders hosts of equal preference. Default Math.random. */
  random?: () => number;
}

/** An MX record as found, for display. */
export interface MxRecordFound {
  exchange: string;
  preference: number;
  ttl: number;
}

export interface MxTarget {
  /** The MX exchange, or the domain itself for an implicit MX. */
  host: string;
  preference: number;
  /** In the order to try: IPv6 first, then IPv4; no duplicates. */
  addresses: string[];
  /** The host name is an alias (RFC 2181 §10.3 says it must not be; we follow it and say so). */
  viaCname: boolean;
  /** Where the CNAME chain ended; `host` itself when `viaCname` is false. */
  canonicalHost: string;
  /** An address family whose lookup failed for now while the other one answered. */
  problems: string[];
}

export type SkippedHost =
  /** NXDOMAIN, or neither AAAA nor A records. */
  | { host: string; preference: number; reason: 'no-address' }
  /** Looking up its addresses failed for now. */
  | { host: string; preference: number; reason: 'temporary'; detail: string }
  /** The exchange is an IP address, not a host name: MX records name hosts (RFC 1035 §3.3.9). */
  | { host: string; preference: number; reason: 'ip-literal' }
  /** This host is us. */
  | { host: string; preference: number; reason: 'self' }
  /** At our own preference or less preferred, dropped because we are in the list (RFC 5321 §5.1). */
  | { host: string; preference: number; reason: 'not-more-preferred'; selfPreference: number }
  /** A "." beside other MX records is not a null MX (RFC 7505 §3): ignored. */
  | { host: string; preference: number; reason: 'null-mx-among-others' };

export type MxPlan =
  /**
   * Try `targets` in order, and each target's addresses in order. `implicit`: the domain has no MX
   * records and is its own single target (preference 0). `selfPreference`: our own preference when
   * we are in the list, or null.
   */
  | {
      kind: 'targets';
      domain: string;
      implicit: boolean;
      mx: MxRecordFound[];
      targets: MxTarget[];
      skipped: SkippedHost[];
      selfPreference: number | null;
    }
  /** A single MX of "." (RFC 7505): the domain accepts no mail. Permanent. */
  | { kind: 'null-mx'; domain: string; mx: MxRecordFound[] }
  /** The domain does not exist (NXDOMAIN). Permanent. */
  | { kind: 'no-such-domain'; domain: string }
  /**
   * No mail host with an address: MX hosts that all lack one (or are unusable), or no MX and no
   * address for the domain either. Permanent.
   */
  | { kind: 'no-mail-host'; domain: string; implicit: boolean; mx: MxRecordFound[]; skipped: SkippedHost[] }
  /** DNS failed for now: the MX lookup itself, or the address lookups of every remaining host. Retry later. */
  | { kind: 'temporary'; domain: string; reason: string; mx: MxRecordFound[]; skipped: SkippedHost[] }
  /**
   * We are the most preferred host (or, for an implicit MX, the domain's address is ours): no host
   * is left to hand the mail to. A configuration error, reported, never a loop (RFC 5321 §5.1).
   */
  | { kind: 'self-most-preferred'; domain: string; implicit: boolean; mx: MxRecordFound[]; skipped: SkippedHost[]; selfPreference: number };

/** What a plan means for the message. */
export type MxVerdict = 'deliver' | 'temporary' | 'permanent' | 'configuration-error';

export function mxVerdict(plan: MxPlan): MxVerdict {
  switch (plan.kind) {
    case 'targets':
      return 'deliver';
    case 'temporary':
      return 'temporary';
    case 'self-most-preferred':
      return 'configuration-error';
    case 'null-mx':
    case 'no-such-domain':
    case 'no-mail-host':
      return 'permanent';
  }
}

/** A host's addresses, as far as DNS would say. */
type HostAddresses =
  | { kind: 'addresses'; addresses: string[]; viaCname: boolean; canonicalHost: string; problems: string[] }
  | { kind: 'none'; viaCname: boolean; canonicalHost: string }
  | { kind: 'temporary'; detail: string };

export async function mxTargets(domain: string, options: MxOptions): Promise<MxPlan> {
  const name = canonicalName(domain);
  const random = options.random ?? Math.random;
  const self = {
    names: new Set(options.self.hostnames.map(canonicalName)),
    addresses: new Set(options.self.addresses.map(canonicalAddress)),
  };
  const isSelf = (host: string, found: HostAddresses | null): boolean => {
    if (self.names.has(host)) return true;
    if (found === null || found.kind === 'temporary') return false;
    if (self.names.has(found.canonicalHost)) return true;
    return found.kind === 'addresses' && found.addresses.some((a) => self.addresses.has(a));
  };

  const answer = await options.resolver.lookup(name, 'MX');
  switch (answer.kind) {
    case 'temporary':
      return { kind: 'temporary', domain: name, reason: `MX lookup for ${name}: ${answer.reason}`, mx: [], skipped: [] };
    case 'nxdomain':
      return { kind: 'no-such-domain', domain: name };
    case 'nodata': {
      // RFC 5321 §5.1: no MX records, so the domain itself is the host, as if "MX 0 <domain>".
      const found = await hostAddresses(options.resolver, name);
      if (found.kind === 'temporary') {
        return { kind: 'temporary', domain: name, reason: `no MX records, and the address lookup for ${name} failed: ${found.detail}`, mx: [], skipped: [] };
      }
      if (found.kind === 'none') return { kind: 'no-mail-host', domain: name, implicit: true, mx: [], skipped: [] };
      if (isSelf(name, found)) {
        return { kind: 'self-most-preferred', domain: name, implicit: true, mx: [], skipped: [{ host: name, preference: 0, reason: 'self' }], selfPreference: 0 };
      }
      const target: MxTarget = { host: name, preference: 0, addresses: found.addresses, viaCname: found.viaCname, canonicalHost: found.canonicalHost, problems: found.problems };
      return { kind: 'targets', domain: name, implicit: true, mx: [], targets: [target], skipped: [], selfPreference: null };
    }
    case 'records':
      break;
  }

  const mx: MxRecordFound[] = [];
  for (const r of answer.records) {
    if (r.data.type === 'MX') mx.push({ exchange: r.data.exchange, preference: r.data.preference, ttl: r.ttl });
  }
  mx.sort((a, b) => a.preference - b.preference || a.exchange.localeCompare(b.exchange));
  // RFC 7505 §3: a null MX is the only MX of its domain; a "." beside real hosts is noise.
  if (mx.every((m) => m.exchange === '.')) return { kind: 'null-mx', domain: name, mx };

  const skipped: SkippedHost[] = [];
  for (const m of mx) {
    if (m.exchange === '.') skipped.push({ host: '.', preference: m.preference, reason: 'null-mx-among-others' });
  }
  const hosts = shuffleEqualPreferences(uniqueHosts(mx.filter((m) => m.exchange !== '.')), random);

  const lookups = await Promise.all(
    hosts.map((h): Promise<HostAddresses | null> => (isAddressLiteral(h.exchange) ? Promise.resolve(null) : hostAddresses(options.resolver, h.exchange))),
  );
  let selfPreference: number | null = null;
  for (const [i, h] of hosts.entries()) {
    if (isAddressLiteral(h.exchange)) continue;
    if (isSelf(h.exchange, lookups[i] ?? null) && (selfPreference === null || h.preference < selfPreference)) selfPreference = h.preference;
  }

  const targets: MxTarget[] = [];
  for (const [i, h] of hosts.entries()) {
    const host = h.exchange;
    const preference = h.preference;
    const found = lookups[i] ?? null;
    if (selfPreference !== null && preference >= selfPreference) {
      skipped.push(isSelf(host, found) ? { host, preference, reason: 'self' } : { host, preference, reason: 'not-more-preferred', selfPreference });
    } else if (found === null) {
      skipped.push({ host, preference, reason: 'ip-literal' });
    } else if (found.kind === 'temporary') {
      skipped.push({ host, preference, reason: 'temporary', detail: found.detail });
    } else if (found.kind === 'none') {
      skipped.push({ host, preference, reason: 'no-address' });
    } else {
      targets.push({ host, preference, addresses: found.addresses, viaCname: found.viaCname, canonicalHost: found.canonicalHost, problems: found.problems });
    }
  }

  if (selfPreference !== null && hosts.every((h) => h.preference >= selfPreference)) {
    return { kind: 'self-most-preferred', domain: name, implicit: false, mx, skipped, selfPreference };
  }
  if (targets.length > 0) return { kind: 'targets', domain: name, implicit: false, mx, targets, skipped, selfPreference };
  const temporary = skipped.filter((s) => s.reason === 'temporary');
  if (temporary.length > 0) {
    const detail = temporary.map((s) => `${s.host}: ${s.detail}`).join('; ');
    return { kind: 'temporary', domain: name, reason: `no MX host of ${name} has an address for now: ${detail}`, mx, skipped };
  }
  return { kind: 'no-mail-host', domain: name, implicit: false, mx, skipped };
}

/** Looks up AAAA and A together; IPv6 first. One family failing for now does not hide the other. */
async function hostAddresses(resolver: Resolver, host: string): Promise<HostAddresses> {
  const [v6, v4] = await Promise.all([resolver.lookup(host, 'AAAA'), resolver.lookup(host, 'A')]);
  const addresses: string[] = [];
  for (const result of [v6, v4]) {
    if (result.kind !== 'records') continue;
    for (const r of result.records) {
      if (r.data.type !== 'A' && r.data.type !== 'AAAA') continue;
      const a = canonicalAddress(r.data.address);
      if (!addresses.includes(a)) addresses.push(a);
    }
  }
  const failures = ([['AAAA', v6], ['A', v4]] as const).flatMap(([type, r]) => (r.kind === 'temporary' ? [`${type}: ${r.reason}`] : []));
  const chainEnd = lastCnameTarget(v6) ?? lastCnameTarget(v4);
  const alias = { viaCname: chainEnd !== null, canonicalHost: chainEnd ?? host };
  if (addresses.length > 0) return { kind: 'addresses', addresses, ...alias, problems: failures };
  if (failures.length > 0) return { kind: 'temporary', detail: failures.join('; ') };
  return { kind: 'none', ...alias };
}

function lastCnameTarget(result: LookupResult): string | null {
  if (result.kind === 'temporary') return null;
  const last = result.cnames.at(-1);
  return last !== undefined && last.data.type === 'CNAME' ? last.data.target : null;
}

/** The same host named twice keeps its most preferred record only. `mx` is sorted. */
function uniqueHosts(mx: MxRecordFound[]): MxRecordFound[] {
  const seen = new Set<string>();
  return mx.filter((m) => {
    if (seen.has(m.exchange)) return false;
    seen.add(m.exchange);
    return true;
  });
}

/**
 * Sorted by preference; each run of equal preferences shuffled (Fisher-Yates) so that they share
 * the load (RFC 5321 §5.1). The input is sorted by name within a preference, so the order depends
 * only on `random`, not on the order the DNS answer happened to list them in.
 */
export function shuffleEqualPreferences<T extends { preference: number }>(sorted: readonly T[], random: () => number): T[] {
  const out = [...sorted];
  let start = 0;
  while (start < out.length) {
    let end = start + 1;
    while (end < out.length && out[end]?.preference === out[start]?.preference) end++;
    for (let i = end - 1; i > start; i--) {
      const span = i - start + 1;
      const j = start + Math.min(span - 1, Math.floor(random() * span));
      const a = out[i];
      const b = out[j];
      if (a === undefined || b === undefined) continue;
      out[i] = b;
      out[j] = a;
    }
    start = end;
  }
  return out;
}

function isAddressLiteral(exchange: string): boolean {
  const bare = exchange.startsWith('[') && exchange.endsWith(']') ? exchange.slice(1, -1).replace(/^ipv6:/i, '') : exchange;
  return isIP(bare) !== 0;
}
