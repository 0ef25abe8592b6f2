/**
 * The SQLite store run on a worker thread (`store-worker.ts`), seen from the calling thread as an
 * ordinary `Store`: the calls of one event-loop turn go there in one message (so they share a
 * group commit, as on the calling thread), and each result comes back in one. The server opens its
 * store this way so that SQLite's synchronous work (statements, commits and their fsyncs,
 * checkpoints, waits for the CLI's write lock) no longer stops the sessions it serves; durability
 * is the store's own, unchanged: a call resolves only after the worker's commit returned.
 *
 * While no call is in flight the worker does not keep the process alive; while one is, it does, so
 * a command that awaits the store is not cut short by Node deciding there is nothing left to do.
 */
import { Worker } from 'node:worker_threads';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { MailboxChange, Store, WriteStats } from '../types.ts';
import { callableMethods, fromWire, type Call, type CallableMethod, type FromWorker, type ToWorker, type WorkerOpenOptions } from './worker-protocol.ts';

export interface ThreadedSqliteOptions {
  /** A file path (a worker's `:memory:` database would be private to it, which works, but is pointless). */
  path: string;
  logger?: Logger;
  busyTimeoutMs?: number;
  /** The lowest level the worker sends back to `logger`. Default 'info'. */
  logLevel?: WorkerOpenOptions['logLevel'];
  /** `[storage] blobs` (see `SqliteStoreOptions.blobs`): the worker reads and writes the files. */
  blobs?: { dir: string; writes: boolean } | null;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export async function openThreadedSqliteStore(options: ThreadedSqliteOptions): Promise<Store> {
  const logger = options.logger ?? silentLogger;
  const workerOptions: WorkerOpenOptions = {
    path: options.path,
    logLevel: options.logLevel ?? 'info',
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    ...(options.blobs != null ? { blobs: options.blobs } : {}),
  };
  // The worker inherits Node's flags, but `--input-type` (a script given with -e) is refused for a
  // worker's file; naming the flags at all makes Node check each for workers, so only then.
  const inputType = (a: string): boolean => a.startsWith('--input-type');
  const execArgv = process.execArgv.some(inputType) ? { execArgv: process.execArgv.filter((a) => !inputType(a)) } : {};
  const worker = new Worker(new URL('./store-worker.ts', import.meta.url), { workerData: workerOptions, ...execArgv });
  const pending = new Map<number, Pending>();
  const watchers = new Set<(change: MailboxChange) => void>();
  let nextId = 1;
  let stats: WriteStats = { commits: 0, writes: 0 };
  let failure: Error | null = null;
  let closing: Promise<void> | null = null;

  const ready = new Promise<string>((resolve, reject) => {
    const onFirst = (m: FromWorker): void => {
      if (m.kind === 'ready') {
        stats = m.stats;
        worker.off('message', onFirst);
        resolve(m.engine);
      } else if (m.kind === 'open-failed') {
        worker.off('message', onFirst);
        reject(fromWire(m.error));
      }
    };
    worker.on('message', onFirst);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the store's worker thread stopped (exit code ${code}) before opening ${options.path}`)));
  });

  function fail(err: Error): void {
    failure ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker.unref();
  }

  worker.on('message', (m: FromWorker) => {
    switch (m.kind) {
      case 'result': {
        stats = m.stats;
        const p = pending.get(m.id);
        if (p === undefined) return;
        pending.delete(m.id);
        if (pending.size === 0) worker.unref();
        if (m.ok) p.resolve(m.value);
        else p.reject(fromWire(m.error));
        return;
      }
      case 'change':
        for (const w of watchers) {
          try {
            w(m.change);
          } catch (err) {
            logger.error({ err }, 'mailbox watcher failed');
          }
        }
        return;
      case 'log':
        logger[m.level](m.obj, m.msg);
        return;
      default:
        return;
    }
  });
  worker.on('error', (err) => {
    logger.error({ err }, "the store's worker thread failed; every store call now fails");
    fail(new StoreError(StoreErrorCode.Closed, `the store's worker thread failed: ${err.message}`, { cause: err }));
  });
  worker.on('exit', (code) => {
    // Also while closing: a worker that dies before answering the close must not leave close()
    // (or any call still in flight) waiting for ever. After a clean close nothing is pending.
    fail(new StoreError(StoreErrorCode.Closed, `the store's worker thread stopped (exit code ${code})`));
  });

  let engine: string;
  try {
    engine = await ready;
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  worker.unref();

  function track(id: number, p: Pending): void {
    if (pending.size === 0) worker.ref();
    pending.set(id, p);
  }

  function settleUnsent(id: number, err: unknown): void {
    const p = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    p?.reject(err);
  }

  function post(message: ToWorker, ids: readonly number[]): void {
    try {
      worker.postMessage(message);
    } catch {
      // An argument structured clone cannot carry (a caller's mistake, not the store's) spoils
      // the whole batch's message: send each call alone, so only the bad one fails.
      if (message.kind !== 'calls' || message.calls.length === 1) {
        const err = new StoreError(StoreErrorCode.Invalid, `a store call's arguments cannot be passed to the store's thread (${message.kind === 'calls' ? message.calls[0]?.method : 'close'})`);
        for (const id of ids) settleUnsent(id, err);
        return;
      }
      for (const c of message.calls) post({ kind: 'calls', calls: [c] }, [c.id]);
    }
  }

  // Calls made in one turn of this thread's event loop go to the worker together (see ToWorker).
  let outbox: Call[] = [];
  function flush(): void {
    if (outbox.length === 0) return; // close() sent them already
    const calls = outbox;
    outbox = [];
    post({ kind: 'calls', calls }, calls.map((c) => c.id));
  }

  function call(method: CallableMethod, args: unknown[]): Promise<unknown> {
    if (closing !== null) return Promise.reject(new StoreError(StoreErrorCode.Closed, 'the store is closed'));
    if (failure !== null) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const id = nextId++;
      track(id, { resolve, reject });
      if (outbox.length === 0) setImmediate(flush);
      outbox.push({ id, method, args });
    });
  }

  const methods = Object.fromEntries(callableMethods.map((name) => [name, (...args: unknown[]) => call(name, args)])) as unknown as Pick<Store, CallableMethod>;

  return {
    ...methods,
    engine,
    writeStats: () => ({ ...stats }),
    watchMailboxes(listener) {
      watchers.add(listener);
      return () => {
        watchers.delete(listener);
      };
    },
    close(): Promise<void> {
      if (closing !== null) return closing;
      if (failure !== null) {
        closing = worker.terminate().then(() => undefined);
        return closing;
      }
      // Calls already made are answered before the worker's store closes: they go first, and
      // the store waits for them.
      if (outbox.length > 0) flush();
      closing = new Promise<void>((resolve, reject) => {
        const id = nextId++;
        track(id, { resolve: () => resolve(), reject });
        post({ kind: 'close', id }, [id]);
      }).finally(async () => {
        // Also when the worker's close failed: its thread and database handle go either way.
        await worker.terminate();
      });
      return closing;
    },
  };
}
