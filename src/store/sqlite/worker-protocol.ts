/**
 * What the SQLite store's worker thread and the thread that uses it say to each other
 * (`threaded-store.ts` on the calling side, `store-worker.ts` on the worker's). Only data that
 * structured clone carries crosses: store calls by method name with their arguments, results,
 * errors flattened to their name, message and code, log records and mailbox changes.
 */
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { MailboxChange, Store, WriteStats } from '../types.ts';

/** The store's methods that are plain calls: everything but the property, the sync stats, close and the listener. */
export type CallableMethod = Exclude<keyof Store, 'engine' | 'writeStats' | 'close' | 'watchMailboxes'>;

// A record (not a list) so that the compiler names any method of Store this file does not know.
const callable: Record<CallableMethod, true> = {
  createAccount: true,
  deleteAccount: true,
  getAccount: true,
  listAccounts: true,
  setPasswordHash: true,
  addAlias: true,
  removeAlias: true,
  listAliases: true,
  lookupAlias: true,
  addDomain: true,
  setDomainRole: true,
  removeDomain: true,
  listDomains: true,
  listMailboxes: true,
  getMailbox: true,
  append: true,
  listMessages: true,
  readMessage: true,
  readMessages: true,
  readHeaders: true,
  searchHeaders: true,
  countMessages: true,
  deleteMessage: true,
  createMailbox: true,
  deleteMailbox: true,
  renameMailbox: true,
  setSubscribed: true,
  listSubscriptions: true,
  getMailboxStatus: true,
  listMessageStates: true,
  mailboxChanges: true,
  claimRecent: true,
  setFlags: true,
  copyMessages: true,
  expunge: true,
  enqueue: true,
  accept: true,
  claimDue: true,
  recordResults: true,
  nextAttemptAt: true,
  getQueued: true,
  readQueuedData: true,
  deleteIfFinal: true,
  deliverToMailbox: true,
  releaseLeases: true,
  extendLeases: true,
  deleteFinished: true,
  markDelayNoticeSent: true,
  listQueue: true,
  retry: true,
  deleteQueued: true,
  hold: true,
  release: true,
  countQueuedByDomain: true,
  acquireSlot: true,
  renewSlots: true,
  releaseSlot: true,
  releaseSlots: true,
  reservePace: true,
  // [storage] blobs
  sweepBlobs: true,
};

export const callableMethods = Object.keys(callable) as CallableMethod[];

export function isCallableMethod(name: string): name is CallableMethod {
  return Object.hasOwn(callable, name);
}

export interface WorkerOpenOptions {
  path: string;
  /** [storage] blobs: the absolute directory, and whether new bodies go there. */
  blobs?: { dir: string; writes: boolean };
  busyTimeoutMs?: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export interface Call {
  id: number;
  method: CallableMethod;
  args: unknown[];
}

/**
 * Calls go in batches: every call made during one turn of the caller's event loop, in one message,
 * started by the worker in one turn of its own, so they share one group commit as they would on
 * the caller's thread.
 */
export type ToWorker = { kind: 'calls'; calls: Call[] } | { kind: 'close'; id: number };

export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type FromWorker =
  | { kind: 'ready'; engine: string; stats: WriteStats }
  | { kind: 'open-failed'; error: WireError }
  | { kind: 'result'; id: number; ok: true; value: unknown; stats: WriteStats }
  | { kind: 'result'; id: number; ok: false; error: WireError; stats: WriteStats }
  | { kind: 'change'; change: MailboxChange }
  | { kind: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: Record<string, unknown>; msg?: string };

export function toWire(err: unknown): WireError {
  if (err instanceof Error) {
    const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
    return { name: err.name, message: err.message, ...(code !== undefined ? { code } : {}), ...(err.stack !== undefined ? { stack: err.stack } : {}) };
  }
  return { name: 'Error', message: String(err) };
}

const storeCodes = new Set<string>(Object.values(StoreErrorCode));

/** The error as the caller would have seen it on its own thread: a StoreError keeps its class and code. */
export function fromWire(w: WireError): Error {
  let err: Error;
  if (w.name === 'StoreError' && w.code !== undefined && storeCodes.has(w.code)) {
    err = new StoreError(w.code as StoreErrorCode, w.message);
  } else {
    err = new Error(w.message);
    err.name = w.name;
    if (w.code !== undefined) Object.assign(err, { code: w.code });
  }
  if (w.stack !== undefined) err.stack = `${w.stack}\n    (in the store's worker thread)`;
  return err;
}

/** Log fields made cloneable: errors become their name, message and stack. */
export function cloneableLogFields(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = v instanceof Error ? toWire(v) : v;
  return out;
}
