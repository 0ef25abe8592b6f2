/**
 * A resolver over a table of records written like zone lines ("mail.d.test A 127.0.0.1"), with
 * lookups that fail for now listed apart ("ghost.test AAAA"). It answers as a recursive server
 * would: records, a CNAME chain followed inside the table, nodata for a name that has other
 * records, nxdomain otherwise. `asked` records every lookup. A TXT line's words are one string.
 */
import type { LookupResult, Resolver } from '../../src/dns/resolver.ts';
import type { WireRecord } from '../../src/dns/wire.ts';
import type { RData, ZoneRecordType } from '../../src/dns/zone/types.ts';

export function tableResolver(lines: readonly string[], failing: readonly string[] = []): Resolver & { asked: string[] } {
  const records: WireRecord[] = lines.map((line) => {
    const [name = '', type = '', ...rest] = line.trim().split(/\s+/);
    let data: RData;
    if (type === 'A' || type === 'AAAA') data = { type, address: rest[0] ?? '' };
    else if (type === 'MX') data = { type, preference: Number(rest[0]), exchange: rest[1] ?? '' };
    else if (type === 'CNAME') data = { type, target: rest[0] ?? '' };
    else if (type === 'PTR') data = { type, host: rest[0] ?? '' };
    else if (type === 'TXT') data = { type, strings: [new TextEncoder().encode(rest.join(' '))] };
    else throw new Error(`table: ${line}`);
    return { name, ttl: 300, data };
  });
  const asked: string[] = [];
  const resolve = (name: string, type: ZoneRecordType, cnames: WireRecord[]): LookupResult => {
    if (failing.includes(`${name} ${type}`)) return { kind: 'temporary', reason: `SERVFAIL for ${name} ${type}` };
    const here = records.filter((r) => r.name === name);
    const matching = here.filter((r) => r.data.type === type);
    if (matching.length > 0) return { kind: 'records', records: matching, cnames, ttl: 300 };
    const alias = here.find((r) => r.data.type === 'CNAME');
    if (alias !== undefined && alias.data.type === 'CNAME') return resolve(alias.data.target, type, [...cnames, alias]);
    return here.length > 0 ? { kind: 'nodata', cnames } : { kind: 'nxdomain', cnames };
  };
  return {
    asked,
    async lookup(name, type) {
      asked.push(`${name} ${type}`);
      return resolve(name, type, []);
    },
  };
}
