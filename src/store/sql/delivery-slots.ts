/**
 * Cluster-wide limits over two tables every node shares (migration 5): `delivery_slots`, where a
 * held connection, drain lane or maildrop lock is a row numbered 0 .. limit - 1 under its key, so
 * the primary key (key, slot) enforces the limit on any engine; and `delivery_pace`, the next free
 * start time of a paced key. Every write decides in one statement (an insert the key may refuse, an
 * update that re-checks its condition): a read only suggests which slot numbers to try.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { Database } from './tables.ts';

// PostgreSQL returns BIGINT as a string.
const num = (v: unknown): number => Number(v);

function requireKey(key: string): void {
  if (key === '') throw new StoreError(StoreErrorCode.Invalid, 'a slot key must not be empty: name the destination or lock it counts');
}

function requirePositive(key: string, value: number): void {
  if (!Number.isFinite(value) || value < 1) throw new StoreError(StoreErrorCode.Invalid, `the slot limit of ${key} must be at least 1, not ${value}`);
}

export async function acquireSlot(db: Kysely<Database>, o: { key: string; limit: number; owner: string; now: number; leaseMs: number }): Promise<number | null> {
  requireKey(o.key);
  requirePositive(o.key, o.limit);
  const limit = Math.floor(o.limit);
  const until = Math.round(o.now + o.leaseMs);
  const rows = await db.selectFrom('delivery_slots').select(['slot', 'lease_until']).where('key', '=', o.key).execute();
  // Rows at or above the limit (it was lowered) still stand for connections that are open.
  if (rows.filter((r) => num(r.lease_until) > o.now).length >= limit) return null;
  const present = new Set(rows.map((r) => num(r.slot)));
  for (let slot = 0; slot < limit; slot++) {
    if (present.has(slot)) continue;
    // Another node inserting the same number at once: the key lets one of us in, the other tries on.
    const row = await db
      .insertInto('delivery_slots')
      .values({ key: o.key, slot, owner: o.owner, lease_until: until })
      .onConflict((oc) => oc.columns(['key', 'slot']).doNothing())
      .returning('slot')
      .executeTakeFirst();
    if (row !== undefined) return slot;
  }
  for (const r of rows) {
    const slot = num(r.slot);
    if (slot >= limit || num(r.lease_until) > o.now) continue;
    // A holder that stopped renewing (its node died): taken over only if still expired now.
    const taken = await db
      .updateTable('delivery_slots')
      .set({ owner: o.owner, lease_until: until })
      .where('key', '=', o.key)
      .where('slot', '=', slot)
      .where('lease_until', '<=', o.now)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) > 0) return slot;
  }
  return null;
}

export async function renewSlots(db: Kysely<Database>, o: { owners: readonly string[]; now: number; leaseMs: number }): Promise<string[]> {
  const renewed: string[] = [];
  // Bounded IN lists: a node holding thousands of connections renews them in a few statements.
  for (let i = 0; i < o.owners.length; i += 500) {
    const rows = await db
      .updateTable('delivery_slots')
      .set({ lease_until: Math.round(o.now + o.leaseMs) })
      .where('owner', 'in', o.owners.slice(i, i + 500))
      .returning('owner')
      .execute();
    for (const r of rows) renewed.push(r.owner);
  }
  return renewed;
}

export async function releaseSlot(db: Kysely<Database>, o: { key: string; slot: number; owner: string }): Promise<boolean> {
  const r = await db.deleteFrom('delivery_slots').where('key', '=', o.key).where('slot', '=', o.slot).where('owner', '=', o.owner).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function releaseSlots(db: Kysely<Database>, o: { ownerPrefix: string; except: string }): Promise<number> {
  const escaped = o.ownerPrefix.replace(/[\\%_]/g, (c) => `\\${c}`);
  const r = await db
    .deleteFrom('delivery_slots')
    .where(sql<boolean>`owner LIKE ${`${escaped}%`} ESCAPE '\\'`)
    .where('owner', '!=', o.except)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function reservePace(db: Kysely<Database>, o: { key: string; intervalMs: number; now: number }): Promise<number> {
  requireKey(o.key);
  if (!Number.isFinite(o.intervalMs) || o.intervalMs < 0) throw new StoreError(StoreErrorCode.Invalid, `the pacing interval of ${o.key} must be a number of milliseconds ≥ 0, not ${o.intervalMs}`);
  // Whole milliseconds: the column is an integer on both engines.
  const interval = Math.round(o.intervalMs);
  const now = Math.round(o.now);
  // One upsert decides for every node at once: the row is locked (PostgreSQL) or the writer is
  // single (SQLite) between reading next_at and writing its successor.
  const row = await db
    .insertInto('delivery_pace')
    .values({ key: o.key, next_at: now + interval })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        next_at: sql<number>`CASE WHEN delivery_pace.next_at > CAST(${now} AS BIGINT) THEN delivery_pace.next_at ELSE CAST(${now} AS BIGINT) END + CAST(${interval} AS BIGINT)`,
      }),
    )
    .returning('next_at')
    .executeTakeFirstOrThrow();
  return num(row.next_at) - interval;
}
