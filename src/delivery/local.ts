/**
 * Final delivery into local mailboxes: the message goes into the account's INBOX with the two
 * header fields final delivery adds, `Return-Path:` (RFC 5321 §4.4: the envelope sender, so replies
 * and bounces know where to go) and `Delivered-To:` (the address delivered to, which lets a later
 * hop spot a forwarding loop).
 */
import { errorText } from '../core/errors.ts';
import { prependHeaderFields } from '../message/headers.ts';
import { isStoreError, StoreErrorCode } from '../store/errors.ts';
import type { QueueStore } from '../store/types.ts';
import type { RecipientOutcome } from '../queue/outcome.ts';

export async function deliverLocal(
  options: { store: Pick<QueueStore, 'deliverToMailbox'>; owner: string; now: () => number },
  message: { sender: string; data: Uint8Array },
  recipients: ReadonlyArray<{ id: number; address: string }>,
): Promise<RecipientOutcome[]> {
  return Promise.all(
    recipients.map(async (r): Promise<RecipientOutcome> => {
      const data = prependHeaderFields(message.data, [`Return-Path: <${message.sender}>`, `Delivered-To: ${r.address}`]);
      try {
        // The mailbox write and the queue's record of it are one commit: a crash between the two
        // would otherwise file the message again when the queue retries it.
        const at = options.now();
        const reply = `250 2.0.0 delivered to ${r.address}`;
        const done = await options.store.deliverToMailbox({ owner: options.owner, recipientId: r.id, address: r.address, data, internalDate: at, reply, at });
        if (done.kind === 'not-leased') {
          return { recipientId: r.id, outcome: 'temporary', status: '4.3.0', reply: '451 4.3.0 the queue entry was taken over by another runner', remoteMta: null, recorded: true };
        }
        return { recipientId: r.id, outcome: 'delivered', status: '2.0.0', reply: `${reply} (INBOX uid ${done.uid})`, remoteMta: null, recorded: true };
      } catch (err) {
        if (isStoreError(err, StoreErrorCode.NotFound)) {
          // The account was removed while the message waited in the queue.
          return { recipientId: r.id, outcome: 'failed', status: '5.1.1', reply: `550 5.1.1 no such user here: ${r.address}`, remoteMta: null };
        }
        return { recipientId: r.id, outcome: 'temporary', status: '4.3.0', reply: `451 4.3.0 local delivery failed for now: ${errorText(err)}`, remoteMta: null };
      }
    }),
  );
}
