/**
 * One poll for every session in IDLE, instead of one timer and one store round trip per session.
 * Changes made in this process reach IDLE sessions at once through `watchMailboxes`; the poll is
 * only for changes made by another process sharing the database (the CLI on SQLite). Every
 * interval it asks the store once per mailbox that has sessions in IDLE for its highest modseq,
 * and wakes only the sessions that are behind it (or whose mailbox is gone).
 */
import type { Logger } from '../../core/logger.ts';
import type { Store } from '../../store/types.ts';

export interface IdleWatch {
  address: string;
  /** The selected mailbox's name now (a rename elsewhere changes it). */
  mailbox(): string;
  /** The modseq the session's view is current to. */
  modseq(): number;
  /** Bring the session up to date (it sends whatever changed). */
  wake(): void;
}

export interface IdlePoller {
  add(watch: IdleWatch): void;
  delete(watch: IdleWatch): void;
  close(): void;
}

export function createIdlePoller(store: Pick<Store, 'getMailboxStatus'>, intervalMs: number, logger: Logger): IdlePoller {
  const watches = new Set<IdleWatch>();
  let timer: ReturnType<typeof setInterval> | null = null;
  let running = false;

  async function tick(): Promise<void> {
    if (running) return; // a slow poll is not stacked on itself
    running = true;
    try {
      const groups = new Map<string, IdleWatch[]>();
      for (const w of watches) {
        const key = `${w.address}\0${w.mailbox()}`;
        const g = groups.get(key);
        if (g === undefined) groups.set(key, [w]);
        else g.push(w);
      }
      for (const group of groups.values()) {
        const first = group[0] as IdleWatch;
        let highest: number | null;
        try {
          highest = (await store.getMailboxStatus({ address: first.address, mailbox: first.mailbox() }))?.highestModseq ?? null;
        } catch (err) {
          logger.warn({ err }, 'IDLE poll failed');
          continue;
        }
        for (const w of group) if (watches.has(w) && (highest === null || w.modseq() < highest)) w.wake();
      }
    } finally {
      running = false;
    }
  }

  return {
    add(watch) {
      watches.add(watch);
      if (timer === null) {
        timer = setInterval(() => void tick(), intervalMs);
        timer.unref();
      }
    },
    delete(watch) {
      watches.delete(watch);
      if (watches.size === 0 && timer !== null) {
        clearInterval(timer);
        timer = null;
      }
    },
    close() {
      watches.clear();
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
