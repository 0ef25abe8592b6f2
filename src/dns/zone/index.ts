/**
 * Zone files. A zone is the part of the DNS tree one server answers for with authority, from its
 * apex (domain.test) down to every name below it that is not delegated away. Its records live in a
 * master file (RFC 1035 §5): plain text, one record a line, names relative to an origin, with
 * `$ORIGIN`, `$TTL` and `$INCLUDE` directives; it is what an administrator edits to say "mail for
 * domain.test goes to smtp1 and smtp2, and smtp3 holds it when they are down".
 *
 * This folder turns such a file into the records the authoritative server publishes. `parseZone`
 * reads the text (pure, never throws on bad input, every mistake a `file:line:` problem saying
 * what was expected), `checkZone` applies the rules that span records (one SOA at the apex, NS
 * there, a CNAME alone at its name, nothing outside the zone), and `loadZoneFile` /
 * `loadZonesDir` do both for files on disk, one zone per `<origin>.zone` file.
 */
export type { ParseOptions } from './parse.ts';
export { parseZone } from './parse.ts';
export { checkZone } from './check.ts';
export { loadZoneFile, loadZonesDir, originFromFileName } from './load.ts';
export type { RData, SourcePosition, Zone, ZoneProblem, ZoneRecord, ZoneRecordType } from './types.ts';
export { SUPPORTED_TYPES, formatProblem } from './types.ts';
