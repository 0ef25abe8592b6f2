/**
 * The SQLite store on a thread of its own (started by `threaded-store.ts`). node:sqlite is
 * synchronous: on the server's thread every statement, every commit's WAL write and fsync, every
 * checkpoint and every wait for another process's lock stops all sessions. Here they stop only
 * this thread, while the server's thread goes on reading and answering clients, and the calls
 * that arrive meanwhile are committed together in the next group commit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from '../../core/logger.ts';
import type { Store } from '../types.ts';
import { openSqliteStore } from './open.ts';
import { cloneableLogFields, toWire, type Call, type FromWorker, type ToWorker, type WorkerOpenOptions } from './worker-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('store-worker.ts runs only as a worker thread (threaded-store.ts starts it)');
const options = workerData as WorkerOpenOptions;

function post(m: FromWorker): void {
  try {
    port?.postMessage(m);
  } catch (err) {
    // A value structured clone cannot carry (only possible in a log record): say so instead.
    if (m.kind === 'log') port?.postMessage({ kind: 'log', level: m.level, obj: { unsendable: String(err) }, msg: m.msg } satisfies FromWorker);
    else throw err;
  }
}

const levels = ['debug', 'info', 'warn', 'error'] as const;
function forwardingLogger(bindings: Record<string, unknown>): Logger {
  const min = levels.indexOf(options.logLevel);
  const at =
    (level: (typeof levels)[number]) =>
    (obj: object, msg?: string): void => {
      if (levels.indexOf(level) < min) return;
      post({ kind: 'log', level, obj: { ...bindings, ...cloneableLogFields(obj) }, ...(msg !== undefined ? { msg } : {}) });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => forwardingLogger({ ...bindings, ...b }) };
}

let store: Store;
try {
  store = await openSqliteStore({
    path: options.path,
    logger: forwardingLogger({}),
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    ...(options.blobs !== undefined ? { blobs: options.blobs } : {}),
  });
} catch (err) {
  post({ kind: 'open-failed', error: toWire(err) });
  process.exit(0);
}
store.watchMailboxes((change) => post({ kind: 'change', change }));
post({ kind: 'ready', engine: store.engine, stats: store.writeStats() });

port.on('message', (m: ToWorker) => {
  if (m.kind === 'close') {
    void store.close().then(
      () => {
        post({ kind: 'result', id: m.id, ok: true, value: undefined, stats: store.writeStats() });
        port.close();
      },
      (err: unknown) => post({ kind: 'result', id: m.id, ok: false, error: toWire(err), stats: store.writeStats() }),
    );
    return;
  }
  for (const c of m.calls) start(c);
});

function start(c: Call): void {
  const method = store[c.method] as (...args: unknown[]) => Promise<unknown>;
  let pending: Promise<unknown>;
  try {
    pending = method.apply(store, c.args);
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    (value) => post({ kind: 'result', id: c.id, ok: true, value, stats: store.writeStats() }),
    (err: unknown) => post({ kind: 'result', id: c.id, ok: false, error: toWire(err), stats: store.writeStats() }),
  );
}
