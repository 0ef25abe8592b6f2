/**
 * The MX walk (DESIGN.md "Outbound delivery", RFC 5321 §5.1): hand one message to one domain's mail
 * hosts. The plan comes from `mxTargets` (preference order, equal preferences shuffled, ourselves and
 * everything at or below our own preference dropped); each target's addresses are tried in order.
 * Connection refused, a timeout, a 4xx or 5xx greeting, or a broken conversation: the next address,
 * then the next host. Once a host has answered the transaction, its replies decide: 2xx delivered,
 * 5xx to a recipient fails that recipient, 4xx to a recipient retries that recipient alone, 5xx to
 * DATA fails every recipient of the transaction. When no host answers, everything is retried later.
 * DNS decisions that end delivery (null MX, no such domain, no host with an address) fail at once;
 * DNS trouble is temporary, never a bounce.
 */
import { formatHostPort } from '../core/host-port.ts';
import type { Logger } from '../core/logger.ts';
import { replyText, type SmtpReply } from '../core/smtp-reply.ts';
import { mxTargets, type MxOptions, type MxPlan } from '../dns/mx.ts';
import { errorText } from '../core/errors.ts';
import { isSmtpClientError, type OutboundMessage } from '../smtp/client/index.ts';
import type { Outcome, RecipientOutcome } from '../queue/outcome.ts';
import { PoolWaitExpired, type ConnectionPool } from './connection-pool.ts';

export interface WalkRecipient {
  id: number;
  address: string;
  notify?: OutboundMessage['recipients'][number]['notify'];
  orcpt?: OutboundMessage['recipients'][number]['orcpt'];
}

export interface WalkRequest {
  domain: string;
  /**
   * The caller's claim on the message ends then (epoch ms, on `deps.now`): a wait for a
   * connection stops there, and every recipient comes back `abandoned`.
   */
  deadline?: number;
  /**
   * Asked with a connection in hand, before the transaction: false when the claim is no longer
   * the caller's (the recipients come back `abandoned`, the connection goes back to the pool).
   * Without it, a transaction starts only before `deadline`.
   */
  keepClaim?: () => Promise<boolean>;
  message: Omit<OutboundMessage, 'recipients'>;
  recipients: WalkRecipient[];
}

export interface WalkDeps {
  mx: MxOptions;
  port: number;
  pool: ConnectionPool;
  logger: Logger;
  now?: () => number;
}

export interface WalkResult {
  plan: MxPlan;
  outcomes: RecipientOutcome[];
  /** Every address tried and why it was left, for the log and `queue show`. */
  attempts: Array<{ host: string; address: string; error: string | null }>;
}

const DnsOutcome = {
  nullMx: (d: string) => ({ status: '5.1.10', reply: `556 5.1.10 ${d} publishes a null MX: it accepts no mail (RFC 7505)` }),
  noSuchDomain: (d: string) => ({ status: '5.1.2', reply: `550 5.1.2 ${d} does not exist (NXDOMAIN)` }),
  noMailHost: (d: string) => ({ status: '5.4.4', reply: `550 5.4.4 no mail host of ${d} has an address` }),
  loop: (d: string) => ({ status: '5.4.6', reply: `554 5.4.6 mail for ${d} loops back to this host: it is the most preferred MX host, but ${d} is not configured here` }),
  temporary: (reason: string) => ({ status: '4.4.3', reply: `451 4.4.3 DNS lookup failed for now: ${reason}` }),
} as const;

