/**
 * DESIGN.md "Durability": a message the store said was committed survives the process being killed
 * at any instant. A child process enqueues in a loop, printing each id once its enqueue resolved;
 * it is killed with SIGKILL mid-stream, and every printed id must be in the reopened store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { openSqliteStore } from '../src/store/sqlite/index.ts';

const root = resolve(import.meta.dirname, '..');
const nodeBin = join(root, 'node_modules', '.bin', 'node');
const storeModule = pathToFileURL(join(root, 'src', 'store', 'sqlite', 'index.ts')).href;

const CHILD = `
import { openSqliteStore } from ${JSON.stringify(storeModule)};
const store = await openSqliteStore({ path: process.argv[2] });
const data = new TextEncoder().encode('Subject: durability\\r\\n\\r\\n' + 'x'.repeat(2000) + '\\r\\n');
let n = 0;
async function worker(w) {
  // Bounded: the parent kills us long before this ends.
  while (n < 200000) {
    const id = 'd' + (n++);
    await store.enqueue({
      id, receivedAt: n, sender: 'a@x.test', data, source: 'mx',
      recipients: [{ address: 'b@y.test', domain: 'y.test', route: 'remote' }, { address: 'c@z.test', domain: 'z.test', route: 'local' }],
    });
    process.stdout.write(id + '\\n');
  }
}
await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
`;

const dir = mkdtempSync(join(tmpdir(), 'postern-durability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('store durability', () => {
  it('loses no enqueued message it reported committed when the process is killed with SIGKILL', async () => {
    const script = join(dir, 'child.mjs');
    writeFileSync(script, CHILD);
    const dbPath = join(dir, 'queue.sqlite');
    const child = spawn(nodeBin, [script, dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, signal) => res(signal ?? code)));
    const target = 400;
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`child printed ${out.split('\n').length - 1} ids in 20 s; stderr: ${err}`)), 20_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.split('\n').length - 1 >= target) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          res();
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        rej(new Error(`child exited early: ${err}`));
      });
    });
    assert.equal(await exited, 'SIGKILL');

    // A line without its newline may be an id cut short: only whole lines were reported.
    const printed = out.split('\n').slice(0, -1);
    assert.ok(printed.length >= target);

    const store = await openSqliteStore({ path: dbPath });
    try {
      const missing: string[] = [];
      for (const id of printed) {
        const q = await store.getQueued(id);
        if (q === null || q.recipients.length !== 2) missing.push(id);
      }
      assert.deepEqual(missing, [], 'every id the child printed is in the queue with both recipients');
      const all = await store.listQueue();
      assert.ok(all.length >= printed.length);
      // Nothing half-written: each message has its recipients and its bytes.
      for (const m of all) assert.equal(m.recipients.length, 2, m.id);
      assert.equal((await store.readQueuedData(printed[0] ?? ''))?.byteLength, 2000 + 'Subject: durability\r\n\r\n\r\n'.length);
    } finally {
      await store.close();
    }
  });
});
