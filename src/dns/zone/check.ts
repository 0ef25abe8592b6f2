/**
 * Checks a parsed zone as a whole, the rules no single record can break alone: one SOA at the
 * apex, NS records at the apex, a CNAME alone at its name, nothing outside the zone. Pure.
 *
 * What a later `postern check` flags as advice (an MX naming a CNAME or a host without an address)
 * is not here: such zones are legal and the scenarios use them on purpose.
 */
import type { SourcePosition, Zone, ZoneProblem, ZoneRecord } from './types.ts';
import { isInZone } from './parse.ts';

export function checkZone(zone: Zone): ZoneProblem[] {
  const problems: ZoneProblem[] = [];
  const at = (r: { source: SourcePosition } | null, message: string): void => {
    const source = r?.source ?? { file: zone.file, line: 1 };
    problems.push({ file: source.file, line: source.line, message });
  };
  const apex = zone.origin;

  // RFC 1035 §5.2: exactly one SOA, at the top of the zone.
  const soas = zone.records.filter((r) => r.data.type === 'SOA');
  const firstSoa = soas[0] ?? null;
  if (firstSoa === null) at(null, `the zone ${apex} has no SOA record (it needs exactly one, at ${apex})`);
  const apexSoa = soas.find((r) => r.name === apex) ?? null;
  for (const soa of soas) {
    if (soa.name !== apex) at(soa, `the SOA record is at ${soa.name}, not at the zone apex ${apex}`);
    else if (soa !== apexSoa) at(soa, `a second SOA record (the first is ${where(apexSoa, soa)}); a zone has exactly one`);
  }

  // RFC 1035 §5.2: at least one NS at the top of the zone.
  if (!zone.records.some((r) => r.data.type === 'NS' && r.name === apex)) {
    at(firstSoa, `the zone ${apex} has no NS record at its apex (it needs at least one)`);
  }

  // RFC 1034 §3.6.2, RFC 2181 §10.1: a CNAME is the only record at its name, and there is one.
  const byName = new Map<string, ZoneRecord[]>();
  for (const r of zone.records) {
    const list = byName.get(r.name);
    if (list === undefined) byName.set(r.name, [r]);
    else list.push(r);
  }
  for (const [name, records] of byName) {
    const cnames = records.filter((r) => r.data.type === 'CNAME');
    const first = cnames[0];
    if (first === undefined) continue;
    for (const extra of cnames.slice(1)) {
      at(extra, `a second CNAME at ${name} (the first is ${where(first, extra)}); a name has at most one (RFC 2181 §10.1)`);
    }
    const others = new Map<string, ZoneRecord>();
    for (const r of records) if (r.data.type !== 'CNAME' && !others.has(r.data.type)) others.set(r.data.type, r);
    if (others.size > 0) {
      const list = [...others.values()].map((r) => `${r.data.type} ${where(r, first)}`).join(', ');
      at(first, `${name} has a CNAME and other data (${list}); a CNAME must be the only record at its name (RFC 1034 §3.6.2)`);
    }
  }

  for (const r of zone.records) {
    if (!isInZone(r.name, apex)) at(r, `${r.name} is out of zone (not at or below ${apex})`);
  }

  // In reading order: files as they first appear ($INCLUDEd ones after the top file), then lines.
  const rank = new Map<string, number>([[zone.file, 0]]);
  for (const r of zone.records) if (!rank.has(r.source.file)) rank.set(r.source.file, rank.size);
  const order = (p: ZoneProblem): number => rank.get(p.file) ?? rank.size;
  return problems.sort((a, b) => order(a) - order(b) || a.line - b.line);
}

/** "on line 7", or "at other.inc:7" when the record is in another file than `from`. */
function where(r: ZoneRecord | null, from: { source: SourcePosition }): string {
  if (r === null) return 'unknown';
  return r.source.file === from.source.file ? `on line ${r.source.line}` : `at ${r.source.file}:${r.source.line}`;
}
