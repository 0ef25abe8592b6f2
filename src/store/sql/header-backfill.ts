/**
 * Migration 3's second half, shared by both engines: the header section of every message stored
 * before `message_headers` existed, cut out of its bytes by `headerSection` (the code every append
 * uses), a batch of messages at a time so a large store is never held in memory at once.
 */
import type { Transaction } from 'kysely';
import { headerSection, isPlainHeader } from '../header-search.ts';
import type { Database } from './tables.ts';

const BATCH = 200;

export async function backfillMessageHeaders(trx: Transaction<Database>): Promise<number> {
  let after = 0;
  let done = 0;
  for (;;) {
    const rows = await trx
      .selectFrom('messages')
      .select(['id', 'mailbox_id', 'uid', 'data'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) return done;
    await trx
      .insertInto('message_headers')
      .values(
        rows.map((r) => {
          const header = headerSection(r.data);
          return { mailbox_id: Number(r.mailbox_id), uid: Number(r.uid), plain: isPlainHeader(header) ? 1 : 0, header };
        }),
      )
      .execute();
    done += rows.length;
    after = Number(rows[rows.length - 1]?.id);
  }
}
