/**
 * The queue runner is in charge of every committed message until each of its recipients has a
 * final outcome: it claims due work from the store (a lease, so exactly one runner attempts it,
 * DESIGN.md "Storage"), hands it to delivery (local mailboxes, the MX walk, or forwarding held
 * backup mail), records each recipient's outcome, and schedules retries on `queue.retry_schedule`.
 * It sends the notices RFC 3464 and RFC 3461 call for: a bounce when a recipient fails or its
 * message outlives `queue.max_age`, a delay notice once after `queue.delay_warning`, a success
 * notice when asked; never a notice about a notice (a failed bounce goes to the postmaster).
 *
 * Backup MX mail (route "backup") follows its own rhythm: while a domain's primaries do not
 * answer, the domain is marked down and its held mail waits for the next probe
 * (`backup.probe_interval`) without a connection per message; it is kept for `backup.max_hold`;
 * and it drains oldest first at most `backup.drain_concurrency` at a time and `backup.drain_rate`
 * messages per second, so a primary that comes back is not flattened by its own backlog.
 */
import type { ClusterLimits, SlotHold } from '../core/cluster-limits.ts';
import type { Logger } from '../core/logger.ts';
import { errorText } from '../core/errors.ts';
import { isStoreError, StoreErrorCode } from '../store/errors.ts';
import { buildDsn, shouldNotify, type DsnRecipient } from '../message/dsn.ts';
import type { DeliveryResult, NewRecipient, QueuedMessage, QueuedRecipient, Route, Store } from '../store/types.ts';
import type { RecipientOutcome } from './outcome.ts';
import { delayNoticeDue, nextAttempt } from './schedule.ts';

export interface RunnerDelivery {
  /** Recipients of one message on the local route. */
  local(message: QueuedMessage, data: Uint8Array, recipients: QueuedRecipient[]): Promise<RecipientOutcome[]>;
  /**
   * Recipients of one message in one domain, on the remote or backup route, under `claim`: no
   * wait for a connection outlasts it, and no transaction starts unless `claim.keep()` says it is
   * still ours for long enough; otherwise the recipients come back `abandoned` (another node may
   * send the message once the claim has run out).
   */
  remote(message: QueuedMessage, data: Uint8Array, domain: string, recipients: QueuedRecipient[], route: 'remote' | 'backup', claim: RemoteClaim): Promise<RecipientOutcome[]>;
  /** Where a notice to `address` goes; null when nowhere (it is then logged and dropped). */
  route(address: string): Promise<NewRecipient[] | null>;
}

/** This node's claim on the recipients of one delivery attempt. */
export interface RemoteClaim {
  /** When the claim runs out (epoch ms): waiting for a connection stops there. */
  deadline: number;
  /**
   * Called with a connection in hand, before the transaction: true when the claim will outlast
   * the transaction (extended in the store when less than half a lease is left), false when it
   * is no longer this node's to send.
   */
  keep(): Promise<boolean>;
}

export interface QueueRunnerOptions {
  store: Store;
  delivery: RunnerDelivery;
  /** Reporting MTA of our notices. */
  hostname: string;
  /** Where a bounce that could not be delivered goes. */
  /** Where a bounce that cannot be delivered goes; a function when it may change while running. */
  postmaster: string | (() => string);
  /** Names our leases; unique per process, and starting with `ownerPrefix`. */
  owner: string;
  /**
   * What every process of this node names its leases with: at start, leases of earlier (crashed)
   * processes of this node are released instead of waiting for them to run out. Default: none.
   */
  ownerPrefix?: string;
  newQueueId: () => string;
  logger: Logger;
  now?: () => number;
  retryScheduleMs: readonly number[];
  delayWarningMs: number;
  maxAgeMs: number;
  pollIntervalMs: number;
  backup: { maxHoldMs: number; probeIntervalMs: number; drainConcurrency: number; drainRate: number };
  /** Messages delivered at once on the local and remote routes. Default 20. */
  concurrency?: number;
  /** How long a claim is ours; must outlast the longest delivery attempt. Default 30 minutes. */
  leaseMs?: number;
  /** Called after a message of ours was queued (a notice), so the caller can wake other runners. */
  onEnqueued?: () => void;
  /**
   * With several nodes on one store: backup drains hold `drainConcurrency` and `drainRate` across
   * all of them (a drain slot is taken before a backup message is claimed, and each forward
   * reserves its start), not per node. Without: both are kept in this process.
   */
  cluster?: ClusterLimits;
}

