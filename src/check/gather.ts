/**
 * Gathering the facts: the MX plan (the same `mxTargets` delivery uses), then for each address of
 * each MX host its PTR records with their forward lookups and an SMTP probe, then the SPF and DMARC
 * TXT records. Everything goes through the injected resolver and prober, one step at a time, each
 * announced through `progress` before it waits (and each bounded by its own timeout).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { mxTargets } from '../dns/mx.ts';
import type { LookupResult, Resolver } from '../dns/resolver.ts';
import { canonicalAddress } from '../dns/resolver.ts';
import { judge } from './judge.ts';
import type { AddressFacts, CheckFacts, CheckReport, HostFacts, PtrFacts, SmtpProber, TxtFacts } from './types.ts';

export interface CheckOptions {
  resolver: Resolver;
  smtp: SmtpProber;
  /** The SMTP port of the MX hosts (25 on the Internet). */
  port: number;
  /** Our name in EHLO. */
  helo: string;
  /** Per network step of the SMTP probes (connect, each reply, the TLS handshake). */
  timeoutMs: number;
  /** Told before each step that waits on the network. */
  progress?: (step: string) => void;
  /** The random part of the made-up recipient; default 12 hex digits. */
  token?: () => string;
  /** Default: the current time. */
  now?: () => Date;
}

/** The whole check: facts, then verdicts. */
export async function checkDomain(domain: string, options: CheckOptions): Promise<CheckReport> {
  const facts = await gatherFacts(domain, options);
  return judge(facts, { now: (options.now ?? (() => new Date()))() });
}

export async function gatherFacts(domain: string, options: CheckOptions): Promise<CheckFacts> {
  const progress = options.progress ?? (() => {});
  const { resolver } = options;
  progress(`MX records of ${domain}`);
  // The check is nobody's MX host: no "self" to drop from the list.
  const plan = await mxTargets(domain, { resolver, self: { hostnames: [], addresses: [] } });
  const name = plan.domain;
  const token = options.token ?? (() => randomBytes(6).toString('hex'));
  const recipient = `postern-check-${token()}@${name}`;

  const hosts: HostFacts[] = [];
  if (plan.kind === 'targets') {
    const targets = [...plan.targets].sort((a, b) => a.preference - b.preference || a.host.localeCompare(b.host));
    // Backups are measured against the most preferred host that has an address: when the
    // primaries have none, the next group takes all the mail and is a primary in all but name.
    const best = Math.min(...targets.map((t) => t.preference));
    for (const t of targets) {
      const backup = !plan.implicit && t.preference > best;
      const addresses: AddressFacts[] = [];
      for (const address of t.addresses) {
        progress(`PTR of ${address}`);
        const ptr = await ptrFacts(resolver, address);
        const shown = isIP(address) === 6 ? `[${address}]` : address;
        progress(`SMTP ${t.host} ${shown}:${options.port}${backup ? ' (with a made-up recipient)' : ''}`);
        const smtp = await options.smtp.probe({ host: t.host, address, port: options.port, helo: options.helo, timeoutMs: options.timeoutMs, rcpt: backup ? recipient : null });
        addresses.push({ address, ptr, smtp });
      }
      hosts.push({ host: t.host, preference: t.preference, backup, addresses });
    }
  }

  progress(`SPF (TXT) of ${name}`);
  const spf = await txtFacts(resolver, name);
  progress(`DMARC (TXT) of _dmarc.${name}`);
  const dmarc = await txtFacts(resolver, `_dmarc.${name}`);
  return { domain: name, port: options.port, plan, hosts, spf, dmarc };
}

/** RFC 1035 §3.5 and RFC 3596 §2.5: the name a PTR record for `address` lives at. */
export function reverseName(address: string): string | null {
  const a = canonicalAddress(address);
  const family = isIP(a);
  if (family === 4) return `${a.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family !== 6) return null;
  // Expand to 32 nibbles: fill "::" with zero groups, pad each group to 4.
  const [head = '', tail] = a.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const nibbles = groups.map((g) => g.padStart(4, '0')).join('');
  return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
}

async function ptrFacts(resolver: Resolver, address: string): Promise<PtrFacts> {
  const name = reverseName(address);
  if (name === null) return { kind: 'temporary', reason: `${address} is not an IP address` };
  const answer = await resolver.lookup(name, 'PTR');
  if (answer.kind === 'temporary') return { kind: 'temporary', reason: answer.reason };
  if (answer.kind !== 'records') return { kind: 'none' };
  const names: Array<{ name: string; addresses: string[]; problem: string | null }> = [];
  for (const r of answer.records) {
    if (r.data.type !== 'PTR') continue;
    const host = r.data.host.toLowerCase().replace(/\.$/, '');
    if (names.some((n) => n.name === host)) continue;
    const [v6, v4] = [await resolver.lookup(host, 'AAAA'), await resolver.lookup(host, 'A')];
    names.push({ name: host, addresses: [...addressesOf(v6), ...addressesOf(v4)], problem: [v6, v4].find((x) => x.kind === 'temporary')?.reason ?? null });
  }
  return names.length === 0 ? { kind: 'none' } : { kind: 'names', names };
}

function addressesOf(result: LookupResult): string[] {
  if (result.kind !== 'records') return [];
  return result.records.flatMap((r) => (r.data.type === 'A' || r.data.type === 'AAAA' ? [canonicalAddress(r.data.address)] : []));
}

async function txtFacts(resolver: Resolver, name: string): Promise<TxtFacts> {
  const answer = await resolver.lookup(name, 'TXT');
  if (answer.kind === 'temporary') return { kind: 'temporary', reason: answer.reason };
  if (answer.kind !== 'records') return { kind: 'none' };
  const decoder = new TextDecoder();
  const texts = answer.records.flatMap((r) => (r.data.type === 'TXT' ? [r.data.strings.map((s) => decoder.decode(s)).join('')] : []));
  return texts.length === 0 ? { kind: 'none' } : { kind: 'records', texts };
}
