/**
 * bench/queue-scale.sh's hands inside a Postern SQLite store (run while the server is stopped: one
 * writer, and the figures are the store's alone). Everything goes through the real `Store` API, the
 * one the server and its queue runner use.
 *
 *   node bench/lib/queue-scale.ts fill DB FROM TO BATCH
 *       enqueue messages FROM..TO-1 (1 KiB each, one recipient b@deferred.test on the remote route,
 *       first attempt in 10 days: a deferred queue), BATCH enqueues in flight at once (they share
 *       group commits); prints "fill n=.. secs=.. msgs_per_s=.."
 *   node bench/lib/queue-scale.ts step DB REPS
 *       the queue runner's scheduling work at this queue size, each timed REPS times (median and
 *       max, in ms): claimDue with nothing due (what every runner pass costs while the queue waits),
 *       claimDue of 20 due messages among the deferred ones (the 20 are enqueued, claimed and
 *       removed), claimDue of 20 with the whole queue due (queue retry --all, then put back ten days
 *       ahead; at most 3 times), nextAttemptAt (asked before every sleep), and the restart's
 *       recovery queries (releaseLeases, deleteFinished); prints one "step ..." line
 *   node bench/lib/queue-scale.ts attempted DB AT_LEAST MAX_S
 *       wait until AT_LEAST queued recipients have had an attempt (the SMTP-enqueued mail has been
 *       tried once and deferred), or give up after MAX_S seconds (exit 1)
 */
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { NewQueuedMessage, Store } from '../../src/store/types.ts';

const DAY = 86_400_000;
const [cmd, path, ...rest] = process.argv.slice(2);
if (cmd === undefined || path === undefined) usage();

function usage(): never {
  process.stderr.write('usage: queue-scale.ts fill DB FROM TO BATCH | step DB REPS | attempted DB AT_LEAST MAX_S\n');
  process.exit(2);
}

function int(text: string | undefined, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`queue-scale: ${what} must be a whole number\n`);
    process.exit(2);
  }
  return n;
}

// One body for every filled message, 1 KiB like smtp-source's -l 1024 (the bytes are copied into
// each row all the same: SQLite stores the blob per row).
const BODY = (() => {
  const head = 'From: a@example.test\r\nTo: b@example.test\r\nSubject: queue-scale filler\r\n\r\n';
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678\r\n';
  let body = head;
  while (body.length + line.length <= 1024) body += line;
  return new TextEncoder().encode(body.padEnd(1024, 'x'));
})();

function message(id: string, at: number, firstAttemptAt: number): NewQueuedMessage {
  return {
    id,
    receivedAt: at,
    firstAttemptAt,
    sender: 'a@example.test',
    data: BODY,
    source: 'mx',
    recipients: [{ address: 'b@deferred.test', domain: 'deferred.test', route: 'remote' }],
  };
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const med = s.length % 2 === 1 ? s[(s.length - 1) / 2] : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
  return `${(med ?? 0).toFixed(3)}/${(s[s.length - 1] ?? 0).toFixed(3)}`;
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await f();
  return [performance.now() - t0, v];
}

async function fill(store: Store, from: number, to: number, batch: number): Promise<void> {
  const t0 = performance.now();
  const now = Date.now();
  let next = from;
  // BATCH enqueues in flight: each resolves after its group commit, and the next takes its place.
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await store.enqueue(message(`fill${String(i).padStart(8, '0')}`, now + (i % 1000), now + 10 * DAY));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, batch) }, worker));
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`fill n=${to - from} secs=${secs.toFixed(2)} msgs_per_s=${((to - from) / secs).toFixed(0)}\n`);
}

async function step(store: Store, reps: number): Promise<void> {
  const owner = 'queue-scale/bench';
  const routes = ['local', 'remote'] as const;
  const idle: number[] = [];
  const due: number[] = [];
  const next: number[] = [];
  const release: number[] = [];
  const finished: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const now = Date.now();
    const [a, none] = await timed(() => store.claimDue({ now, limit: 20, owner, leaseMs: 60_000, routes }));
    if (none.length > 0) throw new Error(`claimDue found ${none.length} due messages in a queue that should hold none`);
    idle.push(a);
    next.push((await timed(() => store.nextAttemptAt()))[0]);
    // 20 due messages among the deferred ones: what a pass costs when it has work.
    const ids = Array.from({ length: 20 }, (_, i) => `due${rep}x${i}`);
    await Promise.all(ids.map((id) => store.enqueue(message(id, now - 1000, now - 1000))));
    const [b, claimed] = await timed(() => store.claimDue({ now, limit: 20, owner, leaseMs: 60_000, routes }));
    if (claimed.length !== 20) throw new Error(`claimDue took ${claimed.length} of 20 due messages`);
    due.push(b);
    for (const id of ids) await store.deleteQueued(id);
    release.push((await timed(() => store.releaseLeases({ ownerPrefix: 'queue-scale/', except: 'none' })))[0]);
    finished.push((await timed(() => store.deleteFinished()))[0]);
  }
  // The whole queue due at once, as after `postern queue retry --all` or when a backup domain's
  // primary answers again (the runner then retries every held message): what one claim of 20 costs
  // with that backlog. Three times at most: each needs two updates of every queued recipient.
  const backlog: number[] = [];
  let retryMs = 0;
  const queued = (await store.nextAttemptAt()) !== null;
  for (let rep = 0; queued && rep < Math.min(3, reps); rep++) {
    const now = Date.now();
    const [r] = await timed(() => store.retry({ all: true }, now));
    retryMs = Math.max(retryMs, r);
    const [c, claimed] = await timed(() => store.claimDue({ now, limit: 20, owner, leaseMs: 60_000, routes }));
    if (claimed.length !== 20) throw new Error(`claimDue took ${claimed.length} of 20 with the whole queue due`);
    backlog.push(c);
    await store.releaseLeases({ ownerPrefix: 'queue-scale/', except: 'none' });
    await store.retry({ all: true }, now + 10 * DAY);
  }
  process.stdout.write(
    `step reps=${reps} claim_idle_ms=${stats(idle)} claim_20_due_ms=${stats(due)} claim_20_all_due_ms=${backlog.length > 0 ? stats(backlog) : 'none'} next_attempt_ms=${stats(next)} release_leases_ms=${stats(release)} delete_finished_ms=${stats(finished)} (median/max)\n`,
  );
}

async function attempted(atLeast: number, maxS: number): Promise<void> {
  const db = new DatabaseSync(path as string, { readOnly: true });
  const q = db.prepare('SELECT count(*) AS n FROM queue_recipients WHERE attempts > 0');
  const count = (): number => Number((q.get() as { n: number | bigint }).n);
  const deadline = Date.now() + 1000 * maxS;
  let n = count();
  while (n < atLeast && Date.now() < deadline) {
    await sleep(100);
    n = count();
  }
  db.close();
  if (n < atLeast) {
    process.stderr.write(`queue-scale: only ${n} of ${atLeast} recipients attempted\n`);
    process.exitCode = 1;
  }
}

if (cmd === 'attempted') {
  await attempted(int(rest[0], 'AT_LEAST'), int(rest[1], 'MAX_S'));
} else if (cmd === 'fill' || cmd === 'step') {
  const store = await openSqliteStore({ path });
  try {
    if (cmd === 'fill') await fill(store, int(rest[0], 'FROM'), int(rest[1], 'TO'), int(rest[2], 'BATCH'));
    else await step(store, Math.max(1, int(rest[0], 'REPS')));
  } finally {
    await store.close();
  }
} else {
  usage();
}
