/**
 * `postern route ADDRESS`: "where would mail for this address go?", answered with the same code
 * delivery uses. Exit status: 0 when the mail has somewhere to go (local, held as backup, or a list
 * of targets), 1 when it would bounce or the configuration is wrong, 2 when DNS failed for now.
 */
import { loadConfig, configPathFrom } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../core/logger.ts';
import { planRoute, type Route } from '../delivery/route.ts';
import { selfIdentity } from '../delivery/self.ts';
import { mxVerdict, type MxPlan, type SkippedHost } from '../dns/mx.ts';
import { createResolver } from '../dns/resolver.ts';
import { nodeDomains } from './format.ts';
import type { Io } from './io.ts';

export type RouteOutcome = 'local' | 'hold' | 'deliver' | 'bounce' | 'retry' | 'configuration-error';

export async function routeCommand(address: string, options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  const config = loadConfig(configPathFrom(options.config, io.env));
  const resolver = createResolver({
    servers: config.dns.resolvers,
    timeoutMs: config.dns.timeoutMs,
    attempts: config.dns.attempts,
    logger: createLogger({ level: config.log.level === 'debug' ? 'debug' : 'silent' }),
  });
  const domains = await nodeDomains(config, io);
  const route = await planRoute(address, { domains, mx: { resolver, self: selfIdentity(config) } });
  const outcome = outcomeOf(route);
  if (options.json === true) {
    io.stdout.write(JSON.stringify({ address, domain: route.domain, route: route.kind, outcome, port: config.smtp.outboundPort, plan: planOf(route) }, null, 2) + '\n');
  } else {
    io.stdout.write(describeRoute(route, outcome, config));
  }
  return outcome === 'retry' ? 2 : outcome === 'bounce' || outcome === 'configuration-error' ? 1 : 0;
}

function planOf(route: Route): MxPlan {
  return route.kind === 'local' ? route.dns : route.kind === 'backup-hold' ? route.forward : route.plan;
}

export function outcomeOf(route: Route): RouteOutcome {
  if (route.kind === 'local') return 'local';
  const verdict = mxVerdict(planOf(route));
  if (route.kind === 'backup-hold') {
    // Held mail waits for a primary: DNS trouble now only delays the forwarding.
    return verdict === 'deliver' || verdict === 'temporary' ? 'hold' : verdict === 'permanent' ? 'bounce' : 'configuration-error';
  }
  return verdict === 'deliver' ? 'deliver' : verdict === 'temporary' ? 'retry' : verdict === 'permanent' ? 'bounce' : 'configuration-error';
}

function describeRoute(route: Route, outcome: RouteOutcome, config: Config): string {
  const out: string[] = [`${route.address}`];
  const plan = planOf(route);
  const d = route.domain;
  if (route.kind === 'local') out.push(`  domain    ${d}: a primary domain on this node (${config.hostname})`);
  else if (route.kind === 'backup-hold') out.push(`  domain    ${d}: a backup domain on this node (${config.hostname}): mail is held here, never filed in mailboxes`);
  else out.push(`  domain    ${d}: not one of ours, delivered over SMTP by its MX records`);

  const mx = 'mx' in plan ? plan.mx : [];
  if (mx.length > 0) {
    out.push(`  MX        ${mx.map((m) => `${m.preference} ${m.exchange === '.' ? '. (null MX)' : m.exchange}`).join(', ')}`);
  } else if (plan.kind === 'targets' && plan.implicit) {
    out.push(`  MX        none; ${d} has an address, so it is its own mail host (implicit MX, RFC 5321 §5.1)`);
  }
  if (plan.kind === 'targets' || plan.kind === 'self-most-preferred') {
    if (plan.selfPreference !== null) out.push(`  this node is in the list at preference ${plan.selfPreference}`);
  }

  if (plan.kind === 'targets' && route.kind !== 'local') {
    out.push(route.kind === 'backup-hold' ? `  forward   to the more preferred hosts, in order, port ${config.smtp.outboundPort}:` : `  try       in order, port ${config.smtp.outboundPort}:`);
    plan.targets.forEach((t, i) => {
      const alias = t.viaCname ? `  (an alias of ${t.canonicalHost}: MX records should name the host itself, RFC 2181 §10.3)` : '';
      out.push(`    ${i + 1}. ${t.host}  preference ${t.preference}  ${t.addresses.join(', ')}${alias}`);
      for (const p of t.problems) out.push(`         (${p})`);
    });
  }
  const skipped = 'skipped' in plan ? plan.skipped : [];
  if (skipped.length > 0 && route.kind !== 'local') {
    out.push('  skipped');
    for (const s of skipped) out.push(`    ${s.host} (preference ${s.preference}): ${skipReason(s)}`);
  }

  out.push(`  decision  ${decisionText(route, plan, outcome, config)}`);
  return out.join('\n') + '\n';
}