const NORMAL_ROUTES: readonly Route[] = ['local', 'remote'];
/** How often an idle runner asks the store when the next queued work falls due (see #sleep). */
const STORE_NEXT_MS = 30_000;
const BACKUP_ROUTES: readonly Route[] = ['backup'];
/** The cluster key of backup drains: their concurrency slots and their pacing. */
const DRAIN_KEY = 'backup-drain';

export class QueueRunner {
  readonly #o: QueueRunnerOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  /** Backup domains whose primaries did not answer, until the next probe. */
  readonly #down = new Map<string, number>();
  #normalInFlight = 0;
  #backupInFlight = 0;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #kicked = false;
  readonly #tasks = new Set<Promise<void>>();
  /** Results waiting for the end of this event-loop turn, to be recorded in one transaction. */
  #pendingResults: Array<{
    messageId: string;
    results: DeliveryResult[];
    resolve: (recorded: { ignored: number; deleted: boolean }) => void;
    reject: (err: unknown) => void;
  }> = [];
  // Token bucket for backup drains: `drainRate` per second, no burst, so a primary that comes back
  // sees an even stream rather than a second's worth at once.
  #tokens: number;
  #tokensAt: number;
  /** The earliest retry this runner recorded and has not yet woken for. */
  #ownNextAt: number | null = null;
  /** When #sleep may next ask the store for the next due time. */
  #storeNextCheckAt = -Infinity;
  /** The end of the last drain token handed out or waited for: tokens go in arrival order. */
  #drainTurn: Promise<void> = Promise.resolve();

  constructor(options: QueueRunnerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger.child({ component: 'queue' });
    this.#concurrency = options.concurrency ?? 20;
    this.#leaseMs = options.leaseMs ?? 30 * 60_000;
    this.#tokens = 1;
    this.#tokensAt = performance.now();
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** New work was queued: look now instead of at the next poll. */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** Stops claiming; waits for deliveries in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled([...this.#tasks]);
  }

  /**
   * One pass without the loop: claims what is due now, delivers it, and waits for the outcome.
   * For tests that drive the clock, and for `postern queue run`-style tools.
   */
  async runOnce(): Promise<number> {
    const claimed = await this.#claimAndStart();
    await Promise.allSettled([...this.#tasks]);
    return claimed;
  }

  /** After a crash: take back our dead process's claims, and drop messages it finished but did not delete. */
  async #recover(): Promise<void> {
    try {
      if (this.#o.ownerPrefix !== undefined) {
        const released = await this.#o.store.releaseLeases({ ownerPrefix: this.#o.ownerPrefix, except: this.#o.owner });
        if (released > 0) this.#log.info({ event: 'queue.recovered_leases', released }, 'took back work claimed by an earlier process of this node');
      }
      const finished = await this.#o.store.deleteFinished();
      if (finished.length > 0) this.#log.info({ event: 'queue.removed_finished', count: finished.length }, 'removed messages already fully delivered');
    } catch (err) {
      this.#log.error({ event: 'queue.recover_failed', error: errorText(err) }, 'could not recover the queue after a restart; leases will expire instead');
    }
  }

  async #run(): Promise<void> {
    await this.#recover();
    while (this.#running) {
      let claimed = 0;
      // Deliveries that end in the same event-loop turn free their slots together: wait for the
      // turn to finish so that one claim (one transaction, one commit) refills them all, instead of
      // a claim per finished message (the relay benchmark's profile: claims were a commit each).
      if (this.#normalInFlight > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        claimed = await this.#claimAndStart();
      } catch (err) {
        this.#log.error({ event: 'queue.claim_failed', error: errorText(err) }, 'could not claim queued work; trying again shortly');
      }
      if (!this.#running) break;
      if (claimed > 0 && this.#normalInFlight < this.#concurrency) continue;
      await this.#sleep();
    }
  }

  async #claimAndStart(): Promise<number> {
    const now = this.#now();
    let claimed = 0;
    const freeNormal = this.#concurrency - this.#normalInFlight;
    if (freeNormal > 0) {
      const messages = await this.#o.store.claimDue({ now, limit: freeNormal, owner: this.#o.owner, leaseMs: this.#leaseMs, routes: NORMAL_ROUTES });
      for (const m of messages) this.#spawn(m, 'normal');
      claimed += messages.length;
    }
    const freeBackup = this.#o.backup.drainConcurrency - this.#backupInFlight;
    if (freeBackup > 0 && this.#o.cluster !== undefined) {
      claimed += await this.#claimBackupInCluster(this.#o.cluster, now, freeBackup);
    } else if (freeBackup > 0) {
      const messages = await this.#o.store.claimDue({ now, limit: freeBackup, owner: this.#o.owner, leaseMs: this.#leaseMs, routes: BACKUP_ROUTES });
      for (const m of messages) this.#spawn(m, 'backup');
      claimed += messages.length;
    }
    return claimed;
  }

  /**
   * Backup work under the cluster's drain concurrency: a slot per message before claiming it, and
   * the slots nothing was claimed for given back at once. The store is read first, so a node with
   * no held mail due writes nothing per poll.
   */
  async #claimBackupInCluster(cluster: ClusterLimits, now: number, free: number): Promise<number> {
    const due = await this.#o.store.nextAttemptAt({ routes: BACKUP_ROUTES });
    if (due === null || due > now) return 0;
    const holds: SlotHold[] = [];
    let messages: QueuedMessage[] = [];
    try {
      while (holds.length < free) {
        const hold = await cluster.tryAcquire(DRAIN_KEY, this.#o.backup.drainConcurrency);
        if (hold === null) break;
        holds.push(hold);
      }
      if (holds.length > 0) messages = await this.#o.store.claimDue({ now, limit: holds.length, owner: this.#o.owner, leaseMs: this.#leaseMs, routes: BACKUP_ROUTES });
    } catch (err) {
      for (const h of holds) void h.release();
      throw err;
    }
    messages.forEach((m, i) => this.#spawn(m, 'backup', holds[i]));
    for (const h of holds.slice(messages.length)) void h.release();
    return messages.length;
  }

  #spawn(message: QueuedMessage, lane: 'normal' | 'backup', hold?: SlotHold): void {
    if (lane === 'normal') this.#normalInFlight++;
    else this.#backupInFlight++;
    const task = this.#process(message)
      .catch((err: unknown) => {
        // The lease runs out and the message is tried again: nothing is lost.
        this.#log.error({ event: 'queue.attempt_failed', id: message.id, error: errorText(err) }, 'delivery attempt failed unexpectedly; it will be retried when its lease expires');
      })
      // The drain slot is free before the runner is woken to claim with it.
      .then(() => hold?.release())
      .finally(() => {
        if (lane === 'normal') this.#normalInFlight--;
        else this.#backupInFlight--;
        this.#tasks.delete(task);
        this.#wake?.();
      });
    this.#tasks.add(task);
  }

  async #sleep(): Promise<void> {
    if (this.#kicked) {
      this.#kicked = false;
      return;
    }
    const now = this.#now();
    let until = now + this.#o.pollIntervalMs;
    // Retries this runner scheduled itself wake it on time without asking the store.
    if (this.#ownNextAt !== null) {
      until = Math.min(until, Math.max(this.#ownNextAt, now));
      if (this.#ownNextAt <= now) this.#ownNextAt = null;
    }
    // The store's answer only sharpens the wait below the poll interval, since every poll claims
    // whatever is due. So it is not asked while every slot is busy (a finished delivery wakes us),
    // and otherwise at most every STORE_NEXT_MS: for work due soon that this runner did not
    // schedule (a lease running out, another process's retry). The query is two index walks now
    // (under a millisecond at 1,000,000 queued); the limit saves a store round trip per sleep.
    if (this.#normalInFlight < this.#concurrency && now >= this.#storeNextCheckAt) {
      this.#storeNextCheckAt = now + STORE_NEXT_MS;
      try {
        const next = await this.#o.store.nextAttemptAt();
        if (next !== null) until = Math.min(until, Math.max(next, now));
      } catch {
        // The poll interval bounds the wait anyway.
      }
    }
    const wait = Math.max(5, until - now);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
    this.#wake = null;
    this.#kicked = false;
  }

  async #process(message: QueuedMessage): Promise<void> {
    let data: Uint8Array | null;
    try {
      data = await this.#o.store.readQueuedData(message.id);
    } catch (err) {
      if (!isStoreError(err, StoreErrorCode.NotFound)) throw err;
      // The body is gone ([storage] blobs: its file missing or cut short). Retrying cannot bring it
      // back, and leaving the claim to run out would retry it forever without a word to anyone:
      // every recipient fails now and the sender gets a bounce (with no copy of the message).
      this.#log.error({ event: 'queue.body_lost', id: message.id, error: errorText(err) }, 'the body of a queued message is lost; its recipients fail');
      const lost = message.recipients.filter((r) => r.leaseOwner === this.#o.owner && r.state === 'queued');
      const reply = `554 5.3.0 the message's body was lost on this server (${errorText(err)}); it cannot be delivered`;
      await this.#settle(message, new Uint8Array(0), lost, lost.map((r) => ({ recipientId: r.id, outcome: 'failed', status: '5.3.0', reply, remoteMta: null })));
      return;
    }
    if (data === null) return;
    const due = message.recipients.filter((r) => r.leaseOwner === this.#o.owner && r.state === 'queued');
    const groups = new Map<string, { route: Route; domain: string; recipients: QueuedRecipient[] }>();
    for (const r of due) {
      const key = r.route === 'local' ? 'local' : `${r.route}|${r.domain}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { route: r.route, domain: r.domain, recipients: [] };
        groups.set(key, g);
      }
      g.recipients.push(r);
    }
    const outcomes = (
      await Promise.all(
        [...groups.values()].map(async (g) => {
          try {
            if (g.route === 'local') return await this.#o.delivery.local(message, data, g.recipients);
            if (g.route === 'backup') return await this.#forwardBackup(message, data, g.domain, g.recipients);
            return await this.#o.delivery.remote(message, data, g.domain, g.recipients, 'remote', this.#claimOf(g.recipients));
          } catch (err) {
            return g.recipients.map((r): RecipientOutcome => ({ recipientId: r.id, outcome: 'temporary', status: '4.3.0', reply: `451 4.3.0 delivery error: ${errorText(err)}`, remoteMta: null }));
          }
        }),
      )
    ).flat();
    await this.#settle(message, data, due, outcomes);
  }

  /**
   * Our claim on these recipients, as the MX walk sees it. A transaction may run long (minutes of
   * DATA), and another node may claim the recipients from the lease's end on: so before one
   * starts with less than half a lease left (the attempt waited for a connection), the claim is
   * extended to a full lease in the store, and the attempt is given up if it is no longer ours.
   */
  #claimOf(recipients: readonly QueuedRecipient[]): RemoteClaim {
    let until = Math.min(...recipients.map((r) => r.leaseUntil ?? Infinity));
    const ids = recipients.map((r) => r.id);
    return {
      deadline: until,
      keep: async () => {
        const now = this.#now();
        if (until - now > this.#leaseMs / 2) return true;
        const next = now + this.#leaseMs;
        let extended: number;
        try {
          extended = await this.#o.store.extendLeases({ owner: this.#o.owner, recipientIds: ids, from: until, until: next });
        } catch (err) {
          this.#log.warn({ event: 'queue.claim_unconfirmed', error: errorText(err) }, 'could not extend a claim before sending; the attempt is given up');
          return false;
        }
        if (extended !== ids.length) return false;
        until = next;
        return true;
      },
    };
  }

  async #forwardBackup(message: QueuedMessage, data: Uint8Array, domain: string, recipients: QueuedRecipient[]): Promise<RecipientOutcome[]> {
    const downUntil = this.#down.get(domain);
    if (downUntil !== undefined && downUntil > this.#now()) {
      return recipients.map((r) => ({ recipientId: r.id, outcome: 'temporary', status: '4.4.1', reply: r.lastReply ?? `451 4.4.1 the primary MX hosts of ${domain} are not answering; next probe soon`, remoteMta: null }));
    }
    await this.#takeDrainToken();
    const outcomes = await this.#o.delivery.remote(message, data, domain, recipients, 'backup', this.#claimOf(recipients));
    if (outcomes.length > 0 && outcomes.every((o) => o.outcome === 'temporary' && o.status === '4.4.1')) {
      this.#down.set(domain, this.#now() + this.#o.backup.probeIntervalMs);
      this.#log.info({ event: 'queue.backup.primary_down', domain }, 'primary MX hosts not answering: holding mail until the next probe');
    } else if (this.#down.delete(domain)) {
      this.#log.info({ event: 'queue.backup.primary_back', domain }, 'a primary MX host answers again: draining held mail');
      // Everything held for this domain is due now, oldest first (claims are ordered by arrival).
      await this.#o.store.retry({ route: 'backup', domain }, this.#now());
      this.kick();
    }
    return outcomes;
  }

  /**
   * Waits for a drain token, first come first served: a waiter that slept for its token must not
   * be overtaken by one that arrives just as a token is due, or held mail leaves out of order.
   */
  #takeDrainToken(): Promise<void> {
    const turn = this.#drainTurn.then(() => this.#waitForDrainToken());
    this.#drainTurn = turn.catch(() => undefined);
    return turn;
  }

  async #waitForDrainToken(): Promise<void> {
    const rate = this.#o.backup.drainRate;
    if (this.#o.cluster !== undefined) {
      // The cluster's pace: every node's forwards spaced 1/rate apart. A store error fails this
      // attempt temporarily (the message is held and tried again), never sends unpaced.
      let wait: number;
      try {
        wait = await this.#o.cluster.pace(DRAIN_KEY, 1000 / rate);
      } catch (err) {
        throw new Error(`could not reserve the next ${DRAIN_KEY} start in the store: ${errorText(err)}`, { cause: err });
      }
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      return;
    }
    // Pacing is about real sending speed, so it runs on the monotonic clock, not the injected one.
    for (;;) {
      const now = performance.now();
      this.#tokens = Math.min(1, this.#tokens + ((now - this.#tokensAt) / 1000) * rate);
      this.#tokensAt = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.#tokens) / rate) * 1000)));
    }
  }

  /** Records outcomes, schedules retries, expires old mail, and sends the notices that are due. */
  async #settle(message: QueuedMessage, data: Uint8Array, due: QueuedRecipient[], outcomes: RecipientOutcome[]): Promise<void> {
    const now = this.#now();
    const byId = new Map(due.map((r) => [r.id, r]));
    const results: DeliveryResult[] = [];
    const failed: DsnRecipient[] = [];
    const delayed: Array<{ r: QueuedRecipient; dsn: DsnRecipient }> = [];
    const succeeded: DsnRecipient[] = [];
    for (const o of outcomes) {
      const r = byId.get(o.recipientId);
      if (r === undefined) continue;
      const base = { finalRecipient: r.address, ...(r.orcpt !== null ? { originalRecipient: r.orcpt } : {}), ...(o.remoteMta !== null ? { remoteMta: o.remoteMta } : {}), diagnosticCode: o.reply, lastAttemptDate: new Date(now) };
      if (o.recorded === true && o.outcome !== 'delivered') continue;
      if (o.abandoned === true) {
        this.#log.info({ event: 'queue.attempt_abandoned', id: message.id, recipient: r.address, reply: o.reply }, 'attempt not made: the claim ran out while waiting; left for the next claim');
        continue;
      }
      if (o.outcome === 'delivered') {
        if (o.recorded !== true) results.push({ recipientId: r.id, outcome: 'delivered', reply: o.reply, at: now });
        if (r.route === 'local' && shouldNotify(r.notify ?? undefined, 'success')) succeeded.push({ ...base, action: 'delivered', status: o.status });
        continue;
      }
      if (o.outcome === 'failed') {
        results.push({ recipientId: r.id, outcome: 'failed', reply: o.reply, at: now });
        if (shouldNotify(r.notify ?? undefined, 'failure')) failed.push({ ...base, action: 'failed', status: o.status });
        continue;
      }
      const maxAgeMs = r.route === 'backup' ? this.#o.backup.maxHoldMs : this.#o.maxAgeMs;
      const next =
        r.route === 'backup'
          ? now - message.receivedAt >= maxAgeMs
            ? ({ kind: 'expire' } as const)
            : ({ kind: 'retry', at: Math.min(now + this.#o.backup.probeIntervalMs, message.receivedAt + maxAgeMs) } as const)
          : nextAttempt({ schedule: this.#o.retryScheduleMs, attempts: r.attempts + 1, receivedAt: message.receivedAt, lastAttemptAt: now, maxAgeMs });
      if (next.kind === 'expire') {
        // RFC 3463 4.4.7: delivery time expired; the last reply says why.
        const reply = `${o.reply} (gave up after ${Math.round((now - message.receivedAt) / 1000)}s in the queue)`;
        results.push({ recipientId: r.id, outcome: 'failed', reply, at: now });
        if (shouldNotify(r.notify ?? undefined, 'failure')) failed.push({ ...base, action: 'failed', status: o.status.startsWith('5') ? o.status : '4.4.7', diagnosticCode: o.reply });
        continue;
      }
      results.push({ recipientId: r.id, outcome: 'queued', reply: o.reply, at: now, nextAttemptAt: next.at });
      if (this.#ownNextAt === null || next.at < this.#ownNextAt) this.#ownNextAt = next.at;
      if (!r.delayNoticeSent && shouldNotify(r.notify ?? undefined, 'delay') && delayNoticeDue({ receivedAt: message.receivedAt, now, delayWarningMs: this.#o.delayWarningMs, noticeSent: false, maxAgeMs })) {
        delayed.push({ r, dsn: { ...base, action: 'delayed', status: o.status, willRetryUntil: new Date(message.receivedAt + maxAgeMs) } });
      }
    }
    // Notices are queued before the outcomes are recorded: a crash in between sends a notice twice
    // (at least once), where the other order could lose it.
    if (failed.length > 0) await this.#notify(message, data, failed, 'failure');
    if (delayed.length > 0) await this.#notify(message, data, delayed.map((d) => d.dsn), 'delay');
    if (succeeded.length > 0) await this.#notify(message, data, succeeded, 'success');
    const recorded = await this.#recordResults(message.id, results);
    for (const o of outcomes) {
      this.#log.info({ event: `queue.${o.outcome}`, id: message.id, recipient: byId.get(o.recipientId)?.address, reply: o.reply }, `recipient ${o.outcome}`);
    }
    if (results.length > 0 && recorded.ignored === results.length) return;
    if (delayed.length > 0) await this.#o.store.markDelayNoticeSent(delayed.map((d) => d.r.id));
    // The transaction that records a message's last result deletes it, but a message whose
    // recipients were claimed apart (two routes, two due times, two nodes) can have its last two
    // results committed at once, each transaction blind to the other's update (PostgreSQL's READ
    // COMMITTED): neither deletes it. Asked again after our own commit, the later of the two sees
    // both. Only when nothing of ours stays queued and our commit did not delete it already.
    if (!recorded.deleted && !results.some((r) => r.outcome === 'queued')) await this.#o.store.deleteIfFinal(message.id);
  }

  /**
   * Records results through one `recordResults` call per event-loop turn: messages whose
   * deliveries end together share one transaction (one commit and fsync) instead of one each.
   * Resolves with how many of these results were ignored (their lease taken over), and whether
   * that transaction deleted the message (its last recipient became final).
   */
  #recordResults(messageId: string, results: DeliveryResult[]): Promise<{ ignored: number; deleted: boolean }> {
    if (results.length === 0) return Promise.resolve({ ignored: 0, deleted: false });
    return new Promise((resolve, reject) => {
      this.#pendingResults.push({ messageId, results, resolve, reject });
      if (this.#pendingResults.length === 1) setImmediate(() => void this.#flushResults());
    });
  }

  async #flushResults(): Promise<void> {
    const batch = this.#pendingResults;
    this.#pendingResults = [];
    try {
      // A message whose last recipient is now final leaves the queue in the same commit.
      const recorded = await this.#o.store.recordResults(this.#o.owner, batch.flatMap((b) => b.results), { deleteFinished: true });
      const ignored = new Set(recorded.ignored);
      const deleted = new Set(recorded.deleted ?? []);
      for (const b of batch) b.resolve({ ignored: b.results.filter((r) => ignored.has(r.recipientId)).length, deleted: deleted.has(b.messageId) });
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  async #notify(message: QueuedMessage, data: Uint8Array, recipients: DsnRecipient[], kind: 'failure' | 'delay' | 'success'): Promise<void> {
    // RFC 3461 §6.2 / RFC 5321 §6.1: never a notice about a notice. A bounce that cannot be
    // delivered goes to the postmaster, once.
    let to = message.sender;
    if (to === '') {
      const postmaster = typeof this.#o.postmaster === 'string' ? this.#o.postmaster : this.#o.postmaster();
      if (kind !== 'failure' || recipients.some((r) => r.finalRecipient.toLowerCase() === postmaster.toLowerCase())) {
        this.#log.warn({ event: 'queue.notice_dropped', id: message.id, kind }, 'notice about a message from <> dropped');
        return;
      }
      to = postmaster;
    }
    const route = await this.#o.delivery.route(to);
    if (route === null || route.length === 0) {
      this.#log.warn({ event: 'queue.notice_dropped', id: message.id, kind, to }, 'no route for the notice; dropped');
      return;
    }
    const dsn = buildDsn({
      original: data,
      envelope: { sender: to, ...(message.envid !== null ? { envid: message.envid } : {}), ...(message.ret !== null ? { ret: message.ret === 'hdrs' ? 'HDRS' : 'FULL' } : {}) },
      reportingMta: this.#o.hostname,
      arrivalDate: new Date(message.receivedAt),
      recipients,
      date: new Date(this.#now()),
      to,
      queueId: message.id,
    });
    const id = this.#o.newQueueId();
    await this.#o.store.enqueue({ id, receivedAt: this.#now(), sender: '', data: dsn, source: 'dsn', recipients: route });
    this.#log.info({ event: `queue.notice.${kind}`, id: message.id, notice: id, to }, `${kind} notice queued`);
    this.#o.onEnqueued?.();
    this.kick();
  }
}
