/**
 * The zone model: what a parsed RFC 1035 master file becomes, and what the authoritative server
 * answers from.
 *
 * Names are absolute, lower-cased and written without the trailing dot ("mail1.domain.test"); the
 * root is ".". Labels that need escaping keep RFC 1035 presentation escapes ("a\.b.test").
 */

export const SUPPORTED_TYPES = ['A', 'AAAA', 'MX', 'CNAME', 'NS', 'SOA', 'TXT', 'PTR', 'SRV', 'CAA'] as const;
export type ZoneRecordType = (typeof SUPPORTED_TYPES)[number];

export type RData =
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'MX'; preference: number; exchange: string }
  | { type: 'CNAME'; target: string }
  | { type: 'NS'; host: string }
  | { type: 'PTR'; host: string }
  | {
      type: 'SOA';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  /** Each character-string as raw bytes: `\DDD` escapes can put any octet in a TXT record. */
  | { type: 'TXT'; strings: Uint8Array[] }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'CAA'; flags: number; tag: string; value: string };

/** Where a record was written: for error messages and logs. */
export interface SourcePosition {
  file: string;
  line: number;
}

export interface ZoneRecord {
  name: string;
  ttl: number;
  class: 'IN';
  data: RData;
  source: SourcePosition;
}

export interface Zone {
  /** The zone's apex, e.g. "domain.test". */
  origin: string;
  /** The file the zone was read from (the top file; $INCLUDEd files appear in record sources). */
  file: string;
  records: ZoneRecord[];
}

/** A problem found while parsing or checking a zone, located at a line. */
export interface ZoneProblem {
  file: string;
  line: number;
  message: string;
}

export function formatProblem(p: ZoneProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}
