/**
 * The `Store` over Kysely: one set of queries for every SQL engine. An engine opens the database,
 * runs its migrations and hands the `Kysely` instance here with what it can do (`capabilities`).
 * Nothing in this file may rely on one engine's behaviour: claims re-check their conditions in the
 * UPDATE that takes the lease, so they hold with SQLite's single writer and with PostgreSQL's
 * `FOR UPDATE SKIP LOCKED` alike.
 */
import type { ExpressionBuilder, Kysely, Selectable, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from '../../core/logger.ts';
export { mailboxName } from './mailbox-rows.ts';
import { normalizeAddress, requireAddress, requireAlias } from '../address.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type {
  Account,
  AliasMatch,
  AliasRow,
  AppendResult,
  ClaimOptions,
  DeliveryResult,
  DomainCount,
  DsnRet,
  Mailbox,
  MailboxChange,
  MessageSummary,
  NewQueuedMessage,
  QueuedMessage,
  QueuedRecipient,
  QueueSelector,
  QueueSource,
  RecipientState,
  RecordResultsOutcome,
  Route,
  SpecialUse,
  Store,
  StoredHeader,
  StoredMessage,
} from '../types.ts';
import { headerSection, isPlainHeader, likePattern, matchHeader, prepareHeaderTest } from '../header-search.ts';
import { createGroupCommitter, type WriteOutcome } from './group-commit.ts';
import { mailboxOps, normalizeFlags } from './mailbox-ops.ts';
import { bumpModseq, mailboxByRef, mailboxName, nextUidValidity, toMailbox, type MailboxRow } from './mailbox-rows.ts';
import { prepareQuery, type Bind } from './prepared.ts';
// [storage] blobs: bodies as files (blob-files.ts, blob-rows.ts)
import type { BlobFiles } from './blob-files.ts';
import { bodyOf, deleteMessagesOfAccount, EMPTY, keepIfCommitted, namesFor, namesOf, noteOutcome, startBodies } from './blob-rows.ts';
import * as domainRows from './domain-rows.ts';
import * as deliverySlots from './delivery-slots.ts';
import type { Database, QueueMessagesTable, QueueRecipientsTable } from './tables.ts';

export interface SqlCapabilities {
  /** `SELECT … FOR UPDATE SKIP LOCKED` exists (PostgreSQL); SQLite has one writer and needs none. */
  skipLocked: boolean;
  /**
   * `blob LIKE pattern` reads the BLOB's bytes as text and folds ASCII letters (SQLite): a search
   * by header then lets SQL drop the plain headers that cannot match, and reads only the rest.
   * PostgreSQL's LIKE is case-sensitive and its bytea would need decoding: the store filters in
   * code there.
   */
  likeOnBlobFoldsAscii?: boolean;
}

export interface SqlStoreOptions {
  db: Kysely<Database>;
  engine: string;
  capabilities: SqlCapabilities;
  logger: Logger;
  now: () => number;
  /** Called after the Kysely instance is destroyed. */
  onClose?: () => void;
  /** Errors after which a group-commit batch is run again (see `GroupCommitOptions.retryable`). */
  retryable?: (err: unknown) => boolean;
  /**
   * Carries mailbox changes between processes sharing the database (PostgreSQL LISTEN/NOTIFY):
   * what this store commits is published, and what others publish reaches this store's watchers.
   */
  changeBus?: ChangeBus;
  /** `[storage] blobs`: bodies as files in this directory; null or absent: in the database. */
  blobs?: BlobFiles | null;
}

export interface ChangeBus {
  publish(change: MailboxChange): void;
  /** Returns the function that stops listening. */
  subscribe(listener: (change: MailboxChange) => void): () => void;
  close(): Promise<void>;
}

/** Created with every account. RFC 6154 §2 attributes for all but INBOX. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

// Keeps each multi-row statement well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK = 200;


// PostgreSQL's driver returns BIGINT as a string; Number() makes one mapping serve both engines.
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

// Header sections per query when a whole mailbox is searched: a few MiB at a time.
const HEADER_PAGE = 2000;

/** Distinct, ascending: what `IN (…)` chunks of UIDs are made of. */
function sortedUids(uids: readonly number[]): number[] {
  return [...new Set(uids)].sort((a, b) => a - b);
}

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

type RecipientRow = Selectable<QueueRecipientsTable>;
type MessageRow = Omit<Selectable<QueueMessagesTable>, 'data' | 'blob'>;

function toRecipient(r: RecipientRow): QueuedRecipient {
  return {
    id: num(r.id),
    address: r.address,
    domain: r.domain,
    route: r.route as Route,
    notify: r.notify === null ? null : r.notify.split(',').filter((s) => s !== ''),
    orcpt: r.orcpt,
    state: r.state as RecipientState,
    attempts: num(r.attempts),
    nextAttemptAt: num(r.next_attempt_at),
    lastAttemptAt: numOrNull(r.last_attempt_at),
    lastReply: r.last_reply,
    delayNoticeSent: num(r.delay_notice_sent) !== 0,
    leaseOwner: r.lease_owner,
    leaseUntil: numOrNull(r.lease_until),
  };
}

function toQueued(m: MessageRow, recipients: QueuedRecipient[]): QueuedMessage {
  return {
    id: m.id,
    receivedAt: num(m.received_at),
    sender: m.sender,
    envid: m.envid,
    ret: m.ret as DsnRet | null,
    source: m.source as QueueSource,
    size: num(m.size),
    recipients,
  };
}

const MESSAGE_COLUMNS = ['id', 'received_at', 'sender', 'envid', 'ret', 'source', 'size'] as const;
const RECIPIENT_COLUMNS = [
  'id',
  'message_id',
  'position',
  'address',
  'domain',
  'route',
  'notify',
  'orcpt',
  'state',
  'attempts',
  'next_attempt_at',
  'last_attempt_at',
  'last_reply',
  'delay_notice_sent',
  'lease_owner',
  'lease_until',
] as const;

