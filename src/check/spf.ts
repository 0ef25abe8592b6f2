/**
 * Is a domain's SPF record (RFC 7208) there, alone, and plausible? Not an SPF evaluation (that asks
 * DNS and needs a sender's address; `mailauth` does it at delivery time): this reads the record's
 * text the way a receiver's parser would before evaluating it, and names what would make receivers
 * give up on it (a permerror) or what makes it useless.
 *
 * TXT text comes off the network, so nothing here throws: every outcome is a value.
 */
import { isIP } from 'node:net';

export type SpfQualifier = '+' | '-' | '~' | '?';

export interface SpfTerm {
  /** As written, for messages. */
  text: string;
  kind: 'mechanism' | 'modifier';
  /** Lower case: all, include, a, mx, ptr, ip4, ip6, exists; or the modifier's name. */
  name: string;
  qualifier: SpfQualifier;
  /** After ":" or "=" (domain-spec, network, macro string); null when absent. */
  value: string | null;
}

export interface SpfFinding {
  severity: 'warn' | 'fail';
  text: string;
  fix: string;
}

export type SpfAssessment =
  /** No TXT record starting with v=spf1. */
  | { kind: 'none' }
  /** RFC 7208 §4.5: more than one record is a permerror; receivers act as if there were none. */
  | { kind: 'multiple'; records: string[] }
  | {
      kind: 'record';
      record: string;
      terms: SpfTerm[];
      /** Terms that cost a DNS lookup at the top level (includes may cost more, unseen here). */
      lookups: number;
      /** The qualifier of the `all` mechanism, or null when there is none. */
      all: SpfQualifier | null;
      findings: SpfFinding[];
    };

const MECHANISMS = ['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists'] as const;
/** RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups. */
const MAX_LOOKUPS = 10;
const LOOKUP_TERMS = new Set(['include', 'a', 'mx', 'ptr', 'exists', 'redirect']);

/** RFC 7208 §4.5: records are TXT records whose text begins with "v=spf1" then a space or the end. */
export function isSpfRecord(text: string): boolean {
  return /^v=spf1( |$)/i.test(text);
}

/**
 * `texts`: every TXT record at the domain, each one's strings already joined (RFC 7208 §3.3 joins
 * them with nothing between).
 */
export function assessSpf(texts: readonly string[]): SpfAssessment {
  const records = texts.filter(isSpfRecord);
  if (records.length === 0) return { kind: 'none' };
  if (records.length > 1) return { kind: 'multiple', records };
  const record = records[0] ?? '';
  const findings: SpfFinding[] = [];
  const terms: SpfTerm[] = [];
  // RFC 7208 §12: terms are separated by 1*SP.
  for (const word of record.split(' ').slice(1).filter((w) => w !== '')) {
    const term = parseTerm(word);
    if (term.kind === 'error') {
      findings.push({ severity: 'fail', text: `"${word}" ${term.reason}`, fix: `correct or remove "${word}": receivers treat the whole record as a permerror (RFC 7208 §4.6)` });
      continue;
    }
    terms.push(term.term);
  }
  const mechanisms = terms.filter((t) => t.kind === 'mechanism');
  const modifiers = terms.filter((t) => t.kind === 'modifier');
  const lookups = terms.filter((t) => LOOKUP_TERMS.has(t.name)).length;
  if (lookups > MAX_LOOKUPS) {
    findings.push({ severity: 'fail', text: `${lookups} terms that need DNS lookups (more than ${MAX_LOOKUPS})`, fix: 'flatten includes into ip4:/ip6: ranges: more than 10 lookups is a permerror (RFC 7208 §4.6.4)' });
  }
  for (const name of ['redirect', 'exp']) {
    if (modifiers.filter((m) => m.name === name).length > 1) {
      findings.push({ severity: 'fail', text: `"${name}=" appears more than once`, fix: `keep one "${name}=" (RFC 7208 §6: a second one is a permerror)` });
    }
  }
  const allTerm = mechanisms.find((m) => m.name === 'all') ?? null;
  const all = allTerm === null ? null : allTerm.qualifier;
  const afterAll = allTerm === null ? [] : mechanisms.slice(mechanisms.indexOf(allTerm) + 1);
  if (afterAll.length > 0) {
    findings.push({ severity: 'warn', text: `mechanisms after "all" are never reached: ${afterAll.map((m) => m.text).join(' ')}`, fix: 'put "all" last (RFC 7208 §5.1)' });
  }
  if (mechanisms.some((m) => m.name === 'ptr')) {
    findings.push({ severity: 'warn', text: '"ptr" is slow and unreliable', fix: 'replace "ptr" with ip4:/ip6: or a (RFC 7208 §5.5: it SHOULD NOT be used)' });
  }
  if (all === '+') {
    findings.push({ severity: 'fail', text: '"+all" lets every host on the Internet send as this domain', fix: 'end the record with "-all" (or "~all" while testing)' });
  } else if (all === '?') {
    findings.push({ severity: 'warn', text: '"?all" says nothing about other senders', fix: 'end the record with "-all" (or "~all" while testing)' });
  } else if (all === null && !modifiers.some((m) => m.name === 'redirect')) {
    findings.push({ severity: 'warn', text: 'no "all" and no "redirect=": mail from other hosts gets a neutral result', fix: 'end the record with "-all" (or "~all" while testing)' });
  }
  return { kind: 'record', record, terms, lookups, all, findings };
}

