/**
 * The router: for one recipient address, who is it and where does mail for it go (DESIGN.md,
 * Domain roles). A primary domain's recipient must be an account or an alias, expanded here to the
 * final addresses (each itself local or remote); a backup domain's recipient is held for forwarding
 * (whether the primary would take it is the backup verifier's question, asked separately); any other
 * domain is remote, allowed only to trusted senders (authenticated submission, local sendmail),
 * never to an unauthenticated client on any address, loopback included.
 *
 * Relay tricks are refused before anything else: a `%` or `!` in the local part (the old percent
 * hack and UUCP bang paths) and an `@` inside a quoted local part would, at some hop, turn into
 * another domain (CERT advisory CA-1997-17 era open relays).
 */
import type { DomainConfig } from '../config/schema.ts';
import { normalizeDomain } from '../core/domain-name.ts';
import { Reply, withText, type SmtpReply } from '../core/smtp-reply.ts';
import type { AccountStore, Route } from '../store/types.ts';

export interface RoutedRecipient {
  /** The final address, local part as given and domain lower-case. */
  address: string;
  domain: string;
  route: Route;
}

export type RouteResult = { kind: 'accept'; recipients: RoutedRecipient[] } | { kind: 'reject'; reply: SmtpReply };

export interface RouterOptions {
  domains: readonly DomainConfig[];
  accounts: Pick<AccountStore, 'getAccount' | 'lookupAlias'>;
  /** How deep alias chains may go before they are taken for a loop. */
  maxAliasDepth?: number;
}

export interface RouteContext {
  /** The sender is trusted to relay: authenticated submission or local sendmail. */
  mayRelay: boolean;
}

export function domainRole(domains: readonly DomainConfig[], domain: string): DomainConfig['role'] | null {
  const d = normalizeDomain(domain);
  return domains.find((c) => c.name === d)?.role ?? null;
}

export async function routeRecipient(recipient: { local: string; domain: string }, options: RouterOptions, context: RouteContext): Promise<RouteResult> {
  const local = recipient.local;
  const domain = normalizeDomain(recipient.domain);
  if (/[%!@]/.test(local)) {
    return { kind: 'reject', reply: withText(Reply.RelayDenied, `relaying denied: "${local}" routes through another host (%, ! and @ are not accepted in local parts)`) };
  }
  const role = domainRole(options.domains, domain);
  if (role === 'backup') return { kind: 'accept', recipients: [{ address: `${local}@${domain}`, domain, route: 'backup' }] };
  if (role === null) {
    if (!context.mayRelay) return { kind: 'reject', reply: withText(Reply.RelayDenied, `relaying denied: ${domain} is not a domain of this server`) };
    return { kind: 'accept', recipients: [{ address: `${local}@${domain}`, domain, route: 'remote' }] };
  }
  const found = new Map<string, RoutedRecipient>();
  const ok = await expand(`${local}@${domain}`, options, context, found, 0, new Set());
  if (!ok || found.size === 0) return { kind: 'reject', reply: withText(Reply.NoSuchUser, `no such user here: ${local}@${domain}`) };
  return { kind: 'accept', recipients: [...found.values()] };
}

async function expand(address: string, options: RouterOptions, context: RouteContext, found: Map<string, RoutedRecipient>, depth: number, seen: Set<string>): Promise<boolean> {
  const key = address.toLowerCase();
  if (seen.has(key) || depth > (options.maxAliasDepth ?? 10)) return false;
  seen.add(key);
  const at = address.lastIndexOf('@');
  const domain = normalizeDomain(address.slice(at + 1));
  const role = domainRole(options.domains, domain);
  if (role !== 'primary') {
    // An alias may forward anywhere: the domain's owner configured it, so it is not relaying for
    // strangers.
    found.set(key, { address, domain, route: role === 'backup' ? 'backup' : 'remote' });
    return true;
  }
  const account = await options.accounts.getAccount(address);
  if (account !== null) {
    found.set(account.address.toLowerCase(), { address: account.address, domain, route: 'local' });
    return true;
  }
  const alias = await options.accounts.lookupAlias(address);
  if (alias === null) return false;
  let any = false;
  for (const target of alias.targets) {
    if (await expand(target, options, context, found, depth + 1, seen)) any = true;
  }
  return any;
}