// The statements every accepted message runs, built and compiled once (prepared.ts): Kysely's
// building and compiling cost more than SQLite's running them.
const hot = {
  accountByKey: prepareQuery((q, bind: Bind<{ key: string }>) =>
    q.selectFrom('accounts').select(['id', 'address', 'password_hash', 'created_at']).where('address_key', '=', bind('key')),
  ),
  aliasesOf: prepareQuery((q, bind: Bind<{ key: string; catchAll: string }>) =>
    q
      .selectFrom('aliases')
      .select(['alias', 'alias_key', 'target'])
      .where('alias_key', 'in', [bind('key'), bind('catchAll')])
      .orderBy('id'),
  ),
  queueIdTaken: prepareQuery((q, bind: Bind<{ id: string }>) => q.selectFrom('queue_messages').select('id').where('id', '=', bind('id'))),
  // The UPDATE takes the mailbox row (a row lock on PostgreSQL), so UIDs are handed out one at a
  // time, strictly increasing, and never twice even after a delete.
  takeUid: prepareQuery((q, bind: Bind<{ id: number }>) =>
    q
      .updateTable('mailboxes')
      .set((eb) => ({ uid_next: eb('uid_next', '+', 1), highest_modseq: eb('highest_modseq', '+', 1) }))
      .where('id', '=', bind('id'))
      .returning(['uid_next', 'highest_modseq']),
  ),
  insertMessage: prepareQuery(
    (q, bind: Bind<{ mailbox_id: number; uid: number; internal_date: number; size: number; flags: string; data: Uint8Array; modseq: number; blob: string | null }>) =>
      q.insertInto('messages').values({
        mailbox_id: bind('mailbox_id'),
        uid: bind('uid'),
        internal_date: bind('internal_date'),
        size: bind('size'),
        flags: bind('flags'),
        data: bind('data'),
        modseq: bind('modseq'),
        blob: bind('blob'),
      }),
  ),
  insertHeader: prepareQuery((q, bind: Bind<{ mailbox_id: number; uid: number; plain: number; header: Uint8Array }>) =>
    q.insertInto('message_headers').values({ mailbox_id: bind('mailbox_id'), uid: bind('uid'), plain: bind('plain'), header: bind('header') }),
  ),
  insertQueued: prepareQuery(
    (
      q,
      bind: Bind<{ id: string; received_at: number; sender: string; envid: string | null; ret: DsnRet | null; source: QueueSource; size: number; data: Uint8Array; blob: string | null }>,
    ) =>
      q.insertInto('queue_messages').values({
        id: bind('id'),
        received_at: bind('received_at'),
        sender: bind('sender'),
        envid: bind('envid'),
        ret: bind('ret'),
        source: bind('source'),
        size: bind('size'),
        data: bind('data'),
        blob: bind('blob'),
      }),
  ),
  insertRecipient: prepareQuery((q, bind: Bind<Omit<Selectable<QueueRecipientsTable>, 'id'>>) =>
    q.insertInto('queue_recipients').values({
      message_id: bind('message_id'),
      position: bind('position'),
      address: bind('address'),
      domain: bind('domain'),
      route: bind('route'),
      notify: bind('notify'),
      orcpt: bind('orcpt'),
      state: bind('state'),
      attempts: bind('attempts'),
      next_attempt_at: bind('next_attempt_at'),
      last_attempt_at: bind('last_attempt_at'),
      last_reply: bind('last_reply'),
      delay_notice_sent: bind('delay_notice_sent'),
      lease_owner: bind('lease_owner'),
      lease_until: bind('lease_until'),
    }),
  ),
};

