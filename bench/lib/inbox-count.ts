/**
 * How many messages the INBOX of a Postern node holds, read from its SQLite store while the server
 * runs (read-only; WAL lets this reader and the server's writer go on together). The benchmark's
 * "delivered" check: the queue runner files accepted mail into the INBOX after the 250, so the
 * end-to-end rate stops the clock when the INBOX has grown by the number of messages sent.
 *
 *   node bench/lib/inbox-count.ts DB                   print the count
 *   node bench/lib/inbox-count.ts DB AT_LEAST MAX_S    wait until count >= AT_LEAST (exit 0), or
 *                                                      give up after MAX_S seconds (exit 1)
 */
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';

const [path, atLeastText, maxText] = process.argv.slice(2);
if (path === undefined) {
  process.stderr.write('usage: inbox-count.ts DB [AT_LEAST MAX_SECONDS]\n');
  process.exit(2);
}
const db = new DatabaseSync(path, { readOnly: true });
const query = db.prepare(
  "SELECT count(*) AS n FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.name = 'INBOX'",
);
const count = (): number => Number((query.get() as { n: number | bigint }).n);

if (atLeastText === undefined) {
  process.stdout.write(`${count()}\n`);
} else {
  const atLeast = Number(atLeastText);
  const deadline = Date.now() + 1000 * Number(maxText ?? '600');
  let n = count();
  // Polled, not watched: a 20 ms step costs the server nothing and bounds the error of the figure.
  while (n < atLeast && Date.now() < deadline) {
    await sleep(20);
    n = count();
  }
  if (n < atLeast) {
    process.stderr.write(`inbox-count: only ${n} of ${atLeast} messages in the INBOX\n`);
    process.exitCode = 1;
  }
}
db.close();
