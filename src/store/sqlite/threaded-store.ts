/**
 * The SQLite store run on a worker thread (`store-worker.ts`), seen from the calling thread as an
 * ordinary `Store`: each call is one message there and one back. The server opens its store this
 * way so that SQLite's synchronous work (statements, commits and their fsyncs, checkpoints, waits
 * for the CLI's write lock) no longer stops the sessions it serves; durability is the store's
 * own, unchanged: a call resolves only after the worker's commit returned.
 *
 * While no call is in flight the worker does not keep the process alive; while one is, it does, so
 * a command that awaits the store is not cut short by Node deciding there is nothing left to do.
 */
import { Worker } from 'node:worker_threads';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { MailboxChange, Store, WriteStats } from '../types.ts';
import { callableMethods, fromWire, type CallableMethod, type FromWorker, type ToWorker, type WorkerOpenOptions } from './worker-protocol.ts';

export interface ThreadedSqliteOptions {
  /** A file path (a worker's `:memory:` database would be private to it, which works, but is pointless). */
  path: string;
  logger?: Logger;
  busyTimeoutMs?: number;
  /** The lowest level the worker sends back to `logger`. Default 'info'. */
  logLevel?: WorkerOpenOptions['logLevel'];
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
    if (closing === null) fail(new StoreError(StoreErrorCode.Closed, `the store's worker thread stopped (exit code ${code})`));
  });

  let engine: string;
  try {
    engine = await ready;
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  worker.unref();

  function send(message: ToWorker, p: Pending): void {
    if (pending.size === 0) worker.ref();
    pending.set(message.id, p);
    try {
      worker.postMessage(message);
    } catch (err) {
      // An argument structured clone cannot carry: a caller's mistake, not the store's.
      pending.delete(message.id);
      if (pending.size === 0) worker.unref();
      p.reject(err);
    }
  }

  function call(method: CallableMethod, args: unknown[]): Promise<unknown> {
    if (failure !== null) return Promise.reject(failure);
    if (closing !== null) return Promise.reject(new StoreError(StoreErrorCode.Closed, 'the store is closed'));
    return new Promise((resolve, reject) => send({ kind: 'call', id: nextId++, method, args }, { resolve, reject }));
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
      // Calls already sent are answered before the worker's store closes: it waits for them.
      closing = new Promise<void>((resolve, reject) => send({ kind: 'close', id: nextId++ }, { resolve: () => resolve(), reject })).then(async () => {
        await worker.terminate();
      });
      return closing;
    },
  };
}
