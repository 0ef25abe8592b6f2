/**
 * What a Postern node's queue holds, read from its SQLite store while the server runs (read-only;
 * WAL lets this reader and the server's writer go on together): messages, and recipients by state.
 * bench/smtp-relay.sh checks with it that every relayed message left the queue (none deferred),
 * bench/queue-scale.sh that the queue holds what it filled.
 *
 *   node bench/lib/queue-count.ts DB                 one line: messages=N queued=N held=N ...
 *   node bench/lib/queue-count.ts DB empty MAX_S     wait until the queue holds no message (exit 0),
 *                                                    or give up after MAX_S seconds (exit 1)
 */
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';

const [path, mode, maxText] = process.argv.slice(2);
if (path === undefined || (mode !== undefined && mode !== 'empty')) {
  process.stderr.write('usage: queue-count.ts DB [empty MAX_SECONDS]\n');
  process.exit(2);
}
const db = new DatabaseSync(path, { readOnly: true });
const messages = db.prepare('SELECT count(*) AS n FROM queue_messages');
const byState = db.prepare('SELECT state, count(*) AS n FROM queue_recipients GROUP BY state ORDER BY state');
const countMessages = (): number => Number((messages.get() as { n: number | bigint }).n);

if (mode === undefined) {
  const states = (byState.all() as Array<{ state: string; n: number | bigint }>).map((r) => `${r.state}=${Number(r.n)}`);
  process.stdout.write(`messages=${countMessages()}${states.length > 0 ? ` ${states.join(' ')}` : ''}\n`);
} else {
  const deadline = Date.now() + 1000 * Number(maxText ?? '600');
  let n = countMessages();
  while (n > 0 && Date.now() < deadline) {
    await sleep(20);
    n = countMessages();
  }
  if (n > 0) {
    const states = (byState.all() as Array<{ state: string; n: number | bigint }>).map((r) => `${r.state}=${Number(r.n)}`);
    process.stderr.write(`queue-count: ${n} messages still queued (${states.join(' ')})\n`);
    process.exitCode = 1;
  }
}
db.close();
