/**
 * Where mail for one recipient goes, decided the way delivery will decide it (DESIGN.md, Domain
 * roles): a `primary` domain of ours is delivered into local mailboxes; a `backup` domain is held
 * here and forwarded only to the domain's MX hosts more preferred than us; any other domain is
 * delivered by walking its MX records. The DNS view is computed in every case, so a command can show
 * where the world's senders would take the mail as well as what this node does with it.
 */
import { isIP } from 'node:net';
import type { DomainConfig } from '../config/schema.ts';
import { domainNameProblem, normalizeDomain } from '../core/domain-name.ts';
import { ErrorCode, PosternError } from '../core/errors.ts';
import { mxTargets, type MxOptions, type MxPlan } from '../dns/mx.ts';

export type Route =
  /** A primary domain here: final delivery into mailboxes on this node. */
  | { kind: 'local'; address: string; domain: string; dns: MxPlan }
  /** A backup domain here: held, then forwarded to `forward` (only hosts more preferred than us). */
  | { kind: 'backup-hold'; address: string; domain: string; forward: MxPlan }
  /** Not ours: delivered by the MX walk. */
  | { kind: 'remote'; address: string; domain: string; plan: MxPlan };

/** The domain of "user@domain" (the part after the last @), or a bare domain. */
export function recipientDomain(address: string): string {
  const at = address.lastIndexOf('@');
  const raw = at >= 0 ? address.slice(at + 1) : address;
  const literal = /^\[(.*)\]$/.exec(raw);
  if (literal !== null) {
    throw new PosternError(
      ErrorCode.Usage,
      `"${address}": an address literal (${raw}) names a host, not a domain; there are no MX records to follow`,
    );
  }
  if (isIP(raw) !== 0) throw new PosternError(ErrorCode.Usage, `"${address}": ${raw} is an IP address, not a domain`);
  const problem = domainNameProblem(raw);
  if (problem !== null) throw new PosternError(ErrorCode.Usage, `"${address}": the domain "${raw}" ${problem}`);
  return normalizeDomain(raw);
}

export async function planRoute(address: string, options: { domains: readonly DomainConfig[]; mx: MxOptions }): Promise<Route> {
  const domain = recipientDomain(address);
  const configured = options.domains.find((d) => d.name === domain);
  const plan = await mxTargets(domain, options.mx);
  if (configured?.role === 'primary') return { kind: 'local', address, domain, dns: plan };
  if (configured?.role === 'backup') return { kind: 'backup-hold', address, domain, forward: plan };
  return { kind: 'remote', address, domain, plan };
}
