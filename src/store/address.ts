/**
 * How the store spells and compares addresses. An address is kept as given in its local part with
 * its domain lower-case; two addresses are the same account when they match case-insensitively as
 * a whole. RFC 5321 §2.4 lets the local part be case-sensitive, but users expect Alice@ and alice@
 * to be one mailbox, as every common server treats them.
 */
import { normalizeDomain } from '../core/domain-name.ts';
import { StoreError, StoreErrorCode } from './errors.ts';

export interface NormalizedAddress {
  /** Local part as given, domain lower-case. */
  address: string;
  /** The comparison key: all lower-case. */
  key: string;
  local: string;
  domain: string;
}

/** Splits at the last '@' (a quoted local part may contain one). Null when it is no address. */
export function normalizeAddress(input: string): NormalizedAddress | null {
  const s = input.trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at);
  const domain = normalizeDomain(s.slice(at + 1));
  if (domain === '' || /\s/.test(domain) || /[\r\n]/.test(local)) return null;
  const address = `${local}@${domain}`;
  return { address, key: address.toLowerCase(), local, domain };
}

export interface NormalizedAlias {
  alias: string;
  key: string;
  catchAll: boolean;
  domain: string;
}

/** An alias is an address, or `@domain` for the catch-all of a domain. */
export function normalizeAlias(input: string): NormalizedAlias | null {
  const s = input.trim();
  if (s.startsWith('@')) {
    const domain = normalizeDomain(s.slice(1));
    if (domain === '' || domain.includes('@') || /\s/.test(domain)) return null;
    return { alias: `@${domain}`, key: `@${domain}`, catchAll: true, domain };
  }
  const a = normalizeAddress(s);
  return a === null ? null : { alias: a.address, key: a.key, catchAll: false, domain: a.domain };
}

export function requireAddress(input: string): NormalizedAddress {
  const a = normalizeAddress(input);
  if (a === null) throw new StoreError(StoreErrorCode.InvalidAddress, `not an address: ${JSON.stringify(input)}`);
  return a;
}

export function requireAlias(input: string): NormalizedAlias {
  const a = normalizeAlias(input);
  if (a === null) throw new StoreError(StoreErrorCode.InvalidAddress, `not an alias: ${JSON.stringify(input)}`);
  return a;
}
