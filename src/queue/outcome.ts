/** What one delivery attempt did for one queued recipient, as delivery reports it to the queue. */

export type Outcome = 'delivered' | 'failed' | 'temporary';

export interface RecipientOutcome {
  recipientId: number;
  outcome: Outcome;
  /** RFC 3463 status, for DSNs. */
  status: string;
  /** One line for the queue and the DSN's Diagnostic-Code: the SMTP reply, ours or theirs. */
  reply: string;
  /** The host that gave the reply, when one did (DSN Remote-MTA). */
  remoteMta: string | null;
  /**
   * Delivery already recorded this outcome in the store, in the same commit as the delivery itself
   * (final delivery into a mailbox): the runner must not record it again.
   */
  recorded?: boolean;
  /**
   * The attempt was never made: this node's claim ran out (or was about to) before a connection
   * was free, so another node may hold the recipient now. Nothing is recorded: the recipient stays
   * as it was, due for whoever claims it next, without an attempt counted against it.
   */
  abandoned?: boolean;
}
