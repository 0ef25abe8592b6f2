/**
 * Reading and locking mailbox rows, shared by the store's queries (`sql-store.ts`) and the IMAP
 * operations (`mailbox-ops.ts`).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { normalizeAddress } from '../address.ts';
import type { Mailbox, MailboxRef, SpecialUse } from '../types.ts';
import { prepareQuery, type Bind } from './prepared.ts';
import type { Database } from './tables.ts';

// PostgreSQL's driver returns BIGINT as a string; Number() makes one mapping serve both engines.
export const num = (v: unknown): number => Number(v);

/** RFC 3501 §5.1: INBOX is case-insensitive; every other name is as given. */
export function mailboxName(name: string | undefined): string {
  if (name === undefined || name.toUpperCase() === 'INBOX') return 'INBOX';
  return name;
}

// UIDVALIDITY must change whenever a mailbox name is reused (RFC 3501 §2.3.1.1), even across a
// deleted and recreated account, and should not repeat if the database is rebuilt: a counter
// that never goes back and starts from the clock in seconds.
export async function nextUidValidity(trx: Transaction<Database>, at: number): Promise<number> {
  const fromClock = Math.max(1, Math.floor(at / 1000));
  // One statement, so two nodes creating mailboxes at once cannot both read the same value (or
  // both find no row and both insert one): the row lock of the upsert orders them.
  const row = await trx
    .insertInto('counters')
    .values({ name: 'uid_validity', value: fromClock })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({
        value: sql<number>`CASE WHEN counters.value + 1 > excluded.value THEN counters.value + 1 ELSE excluded.value END`,
      }),
    )
    .returning('value')
    .executeTakeFirstOrThrow();
  return num(row.value);
}

export interface MailboxRow {
  id: number;
  account_id: number;
  account_key: string;
  uid_validity: number;
  uid_next: number;
  name: string;
  special_use: string | null;
  highest_modseq: number;
  recent_uid: number;
}

// Every delivery and most IMAP commands look a mailbox up: built and compiled once (prepared.ts).
const mailboxByKey = prepareQuery((q, bind: Bind<{ key: string; name: string }>) =>
  q
    .selectFrom('mailboxes')
    .innerJoin('accounts', 'accounts.id', 'mailboxes.account_id')
    .select([
      'mailboxes.id',
      'mailboxes.account_id',
      'accounts.address_key as account_key',
      'mailboxes.uid_validity',
      'mailboxes.uid_next',
      'mailboxes.name',
      'mailboxes.special_use',
      'mailboxes.highest_modseq',
      'mailboxes.recent_uid',
    ])
    .where('accounts.address_key', '=', bind('key'))
    .where('mailboxes.name', '=', bind('name')),
);

export async function mailboxByRef(q: Kysely<Database> | Transaction<Database>, ref: MailboxRef): Promise<MailboxRow | null> {
  const a = normalizeAddress(ref.address);
  if (a === null) return null;
  const row = await mailboxByKey.first(q, { key: a.key, name: mailboxName(ref.mailbox) });
  if (row === undefined) return null;
  return {
    ...row,
    id: num(row.id),
    account_id: num(row.account_id),
    uid_validity: num(row.uid_validity),
    uid_next: num(row.uid_next),
    highest_modseq: num(row.highest_modseq),
    recent_uid: num(row.recent_uid),
  };
}

export function toMailbox(r: { id: number; name: string; special_use: string | null; uid_validity: number; uid_next: number }): Mailbox {
  return {
    id: num(r.id),
    name: r.name,
    specialUse: r.special_use as SpecialUse | null,
    uidValidity: num(r.uid_validity),
    uidNext: num(r.uid_next),
  };
}

/** Takes the next modseq of a mailbox inside `trx`. */
export async function bumpModseq(trx: Transaction<Database>, mailboxId: number): Promise<number> {
  const row = await trx
    .updateTable('mailboxes')
    .set((eb) => ({ highest_modseq: eb('highest_modseq', '+', 1) }))
    .where('id', '=', mailboxId)
    .returning('highest_modseq')
    .executeTakeFirstOrThrow();
  return num(row.highest_modseq);
}

