/**
 * What IMAP asks of the store beyond filing and reading messages (RFC 3501): mailbox management,
 * subscriptions, flags, copy and move, expunge, the \Recent mark and "what changed since modseq N".
 *
 * Every change to a mailbox's messages takes the next value of the mailbox's `highest_modseq` and
 * stamps it on what it touched: a re-flagged or new message carries it in `messages.modseq`, a
 * removed one leaves a tombstone in `expunged_messages`. A session that remembers the modseq it
 * last saw asks for everything above it, which works the same whether the change was made in this
 * process (announced at once through `watchMailboxes`) or in another one sharing the database
 * (noticed by polling `highestModseq`; PostgreSQL can add LISTEN/NOTIFY later).
 */
import type { Kysely, Transaction } from 'kysely';
import { normalizeAddress } from '../address.ts';
import { headerSection, isPlainHeader } from '../header-search.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { CopyResult, FlagOperation, Mailbox, MailboxChange, MailboxChanges, MailboxStatus, MailboxStore, MessageState } from '../types.ts';
import type { BlobFiles } from './blob-files.ts';
import { blobsNotConfigured } from './blob-files.ts';
import { deleteMessagesOfMailbox, EMPTY, namesOf } from './blob-rows.ts';
import { bumpModseq, mailboxByRef, mailboxName, nextUidValidity, num, toMailbox, type MailboxRow } from './mailbox-rows.ts';
import type { Database } from './tables.ts';

// Keeps each `IN (…)` list well under both engines' bound-parameter limits.
const CHUNK = 200;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// RFC 3501 §2.3.2: system flags are case-insensitive; we store one spelling.
const SYSTEM_FLAGS = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]));

/**
 * System flags in their RFC 3501 spelling, \Recent dropped (it is a session's, never stored),
 * duplicates dropped without regard to case, keywords as first given.
 */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    if (f === '' || /\s/.test(f)) continue;
    const key = f.toLowerCase();
    if (key === '\\recent' || seen.has(key)) continue;
    seen.add(key);
    out.push(SYSTEM_FLAGS.get(key) ?? f);
  }
  return out;
}

const splitFlags = (s: string): string[] => (s === '' ? [] : s.split(' '));

function applyFlags(current: readonly string[], operation: FlagOperation, flags: readonly string[]): string[] {
  if (operation === 'replace') return [...flags];
  if (operation === 'add') return normalizeFlags([...current, ...flags]);
  const gone = new Set(flags.map((f) => f.toLowerCase()));
  return current.filter((f) => !gone.has(f.toLowerCase()));
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}

export interface MailboxOpsContext {
  db: Kysely<Database>;
  now: () => number;
  live(): void;
  emit(change: MailboxChange): void;
  watchers: Set<(change: MailboxChange) => void>;
  /** `[storage] blobs`, or null: bodies in the database only. */
  blobs: BlobFiles | null;
}

type Ops = Pick<
  MailboxStore,
  | 'createMailbox'
  | 'deleteMailbox'
  | 'renameMailbox'
  | 'setSubscribed'
  | 'listSubscriptions'
  | 'getMailboxStatus'
  | 'listMessageStates'
  | 'mailboxChanges'
  | 'claimRecent'
  | 'setFlags'
  | 'copyMessages'
  | 'expunge'
  | 'watchMailboxes'
>;

