/**
 * Runs the store's sweep of body files no row names (`Store.sweepBlobs`, [storage] blobs) in the
 * background: once soon after start, so what a crash left is cleared, then once a day. A sweep
 * walks the whole directory, so it never runs twice at once, and a store closed under a running
 * sweep ends it quietly.
 */
import type { Logger } from '../../core/logger.ts';
import type { Store } from '../types.ts';

export interface BlobSweeper {
  stop(): void;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function startBlobSweeper(options: { store: Store; logger: Logger; intervalMs?: number; graceMs?: number }): BlobSweeper {
  const { store, logger } = options;
  let stopped = false;
  let running = false;
  const sweep = async (): Promise<void> => {
    if (stopped || running) return;
    running = true;
    try {
      const r = await store.sweepBlobs(options.graceMs !== undefined ? { graceMs: options.graceMs } : {});
      if (stopped) return;
      if (r.busy === true) logger.info({ busy: true }, 'body file sweep skipped: another node of this database is sweeping the directory');
      else logger.info({ checked: r.checked, removed: r.removed, sample: r.sample }, 'body file sweep done');
    } catch (err) {
      if (!stopped) logger.error({ err }, 'body file sweep failed; the next runs in a day');
    } finally {
      running = false;
    }
  };
  const first = setTimeout(() => void sweep(), 0);
  const daily = setInterval(() => void sweep(), options.intervalMs ?? DAY_MS);
  first.unref();
  daily.unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(daily);
    },
  };
}