export async function walkMx(request: WalkRequest, deps: WalkDeps): Promise<WalkResult> {
  const plan = await mxTargets(request.domain, deps.mx);
  const all = (outcome: Outcome, r: { status: string; reply: string }, remoteMta: string | null = null): RecipientOutcome[] =>
    request.recipients.map((x) => ({ recipientId: x.id, outcome, status: r.status, reply: r.reply, remoteMta }));
  switch (plan.kind) {
    case 'null-mx':
      return { plan, outcomes: all('failed', DnsOutcome.nullMx(plan.domain)), attempts: [] };
    case 'no-such-domain':
      return { plan, outcomes: all('failed', DnsOutcome.noSuchDomain(plan.domain)), attempts: [] };
    case 'no-mail-host':
      return { plan, outcomes: all('failed', DnsOutcome.noMailHost(plan.domain)), attempts: [] };
    case 'self-most-preferred':
      return { plan, outcomes: all('failed', DnsOutcome.loop(plan.domain)), attempts: [] };
    case 'temporary':
      return { plan, outcomes: all('temporary', DnsOutcome.temporary(plan.reason)), attempts: [] };
    case 'targets':
      break;
  }

  const attempts: WalkResult['attempts'] = [];
  const log = deps.logger;
  const now = deps.now ?? Date.now;
  const abandon = (host: string, address: string, why: string): WalkResult => {
    log.info({ event: 'delivery.mx.abandoned', domain: request.domain, host, address, why }, 'not sending: the claim on the message ran out');
    return {
      plan,
      outcomes: request.recipients.map((x) => ({
        recipientId: x.id,
        outcome: 'temporary',
        status: '4.4.5',
        reply: `451 4.4.5 not sent to ${host}: ${why}; left for the next claim`,
        remoteMta: null,
        abandoned: true,
      })),
      attempts: [...attempts, { host, address, error: why }],
    };
  };
  for (const target of plan.targets) {
    for (const address of target.addresses) {
      let lease;
      try {
        lease = await deps.pool.acquire(address, deps.port, target.host, request.deadline !== undefined ? { until: request.deadline, now } : {});
      } catch (err) {
        // Waiting for a connection (the host's limit, cluster-wide) outlasted our claim.
        if (err instanceof PoolWaitExpired) return abandon(target.host, address, "no connection came free before this node's claim on the message ran out");
        attempts.push({ host: target.host, address, error: errorText(err) });
        log.info({ event: 'delivery.mx.next', domain: request.domain, host: target.host, address, error: errorText(err) }, 'MX host not usable, trying the next');
        continue;
      }
      const remoteMta = target.host;
      const kept = request.keepClaim !== undefined ? await request.keepClaim() : request.deadline === undefined || now() < request.deadline;
      if (!kept) {
        // Sending now could duplicate what another node sends after claiming the message in turn.
        lease.release(true);
        return abandon(target.host, address, "this node's claim on the message ran out while it waited");
      }
      try {
        const result = await lease.connection.send({
          ...request.message,
          recipients: request.recipients.map((r) => ({ address: r.address, ...(r.notify ? { notify: r.notify } : {}), ...(r.orcpt ? { orcpt: r.orcpt } : {}) })),
        });
        lease.release(true);
        // RFC 5321 §3.3: a 4xx to MAIL says this host cannot take mail now; another MX host may.
        if (result.stage === 'mail' && result.transactionReply !== undefined && result.transactionReply.code < 500 && result.local !== true) {
          attempts.push({ host: target.host, address, error: replyText(result.transactionReply) });
          continue;
        }
        attempts.push({ host: target.host, address, error: null });
        const outcomes = result.recipients.map((r, i): RecipientOutcome => {
          const recipient = request.recipients[i];
          return { recipientId: recipient?.id ?? -1, ...fromReply(r.reply), remoteMta: result.local === true ? null : remoteMta };
        });
        return { plan, outcomes, attempts };
      } catch (err) {
        lease.release(false);
        // The conversation broke: nothing is known of the message. Another host, or later; a
        // duplicate is better than a loss (DESIGN.md "Durability": at least once).
        attempts.push({ host: target.host, address, error: isSmtpClientError(err) ? err.message : errorText(err) });
        continue;
      }
    }
  }
  const tried = attempts.map((a) => `${a.host} [${formatHostPort({ host: a.address, port: deps.port })}]: ${a.error ?? 'ok'}`).join('; ');
  const skipped = plan.skipped.length > 0 ? ` (skipped: ${plan.skipped.map((s) => `${s.host} ${s.reason}`).join(', ')})` : '';
  return { plan, outcomes: all('temporary', { status: '4.4.1', reply: `451 4.4.1 no MX host of ${request.domain} answered: ${tried || 'none to try'}${skipped}` }), attempts };
}

function fromReply(reply: SmtpReply): { outcome: Outcome; status: string; reply: string } {
  const outcome: Outcome = reply.code < 400 ? 'delivered' : reply.code < 500 ? 'temporary' : 'failed';
  const status = reply.enhanced ?? (reply.code < 400 ? '2.0.0' : reply.code < 500 ? '4.0.0' : '5.0.0');
  return { outcome, status, reply: replyText(reply) };
}
