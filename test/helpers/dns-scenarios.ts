/**
 * The tutorial's scenario zones (scenarios/<n-name>/*.zone) as the DNS server tests see them: one
 * folder is one scenario, served by one DNS server. What each zone should answer is derived from
 * its records, written as "owner TYPE data" lines (names lower-case, no trailing dot) so that
 * replies read by dns-packet and by dig can be compared with the same expectations.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadZonesDir } from '../../src/dns/zone/load.ts';
import type { RData, Zone } from '../../src/dns/zone/types.ts';

export const SCENARIOS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');

export interface Scenario {
  name: string;
  dir: string;
  zones: Zone[];
}

/** Every scenario folder, its zones loaded; a zone that fails to load fails the caller. */
export function loadScenarios(): Scenario[] {
  return readdirSync(SCENARIOS_DIR)
    .filter((name) => statSync(join(SCENARIOS_DIR, name)).isDirectory())
    .sort()
    .map((name) => {
      const dir = join(SCENARIOS_DIR, name);
      const { zones, failures } = loadZonesDir(dir);
      if (failures.length > 0) throw new Error(`${dir}: ${failures.map((f) => f.error).join('; ')}`);
      return { name, dir, zones };
    });
}

const bare = (name: string): string => (name === '.' || name === '' ? '.' : name.toLowerCase().replace(/\.$/, ''));

/** The data of a record as "TYPE data", the way `normalizeLine` writes answers. */
export function dataLine(data: RData): string {
  switch (data.type) {
    case 'A':
    case 'AAAA':
      return `${data.type} ${data.address}`;
    case 'MX':
      return `MX ${data.preference} ${bare(data.exchange)}`;
    case 'CNAME':
      return `CNAME ${bare(data.target)}`;
    case 'NS':
    case 'PTR':
      return `${data.type} ${bare(data.host)}`;
    case 'SOA':
      return `SOA ${bare(data.mname)} ${bare(data.rname)} ${data.serial}`;
    case 'SRV':
      return `SRV ${data.priority} ${data.weight} ${data.port} ${bare(data.target)}`;
    case 'TXT':
      return `TXT ${data.strings.map((s) => JSON.stringify(Buffer.from(s).toString())).join(' ')}`;
    case 'CAA':
      return `CAA ${data.flags} ${data.tag} ${JSON.stringify(data.value)}`;
  }
}

/** Owner → type → "owner TYPE data" lines, from a scenario's zone files. */
export function expectedRRsets(zones: readonly Zone[]): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  for (const zone of zones) {
    for (const r of zone.records) {
      const owner = bare(r.name);
      const byType = out.get(owner) ?? new Map<string, string[]>();
      out.set(owner, byType);
      const lines = byType.get(r.data.type) ?? [];
      byType.set(r.data.type, lines);
      lines.push(`${owner} ${dataLine(r.data)}`);
    }
  }
  return out;
}

/**
 * An answer line, from dig ("mail1.domain.test. 300 IN A 127.0.1.1") or from our test decoder
 * ("mail1.domain.test 300 A 127.0.1.1"), as "owner TYPE data" for the common types.
 */
export function normalizeLine(line: string): string {
  const fields = line.trim().split(/\s+/);
  const owner = bare(fields[0] ?? '');
  let i = 2; // past owner and TTL
  if (fields[i] === 'IN') i++;
  const type = fields[i] ?? '';
  const rest = fields.slice(i + 1);
  switch (type) {
    case 'MX':
      return `${owner} MX ${rest[0]} ${bare(rest[1] ?? '')}`;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return `${owner} ${type} ${bare(rest[0] ?? '')}`;
    case 'SOA':
      return `${owner} SOA ${bare(rest[0] ?? '')} ${bare(rest[1] ?? '')} ${rest[2]}`;
    default:
      return `${owner} ${type} ${rest.join(' ')}`;
  }
}

/** The TTL field of an answer line. */
export function ttlOf(line: string): number {
  return Number(line.trim().split(/\s+/)[1]);
}