type TermResult = { kind: 'term'; term: SpfTerm } | { kind: 'error'; reason: string };

// RFC 7208 §12: directive = [ qualifier ] mechanism; modifier = name "=" macro-string.
function parseTerm(word: string): TermResult {
  const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(word);
  if (modifier !== null) {
    const name = (modifier[1] ?? '').toLowerCase();
    const value = modifier[2] ?? '';
    if ((name === 'redirect' || name === 'exp') && !plausibleDomainSpec(value)) return { kind: 'error', reason: `is not a domain name` };
    return { kind: 'term', term: { text: word, kind: 'modifier', name, qualifier: '+', value } };
  }
  const first = word[0] ?? '';
  const qualifier: SpfQualifier = first === '+' || first === '-' || first === '~' || first === '?' ? first : '+';
  const rest = first === qualifier && /^[+\-~?]/.test(word) ? word.slice(1) : word;
  const m = /^([a-z0-9]+)(?:([:/])(.*))?$/i.exec(rest);
  const name = (m?.[1] ?? '').toLowerCase();
  if (m === null || !(MECHANISMS as readonly string[]).includes(name)) return { kind: 'error', reason: 'is not an SPF mechanism (all, include, a, mx, ptr, ip4, ip6, exists) or modifier' };
  const sep = m[2];
  const arg = m[3] ?? null;
  const value = sep === undefined ? null : sep === '/' ? `/${arg ?? ''}` : arg;
  const term: SpfTerm = { text: word, kind: 'mechanism', name, qualifier, value };
  switch (name) {
    case 'all':
      return value === null ? { kind: 'term', term } : { kind: 'error', reason: 'takes no argument' };
    case 'include':
    case 'exists':
      return sep === ':' && plausibleDomainSpec(value ?? '') ? { kind: 'term', term } : { kind: 'error', reason: `needs a domain (${name}:example.com)` };
    case 'a':
    case 'mx':
    case 'ptr': {
      if (value === null) return { kind: 'term', term };
      // RFC 7208 §5.3, §5.4: [ ":" domain-spec ] [ dual-cidr-length ]; ptr takes no CIDR.
      const parts = /^([^/]*)((?:\/\d+)?(?:\/\/\d+)?)$/.exec(value);
      const domain = sep === ':' ? (parts?.[1] ?? '') : '';
      const cidr = parts?.[2] ?? '';
      if (parts === null || (sep === ':' && !plausibleDomainSpec(domain))) return { kind: 'error', reason: 'has a malformed domain or prefix length' };
      if (name === 'ptr' && cidr !== '') return { kind: 'error', reason: 'takes no prefix length' };
      if (!plausibleDualCidr(cidr)) return { kind: 'error', reason: 'has a prefix length out of range (/0-/32 for IPv4, //0-//128 for IPv6)' };
      return { kind: 'term', term };
    }
    case 'ip4':
    case 'ip6': {
      if (sep !== ':' || value === null) return { kind: 'error', reason: `needs an address (${name}:${name === 'ip4' ? '192.0.2.0/24' : '2001:db8::/32'})` };
      const slash = value.indexOf('/');
      const address = slash === -1 ? value : value.slice(0, slash);
      const length = slash === -1 ? null : value.slice(slash + 1);
      const family = name === 'ip4' ? 4 : 6;
      if (isIP(address) !== family) return { kind: 'error', reason: `has "${address}", not an IPv${family} address` };
      if (length !== null && !(/^\d{1,3}$/.test(length) && Number(length) <= (family === 4 ? 32 : 128))) return { kind: 'error', reason: 'has a prefix length out of range' };
      return { kind: 'term', term };
    }
    default:
      return { kind: 'error', reason: 'is not an SPF mechanism' };
  }
}

/** A domain name or a macro-string (RFC 7208 §7) that could expand to one. */
function plausibleDomainSpec(value: string): boolean {
  if (value === '' || value.length > 253 || /[\s;"]/.test(value)) return false;
  if (value.includes('%')) return /^(?:[^%]|%%|%_|%-|%\{[slodiphcrtv]\d*r?[.\-+,/_=]*\})+$/i.test(value);
  const labels = value.replace(/\.$/, '').split('.');
  return labels.length >= 2 && labels.every((l) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(l));
}

function plausibleDualCidr(cidr: string): boolean {
  const m = /^(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(cidr);
  if (m === null) return false;
  return (m[1] === undefined || Number(m[1]) <= 32) && (m[2] === undefined || Number(m[2]) <= 128);
}
