/**
 * What the SMTP server asks of delivery for mail coming in: at RCPT, whether a recipient is
 * accepted (the router, and for a backup domain the backup verifier); at the end of the message,
 * the durable commit into the queue, after which the server may say 250 (DESIGN.md "Durability").
 * The same hooks serve submission (`source: 'submission'`), where `submission.ts` adds the sender
 * policy around them.
 */
import { errorText } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { Reply, SmtpReplyError, withText } from '../core/smtp-reply.ts';
import { encodeXtext } from '../smtp/proto/params.ts';
import { prependHeaderFields } from '../message/headers.ts';
import type { Recipient, SmtpHooks } from '../smtp/server/types.ts';
import type { NewRecipient, QueueStore, AccountStore, QueueSource } from '../store/types.ts';
import type { BackupVerifier } from './backup-verify.ts';
import type { DomainSource } from './domains.ts';
import { routeRecipient, type RoutedRecipient } from './router.ts';

export interface InboundOptions {
  /** Read at every RCPT: domains added or removed on any node apply to the next one. */
  domains: DomainSource;
  store: Pick<QueueStore, 'accept'> & Pick<AccountStore, 'getAccount' | 'lookupAlias'>;
  verifier: BackupVerifier | null;
  /** Called once a message is committed, to wake the queue runner. */
  onQueued: () => void;
  logger: Logger;
  now?: () => number;
  /**
   * 'mx' (the default): other domains only for authenticated sessions. 'submission': the server
   * lets no one reach RCPT without logging in, so every recipient domain is accepted; messages are
   * queued with source 'submission'.
   */
  source?: Extract<QueueSource, 'mx' | 'submission'>;
}

export function inboundHooks(o: InboundOptions): SmtpHooks {
  const now = o.now ?? Date.now;
  const routed = new WeakMap<Recipient, RoutedRecipient[]>();

  return {
    async checkRecipient(recipient, _tx, session) {
      let { local, domain } = recipient.mailbox;
      const domains = await o.domains.domains();
      if (domain === '') {
        const firstPrimary = domains.find((d) => d.role === 'primary')?.name ?? null;
        // RFC 5321 §4.5.1: the bare <Postmaster> must be accepted.
        if (firstPrimary === null) throw new SmtpReplyError(withText(Reply.NoSuchUser, 'no postmaster here: this server has no primary domain'));
        domain = firstPrimary;
        local = 'postmaster';
      }
      const mayRelay = o.source === 'submission' || session.authenticated !== null;
      const r = await routeRecipient({ local, domain }, { domains, accounts: o.store }, { mayRelay });
      if (r.kind === 'reject') throw new SmtpReplyError(r.reply);
      if (o.verifier !== null) {
        for (const x of r.recipients) {
          if (x.route !== 'backup') continue;
          const v = await o.verifier.check(x.address, x.domain);
          if (v.kind === 'reject') throw new SmtpReplyError(v.reply);
        }
      }
      routed.set(recipient, r.recipients);
    },

    async deliver(message, session) {
      const tx = message.transaction;
      const recipients = new Map<string, NewRecipient>();
      for (const rcpt of tx.recipients) {
        const targets = routed.get(rcpt);
        if (targets === undefined) continue;
        const notify = rcpt.params.notify === null ? undefined : rcpt.params.notify === 'NEVER' ? ['NEVER'] : [...rcpt.params.notify];
        const orcpt = rcpt.params.orcpt === null ? undefined : `${rcpt.params.orcpt.addrType};${encodeXtext(rcpt.params.orcpt.address)}`;
        for (const t of targets) {
          const key = t.address.toLowerCase();
          if (recipients.has(key)) continue;
          recipients.set(key, { address: t.address, domain: t.domain, route: t.route, ...(notify ? { notify } : {}), ...(orcpt ? { orcpt } : {}) });
        }
      }
      if (recipients.size === 0) throw new SmtpReplyError(withText(Reply.TransactionFailed, 'no valid recipients'));
      const receivedAt = now();
      const sender = tx.sender === null ? '' : tx.sender.raw;
      // Local recipients are delivered in the very commit that accepts the message (no queue round
      // trip: DESIGN.md "Durability" holds, as the 250 still follows the commit). Those who asked
      // for a success notice (NOTIFY=SUCCESS) go through the queue, which sends it.
      const local = [...recipients.values()].filter((r) => r.route === 'local' && !(r.notify ?? []).includes('SUCCESS'));
      const queued = [...recipients.values()].filter((r) => !local.includes(r));
      const deliveries = local.map((r) => ({ address: r.address, internalDate: receivedAt, data: prependHeaderFields(message.data, [`Return-Path: <${sender}>`, `Delivered-To: ${r.address}`]) }));
      try {
        await o.store.accept({
          queue:
            queued.length === 0
              ? null
              : {
                  id: message.id,
                  receivedAt,
                  sender,
                  ...(tx.mailParams.envid !== null ? { envid: encodeXtext(tx.mailParams.envid) } : {}),
                  ...(tx.mailParams.ret !== null ? { ret: tx.mailParams.ret === 'HDRS' ? ('hdrs' as const) : ('full' as const) } : {}),
                  data: message.data,
                  source: o.source ?? (session.mode === 'submission' ? 'submission' : 'mx'),
                  recipients: queued,
                },
          deliveries,
        });
      } catch (err) {
        o.logger.error({ event: 'smtp.queue_failed', id: message.id, error: errorText(err) }, 'could not commit a message to the queue');
        throw new SmtpReplyError(withText(Reply.LocalError, 'could not queue the message; try again later'), { cause: err });
      }
      if (local.length > 0) o.logger.info({ event: 'delivery.local', id: message.id, recipients: local.map((r) => r.address) }, 'delivered at accept');
      if (queued.length > 0) o.onQueued();
    },
  };
}