export function mailboxOps(ctx: MailboxOpsContext): Ops {
  const { db, live, emit, blobs } = ctx;

  async function accountOf(q: Kysely<Database> | Transaction<Database>, address: string): Promise<{ id: number; key: string } | null> {
    const a = normalizeAddress(address);
    if (a === null) return null;
    const row = await q.selectFrom('accounts').select('id').where('address_key', '=', a.key).executeTakeFirst();
    return row === undefined ? null : { id: num(row.id), key: a.key };
  }

  async function requireMailbox(trx: Transaction<Database>, address: string, name: string): Promise<MailboxRow> {
    const mb = await mailboxByRef(trx, { address, mailbox: name });
    if (mb === null) throw new StoreError(StoreErrorCode.NotFound, `no mailbox ${mailboxName(name)} for ${address}`);
    return mb;
  }

  /**
   * Deletes these messages of `mb`, leaving tombstones under one new modseq. Returns the modseq and
   * the body files of the deleted rows, for the caller to remove once the transaction committed.
   */
  async function removeMessages(trx: Transaction<Database>, mb: MailboxRow, uids: readonly number[]): Promise<{ modseq: number; files: string[] }> {
    const modseq = await bumpModseq(trx, mb.id);
    const files: string[] = [];
    for (const part of chunks(uids)) {
      const gone = trx.deleteFrom('messages').where('mailbox_id', '=', mb.id).where('uid', 'in', part);
      if (blobs === null) await gone.execute();
      else files.push(...namesOf(await gone.returning('blob').execute()));
      await trx
        .insertInto('expunged_messages')
        .values(part.map((uid) => ({ mailbox_id: mb.id, uid, modseq })))
        .execute();
    }
    return { modseq, files };
  }

  /**
   * The copy of one message's body: a new name for its file (never the same file: deleting one
   * row must not take another's bytes), its file written now where new bodies go to files, or its
   * bytes as they were. The header section comes from the original's kept one.
   */
  async function copyBody(
    trx: Transaction<Database>,
    source: MailboxRow,
    r: { uid: number; size: number; data: Uint8Array; blob: string | null },
  ): Promise<{ data: Uint8Array; blob: string | null; header: Uint8Array; plain: number }> {
    if (r.blob === null) {
      const header = headerSection(r.data);
      const plain = isPlainHeader(header) ? 1 : 0;
      if (blobs === null || !blobs.writes) return { data: r.data, blob: null, header, plain };
      await blobs.enterWrite(trx);
      return { data: EMPTY, blob: await blobs.write(r.data), header, plain };
    }
    const what = `message UID ${num(r.uid)} of ${source.name}`;
    if (blobs === null) throw blobsNotConfigured(r.blob, what);
    if (!blobs.writes) {
      // write_blobs = false: a copy goes into the database, so the files drain as messages move.
      const data = await blobs.read(r.blob, what, num(r.size));
      const header = headerSection(data);
      return { data, blob: null, header, plain: isPlainHeader(header) ? 1 : 0 };
    }
    await blobs.enterWrite(trx);
    const kept = await trx.selectFrom('message_headers').select(['plain', 'header']).where('mailbox_id', '=', source.id).where('uid', '=', num(r.uid)).executeTakeFirst();
    let header: Uint8Array;
    let plain: number;
    if (kept !== undefined) {
      header = kept.header;
      plain = num(kept.plain);
    } else {
      header = headerSection(await blobs.read(r.blob, what));
      plain = isPlainHeader(header) ? 1 : 0;
    }
    return { data: EMPTY, blob: await blobs.link(r.blob), header, plain };
  }

  const toState = (r: { uid: number; internal_date: number; size: number; flags: string; modseq: number }): MessageState => ({
    uid: num(r.uid),
    internalDate: num(r.internal_date),
    size: num(r.size),
    flags: splitFlags(r.flags),
    modseq: num(r.modseq),
  });

  return {
    async createMailbox({ address, name, specialUse = null, now: at = ctx.now() }): Promise<Mailbox> {
      live();
      if (name === '') throw new StoreError(StoreErrorCode.Invalid, 'a mailbox needs a name');
      const mbName = mailboxName(name);
      const { mailbox, change } = await db.transaction().execute(async (trx) => {
        const account = await accountOf(trx, address);
        if (account === null) throw new StoreError(StoreErrorCode.NotFound, `no account ${address}`);
        const taken = await trx.selectFrom('mailboxes').select('id').where('account_id', '=', account.id).where('name', '=', mbName).executeTakeFirst();
        if (taken !== undefined) throw new StoreError(StoreErrorCode.Invalid, `mailbox ${mbName} exists`);
        const row = await trx
          .insertInto('mailboxes')
          .values({
            account_id: account.id,
            name: mbName,
            special_use: specialUse,
            uid_validity: await nextUidValidity(trx, at),
            uid_next: 1,
            created_at: at,
          })
          .returning(['id', 'name', 'special_use', 'uid_validity', 'uid_next'])
          .executeTakeFirstOrThrow();
        const change: MailboxChange = { account: account.key, mailboxId: num(row.id), modseq: 0, kind: 'mailboxes' };
        return { mailbox: toMailbox(row), change };
      });
      emit(change);
      return mailbox;
    },

    async deleteMailbox(ref): Promise<boolean> {
      live();
      if (mailboxName(ref.mailbox) === 'INBOX') throw new StoreError(StoreErrorCode.Invalid, 'INBOX cannot be deleted');
      const deleted = await db.transaction().execute(async (trx) => {
        const mb = await mailboxByRef(trx, ref);
        if (mb === null) return null;
        // The messages (else taken by the cascade): their files go once it committed.
        const files = blobs === null ? [] : await deleteMessagesOfMailbox(trx, mb.id);
        await trx.deleteFrom('mailboxes').where('id', '=', mb.id).execute();
        return { change: { account: mb.account_key, mailboxId: mb.id, modseq: 0, kind: 'mailboxes' } satisfies MailboxChange, files };
      });
      if (deleted === null) return false;
      if (deleted.files.length > 0) await blobs?.remove(deleted.files);
      emit(deleted.change);
      return true;
    },

    async renameMailbox({ address, from, to, delimiter, now: at = ctx.now() }): Promise<void> {
      live();
      const fromName = mailboxName(from);
      const toName = mailboxName(to);
      if (to === '' || toName === 'INBOX') throw new StoreError(StoreErrorCode.Invalid, `mailbox ${toName} exists`);
      const changes = await db.transaction().execute(async (trx): Promise<MailboxChange[]> => {
        const account = await accountOf(trx, address);
        if (account === null) throw new StoreError(StoreErrorCode.NotFound, `no account ${address}`);
        const all = await trx.selectFrom('mailboxes').select(['id', 'name']).where('account_id', '=', account.id).execute();
        const names = new Set(all.map((m) => m.name));
        const source = all.find((m) => m.name === fromName);
        if (source === undefined) throw new StoreError(StoreErrorCode.NotFound, `no mailbox ${fromName} for ${address}`);
        if (names.has(toName)) throw new StoreError(StoreErrorCode.Invalid, `mailbox ${toName} exists`);

        if (fromName === 'INBOX') {
          // RFC 3501 §6.3.5: INBOX's messages move to a new mailbox; INBOX stays, empty.
          const inbox = await requireMailbox(trx, address, 'INBOX');
          const created = await trx
            .insertInto('mailboxes')
            .values({ account_id: account.id, name: toName, special_use: null, uid_validity: await nextUidValidity(trx, at), uid_next: 1, created_at: at })
            .returning('id')
            .executeTakeFirstOrThrow();
          const target = await requireMailbox(trx, address, toName);
          const uids = (await trx.selectFrom('messages').select('uid').where('mailbox_id', '=', inbox.id).orderBy('uid').execute()).map((r) => num(r.uid));
          if (uids.length > 0) {
            const modseq = await bumpModseq(trx, target.id);
            let next = 1;
            for (const uid of uids) {
              await trx
                .updateTable('messages')
                .set({ mailbox_id: target.id, uid: next++, modseq })
                .where('mailbox_id', '=', inbox.id)
                .where('uid', '=', uid)
                .execute();
            }
            await trx.updateTable('mailboxes').set({ uid_next: next }).where('id', '=', target.id).execute();
            const gone = await bumpModseq(trx, inbox.id);
            for (const part of chunks(uids)) {
              await trx
                .insertInto('expunged_messages')
                .values(part.map((uid) => ({ mailbox_id: inbox.id, uid, modseq: gone })))
                .execute();
            }
          }
          return [
            { account: account.key, mailboxId: inbox.id, modseq: 0, kind: 'expunge' },
            { account: account.key, mailboxId: num(created.id), modseq: 0, kind: 'mailboxes' },
          ];
        }

        const prefix = fromName + delimiter;
        const moving = all.filter((m) => m.name === fromName || (delimiter !== '' && m.name.startsWith(prefix)));
        const movingIds = new Set(moving.map((m) => m.id));
        for (const m of moving) {
          const renamed = toName + m.name.slice(fromName.length);
          const holder = all.find((o) => o.name === renamed);
          if (holder !== undefined && !movingIds.has(holder.id)) throw new StoreError(StoreErrorCode.Invalid, `mailbox ${renamed} exists`);
        }
        // Through temporary names first, so a rename into its own subtree never collides midway.
        // U+0001, not NUL: PostgreSQL text cannot hold a NUL, and no IMAP client sends either.
        for (const m of moving) await trx.updateTable('mailboxes').set({ name: `\u0001rename\u0001${m.id}` }).where('id', '=', m.id).execute();
        for (const m of moving) {
          await trx.updateTable('mailboxes').set({ name: toName + m.name.slice(fromName.length) }).where('id', '=', m.id).execute();
        }
        return moving.map((m) => ({ account: account.key, mailboxId: num(m.id), modseq: 0, kind: 'mailboxes' }));
      });
      for (const c of changes) emit(c);
    },

    async setSubscribed({ address, mailbox, subscribed }): Promise<void> {
      live();
      const name = mailboxName(mailbox);
      await db.transaction().execute(async (trx) => {
        const account = await accountOf(trx, address);
        if (account === null) throw new StoreError(StoreErrorCode.NotFound, `no account ${address}`);
        const row = await trx.selectFrom('subscriptions').select('name').where('account_id', '=', account.id).where('name', '=', name).executeTakeFirst();
        if (subscribed && row === undefined) await trx.insertInto('subscriptions').values({ account_id: account.id, name }).execute();
        if (!subscribed && row !== undefined) {
          await trx.deleteFrom('subscriptions').where('account_id', '=', account.id).where('name', '=', name).execute();
        }
      });
    },

    async listSubscriptions(address): Promise<string[] | null> {
      live();
      const account = await accountOf(db, address);
      if (account === null) return null;
      const rows = await db.selectFrom('subscriptions').select('name').where('account_id', '=', account.id).orderBy('name').execute();
      return rows.map((r) => r.name);
    },

    async getMailboxStatus(ref): Promise<MailboxStatus | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      // Flags are matched in code rather than with LIKE: "\" is LIKE's escape on PostgreSQL.
      const rows = await db.selectFrom('messages').select(['uid', 'flags']).where('mailbox_id', '=', mb.id).execute();
      let unseen = 0;
      let recent = 0;
      for (const r of rows) {
        if (!splitFlags(r.flags).includes('\\Seen')) unseen++;
        if (num(r.uid) > mb.recent_uid) recent++;
      }
      return { mailbox: toMailbox(mb), messages: rows.length, unseen, recent, recentUid: mb.recent_uid, highestModseq: mb.highest_modseq };
    },

    async listMessageStates(ref): Promise<MessageState[] | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      const rows = await db
        .selectFrom('messages')
        .select(['uid', 'internal_date', 'size', 'flags', 'modseq'])
        .where('mailbox_id', '=', mb.id)
        .orderBy('uid')
        .execute();
      return rows.map(toState);
    },

    async mailboxChanges(ref): Promise<MailboxChanges | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      const changed = await db
        .selectFrom('messages')
        .select(['uid', 'internal_date', 'size', 'flags', 'modseq'])
        .where('mailbox_id', '=', mb.id)
        .where('modseq', '>', ref.since)
        .orderBy('uid')
        .execute();
      const expunged = await db
        .selectFrom('expunged_messages')
        .select('uid')
        .where('mailbox_id', '=', mb.id)
        .where('modseq', '>', ref.since)
        .orderBy('uid')
        .execute();
      return { highestModseq: mb.highest_modseq, changed: changed.map(toState), expunged: expunged.map((r) => num(r.uid)) };
    },

    async claimRecent(ref): Promise<number | null> {
      live();
      return db.transaction().execute(async (trx) => {
        const mb = await mailboxByRef(trx, ref);
        if (mb === null) return null;
        // Conditional, so two claimers racing on PostgreSQL cannot lower the mark.
        if (ref.upTo > mb.recent_uid) {
          await trx.updateTable('mailboxes').set({ recent_uid: ref.upTo }).where('id', '=', mb.id).where('recent_uid', '<', ref.upTo).execute();
        }
        return mb.recent_uid;
      });
    },

    async setFlags(ref): Promise<MessageState[]> {
      live();
      const flags = normalizeFlags(ref.flags);
      const result = await db.transaction().execute(async (trx) => {
        const mb = await mailboxByRef(trx, ref);
        if (mb === null) throw new StoreError(StoreErrorCode.NotFound, `no mailbox ${mailboxName(ref.mailbox)} for ${ref.address}`);
        const changed: MessageState[] = [];
        let modseq: number | null = null;
        for (const part of chunks([...new Set(ref.uids)])) {
          const rows = await trx
            .selectFrom('messages')
            .select(['uid', 'internal_date', 'size', 'flags', 'modseq'])
            .where('mailbox_id', '=', mb.id)
            .where('uid', 'in', part)
            .execute();
          for (const r of rows) {
            const current = splitFlags(r.flags);
            const next = applyFlags(current, ref.operation, flags);
            if (sameFlags(current, next)) continue;
            modseq ??= await bumpModseq(trx, mb.id);
            await trx.updateTable('messages').set({ flags: next.join(' '), modseq }).where('mailbox_id', '=', mb.id).where('uid', '=', num(r.uid)).execute();
            changed.push({ ...toState(r), flags: next, modseq });
          }
        }
        changed.sort((a, b) => a.uid - b.uid);
        const change: MailboxChange | null = modseq === null ? null : { account: mb.account_key, mailboxId: mb.id, modseq, kind: 'flags' };
        return { changed, change };
      });
      if (result.change !== null) emit(result.change);
      return result.changed;
    },

    async copyMessages({ address, from, to, uids, move = false }): Promise<CopyResult> {
      live();
      // [storage] blobs: the copies' new files (links), removed again if the transaction failed
      // before its COMMIT. A failed COMMIT may have committed: those stay for the sweep to judge.
      const made: string[] = [];
      let committing = false;
      let result;
      try {
        result = await db.transaction().execute(async (trx) => {
          const source = await requireMailbox(trx, address, from);
          const target = await requireMailbox(trx, address, to);
          const rows: Array<{ uid: number; internal_date: number; size: number; flags: string; data: Uint8Array; blob: string | null }> = [];
          for (const part of chunks([...new Set(uids)])) {
            rows.push(
              ...(await trx
                .selectFrom('messages')
                .select(['uid', 'internal_date', 'size', 'flags', 'data', 'blob'])
                .where('mailbox_id', '=', source.id)
                .where('uid', 'in', part)
                .execute()),
            );
          }
          rows.sort((a, b) => num(a.uid) - num(b.uid));
          const changes: MailboxChange[] = [];
          const pairs: Array<[number, number]> = [];
          let files: string[] = [];
          if (rows.length > 0) {
            const next = await trx
              .updateTable('mailboxes')
              .set((eb) => ({ uid_next: eb('uid_next', '+', rows.length), highest_modseq: eb('highest_modseq', '+', 1) }))
              .where('id', '=', target.id)
              .returning(['uid_next', 'highest_modseq'])
              .executeTakeFirstOrThrow();
            const first = num(next.uid_next) - rows.length;
            const modseq = num(next.highest_modseq);
            for (const [i, r] of rows.entries()) {
              const body = await copyBody(trx, source, r);
              if (body.blob !== null) made.push(body.blob);
              await trx
                .insertInto('messages')
                .values({ mailbox_id: target.id, uid: first + i, internal_date: num(r.internal_date), size: num(r.size), flags: r.flags, data: body.data, modseq, blob: body.blob })
                .execute();
              await trx.insertInto('message_headers').values({ mailbox_id: target.id, uid: first + i, plain: body.plain, header: body.header }).execute();
              pairs.push([num(r.uid), first + i]);
            }
            changes.push({ account: target.account_key, mailboxId: target.id, modseq, kind: 'append' });
            if (move && source.id !== target.id) {
              const gone = await removeMessages(
                trx,
                source,
                rows.map((r) => num(r.uid)),
              );
              files = gone.files;
              changes.push({ account: source.account_key, mailboxId: source.id, modseq: gone.modseq, kind: 'expunge' });
            }
          }
          committing = true;
          return { copy: { uidValidity: target.uid_validity, uids: pairs }, changes, files };
        });
      } catch (err) {
        if (made.length > 0 && !committing) await blobs?.remove(made);
        throw err;
      }
      // A move's originals: their files go once the copies (new names of the same bytes) committed.
      if (result.files.length > 0) await blobs?.remove(result.files);
      for (const c of result.changes) emit(c);
      return result.copy;
    },

    async expunge(ref): Promise<number[]> {
      live();
      const only = ref.uids === undefined ? null : new Set(ref.uids);
      const result = await db.transaction().execute(async (trx) => {
        const mb = await mailboxByRef(trx, ref);
        if (mb === null) throw new StoreError(StoreErrorCode.NotFound, `no mailbox ${mailboxName(ref.mailbox)} for ${ref.address}`);
        const rows = await trx.selectFrom('messages').select(['uid', 'flags']).where('mailbox_id', '=', mb.id).orderBy('uid').execute();
        const uids = rows
          .filter((r) => splitFlags(r.flags).includes('\\Deleted') && (only === null || only.has(num(r.uid))))
          .map((r) => num(r.uid));
        if (uids.length === 0) return { uids, files: [] as string[], change: null };
        const { modseq, files } = await removeMessages(trx, mb, uids);
        return { uids, files, change: { account: mb.account_key, mailboxId: mb.id, modseq, kind: 'expunge' } satisfies MailboxChange };
      });
      if (result.files.length > 0) await blobs?.remove(result.files);
      if (result.change !== null) emit(result.change);
      return result.uids;
    },

    watchMailboxes(listener) {
      ctx.watchers.add(listener);
      return () => {
        ctx.watchers.delete(listener);
      };
    },
  };
}
