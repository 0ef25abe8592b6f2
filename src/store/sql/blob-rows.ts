/**
 * The store's side of `[storage] blobs` (blob-files.ts has the files): writing the bodies of a call
 * before its transaction, removing them again when it does not commit, reading a row's body from
 * wherever it is, and finding the files of rows a cascade is about to delete. Every function here
 * is called only when a blobs directory is configured, so the default path runs no extra query.
 */
import type { Transaction } from 'kysely';
import type { BlobFiles } from './blob-files.ts';
import { blobsNotConfigured, MAX_UNCOMMITTED_MS } from './blob-files.ts';
import type { Database } from './tables.ts';

/** What a row with `blob` set keeps in `data`. */
export const EMPTY = new Uint8Array(0);

/** The files of one call's bodies, being written; `refused` once its write turned the call down. */
export interface PendingBodies {
  readonly names: Promise<string[]>;
  readonly blobs: BlobFiles;
  /** Monotonic time the writes started: the files are at most this old. */
  readonly startedAt: number;
  refused: boolean;
}

/**
 * Starts writing each body to a file of its own, at the call, so the files of the calls of one
 * turn are written side by side while the calls queue for their group commit in the order they
 * were made. The write awaits the names (`namesFor`) inside the transaction, before inserting
 * anything: the files are durable before the commit that names them. null when new bodies go to
 * the database. A failure removes the files already written.
 */
export function startBodies(blobs: BlobFiles | null, bodies: readonly Uint8Array[]): PendingBodies | null {
  if (blobs === null || !blobs.writes) return null;
  const startedAt = performance.now();
  const names = (async () => {
    const settled = await Promise.allSettled(bodies.map((b) => blobs.write(b)));
    const written = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) {
      await blobs.remove(written);
      throw failed.reason;
    }
    return written;
  })();
  // Awaited by the write (its own caller's rejection) and by keepIfCommitted: never unhandled.
  names.catch(() => undefined);
  return { names, blobs, startedAt, refused: false };
}

/**
 * Inside a batched write, before it inserts anything: the names of its files, or the refusal of
 * this one call (the batch goes on) when they could not be written, or when they were written so
 * long ago that a sweep could judge them unreferenced (MAX_UNCOMMITTED_MS). The sweep fence is
 * taken first, so no sweep batch decides between this check and the commit.
 */
export async function namesFor(pending: PendingBodies, trx: Transaction<Database>): Promise<{ ok: true; names: string[] } | { ok: false; error: Error }> {
  let names: string[];
  try {
    names = await pending.names;
  } catch (err) {
    pending.refused = true;
    return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
  }
  await pending.blobs.enterWrite(trx);
  const waited = performance.now() - pending.startedAt;
  if (waited > MAX_UNCOMMITTED_MS) {
    pending.refused = true;
    return { ok: false, error: new Error(`the write waited ${Math.round(waited / 1000)} s for its commit, longer than body files may stay unreferenced (${MAX_UNCOMMITTED_MS / 1000} s): refused, so the sweep cannot take its files; try again`) };
  }
  return { ok: true, names };
}

/** Notes the outcome of the write of `pending`'s call (run again after a retried batch, the last counts). */
export function noteOutcome<T extends { ok: boolean }>(pending: PendingBodies | null, outcome: T): T {
  if (pending !== null) pending.refused = !outcome.ok;
  return outcome;
}

/**
 * `written` is the call whose rows name the files of `pending`. Refused by its write (nothing
 * inserted), or committed without naming them (`unused`): the files are removed. Any other
 * failure may be a COMMIT whose outcome is unknown (a connection lost while committing): the
 * files stay, and the sweep removes them later if no row names them.
 */
export function keepIfCommitted<T>(blobs: BlobFiles | null, pending: PendingBodies | null, written: Promise<T>, unused?: (value: T) => boolean): Promise<T> {
  if (blobs === null || pending === null) return written;
  return settle(blobs, pending, written, unused);
}

async function settle<T>(blobs: BlobFiles, pending: PendingBodies, written: Promise<T>, unused?: (value: T) => boolean): Promise<T> {
  let value: T;
  try {
    value = await written;
  } catch (err) {
    if (pending.refused) await blobs.remove(await pending.names.catch(() => []));
    throw err;
  }
  if (unused?.(value) === true) await blobs.remove(await pending.names.catch(() => []));
  return value;
}

/** A row's body: its `data`, or the file its `blob` names. */
export async function bodyOf(blobs: BlobFiles | null, row: { data: Uint8Array; blob: string | null; size?: number | string }, what: () => string): Promise<Uint8Array> {
  if (row.blob === null) return row.data;
  if (blobs === null) throw blobsNotConfigured(row.blob, what());
  return blobs.read(row.blob, what(), row.size === undefined ? undefined : Number(row.size));
}

/**
 * Deletes the messages of a mailbox ahead of the mailbox's own deletion (which would take them by
 * cascade, saying nothing of their files) and returns their files. In the same statement, so a
 * message another node appends meanwhile is either among them or, at worst, a leftover the sweep
 * takes.
 */
export async function deleteMessagesOfMailbox(trx: Transaction<Database>, mailboxId: number): Promise<string[]> {
  return namesOf(await trx.deleteFrom('messages').where('mailbox_id', '=', mailboxId).returning('blob').execute());
}

/** As `deleteMessagesOfMailbox`, for every mailbox of an account. */
export async function deleteMessagesOfAccount(trx: Transaction<Database>, accountKey: string): Promise<string[]> {
  const rows = await trx
    .deleteFrom('messages')
    .where('mailbox_id', 'in', (eb) =>
      eb.selectFrom('mailboxes').innerJoin('accounts', 'accounts.id', 'mailboxes.account_id').select('mailboxes.id').where('accounts.address_key', '=', accountKey),
    )
    .returning('blob')
    .execute();
  return namesOf(rows);
}

/** The names among rows a DELETE … RETURNING blob gave back. */
export function namesOf(rows: ReadonlyArray<{ blob: string | null }>): string[] {
  return rows.flatMap((r) => (r.blob === null ? [] : [r.blob]));
}
