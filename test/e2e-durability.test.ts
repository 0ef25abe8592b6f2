/**
 * Durability end to end (DESIGN.md "Durability"): "250 OK" after DATA means the message is on
 * stable storage. 2,000 messages arrive over 20 parallel sessions; when about a third have their
 * 250 the receiving node, the real `postern start` in a child process, is killed with SIGKILL and
 * started again on the same data folder, and the sessions carry on. Afterwards every message that
 * got its 250 must be in the mailbox. Messages in flight at the kill may or may not be there.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { nodeConfig, SMTP_PORT } from './helpers/lab.ts';
import { ROOT, tempDir } from './helpers/postern.ts';
import { startSmtpLoad } from './helpers/smtp-load.ts';
import { openSqliteStore } from '../src/store/sqlite/index.ts';

const NODE = join(ROOT, 'node_modules/.bin/node');
const BIN = join(ROOT, 'bin/postern.js');
const ADDRESS = '127.0.77.1';
const USER = 'user@domain.test';
const TOTAL = 2000;
const SESSIONS = 20;
const KILL_AT = Math.round(TOTAL / 3);
const ENV: NodeJS.ProcessEnv = { ...process.env, POSTERN_LOOPBACK_ONLY: '1' };
delete ENV['POSTERN_CONFIG'];

interface Node {
  child: ChildProcess;
  exited: Promise<void>;
}

/** `postern ARGS… --config FILE` as a child process, bounded; its stdout, or an error with stderr. */
function postern(args: string[], config: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(NODE, [BIN, ...args, '--config', config], { cwd: ROOT, env: ENV, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`postern ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Starts `postern start`; resolves once it says it is running. Its output goes to `logFile`. */
async function startNode(config: string, logFile: string, timeoutMs = 20_000): Promise<Node> {
  const child = spawn(NODE, [BIN, 'start', '--config', config], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stdout = '';
  child.stderr?.on('data', (d: Buffer) => appendFileSync(logFile, d));
  const running = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`postern start did not say it is running within ${timeoutMs} ms (see ${logFile})`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      appendFileSync(logFile, d);
      stdout += d.toString();
      if (stdout.includes('Postern is running')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`postern start exited with ${child.exitCode ?? child.signalCode} before running (see ${logFile})`));
    });
  });
  try {
    await running;
  } catch (err) {
    await stopNode({ child, exited });
    throw err;
  }
  return { child, exited };
}

/** SIGTERM, then SIGKILL if it has not gone within a bound. */
async function stopNode(node: Node | null): Promise<void> {
  if (node === null || node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill('SIGTERM');
  const gone = await Promise.race([node.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5000).unref())]);
  if (!gone) {
    node.child.kill('SIGKILL');
    await Promise.race([node.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

/** Polls `check` every `everyMs` for at most `ms`. */
async function eventually<T>(check: () => Promise<T | null>, ms: number, what: string, everyMs = 50): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < until) {
    try {
      const v = await check();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

const messageIdOf = (i: number, run: string) => `d${i}.${run}@load.test`;

interface Leftover {
  queueId: string;
  messageId: string;
  /** Recipient states, with the lease when one is held: "queued leased by vm:123:ab for 1799 s more". */
  recipients: string[];
}

/** What one run observed, for the assertions below. */
interface Observed {
  run: string;
  logFile: string;
  attempted: number;
  abandoned: string[];
  acceptedBeforeKill: number;
  acceptedAfterRestart: number;
  accepted: string[];
  /** Message-ID → how many times it is in the mailbox. */
  mailbox: Map<string, number>;
  /** Messages still in the queue once it stopped changing. */
  leftovers: Leftover[];
}

/** Queue ids, polled through the CLI while the node runs, until empty or unchanged for `stableMs`. */
async function settledQueue(config: string, ms: number, stableMs: number): Promise<string[]> {
  const until = Date.now() + ms;
  let last = '';
  let since = Date.now();
  for (;;) {
    const ids = (JSON.parse(await postern(['queue', 'list', '--json'], config)) as Array<{ id: string }>).map((m) => m.id);
    if (ids.length === 0) return ids;
    const key = ids.join(' ');
    if (key !== last) {
      last = key;
      since = Date.now();
    } else if (Date.now() - since >= stableMs) {
      return ids;
    }
    if (Date.now() >= until) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The store read in-process once the node is stopped: each leftover's Message-ID and lease. */
async function describeLeftovers(dataDir: string): Promise<Leftover[]> {
  const store = await openSqliteStore({ path: join(dataDir, 'postern.db') });
  try {
    const now = Date.now();
    const out: Leftover[] = [];
    for (const m of await store.listQueue()) {
      const data = await store.readQueuedData(m.id);
      const header = data === null ? '' : new TextDecoder().decode(data.subarray(0, 4096));
      out.push({
        queueId: m.id,
        messageId: /^Message-ID:\s*<([^>]*)>/im.exec(header)?.[1] ?? '(none)',
        recipients: m.recipients.map(
          (r) => `${r.state}${r.leaseOwner !== null && r.leaseUntil !== null ? ` leased by ${r.leaseOwner} for ${Math.round((r.leaseUntil - now) / 1000)} s more` : ''}${r.lastReply !== null ? ` (${r.lastReply})` : ''}`,
        ),
      });
    }
    return out;
  } finally {
    await store.close();
  }
}

/** The whole run: load, SIGKILL at a third, restart, load to the end, then what the node holds. */
async function durabilityRun(diagnostic: (message: string) => void): Promise<Observed> {
  const started = Date.now();
  const dir = tempDir('e2e-durability');
  const config = join(dir, 'postern.toml');
  const logFile = join(dir, 'postern.log');
  writeFileSync(
    config,
    stringify(
      nodeConfig(
        { hostname: 'mail.domain.test', address: ADDRESS, domains: [['domain.test', 'primary']], config: { log: { level: 'warn' } } },
        // Never asked: every recipient here is local.
        '127.0.0.1:53',
      ),
    ),
  );
  await postern(['account', 'add', USER, '--password', 'x'], config);

  const run = Date.now().toString(36);
  let node: Node | null = null;
  try {
    node = await startNode(config, logFile);
    const load = startSmtpLoad({
      host: ADDRESS,
      port: SMTP_PORT,
      sessions: SESSIONS,
      total: TOTAL,
      replyTimeoutMs: 10_000,
      reconnectPauseMs: 100,
      maxConnectFailures: 300,
      deadlineMs: 50_000,
      message: (i) => ({
        sender: 'load@load.test',
        recipient: USER,
        data:
          `From: load@load.test\r\nTo: ${USER}\r\nSubject: durability ${i}\r\n` +
          `Message-ID: <${messageIdOf(i, run)}>\r\nDate: ${new Date().toUTCString()}\r\n\r\n` +
          `message ${i} of ${TOTAL}\r\n.a line that needs dot-stuffing\r\n`,
      }),
    });
    let acceptedBeforeKill: number;
    try {
      await eventually(async () => (load.acceptedCount() >= KILL_AT ? true : null), 30_000, `${KILL_AT} messages answered 250`, 5);
      node.child.kill('SIGKILL');
      await node.exited;
      // A 250 still in flight when the signal went was sent before the kill: it counts as before.
      acceptedBeforeKill = load.acceptedCount();
      node = await startNode(config, logFile);
    } catch (err) {
      load.stop();
      await load.done;
      throw err;
    }
    const result = await load.done;
    const loadSeconds = (Date.now() - started) / 1000;

    const queued = await settledQueue(config, 30_000, 3000);
    const listed = JSON.parse(await postern(['mailbox', 'list', USER, '--json'], config)) as Array<{ messageId: string | null }>;
    await stopNode(node);
    node = null;
    const mailbox = new Map<string, number>();
    for (const m of listed) {
      const id = (m.messageId ?? '').trim().replace(/^<|>$/g, '');
      mailbox.set(id, (mailbox.get(id) ?? 0) + 1);
    }
    const leftovers = queued.length === 0 ? [] : await describeLeftovers(join(dir, 'data'));
    const accepted = result.accepted.map((i) => messageIdOf(i, run));
    const acceptedSet = new Set(accepted);
    diagnostic(
      `250 before the kill: ${acceptedBeforeKill}, after the restart: ${accepted.length - acceptedBeforeKill}; ` +
        `${accepted.length} of ${result.attempted} attempted; no 250: ${JSON.stringify(result.refusals)}; ` +
        `failed connections while it was down: ${result.connectFailures}; load took ${loadSeconds.toFixed(1)} s`,
    );
    diagnostic(
      `mailbox: ${listed.length} messages (${[...mailbox.keys()].filter((id) => !acceptedSet.has(id)).length} without a 250 to their sender); ` +
        `still queued: ${leftovers.length}; total ${((Date.now() - started) / 1000).toFixed(1)} s; node log ${logFile}`,
    );
    return { run, logFile, attempted: result.attempted, abandoned: result.abandoned, acceptedBeforeKill, acceptedAfterRestart: accepted.length - acceptedBeforeKill, accepted, mailbox, leftovers };
  } finally {
    await stopNode(node);
  }
}

describe('durability, end to end: 2,000 messages over 20 sessions, SIGKILL at a third, restart', () => {
  let observed: Observed | null = null;
  const got = (): Observed => {
    assert.ok(observed !== null, 'the run did not complete (see the failure of the first test)');
    return observed;
  };

  it('accepts mail before the kill and again after the restart, attempting all 2,000', async (t) => {
    observed = await durabilityRun((m) => t.diagnostic(m));
    assert.equal(observed.attempted, TOTAL, `sessions abandoned: ${observed.abandoned.join('; ') || 'none'}`);
    assert.ok(observed.acceptedBeforeKill >= KILL_AT);
    assert.ok(observed.acceptedAfterRestart > 0, 'the restarted node accepted mail too');
  });

  it('loses no message answered 250: each is in the mailbox or still in the queue', () => {
    const o = got();
    const queued = new Set(o.leftovers.map((l) => l.messageId));
    const lost = o.accepted.filter((id) => !o.mailbox.has(id) && !queued.has(id));
    assert.deepEqual(lost, [], `answered 250, then neither delivered nor queued (node log: ${o.logFile})`);
  });

  it('files no message twice', () => {
    // At-least-once allows a duplicate only for a crash between a remote 250 and our bookkeeping;
    // a local delivery can commit the mailbox append and the recipient's outcome together. (Today
    // the restarted node takes back the killed process's leases, so this holds only because the
    // mailbox write and the queue's record of it are one commit.)
    const o = got();
    const twice = [...o.mailbox].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
    assert.deepEqual(twice, [], `filed more than once (node log: ${o.logFile})`);
  });

  it(
    'resumes the queue after the restart: every message answered 250 reaches the mailbox and the queue empties',
    () => {
      const o = got();
      const missing = o.accepted.filter((id) => !o.mailbox.has(id));
      assert.deepEqual(
        { missing, queue: o.leftovers.map((l) => `${l.queueId} <${l.messageId}>${o.accepted.includes(l.messageId) ? ' (answered 250)' : ''}: ${l.recipients.join(', ')}`) },
        { missing: [], queue: [] },
        `answered 250 and not delivered, and what is left in the queue (node log: ${o.logFile})`,
      );
    },
  );
});
