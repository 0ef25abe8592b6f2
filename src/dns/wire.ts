/**
 * Between our record model (zone/types.ts) and dns-packet's answer objects: the authoritative
 * server encodes zone records with `toAnswer`, the resolver reads answers with `fromAnswer`.
 */
import type { Answer } from 'dns-packet';
import type { RData, ZoneRecordType } from './zone/types.ts';
import { SUPPORTED_TYPES } from './zone/types.ts';

/** A record as seen on the wire: owner name (lower-cased, no trailing dot), TTL, data. */
export interface WireRecord {
  name: string;
  ttl: number;
  data: RData;
}

export function canonicalName(name: string): string {
  if (name === '' || name === '.') return '.';
  return name.toLowerCase().replace(/\.$/, '');
}

export function isSupportedType(type: string): type is ZoneRecordType {
  return (SUPPORTED_TYPES as readonly string[]).includes(type);
}

export function toAnswer(name: string, ttl: number, data: RData): Answer {
  const base = { name: name === '.' ? '' : name, ttl, class: 'IN' as const };
  switch (data.type) {
    case 'A':
    case 'AAAA':
      return { ...base, type: data.type, data: data.address };
    case 'CNAME':
      return { ...base, type: 'CNAME', data: data.target };
    case 'NS':
    case 'PTR':
      return { ...base, type: data.type, data: data.host };
    case 'MX':
      return { ...base, type: 'MX', data: { preference: data.preference, exchange: data.exchange === '.' ? '' : data.exchange } };
    case 'SOA':
      return {
        ...base,
        type: 'SOA',
        data: {
          mname: data.mname,
          rname: data.rname,
          serial: data.serial,
          refresh: data.refresh,
          retry: data.retry,
          expire: data.expire,
          minimum: data.minimum,
        },
      };
    case 'TXT':
      return { ...base, type: 'TXT', data: data.strings.map((s) => Buffer.from(s)) };
    case 'SRV':
      return { ...base, type: 'SRV', data: { priority: data.priority, weight: data.weight, port: data.port, target: data.target === '.' ? '' : data.target } };
    case 'CAA':
      return {
        ...base,
        type: 'CAA',
        data: { flags: data.flags, tag: data.tag as 'issue', value: data.value, issuerCritical: (data.flags & 128) !== 0 },
      };
  }
}

/** null for record types we do not model (RRSIG, OPT, …): callers skip them. */
export function fromAnswer(a: Answer): WireRecord | null {
  if (a.type === 'OPT') return null;
  const name = canonicalName(a.name);
  const ttl = a.ttl ?? 0;
  switch (a.type) {
    case 'A':
    case 'AAAA':
      return { name, ttl, data: { type: a.type, address: a.data } };
    case 'CNAME':
      return { name, ttl, data: { type: 'CNAME', target: canonicalName(a.data) } };
    case 'NS':
    case 'PTR':
      return { name, ttl, data: { type: a.type, host: canonicalName(a.data) } };
    case 'MX':
      return { name, ttl, data: { type: 'MX', preference: a.data.preference ?? 0, exchange: canonicalName(a.data.exchange) } };
    case 'SOA':
      return {
        name,
        ttl,
        data: {
          type: 'SOA',
          mname: canonicalName(a.data.mname),
          rname: canonicalName(a.data.rname),
          serial: a.data.serial ?? 0,
          refresh: a.data.refresh ?? 0,
          retry: a.data.retry ?? 0,
          expire: a.data.expire ?? 0,
          minimum: a.data.minimum ?? 0,
        },
      };
    case 'TXT': {
      const parts = Array.isArray(a.data) ? a.data : [a.data];
      return { name, ttl, data: { type: 'TXT', strings: parts.map((p) => new Uint8Array(typeof p === 'string' ? Buffer.from(p) : p)) } };
    }
    case 'SRV':
      return {
        name,
        ttl,
        data: { type: 'SRV', priority: a.data.priority ?? 0, weight: a.data.weight ?? 0, port: a.data.port, target: canonicalName(a.data.target) },
      };
    case 'CAA':
      return { name, ttl, data: { type: 'CAA', flags: a.data.flags ?? 0, tag: a.data.tag, value: a.data.value } };
    default:
      return null;
  }
}
