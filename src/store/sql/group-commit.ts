/**
 * Group commit (DESIGN.md "Durability"): a commit with `synchronous=FULL` (or a PostgreSQL commit)
 * waits for the disk, so writes that arrive together share one. The first write to arrive while
 * nothing is pending waits for the rest of the event-loop turn; writes that arrive while a commit
 * is in progress wait for the next one. Every caller of a batch learns the outcome of its commit:
 * resolved once committed, or rejected with the batch's error and nothing of the batch kept.
 *
 * A write that finds, before writing anything, that it cannot be done (an unknown mailbox, a
 * duplicate queue id) returns `{ ok: false }`: only its own caller is rejected and the batch goes on.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from '../../core/logger.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { WriteStats } from '../types.ts';
import type { Database } from './tables.ts';

export type WriteOutcome<T> = { ok: true; value: T } | { ok: false; error: Error };
export type BatchedWrite<T> = (trx: Transaction<Database>) => Promise<WriteOutcome<T>>;

interface Pending {
  write: BatchedWrite<unknown>;
  ready: Promise<unknown> | undefined;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface GroupCommitter {
  /**
   * `ready`: work the write needs done before its transaction (body files being written and
   * fsynced); the batch waits for it before BEGIN, so no transaction (SQLite's one writer,
   * PostgreSQL's row locks) is held across it. Its failure is the write's to report.
   */
  submit<T>(write: BatchedWrite<T>, ready?: Promise<unknown>): Promise<T>;
  stats(): WriteStats;
  /** Refuses new writes and resolves once every pending one is settled. */
  close(): Promise<void>;
}

export interface GroupCommitOptions {
  db: Kysely<Database>;
  logger: Logger;
  /** Bounds one transaction; the rest waits for the next. Default 1000. */
  maxBatch?: number;
  /**
   * Errors after which the whole batch is run again from the start (its transaction was rolled
   * back, so nothing of it was kept). PostgreSQL: a deadlock between two nodes' batches that lock
   * the same mailboxes in opposite orders aborts one of them; run again, it goes through.
   */
  retryable?: (err: unknown) => boolean;
  /** Runs of one batch after the first, on retryable errors. Default 3. */
  maxRetries?: number;
}

export function createGroupCommitter(options: GroupCommitOptions): GroupCommitter {
  const { db, logger } = options;
  const maxBatch = options.maxBatch ?? 1000;
  const maxRetries = options.maxRetries ?? 3;
  let pending: Pending[] = [];
  let running = false;
  let scheduled = false;
  let closed = false;
  let idle: (() => void) | null = null;
  const counters: WriteStats = { commits: 0, writes: 0 };

  async function runBatch(batch: Pending[]): Promise<void> {
    const preparing = batch.flatMap((p) => (p.ready === undefined ? [] : [p.ready]));
    if (preparing.length > 0) await Promise.allSettled(preparing);
    let outcomes: Array<WriteOutcome<unknown>> = [];
    for (let attempt = 0; ; attempt++) {
      outcomes = [];
      try {
        await db.transaction().execute(async (trx) => {
          for (const p of batch) outcomes.push(await p.write(trx));
        });
        break;
      } catch (err) {
        if (attempt < maxRetries && options.retryable?.(err) === true) {
          logger.warn({ err, writes: batch.length, attempt: attempt + 1 }, 'group commit rolled back; running the batch again');
          continue;
        }
        logger.error({ err, writes: batch.length }, 'group commit failed; every write of the batch is rejected');
        for (const p of batch) p.reject(err);
        return;
      }
    }
    counters.commits += 1;
    counters.writes += outcomes.filter((o) => o.ok).length;
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (o === undefined) p.reject(new Error('group commit lost a write outcome'));
      else if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }

  async function flush(): Promise<void> {
    scheduled = false;
    if (running) return;
    running = true;
    try {
      while (pending.length > 0) {
        const batch = pending.slice(0, maxBatch);
        pending = pending.slice(batch.length);
        await runBatch(batch);
      }
    } finally {
      running = false;
      if (idle !== null) {
        const done = idle;
        idle = null;
        done();
      }
    }
  }

  return {
    submit<T>(write: BatchedWrite<T>, ready?: Promise<unknown>): Promise<T> {
      if (closed) return Promise.reject(new StoreError(StoreErrorCode.Closed, 'the store is closed'));
      return new Promise<T>((resolve, reject) => {
        pending.push({ write: write as BatchedWrite<unknown>, ready, resolve: resolve as (v: unknown) => void, reject });
        // While a batch runs, flush() picks new writes up when it finishes.
        if (!running && !scheduled) {
          scheduled = true;
          setImmediate(() => void flush());
        }
      });
    },
    stats: () => ({ ...counters }),
    async close(): Promise<void> {
      closed = true;
      if (!running && !scheduled && pending.length === 0) return;
      await new Promise<void>((resolve) => {
        idle = resolve;
        if (!running && !scheduled) void flush();
      });
    },
  };
}
