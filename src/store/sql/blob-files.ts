/**
 * Message bodies as files (`[storage] blobs = "DIR"`): a row names its file in `blob` and keeps an
 * empty `data`. A file is written, fsynced and its directory fsynced before the transaction that
 * inserts the row commits, so a committed row never names bytes a crash can lose; a file is
 * unlinked only after the transaction that removed its row committed, so a rollback loses nothing.
 *
 * Every row gets a file of its own (a copy hard-links a new name), so deleting one row's file never
 * takes another row's bytes and no node needs reference counts. What a crash leaves behind (a file
 * written but never committed, a row deleted but its file not yet unlinked) names no row: the sweep
 * removes such files once they are older than a grace period that outlasts any commit in flight on
 * any node sharing the directory.
 *
 * Names are `aa/bb/<32 hex>` from 128 random bits: two levels of 256 directories keep each one to a
 * few thousand entries up to hundreds of millions of bodies, and nodes sharing the directory
 * (NFS) never pick the same name. Async fs throughout: on PostgreSQL the store runs on the
 * server's thread, and on SQLite's worker thread it lets one body's fsync overlap the next.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { copyFile, link, mkdir, open, opendir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Logger } from '../../core/logger.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { BlobSweepResult } from '../types.ts';
import type { Database } from './tables.ts';

const NAME = /^([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{32})$/;
const LEVEL = /^[0-9a-f]{2}$/;
const LEAF = /^[0-9a-f]{32}$/;

/** Default age below which the sweep leaves an unreferenced file alone: a commit may be in flight. */
export const DEFAULT_SWEEP_GRACE_MS = 60 * 60 * 1000;
/**
 * How old a write's files may be when its transaction is about to insert the rows naming them: a
 * write that waited longer (a commit stuck behind a lock, a paused process) is refused, its files
 * removed, rather than risk naming files a sweep is about to take. Half the sweep's grace.
 */
export const MAX_UNCOMMITTED_MS = DEFAULT_SWEEP_GRACE_MS / 2;
/**
 * PostgreSQL advisory lock between writers and the sweep: a transaction that inserts rows naming
 * files holds it shared; a sweep batch decides and unlinks under it exclusive, so it never judges a
 * file whose row is inserted but not yet committed on another node.
 */
const FENCE_CLASS = 72061510;
/** Held by the one node of a store that walks the directory now: the others skip. */
const SWEEPER_CLASS = 72061511;
/** How long a sweep batch tries for the fence (backing off) before this sweep gives up. */
const FENCE_TRY_MS = 5 * 60_000;

/**
 * The advisory lock keys of one store: its class and the store id (from claimBlobDir), so that
 * stores in two schemas of one database do not fence each other. Exported for tests.
 */
export function blobLockKey(kind: 'fence' | 'sweeper', storeId: number): [number, number] {
  return [kind === 'fence' ? FENCE_CLASS : SWEEPER_CLASS, storeId % 2_147_483_647];
}
/** The file in the blobs directory naming the database its bodies belong to. */
const OWNER_FILE = 'postern-store-id';
// Names checked against the database per query, and removed names the sweep reports (it logs all).
const SWEEP_BATCH = 500;
const SWEEP_SAMPLE = 100;

export interface BlobFiles {
  /** The absolute directory. */
  readonly dir: string;
  /** Whether new bodies go to files (false: into the database, with old files still read). */
  readonly writes: boolean;
  /**
   * Called in a transaction before it inserts rows naming files: on PostgreSQL it takes the sweep
   * fence shared (held to the transaction's end), so no sweep batch on any node runs meanwhile.
   */
  enterWrite(trx: Transaction<Database>): Promise<void>;
  /** A new file holding `data`, durable with its directory entry; returns its name. */
  write(data: Uint8Array): Promise<string>;
  /** A new name for the bytes of `name` (a hard link; a copy where links are refused). */
  link(name: string): Promise<string>;
  /**
   * The bytes of `name`; `what` names the message in the error when the file is missing, or when
   * it holds other than `size` bytes (a truncated copy, a restore by hand).
   */
  read(name: string, what: string, size?: number): Promise<Uint8Array>;
  /** Unlinks, ignoring files already gone; never throws (a leftover is the sweep's). */
  remove(names: Iterable<string>): Promise<void>;
  /** Removes files no row names, older than `graceMs`; a walk, checked a batch at a time. */
  sweep(db: Kysely<Database>, options?: { graceMs?: number; now?: number }): Promise<BlobSweepResult>;
}