export function createSqlStore(options: SqlStoreOptions): Store {
  const { db, capabilities, logger, now } = options;
  const blobs = options.blobs ?? null;
  const committer = createGroupCommitter({ db, logger, ...(options.retryable !== undefined ? { retryable: options.retryable } : {}) });
  let closed = false;
  const watchers = new Set<(change: MailboxChange) => void>();
  // Changes committed by other processes on the same database reach our watchers too.
  const unsubscribe = options.changeBus?.subscribe((change) => announce(change)) ?? null;

  async function appendIn(
    trx: Transaction<Database>,
    o: { address: string; mailbox?: string | undefined; data: Uint8Array; internalDate: number; flags: readonly string[]; blob?: string | null | undefined },
    known?: MailboxRow,
  ): Promise<WriteOutcome<AppendResult & { change: MailboxChange }>> {
    const mb = known ?? (await mailboxByRef(trx, { address: o.address, ...(o.mailbox !== undefined ? { mailbox: o.mailbox } : {}) }));
    if (mb === null) {
      return { ok: false, error: new StoreError(StoreErrorCode.NotFound, `no mailbox ${mailboxName(o.mailbox)} for ${o.address}`) };
    }
    const next = await hot.takeUid.first(trx, { id: mb.id });
    if (next === undefined) throw new StoreError(StoreErrorCode.NotFound, `mailbox ${mb.id} of ${o.address} vanished while appending`);
    const uid = num(next.uid_next) - 1;
    const modseq = num(next.highest_modseq);
    await hot.insertMessage.execute(trx, {
      mailbox_id: mb.id,
      uid,
      internal_date: o.internalDate,
      size: o.data.byteLength,
      flags: normalizeFlags([...o.flags]).join(' '),
      data: o.blob == null ? o.data : EMPTY,
      modseq,
      blob: o.blob ?? null,
    });
    const header = headerSection(o.data);
    await hot.insertHeader.execute(trx, { mailbox_id: mb.id, uid, plain: isPlainHeader(header) ? 1 : 0, header });
    const change: MailboxChange = { account: mb.account_key, mailboxId: mb.id, modseq, kind: 'append' };
    return { ok: true, value: { uid, uidValidity: num(mb.uid_validity), change } };
  }

  async function enqueueIn(trx: Transaction<Database>, message: NewQueuedMessage, blob: string | null = null): Promise<void> {
    const first = message.firstAttemptAt ?? message.receivedAt;
    await hot.insertQueued.execute(trx, {
      id: message.id,
      received_at: message.receivedAt,
      sender: message.sender,
      envid: message.envid ?? null,
      ret: message.ret ?? null,
      source: message.source,
      size: message.data.byteLength,
      data: blob === null ? message.data : EMPTY,
      blob,
    });
    const rows = message.recipients.map((r, position) => ({
      message_id: message.id,
      position,
      address: r.address,
      domain: r.domain.toLowerCase(),
      route: r.route,
      notify: r.notify === undefined ? null : r.notify.join(','),
      orcpt: r.orcpt ?? null,
      state: 'queued' as const,
      attempts: 0,
      next_attempt_at: first,
      last_attempt_at: null,
      last_reply: null,
      delay_notice_sent: 0,
      lease_owner: null,
      lease_until: null,
    }));
    // Most messages have a recipient or two: a prepared single-row insert each. Many recipients
    // go in multi-row inserts, one round trip per fifty on PostgreSQL.
    if (rows.length <= 2) for (const row of rows) await hot.insertRecipient.execute(trx, row);
    else for (const part of chunks(rows, 50)) await trx.insertInto('queue_recipients').values(part).execute();
  }

  /**
   * Calls `fn` with the kept header section of each message of the mailbox (or of those among
   * `uids`), in UID order: a page of HEADER_PAGE rows per query, so a large mailbox is never
   * held at once.
   */
  async function eachHeader(
    mailboxId: number,
    uids: readonly number[] | undefined,
    fn: (uid: number, header: Uint8Array) => void,
    likeAny: readonly string[] = [],
  ): Promise<void> {
    const base = () => {
      let q = db.selectFrom('message_headers').select(['uid', 'header']).where('mailbox_id', '=', mailboxId);
      if (likeAny.length > 0) {
        // Only what may match: headers SQL cannot judge (plain = 0), and plain ones LIKE one pattern.
        q = q.where((eb) => eb.or([eb('plain', '=', 0), ...likeAny.map((p) => sql<boolean>`${eb.ref('header')} LIKE ${p} ESCAPE '\\'`)]));
      }
      return q.orderBy('uid');
    };
    if (uids !== undefined) {
      for (const part of chunks(sortedUids(uids))) for (const r of await base().where('uid', 'in', part).execute()) fn(num(r.uid), r.header);
      return;
    }
    let after = 0;
    for (;;) {
      const rows = await base().where('uid', '>', after).limit(HEADER_PAGE).execute();
      for (const r of rows) fn(num(r.uid), r.header);
      if (rows.length < HEADER_PAGE) return;
      after = num(rows[rows.length - 1]?.uid);
    }
  }

  function emit(change: MailboxChange): void {
    options.changeBus?.publish(change);
    announce(change);
  }

  function announce(change: MailboxChange): void {
    for (const w of watchers) {
      try {
        w(change);
      } catch (err) {
        logger.error({ err }, 'mailbox watcher failed');
      }
    }
  }

  function live(): void {
    if (closed) throw new StoreError(StoreErrorCode.Closed, 'the store is closed');
  }

  // -------------------------------------------------------------------------------------------
  // Accounts and aliases

  function toAccount(r: { id: number; address: string; password_hash: string | null; created_at: number }): Account {
    return { id: num(r.id), address: r.address, passwordHash: r.password_hash, createdAt: num(r.created_at) };
  }

  async function accountExists(key: string): Promise<boolean> {
    const row = await db.selectFrom('accounts').select('id').where('address_key', '=', key).executeTakeFirst();
    return row !== undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Queue helpers

  /**
   * SQLite's claim candidates: the messages of the first due recipients in the order of
   * queue_recipients_due, an index walk that stops once `limit` messages are found. Grouping every
   * due recipient by message to sort by age took 1.3 s with a million due (bench/queue-scale.sh).
   * Recipients are numbered as they are queued, so among equally due ones the oldest message still
   * goes first. (PostgreSQL's claim locks messages, oldest first, to keep a message's recipients
   * in one claim while several nodes claim at once.)
   */
  async function dueMessagesInOrder(trx: Transaction<Database>, at: number, routes: readonly Route[] | undefined, limit: number): Promise<Array<{ id: string }>> {
    const ids: string[] = [];
    let after: { at: number; id: number } | null = null;
    const page = Math.max(limit * 4, 32);
    for (;;) {
      let q = trx
        .selectFrom('queue_recipients')
        .select(['queue_recipients.message_id', 'queue_recipients.next_attempt_at', 'queue_recipients.id'])
        .where((eb) => dueConditions(eb, at, routes));
      if (after !== null) {
        const from = after;
        q = q.where((eb) =>
          eb.or([
            eb('queue_recipients.next_attempt_at', '>', from.at),
            eb.and([eb('queue_recipients.next_attempt_at', '=', from.at), eb('queue_recipients.id', '>', from.id)]),
          ]),
        );
      }
      const rows = await q.orderBy('queue_recipients.next_attempt_at').orderBy('queue_recipients.id').limit(page).execute();
      for (const r of rows) {
        if (!ids.includes(r.message_id)) ids.push(r.message_id);
        if (ids.length === limit) return ids.map((id) => ({ id }));
      }
      const last = rows.at(-1);
      if (rows.length < page || last === undefined) return ids.map((id) => ({ id }));
      after = { at: num(last.next_attempt_at), id: num(last.id) };
    }
  }

  /** A recipient of the message in hand that is not final: while one exists, the message stays queued. */
  function unfinishedRecipientOf(eb: ExpressionBuilder<Database, 'queue_messages'>) {
    return eb
      .selectFrom('queue_recipients')
      .select('queue_recipients.id')
      .whereRef('queue_recipients.message_id', '=', 'queue_messages.id')
      .where('queue_recipients.state', 'in', ['queued', 'held']);
  }

  /**
   * `recheck`: the conditions tested on rows already found by message or id (claim steps 2 and 3).
   * Written so that no index can serve them (`state || ''`, `next_attempt_at + 0`,
   * `route || ''`, valid on both engines): SQLite's planner, without statistics, otherwise walks
   * queue_recipients_due or queue_recipients_route over every due row instead of looking the few
   * rows up by message or id (37 ms at 200,000 due, 176 ms at a million, in bench/queue-scale.sh's
   * claim with the whole queue due).
   */
  function dueConditions(
    eb: ExpressionBuilder<Database, 'queue_recipients'>,
    at: number,
    routes: readonly Route[] | undefined,
    recheck = false,
  ) {
    const conds = [
      recheck ? eb(sql<string>`${sql.ref('queue_recipients.state')} || ''`, '=', 'queued') : eb('queue_recipients.state', '=', 'queued'),
      recheck ? eb(sql<number>`${sql.ref('queue_recipients.next_attempt_at')} + 0`, '<=', at) : eb('queue_recipients.next_attempt_at', '<=', at),
      eb.or([eb('queue_recipients.lease_until', 'is', null), eb('queue_recipients.lease_until', '<=', at)]),
    ];
    if (routes !== undefined) {
      const wanted = routes.length > 0 ? [...routes] : [''];
      conds.push(recheck ? eb(sql<string>`${sql.ref('queue_recipients.route')} || ''`, 'in', wanted) : eb('queue_recipients.route', 'in', wanted));
    }
    return eb.and(conds);
  }

  async function recipientsOf(q: Kysely<Database> | Transaction<Database>, ids: readonly string[]): Promise<Map<string, QueuedRecipient[]>> {
    const byMessage = new Map<string, QueuedRecipient[]>();
    for (const part of chunks(ids)) {
      const rows = await q
        .selectFrom('queue_recipients')
        .select(RECIPIENT_COLUMNS)
        .where('message_id', 'in', part)
        .orderBy('message_id')
        .orderBy('position')
        .execute();
      for (const r of rows) {
        const list = byMessage.get(r.message_id) ?? [];
        list.push(toRecipient(r));
        byMessage.set(r.message_id, list);
      }
    }
    return byMessage;
  }

  const store: Store = {
    engine: options.engine,

    writeStats: () => committer.stats(),

    // [storage] blobs: files a crash left unreferenced (blob-files.ts)
    async sweepBlobs(opts = {}) {
      live();
      if (blobs === null) return { checked: 0, removed: 0, sample: [] };
      return blobs.sweep(db, opts);
    },

    async close(): Promise<void> {
      if (closed) return;
      await committer.close();
      closed = true;
      unsubscribe?.();
      await options.changeBus?.close();
      await db.destroy();
      options.onClose?.();
    },

    // ------------------------------------------------------------------------------------------
    // Accounts

    async createAccount({ address, passwordHash = null, now: at = now() }): Promise<Account> {
      live();
      const a = requireAddress(address);
      const exists = () => new StoreError(StoreErrorCode.AccountExists, `account ${a.address} exists`);
      if (await accountExists(a.key)) throw exists();
      try {
        return await db.transaction().execute(async (trx) => {
          const row = await trx
            .insertInto('accounts')
            .values({ address: a.address, address_key: a.key, domain: a.domain, password_hash: passwordHash, created_at: at })
            .returning(['id', 'address', 'password_hash', 'created_at'])
            .executeTakeFirstOrThrow();
          for (const mb of DEFAULT_MAILBOXES) {
            await trx
              .insertInto('mailboxes')
              .values({
                account_id: row.id,
                name: mb.name,
                special_use: mb.specialUse,
                uid_validity: await nextUidValidity(trx, at),
                uid_next: 1,
                created_at: at,
              })
              .execute();
            await trx.insertInto('subscriptions').values({ account_id: row.id, name: mb.name }).execute();
          }
          return toAccount(row);
        });
      } catch (err) {
        // Another writer created it between our check and our insert.
        if (await accountExists(a.key)) throw exists();
        throw err;
      }
    },

    async deleteAccount(address): Promise<boolean> {
      live();
      const a = normalizeAddress(address);
      if (a === null) return false;
      if (blobs !== null) {
        // The account's messages (else taken by the cascade): their files go once it committed.
        const gone = await db.transaction().execute(async (trx) => {
          const names = await deleteMessagesOfAccount(trx, a.key);
          const r = await trx.deleteFrom('accounts').where('address_key', '=', a.key).executeTakeFirst();
          return Number(r.numDeletedRows) > 0 ? names : null;
        });
        if (gone !== null) await blobs.remove(gone);
        return gone !== null;
      }
      const r = await db.deleteFrom('accounts').where('address_key', '=', a.key).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },

    async getAccount(address): Promise<Account | null> {
      live();
      const a = normalizeAddress(address);
      if (a === null) return null;
      const row = await hot.accountByKey.first(db, { key: a.key });
      return row === undefined ? null : toAccount(row);
    },

    async listAccounts(): Promise<Account[]> {
      live();
      const rows = await db
        .selectFrom('accounts')
        .select(['id', 'address', 'password_hash', 'created_at'])
        .orderBy('domain')
        .orderBy('address_key')
        .execute();
      return rows.map(toAccount);
    },

    async setPasswordHash(address, passwordHash): Promise<boolean> {
      live();
      const a = normalizeAddress(address);
      if (a === null) return false;
      const r = await db.updateTable('accounts').set({ password_hash: passwordHash }).where('address_key', '=', a.key).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    // ------------------------------------------------------------------------------------------
    // Mail domains

    async addDomain({ name, role, now: at = now() }) {
      live();
      return domainRows.addDomain(db, { name, role, now: at });
    },

    async setDomainRole(name, role) {
      live();
      return domainRows.setDomainRole(db, name, role);
    },

    async removeDomain(name) {
      live();
      return domainRows.removeDomain(db, name);
    },

    async listDomains() {
      live();
      return domainRows.listDomains(db);
    },

    async addAlias({ alias, target, now: at = now() }): Promise<void> {
      live();
      const al = requireAlias(alias);
      const t = requireAddress(target);
      const exists = () => new StoreError(StoreErrorCode.AliasExists, `alias ${al.alias} → ${t.address} exists`);
      const find = () =>
        db.selectFrom('aliases').select('id').where('alias_key', '=', al.key).where('target_key', '=', t.key).executeTakeFirst();
      if ((await find()) !== undefined) throw exists();
      try {
        await db
          .insertInto('aliases')
          .values({ alias: al.alias, alias_key: al.key, target: t.address, target_key: t.key, created_at: at })
          .execute();
      } catch (err) {
        if ((await find()) !== undefined) throw exists();
        throw err;
      }
    },

    async removeAlias({ alias, target }): Promise<number> {
      live();
      const al = requireAlias(alias);
      let q = db.deleteFrom('aliases').where('alias_key', '=', al.key);
      if (target !== undefined) q = q.where('target_key', '=', requireAddress(target).key);
      const r = await q.executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    async listAliases(opts = {}): Promise<AliasRow[]> {
      live();
      let q = db.selectFrom('aliases').select(['alias', 'target', 'created_at']);
      if (opts.alias !== undefined) q = q.where('alias_key', '=', requireAlias(opts.alias).key);
      const rows = await q.orderBy('alias_key').orderBy('id').execute();
      return rows.map((r) => ({ alias: r.alias, target: r.target, createdAt: num(r.created_at) }));
    },

    async lookupAlias(address): Promise<AliasMatch | null> {
      live();
      const a = normalizeAddress(address);
      if (a === null) return null;
      const catchAll = `@${a.domain}`;
      const rows = (await hot.aliasesOf.execute(db, { key: a.key, catchAll })).rows;
      const exact = rows.filter((r) => r.alias_key === a.key);
      const chosen = exact.length > 0 ? exact : rows.filter((r) => r.alias_key === catchAll);
      const first = chosen[0];
      if (first === undefined) return null;
      return { alias: first.alias, catchAll: exact.length === 0, targets: chosen.map((r) => r.target) };
    },

    // ------------------------------------------------------------------------------------------
    // Mailboxes and messages

    async listMailboxes(address): Promise<Mailbox[] | null> {
      live();
      const a = normalizeAddress(address);
      if (a === null) return null;
      const account = await db.selectFrom('accounts').select('id').where('address_key', '=', a.key).executeTakeFirst();
      if (account === undefined) return null;
      const rows = await db
        .selectFrom('mailboxes')
        .select(['id', 'name', 'special_use', 'uid_validity', 'uid_next'])
        .where('account_id', '=', account.id)
        .orderBy('id')
        .execute();
      return rows.map(toMailbox);
    },

    async getMailbox(ref): Promise<Mailbox | null> {
      live();
      const r = await mailboxByRef(db, ref);
      return r === null ? null : toMailbox(r);
    },

    append({ address, mailbox, data, internalDate, flags = [] }): Promise<AppendResult> {
      if (closed) return Promise.reject(new StoreError(StoreErrorCode.Closed, 'the store is closed'));
      const files = startBodies(blobs, [data]);
      const written = committer.submit(async (trx): Promise<WriteOutcome<AppendResult & { change: MailboxChange }>> => {
        if (files === null) return appendIn(trx, { address, mailbox, data, internalDate, flags });
        const named = await namesFor(files, trx);
        if (!named.ok) return named;
        return noteOutcome(files, await appendIn(trx, { address, mailbox, data, internalDate, flags, blob: named.names[0] ?? null }));
      }, files?.names);
      const appended = written.then(({ uid, uidValidity, change }) => {
        emit(change);
        return { uid, uidValidity };
      });
      return keepIfCommitted(blobs, files, appended);
    },

    async listMessages(ref): Promise<MessageSummary[] | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      const rows = await db
        .selectFrom('messages')
        .select(['uid', 'internal_date', 'size', 'flags'])
        .where('mailbox_id', '=', mb.id)
        .orderBy('uid')
        .execute();
      return rows.map((r) => ({
        uid: num(r.uid),
        internalDate: num(r.internal_date),
        size: num(r.size),
        flags: r.flags === '' ? [] : r.flags.split(' '),
      }));
    },

    async readMessage(ref): Promise<Uint8Array | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      const row = await db
        .selectFrom('messages')
        .select(['data', 'blob', 'size'])
        .where('mailbox_id', '=', mb.id)
        .where('uid', '=', ref.uid)
        .executeTakeFirst();
      if (row === undefined) return null;
      return bodyOf(blobs, row, () => `message UID ${ref.uid} of ${mb.name} of ${ref.address}`);
    },

    async readMessages(ref): Promise<StoredMessage[] | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      const out: StoredMessage[] = [];
      for (const part of chunks(sortedUids(ref.uids))) {
        const rows = await db
          .selectFrom('messages')
          .select(['uid', 'data', 'blob', 'size'])
          .where('mailbox_id', '=', mb.id)
          .where('uid', 'in', part)
          .orderBy('uid')
          .execute();
        for (const r of rows) out.push({ uid: num(r.uid), data: r.blob === null ? r.data : await bodyOf(blobs, r, () => `message UID ${num(r.uid)} of ${mb.name} of ${ref.address}`) });
      }
      return out;
    },

    async readHeaders(ref): Promise<StoredHeader[] | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      const out: StoredHeader[] = [];
      await eachHeader(mb.id, ref.uids, (uid, header) => out.push({ uid, header }));
      return out;
    },

    async searchHeaders(ref): Promise<number[][] | null> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return null;
      const tests = ref.tests.map((t) => prepareHeaderTest(t.field, t.text));
      const hits: number[][] = tests.map(() => []);
      if (tests.length === 0) return hits;
      const patterns = capabilities.likeOnBlobFoldsAscii === true ? tests.map(likePattern) : [];
      const like = patterns.every((p) => p !== null) ? (patterns as string[]) : [];
      await eachHeader(
        mb.id,
        ref.uids,
        (uid, header) => {
          const matched = matchHeader(header, tests);
          for (let i = 0; i < matched.length; i++) if (matched[i] === true) hits[i]?.push(uid);
        },
        like,
      );
      return hits;
    },

    async countMessages(ref): Promise<number> {
      live();
      const mb = await mailboxByRef(db, ref);
      if (mb === null) return 0;
      const row = await db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('mailbox_id', '=', mb.id)
        .executeTakeFirstOrThrow();
      return num(row.n);
    },

    async deleteMessage(ref): Promise<boolean> {
      live();
      const change = await db.transaction().execute(async (trx) => {
        const mb = await mailboxByRef(trx, ref);
        if (mb === null) return null;
        let file: string | null = null;
        if (blobs !== null) {
          const gone = await trx.deleteFrom('messages').where('mailbox_id', '=', mb.id).where('uid', '=', ref.uid).returning('blob').executeTakeFirst();
          if (gone === undefined) return null;
          file = gone.blob;
        } else {
          const r = await trx.deleteFrom('messages').where('mailbox_id', '=', mb.id).where('uid', '=', ref.uid).executeTakeFirst();
          if (Number(r.numDeletedRows) === 0) return null;
        }
        const modseq = await bumpModseq(trx, mb.id);
        await trx.insertInto('expunged_messages').values({ mailbox_id: mb.id, uid: ref.uid, modseq }).execute();
        return { change: { account: mb.account_key, mailboxId: mb.id, modseq, kind: 'expunge' } satisfies MailboxChange, file };
      });
      if (change === null) return false;
      if (change.file !== null) await blobs?.remove([change.file]);
      emit(change.change);
      return true;
    },

    ...mailboxOps({ db, now, live, emit, watchers, blobs }),

    // ------------------------------------------------------------------------------------------
    // Queue

    enqueue(message: NewQueuedMessage): Promise<void> {
      if (closed) return Promise.reject(new StoreError(StoreErrorCode.Closed, 'the store is closed'));
      if (message.recipients.length === 0) {
        return Promise.reject(new StoreError(StoreErrorCode.Invalid, `message ${message.id} has no recipients`));
      }
      const files = startBodies(blobs, [message.data]);
      const written = committer.submit(async (trx): Promise<WriteOutcome<void>> => {
        let blob: string | null = null;
        if (files !== null) {
          const named = await namesFor(files, trx);
          if (!named.ok) return named;
          blob = named.names[0] ?? null;
        }
        const dup = await hot.queueIdTaken.first(trx, { id: message.id });
        if (dup !== undefined) {
          return noteOutcome(files, { ok: false, error: new StoreError(StoreErrorCode.MessageExists, `queue id ${message.id} exists`) });
        }
        await enqueueIn(trx, message, blob);
        return noteOutcome(files, { ok: true, value: undefined });
      }, files?.names);
      return keepIfCommitted(blobs, files, written);
    },

    accept({ queue, deliveries }) {
      if (closed) return Promise.reject(new StoreError(StoreErrorCode.Closed, 'the store is closed'));
      if (queue !== null && queue.recipients.length === 0) {
        return Promise.reject(new StoreError(StoreErrorCode.Invalid, `message ${queue.id} has no recipients`));
      }
      type Accepted = { delivered: Array<{ address: string; uid: number }>; changes: MailboxChange[] };
      // [storage] blobs: the queue's body first, then each delivery's, each in a file of its own.
      const files = blobs?.writes === true ? startBodies(blobs, [...(queue !== null ? [queue.data] : []), ...deliveries.map((d) => d.data)]) : null;
      const written = committer.submit(async (trx): Promise<WriteOutcome<Accepted>> => {
        let names: string[] | null = null;
        if (files !== null) {
          const named = await namesFor(files, trx);
          if (!named.ok) return named;
          names = named.names;
        }
        // Every refusal before the first write: a refused caller must leave nothing behind in the
        // batch's shared transaction.
        if (queue !== null) {
          const dup = await hot.queueIdTaken.first(trx, { id: queue.id });
          if (dup !== undefined) return noteOutcome(files, { ok: false, error: new StoreError(StoreErrorCode.MessageExists, `queue id ${queue.id} exists`) });
        }
        const inboxes: MailboxRow[] = [];
        for (const d of deliveries) {
          const inbox = await mailboxByRef(trx, { address: d.address });
          if (inbox === null) return noteOutcome(files, { ok: false, error: new StoreError(StoreErrorCode.NotFound, `no mailbox INBOX for ${d.address}`) });
          inboxes.push(inbox);
        }
        const first = queue !== null ? 1 : 0;
        if (queue !== null) await enqueueIn(trx, queue, names?.[0] ?? null);
        const value: Accepted = { delivered: [], changes: [] };
        for (const [i, d] of deliveries.entries()) {
          const blob = names?.[first + i] ?? null;
          const appended = await appendIn(trx, { address: d.address, data: d.data, internalDate: d.internalDate, flags: [], blob }, inboxes[i]);
          if (!appended.ok) throw appended.error;
          value.delivered.push({ address: d.address, uid: appended.value.uid });
          value.changes.push(appended.value.change);
        }
        return noteOutcome(files, { ok: true, value });
      }, files?.names);
      const accepted = written.then(({ delivered, changes }) => {
        for (const c of changes) emit(c);
        return { delivered };
      });
      return keepIfCommitted(blobs, files, accepted);
    },

    async claimDue({ now: at, limit, owner, leaseMs, routes }): Promise<QueuedMessage[]> {
      live();
      if (limit <= 0) return [];
      return db.transaction().execute(async (trx) => {
        // 1. The oldest messages with something due. With one writer (SQLite) they are not
        // locked: step 2 decides who gets which recipient. Where claimers run at once (PostgreSQL),
        // each locks its messages and skips those another holds, so concurrent claims take
        // different messages instead of all picking the oldest ten and most coming back empty.
        const candidates = capabilities.skipLocked
          ? await trx
              .selectFrom('queue_messages')
              .select(['queue_messages.id', 'queue_messages.received_at'])
              .where(({ exists, selectFrom }) =>
                exists(
                  selectFrom('queue_recipients')
                    .select('queue_recipients.id')
                    .whereRef('queue_recipients.message_id', '=', 'queue_messages.id')
                    .where((eb) => dueConditions(eb, at, routes)),
                ),
              )
              .orderBy('queue_messages.received_at')
              .orderBy('queue_messages.id')
              .limit(limit)
              // NO KEY: recipients' foreign-key checks (FOR KEY SHARE) on these rows go on unblocked.
              .forNoKeyUpdate()
              .skipLocked()
              .execute()
          : await dueMessagesInOrder(trx, at, routes, limit);
        if (candidates.length === 0) return [];
        const ids = candidates.map((c) => c.id);

        // 2. Their due recipients, locked where the engine can (rows another claimer holds are
        // skipped, not waited for).
        let lockQuery = trx
          .selectFrom('queue_recipients')
          .select('queue_recipients.id')
          .where('queue_recipients.message_id', 'in', ids)
          .where((eb) => dueConditions(eb, at, routes, true));
        if (capabilities.skipLocked) lockQuery = lockQuery.forUpdate().skipLocked();
        const recipientIds = (await lockQuery.execute()).map((r) => r.id);
        if (recipientIds.length === 0) return [];

        // 3. Lease them, re-checking the conditions so a row changed since step 2 is not taken.
        const leased: RecipientRow[] = [];
        for (const part of chunks(recipientIds)) {
          const rows = await trx
            .updateTable('queue_recipients')
            .set({ lease_owner: owner, lease_until: at + leaseMs })
            .where('id', 'in', part)
            .where((eb) => dueConditions(eb, at, routes, true))
            .returning(RECIPIENT_COLUMNS)
            .execute();
          leased.push(...rows);
        }
        const messages = await trx
          .selectFrom('queue_messages')
          .select(MESSAGE_COLUMNS)
          .where('id', 'in', [...new Set(leased.map((r) => r.message_id))])
          .execute();
        const byId = new Map(messages.map((m) => [m.id, m]));
        const out: QueuedMessage[] = [];
        for (const id of ids) {
          const m = byId.get(id);
          if (m === undefined) continue;
          const rs = leased
            .filter((r) => r.message_id === id)
            .sort((a, b) => num(a.position) - num(b.position))
            .map(toRecipient);
          out.push(toQueued(m, rs));
        }
        return out;
      });
    },

    async recordResults(owner, results: readonly DeliveryResult[], options = {}): Promise<RecordResultsOutcome> {
      live();
      if (results.length === 0) return { applied: 0, ignored: [], ...(options.deleteFinished === true ? { deleted: [] } : {}) };
      return db.transaction().execute(async (trx) => {
        let applied = 0;
        const ignored: number[] = [];
        for (const r of results) {
          const common = {
            attempts: (eb: ExpressionBuilder<Database, 'queue_recipients'>) => eb('attempts', '+', 1),
          };
          let q;
          if (r.outcome === 'queued') {
            q = trx.updateTable('queue_recipients').set((eb) => ({
              attempts: common.attempts(eb),
              // A recipient put on hold while its delivery ran stays held.
              state: eb.case().when('state', '=', 'held').then('held').else('queued').end(),
              next_attempt_at: r.nextAttemptAt,
              last_attempt_at: r.at,
              last_reply: r.reply,
              lease_owner: null,
              lease_until: null,
            }));
          } else {
            q = trx.updateTable('queue_recipients').set((eb) => ({
              attempts: common.attempts(eb),
              state: r.outcome,
              last_attempt_at: r.at,
              last_reply: r.reply,
              lease_owner: null,
              lease_until: null,
            }));
          }
          const res = await q.where('id', '=', r.recipientId).where('lease_owner', '=', owner).executeTakeFirst();
          if (Number(res.numUpdatedRows) > 0) applied += 1;
          else ignored.push(r.recipientId);
        }
        if (ignored.length > 0) logger.warn({ owner, ignored }, 'delivery results ignored: the lease was taken over or the message is gone');
        if (options.deleteFinished !== true) return { applied, ignored };
        const deleted: string[] = [];
        const files: string[] = [];
        for (const part of chunks(results.map((r) => r.recipientId))) {
          const rows = await trx
            .deleteFrom('queue_messages')
            .where('id', 'in', (eb) => eb.selectFrom('queue_recipients').select('queue_recipients.message_id').where('queue_recipients.id', 'in', part))
            .where((eb) => eb.not(eb.exists(unfinishedRecipientOf(eb))))
            .returning(['id', 'blob'])
            .execute();
          deleted.push(...rows.map((r) => r.id));
          files.push(...namesOf(rows));
        }
        return { applied, ignored, deleted, files };
      }).then(async ({ files, ...outcome }) => {
        if (files !== undefined && files.length > 0) await blobs?.remove(files);
        return outcome;
      });
    },

    async nextAttemptAt(opts = {}): Promise<number | null> {
      live();
      // The earliest of: the first next attempt of a recipient not leased past it (in the order of
      // queue_recipients_due), and the first lease end that is later than its recipient's next
      // attempt (queue_recipients_lease). Two index walks that stop at their first row, where
      // min() over a CASE read every queued recipient (130 ms at a million, bench/queue-scale.sh).
      const routes = opts.routes === undefined ? null : opts.routes.length > 0 ? [...opts.routes] : [''];
      let due = db
        .selectFrom('queue_recipients')
        .select('next_attempt_at as at')
        .where('state', '=', 'queued')
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', eb.ref('next_attempt_at'))]))
        .orderBy('next_attempt_at')
        .limit(1);
      let leased = db
        .selectFrom('queue_recipients')
        .select('lease_until as at')
        .where('state', '=', 'queued')
        .where('lease_until', 'is not', null)
        .where('lease_until', '>', (eb) => eb.ref('next_attempt_at'))
        .orderBy('lease_until')
        .limit(1);
      if (routes !== null) {
        due = due.where('route', 'in', routes);
        leased = leased.where('route', 'in', routes);
      }
      const [a, b] = await Promise.all([due.executeTakeFirst(), leased.executeTakeFirst()]);
      const times = [numOrNull(a?.at), numOrNull(b?.at)].filter((t): t is number => t !== null);
      return times.length === 0 ? null : Math.min(...times);
    },

    async getQueued(id): Promise<QueuedMessage | null> {
      live();
      const m = await db.selectFrom('queue_messages').select(MESSAGE_COLUMNS).where('id', '=', id).executeTakeFirst();
      if (m === undefined) return null;
      const rs = await recipientsOf(db, [id]);
      return toQueued(m, rs.get(id) ?? []);
    },

    async readQueuedData(id): Promise<Uint8Array | null> {
      live();
      const row = await db.selectFrom('queue_messages').select(['data', 'blob', 'size']).where('id', '=', id).executeTakeFirst();
      if (row === undefined) return null;
      return bodyOf(blobs, row, () => `queued message ${id}`);
    },

    deliverToMailbox({ owner, recipientId, address, mailbox, data, internalDate, reply, at }) {
      if (closed) return Promise.reject(new StoreError(StoreErrorCode.Closed, 'the store is closed'));
      type Delivered = { kind: 'delivered'; uid: number; change: MailboxChange; finished: string[] } | { kind: 'not-leased' };
      const files = startBodies(blobs, [data]);
      const written = committer.submit(async (trx): Promise<WriteOutcome<Delivered>> => {
        let blob: string | null = null;
        if (files !== null) {
          const named = await namesFor(files, trx);
          if (!named.ok) return named;
          blob = named.names[0] ?? null;
        }
        const leased = await trx
          .selectFrom('queue_recipients')
          .select(['id', 'message_id'])
          .where('id', '=', recipientId)
          .where('lease_owner', '=', owner)
          .executeTakeFirst();
        if (leased === undefined) return { ok: true, value: { kind: 'not-leased' } };
        const appended = await appendIn(trx, { address, mailbox, data, internalDate, flags: [], blob });
        if (!appended.ok) return noteOutcome(files, appended);
        await trx
          .updateTable('queue_recipients')
          .set((eb) => ({ attempts: eb('attempts', '+', 1), state: 'delivered', last_attempt_at: at, last_reply: reply, lease_owner: null, lease_until: null }))
          .where('id', '=', recipientId)
          .execute();
        // The last recipient delivered: the message leaves the queue in the same commit, rather
        // than in one more commit of its own (the bench profile showed that one costing a fifth).
        const finishing = trx
          .deleteFrom('queue_messages')
          .where('id', '=', leased.message_id)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('queue_recipients').select('queue_recipients.id').whereRef('queue_recipients.message_id', '=', 'queue_messages.id').where('queue_recipients.state', 'in', ['queued', 'held']))),
          );
        // The queue's body file goes after the commit, as every deleted row's does.
        let finished: string[] = [];
        if (blobs === null) await finishing.execute();
        else finished = namesOf(await finishing.returning('blob').execute());
        return noteOutcome(files, { ok: true, value: { kind: 'delivered' as const, uid: appended.value.uid, change: appended.value.change, finished } });
      }, files?.names);
      // Not leased: nothing names the file written for it.
      return keepIfCommitted(blobs, files, written, (r) => r.kind === 'not-leased').then(async (r) => {
        if (r.kind === 'not-leased') return r;
        if (r.finished.length > 0) await blobs?.remove(r.finished);
        emit(r.change);
        return { kind: 'delivered' as const, uid: r.uid };
      });
    },

    async releaseLeases({ ownerPrefix, except }): Promise<number> {
      live();
      const escaped = ownerPrefix.replace(/[\\%_]/g, (c) => `\\${c}`);
      const r = await db
        .updateTable('queue_recipients')
        .set({ lease_owner: null, lease_until: null })
        // Only leased rows (queue_recipients_lease), not every row's owner text.
        .where('lease_until', 'is not', null)
        .where(sql<boolean>`lease_owner LIKE ${`${escaped}%`} ESCAPE '\\'`)
        .where('lease_owner', '!=', except)
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },

    async extendLeases({ owner, recipientIds, from, until }): Promise<number> {
      live();
      let n = 0;
      for (const part of chunks([...recipientIds])) {
        const r = await db
          .updateTable('queue_recipients')
          .set({ lease_until: until })
          .where('id', 'in', part)
          .where('lease_owner', '=', owner)
          .where('lease_until', '=', from)
          .where('state', '=', 'queued')
          .executeTakeFirst();
        n += Number(r.numUpdatedRows);
      }
      return n;
    },

    async deleteFinished(): Promise<string[]> {
      live();
      // Candidates through the final recipients (queue_recipients_due leads with state), not a
      // pass over every message (2.1 s at a million). Every message has a recipient, so a message
      // with no final one is not finished either.
      const rows = await db
        .deleteFrom('queue_messages')
        .where('id', 'in', (eb) => eb.selectFrom('queue_recipients').select('queue_recipients.message_id').where('queue_recipients.state', 'in', ['delivered', 'failed']))
        .where((eb) => eb.not(eb.exists(unfinishedRecipientOf(eb))))
        .returning(['id', 'blob'])
        .execute();
      const files = namesOf(rows);
      if (files.length > 0) await blobs?.remove(files);
      return rows.map((r) => r.id);
    },

    async deleteIfFinal(id): Promise<boolean> {
      live();
      const q = db
        .deleteFrom('queue_messages')
        .where('id', '=', id)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('queue_recipients')
                .select('queue_recipients.id')
                .whereRef('queue_recipients.message_id', '=', 'queue_messages.id')
                .where('queue_recipients.state', 'in', ['queued', 'held']),
            ),
          ),
        );
      if (blobs !== null) {
        const gone = await q.returning('blob').executeTakeFirst();
        if (gone?.blob != null) await blobs.remove([gone.blob]);
        return gone !== undefined;
      }
      const r = await q.executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },

    async markDelayNoticeSent(recipientIds): Promise<void> {
      live();
      for (const part of chunks(recipientIds)) {
        await db.updateTable('queue_recipients').set({ delay_notice_sent: 1 }).where('id', 'in', part).execute();
      }
    },

    async listQueue(opts = {}): Promise<QueuedMessage[]> {
      live();
      let q = db.selectFrom('queue_messages').select(MESSAGE_COLUMNS).orderBy('received_at').orderBy('id');
      if (opts.limit !== undefined) q = q.limit(opts.limit);
      const messages = await q.execute();
      const rs = await recipientsOf(
        db,
        messages.map((m) => m.id),
      );
      return messages.map((m) => toQueued(m, rs.get(m.id) ?? []));
    },

    async retry(selector: QueueSelector, at: number): Promise<number> {
      live();
      let q = db.updateTable('queue_recipients').set({ next_attempt_at: at }).where('state', '=', 'queued');
      if ('id' in selector) q = q.where('message_id', '=', selector.id);
      else if ('route' in selector) q = q.where('route', '=', selector.route).where('domain', '=', selector.domain.toLowerCase());
      const r = await q.executeTakeFirst();
      return Number(r.numUpdatedRows);
    },

    async deleteQueued(id): Promise<boolean> {
      live();
      if (blobs !== null) {
        const gone = await db.deleteFrom('queue_messages').where('id', '=', id).returning('blob').executeTakeFirst();
        if (gone?.blob != null) await blobs.remove([gone.blob]);
        return gone !== undefined;
      }
      const r = await db.deleteFrom('queue_messages').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },

    async hold(id): Promise<number> {
      live();
      const r = await db
        .updateTable('queue_recipients')
        .set({ state: 'held' })
        .where('message_id', '=', id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },

    async release(id, at): Promise<number> {
      live();
      const r = await db
        .updateTable('queue_recipients')
        .set({ state: 'queued', next_attempt_at: at })
        .where('message_id', '=', id)
        .where('state', '=', 'held')
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },

    async countQueuedByDomain({ route }): Promise<DomainCount[]> {
      live();
      const rows = await db
        .selectFrom('queue_recipients')
        .innerJoin('queue_messages', 'queue_messages.id', 'queue_recipients.message_id')
        .select((eb) => [
          'queue_recipients.domain',
          eb.fn.count<number>('queue_recipients.id').as('n'),
          eb.fn.min('queue_messages.received_at').as('oldest'),
        ])
        .where('queue_recipients.state', '=', 'queued')
        .where('queue_recipients.route', '=', route)
        .groupBy('queue_recipients.domain')
        .orderBy('queue_recipients.domain')
        .execute();
      return rows.map((r) => ({ domain: r.domain, count: num(r.n), oldestReceivedAt: num(r.oldest) }));
    },

    // ------------------------------------------------------------------------------------------
    // Cluster-wide limits (delivery-slots.ts)

    async acquireSlot(options) {
      live();
      return deliverySlots.acquireSlot(db, options);
    },

    async renewSlots(options) {
      live();
      return deliverySlots.renewSlots(db, options);
    },

    async releaseSlot(options) {
      live();
      return deliverySlots.releaseSlot(db, options);
    },

    async releaseSlots(options) {
      live();
      return deliverySlots.releaseSlots(db, options);
    },

    async reservePace(options) {
      live();
      return deliverySlots.reservePace(db, options);
    },
  };
  return store;
}
