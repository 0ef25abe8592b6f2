/**
 * Mailbox changes between nodes on one PostgreSQL database, by LISTEN/NOTIFY: every change a node
 * commits is announced on one channel, and each node's listening connection hands the others'
 * changes to its IMAP sessions, so a session on node B hears of a delivery made by node A at once
 * (IDLE wakes) instead of at its next poll. A notice lost while the listening connection is down
 * costs nothing but latency: sessions still poll their mailbox's modseq.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../core/logger.ts';
import type { ChangeBus } from '../sql/sql-store.ts';
import type { MailboxChange } from '../types.ts';

export const CHANGE_CHANNEL = 'postern_mailbox_changes';

interface Notice extends MailboxChange {
  /** The publishing store, so it does not announce its own changes twice. */
  origin: string;
}

function isNotice(v: unknown): v is Notice {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['origin'] === 'string' && typeof o['account'] === 'string' && typeof o['mailboxId'] === 'number' && typeof o['modseq'] === 'number' && ['append', 'flags', 'expunge', 'mailboxes'].includes(String(o['kind']));
}

/** `channel`: one per schema, since stores in different schemas of one database share nothing. */
export async function createPostgresChangeBus(options: { pool: pg.Pool; connection: pg.ClientConfig; logger: Logger; channel?: string }): Promise<ChangeBus> {
  const channel = options.channel ?? CHANGE_CHANNEL;
  const origin = randomBytes(8).toString('hex');
  const listeners = new Set<(change: MailboxChange) => void>();
  const log = options.logger;
  let closed = false;
  let client: pg.Client | null = null;

  const listen = async (): Promise<void> => {
    const c = new pg.Client(options.connection);
    c.on('notification', (msg) => {
      if (msg.channel !== channel || msg.payload === undefined) return;
      let notice: unknown;
      try {
        notice = JSON.parse(msg.payload);
      } catch {
        return;
      }
      if (!isNotice(notice) || notice.origin === origin) return;
      const { origin: _origin, ...change } = notice;
      for (const l of listeners) l(change);
    });
    c.on('error', (err) => {
      log.warn({ err }, 'the change-notice connection failed; listening again shortly');
      client = null;
      void c.end().catch(() => {});
      if (!closed) setTimeout(() => void listen().catch(() => {}), 1000).unref();
    });
    await c.connect();
    await c.query(`LISTEN ${channel}`);
    client = c;
  };
  await listen();

  return {
    publish(change) {
      if (closed) return;
      const payload = JSON.stringify({ ...change, origin } satisfies Notice);
      // After the commit, best effort: a missed notice only delays a session until its next poll.
      options.pool.query('SELECT pg_notify($1, $2)', [channel, payload]).catch((err: unknown) => log.warn({ err }, 'could not announce a mailbox change'));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