function skipReason(s: SkippedHost): string {
  switch (s.reason) {
    case 'no-address':
      return 'no address record (A or AAAA)';
    case 'temporary':
      return `address lookup failed for now: ${s.detail}`;
    case 'ip-literal':
      return 'an IP address, not a host name (MX records must name a host)';
    case 'self':
      return 'this node';
    case 'not-more-preferred':
      return `not more preferred than this node (${s.selfPreference}), RFC 5321 §5.1`;
    case 'null-mx-among-others':
      return 'a "." beside other MX records is ignored (RFC 7505 §3)';
  }
}

function decisionText(route: Route, plan: MxPlan, outcome: RouteOutcome, config: Config): string {
  const d = route.domain;
  if (route.kind === 'local') {
    const note =
      plan.kind === 'self-most-preferred'
        ? 'DNS agrees: this node is the most preferred MX host'
        : plan.kind === 'targets' && plan.selfPreference === null
          ? `warning: this node (${config.hostname}) is not among the MX hosts DNS publishes, so senders will not bring the mail here`
          : plan.kind === 'targets'
            ? `warning: DNS names ${plan.targets.map((t) => t.host).join(', ')} before this node`
            : `DNS says: ${planSummary(plan)}`;
    return `local delivery into mailboxes here (${note})`;
  }
  if (route.kind === 'backup-hold') {
    if (outcome === 'configuration-error') {
      return `configuration error: no MX host of ${d} is more preferred than this node, so held mail could never be forwarded; make the primaries more preferred in DNS or configure ${d} as primary here`;
    }
    const notListed = plan.kind === 'targets' && plan.selfPreference === null ? ` (warning: this node is not among the MX hosts of ${d}, so senders will not use it as a backup)` : '';
    if (outcome === 'hold') return `hold here, forward when a more preferred host answers${notListed}${plan.kind === 'temporary' ? `; for now ${plan.reason}` : ''}`;
    return `bounce: ${planSummary(plan)}`;
  }
  switch (outcome) {
    case 'deliver':
      return 'deliver to the first target that answers; when none does, queue and retry';
    case 'retry':
      return `retry later, never bounce for this: ${planSummary(plan)}`;
    case 'bounce':
      return `bounce: ${planSummary(plan)}`;
    default:
      return `configuration error: this node is the most preferred MX host of ${d}, but ${d} is not configured here; add it as a [[domain]] with role = "primary", or fix the MX records`;
  }
}

function planSummary(plan: MxPlan): string {
  switch (plan.kind) {
    case 'null-mx':
      return `${plan.domain} publishes a null MX (MX 0 .): it accepts no mail (RFC 7505)`;
    case 'no-such-domain':
      return `${plan.domain} does not exist (NXDOMAIN)`;
    case 'no-mail-host':
      return plan.implicit ? `${plan.domain} has neither MX nor address records` : `no MX host of ${plan.domain} has an address`;
    case 'temporary':
      return plan.reason;
    case 'targets':
      return `${plan.targets.length} target(s)`;
    case 'self-most-preferred':
      return 'this node is the most preferred MX host';
  }
}