const codeOf = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The error of a body that could not be read when no directory is configured: the row names a file
 * but the store does not know where files live.
 */
export function blobsNotConfigured(name: string, what: string): StoreError {
  return new StoreError(
    StoreErrorCode.NotFound,
    `the body of ${what} is in file ${name} under [storage] blobs, which is not set: set it to the directory the files were written to`,
  );
}

export function createBlobFiles(options: { dir: string; writes?: boolean; logger: Logger; fence?: { engine: 'postgres'; storeId: number } | null }): BlobFiles {
  const { dir, logger } = options;
  const pgFence = options.fence?.engine === 'postgres';
  const [fenceClass, fenceId] = blobLockKey('fence', options.fence?.storeId ?? 0);
  const [sweeperClass, sweeperId] = blobLockKey('sweeper', options.fence?.storeId ?? 0);

  /** The file server's time now: what the files' ctimes are stamped with, whatever this node's clock says. */
  async function fileServerNow(): Promise<number> {
    const probe = join(dir, `.clock-${randomBytes(8).toString('hex')}`);
    await writeFile(probe, '', { flag: 'wx' });
    try {
      return (await stat(probe)).ctimeMs;
    } finally {
      await unlink(probe).catch(() => undefined);
    }
  }

  /**
   * Runs one sweep batch's decision under the fence, exclusive (PostgreSQL). Tried, never waited
   * for in the lock's queue: a waiting exclusive request would hold back every new writer behind
   * one slow writer (a big COPY, a node stuck on its mount). Backs off up to FENCE_TRY_MS.
   */
  async function fenced<T>(db: Kysely<Database>, run: (q: Kysely<Database> | Transaction<Database>) => Promise<T>): Promise<T> {
    if (!pgFence) return run(db);
    const until = performance.now() + FENCE_TRY_MS;
    for (let wait = 50; ; wait = Math.min(wait * 2, 5000)) {
      const outcome = await db.transaction().execute(async (trx) => {
        const got = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${fenceClass}::int, ${fenceId}::int) AS ok`.execute(trx);
        return got.rows[0]?.ok === true ? { value: await run(trx) } : null;
      });
      if (outcome !== null) return outcome.value;
      if (performance.now() > until) throw new Error(`the sweep of ${dir} could not take the write fence for ${FENCE_TRY_MS / 1000} s (writers kept it busy); it tries again at the next sweep`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  function pathOf(name: string, what: string): string {
    if (!NAME.test(name)) {
      throw new StoreError(StoreErrorCode.Invalid, `${what} names body file ${JSON.stringify(name)}, which is not a name Postern writes (aa/bb/<32 hex digits>)`);
    }
    return join(dir, name);
  }

  /** Creates the two levels above a new file; each directory made is made durable in its parent. */
  async function makeParents(name: string): Promise<void> {
    const [a, b] = name.split('/') as [string, string];
    for (const [parent, child] of [
      [dir, join(dir, a)],
      [join(dir, a), join(dir, a, b)],
    ] as const) {
      try {
        await mkdir(child);
      } catch (err) {
        if (codeOf(err) !== 'EEXIST') throw err;
      }
      // Also after EEXIST: another node may have made it and not yet synced its parent.
      await syncDir(parent);
    }
  }

  /**
   * Runs `create(path)` for a fresh name; on ENOENT makes its directories and runs it again, so
   * only the first file of a directory pays for the mkdir and the fsync of its parent.
   */
  async function place(create: (path: string) => Promise<void>): Promise<string> {
    const hex = randomBytes(16).toString('hex');
    const name = `${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}`;
    const leaf = join(dir, hex.slice(0, 2), hex.slice(2, 4));
    const path = join(dir, name);
    try {
      try {
        await create(path);
      } catch (err) {
        if (codeOf(err) !== 'ENOENT') throw err;
        await makeParents(name);
        await create(path);
      }
      await syncDir(leaf);
    } catch (err) {
      // A partial file of ours; never one that was there before (EEXIST).
      if (codeOf(err) !== 'EEXIST') await unlink(path).catch(() => undefined);
      throw new Error(`could not write message body file ${path}: ${err instanceof Error ? err.message : String(err)} ([storage] blobs = ${dir} must exist and be writable)`, {
        cause: err,
      });
    }
    return name;
  }

  async function writeNew(path: string, data: Uint8Array): Promise<void> {
    const fh = await open(path, 'wx', 0o640);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function* candidates(cutoff: number): AsyncGenerator<string> {
    const dirs = async function* (path: string, pattern: RegExp): AsyncGenerator<string> {
      let handle;
      try {
        handle = await opendir(path);
      } catch (err) {
        if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return;
        throw err;
      }
      for await (const e of handle) if (pattern.test(e.name)) yield e.name;
    };
    for await (const a of dirs(dir, LEVEL)) {
      for await (const b of dirs(join(dir, a), LEVEL)) {
        for await (const f of dirs(join(dir, a, b), LEAF)) {
          // ctime, not mtime: a hard link made for a copy keeps the old mtime of its bytes, but
          // linking sets the ctime, so a copy whose commit is in flight is never taken.
          const st = await stat(join(dir, a, b, f)).catch((err: unknown) => {
            if (codeOf(err) === 'ENOENT') return null;
            throw err;
          });
          if (st !== null && st.isFile() && st.ctimeMs <= cutoff) yield `${a}/${b}/${f}`;
        }
      }
    }
  }

  const files: BlobFiles = {
    dir,
    writes: options.writes ?? true,

    async enterWrite(trx) {
      if (pgFence) await sql`SELECT pg_advisory_xact_lock_shared(${fenceClass}::int, ${fenceId}::int)`.execute(trx);
    },

    write: (data) => place((path) => writeNew(path, data)),

    async link(name) {
      const from = pathOf(name, 'a copied message');
      // Checked first: place() would take a missing source for a missing directory of the copy.
      await stat(from).catch((err: unknown) => {
        if (codeOf(err) === 'ENOENT') throw new StoreError(StoreErrorCode.NotFound, `the body file ${from} of a copied message is missing (was [storage] blobs moved, or the file removed by hand?)`, { cause: err });
        throw err;
      });
      return place(async (path) => {
        try {
          await link(from, path);
        } catch (err) {
          const code = codeOf(err);
          // Filesystems without hard links (some NFS and SMB exports): a copy of its own.
          if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV' && code !== 'EMLINK') throw err;
          await copyFile(from, path, 1 /* COPYFILE_EXCL */);
          const fh = await open(path, 'r+');
          try {
            await fh.sync();
          } finally {
            await fh.close();
          }
        }
      });
    },

    async read(name, what, size) {
      const path = pathOf(name, what);
      let b: Buffer;
      try {
        b = await readFile(path);
      } catch (err) {
        if (codeOf(err) === 'ENOENT') {
          throw new StoreError(StoreErrorCode.NotFound, `the body file ${path} of ${what} is missing (was [storage] blobs moved, or the file removed by hand?)`, { cause: err });
        }
        throw new Error(`could not read the body file ${path} of ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (size !== undefined && b.byteLength !== size) {
        throw new StoreError(StoreErrorCode.NotFound, `the body file ${path} of ${what} holds ${b.byteLength} bytes where the message has ${size}: it was truncated or replaced`);
      }
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },

    async remove(names) {
      for (const name of names) {
        if (!NAME.test(name)) continue;
        try {
          await unlink(join(dir, name));
        } catch (err) {
          if (codeOf(err) === 'ENOENT') continue;
          logger.warn({ err, file: join(dir, name) }, 'could not remove a deleted message\'s body file; the daily sweep will');
        }
      }
    },

    async sweep(db, opts = {}) {
      if (!pgFence) return sweepNow(db, opts);
      // One walk of the shared directory at a time for the whole cluster, not one per node.
      return db.connection().execute(async (conn) => {
        const got = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(${sweeperClass}::int, ${sweeperId}::int) AS ok`.execute(conn);
        if (got.rows[0]?.ok !== true) return { checked: 0, removed: 0, sample: [], busy: true };
        try {
          return await sweepNow(db, opts);
        } finally {
          const freed = await sql<{ ok: boolean }>`SELECT pg_advisory_unlock(${sweeperClass}::int, ${sweeperId}::int) AS ok`.execute(conn).catch(() => null);
          if (freed?.rows[0]?.ok !== true) logger.warn({ dir }, 'sweep: could not give back the sweeper lock; other nodes skip their sweeps until this connection closes');
        }
      });
    },
  };

  async function sweepNow(db: Kysely<Database>, opts: { graceMs?: number; now?: number }): Promise<BlobSweepResult> {
    // Ages on the file server's clock, which stamped the ctimes: a node whose clock runs ahead
    // would otherwise take files younger than the grace.
    const cutoff = (opts.now ?? (await fileServerNow())) - (opts.graceMs ?? DEFAULT_SWEEP_GRACE_MS);
    const result: BlobSweepResult = { checked: 0, removed: 0, sample: [] };
    let batch: string[] = [];
    const settle = async (): Promise<void> => {
      const names = batch;
      batch = [];
      if (names.length === 0) return;
      // Decided under the fence; unlinked after it, so writers are not held back by slow unlinks.
      // Safe: a write that takes the fence later with one of these files finds them older than
      // MAX_UNCOMMITTED_MS (they are older than the grace) and is refused.
      const orphans = await fenced(db, async (q) => {
        // Index walks (schema step 6: partial indexes on blob), a batch of names per query.
        const m = await q.selectFrom('messages').select('blob').where('blob', 'in', names).execute();
        const qm = await q.selectFrom('queue_messages').select('blob').where('blob', 'in', names).execute();
        const named = new Set([...m, ...qm].map((r) => r.blob));
        return names.filter((x) => !named.has(x));
      });
      const gone: string[] = [];
      for (const n of orphans) {
        try {
          await unlink(join(dir, n));
          gone.push(n);
        } catch (err) {
          if (codeOf(err) !== 'ENOENT') logger.warn({ err, file: join(dir, n) }, 'sweep: could not remove an unreferenced body file');
        }
      }
      if (gone.length === 0) return;
      result.removed += gone.length;
      for (const n of gone) if (result.sample.length < SWEEP_SAMPLE) result.sample.push(n);
      logger.info({ dir, files: gone }, 'sweep: removed body files no message names (left by a crash or a failed write)');
    };
    for await (const name of candidates(cutoff)) {
      result.checked += 1;
      batch.push(name);
      if (batch.length >= SWEEP_BATCH) await settle();
    }
    await settle();
    return result;
  }
  return files;
}

/** At open: the directory must exist (a shared mount that is missing must not fill the local disk). */
export async function checkBlobDir(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    throw new StoreError(StoreErrorCode.Invalid, `[storage] blobs = ${dir} does not exist (${codeOf(err) ?? String(err)}): create it, on a path every node shares`, { cause: err });
  }
  if (!st.isDirectory()) throw new StoreError(StoreErrorCode.Invalid, `[storage] blobs = ${dir} is not a directory`);
}

/**
 * At open: ties the blobs directory to this database. The database keeps a random store id and the
 * directory a file naming it; a directory that names another database is refused, since each
 * store's sweep would take the other's bodies as files no row of its own names.
 */
export async function claimBlobDir(db: Kysely<Database>, dir: string): Promise<number> {
  await db
    .insertInto('counters')
    .values({ name: 'blob_store_id', value: randomInt(1, 2 ** 47) })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('counters').select('value').where('name', '=', 'blob_store_id').executeTakeFirstOrThrow();
  const id = String(Number(row.value));
  const file = join(dir, OWNER_FILE);
  const readOwner = async (): Promise<string | null> => {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return null;
      throw err;
    }
  };
  let owner = await readOwner();
  if (owner === null) {
    try {
      const fh = await open(file, 'wx', 0o644);
      try {
        await fh.writeFile(`${id}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await syncDir(dir);
      owner = id;
    } catch (err) {
      // Another node of this database made it first.
      if (codeOf(err) !== 'EEXIST') throw new StoreError(StoreErrorCode.Invalid, `[storage] blobs = ${dir}: could not write ${file} (${err instanceof Error ? err.message : String(err)})`, { cause: err });
      owner = await readOwner();
    }
  }
  if (owner !== id) {
    throw new StoreError(
      StoreErrorCode.Invalid,
      `[storage] blobs = ${dir} holds the bodies of another Postern database (${file} says store ${owner}, this database is store ${id}): give each database a directory of its own`,
    );
  }
  return Number(id);
}
