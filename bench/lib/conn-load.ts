/**
 * The load client of bench/connections.sh: holds many idle SMTP connections and IMAP sessions in
 * IDLE open against one server, and meanwhile measures the server's resident memory and how fast
 * it answers a new client. Plain node:net and node:tls sockets, no dependencies; Node 24 runs it
 * directly (type stripping).
 *
 *   node bench/lib/conn-load.ts --pid PID [--smtp HOST:PORT --smtp-n N] [--imap HOST:PORT --imap-n N
 *     --user U --password P] [options]
 *
 * Phases, in order: memory and new-client probes with nothing held (the baseline); N SMTP
 * connections opened (banner, EHLO, then silence); N IMAP sessions over implicit TLS (LOGIN,
 * SELECT INBOX, IDLE, until "+ idling"); a hold of --hold seconds (the server's CPU time over it is
 * measured: what idle sessions cost); --samples new clients probed one after another; with
 * --deliver one message sent by SMTP to the account, and the IDLE sessions that report the new
 * EXISTS within --exists-timeout counted (the real test that they are alive); NOOP on every held
 * SMTP connection, the replies counted. Then every socket is destroyed.
 *
 * Connections come from many source addresses (--smtp-src / --imap-src, a.b base of 127.a.b.x
 * addresses, --per-source connections each): a server may limit connections per client address,
 * and one address has only ~28,000 ephemeral ports. Every wait is bounded (--step-timeout per
 * protocol step, --deadline for the whole run).
 *
 * Output: progress on stderr, and `RESULT conn LABEL WHAT key=value...` lines on stdout.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    label: { type: 'string', default: 'server' },
    pid: { type: 'string' },
    smtp: { type: 'string' },
    'smtp-n': { type: 'string', default: '0' },
    'smtp-src': { type: 'string', default: '61.0' },
    imap: { type: 'string' },
    'imap-n': { type: 'string', default: '0' },
    'imap-src': { type: 'string', default: '62.0' },
    'probe-src': { type: 'string', default: '127.63.0.1' },
    'per-source': { type: 'string', default: '50' },
    user: { type: 'string', default: 'b@example.test' },
    password: { type: 'string', default: 'benchpass' },
    ehlo: { type: 'string', default: 'client.example.test' },
    concurrency: { type: 'string', default: '100' },
    'imap-concurrency': { type: 'string', default: '16' },
    hold: { type: 'string', default: '30' },
    samples: { type: 'string', default: '20' },
    deliver: { type: 'string' },
    'exists-timeout': { type: 'string', default: '60' },
    'step-timeout': { type: 'string', default: '60' },
    deadline: { type: 'string', default: '3000' },
    // Signal the server (started with --heapsnapshot-signal=SIGUSR2) to write a heap snapshot
    // at the start of the hold: where the held sessions' memory is (the figures of such a run
    // are not for reporting: writing the snapshot stops the server for seconds).
    'heap-snapshot': { type: 'boolean', default: false },
    // Internal: this process is the child that only holds the SMTP connections (see below).
    'smtp-holder': { type: 'boolean', default: false },
  },
  strict: true,
});

function int(name: string, v: string | undefined, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) fail(`--${name} must be an integer 0..${max}`);
  return n;
}
function fail(msg: string): never {
  process.stderr.write(`conn-load: ${msg}\n`);
  process.exit(2);
}
function hostPort(v: string | undefined, name: string): { host: string; port: number } | null {
  if (v === undefined) return null;
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d{1,5})$/.exec(v);
  if (m === null) fail(`--${name} must be 127.x.y.z:PORT (loopback only)`);
  return { host: m[1] as string, port: Number(m[2]) };
}

const LABEL = a.label ?? 'server';
const PID = int('pid', a.pid, 4_194_304);
const SMTP = hostPort(a.smtp, 'smtp');
const IMAP = hostPort(a.imap, 'imap');
const SMTP_N = SMTP === null ? 0 : int('smtp-n', a['smtp-n'], 50_000);
const IMAP_N = IMAP === null ? 0 : int('imap-n', a['imap-n'], 50_000);
const PER_SOURCE = Math.max(1, int('per-source', a['per-source'], 20_000));
const CONCURRENCY = Math.max(1, int('concurrency', a.concurrency, 2000));
const IMAP_CONCURRENCY = Math.max(1, int('imap-concurrency', a['imap-concurrency'], 2000));
const HOLD_S = int('hold', a.hold, 3600);
const SAMPLES = int('samples', a.samples, 1000);
const EXISTS_S = int('exists-timeout', a['exists-timeout'], 3600);
const STEP_MS = 1000 * Math.max(1, int('step-timeout', a['step-timeout'], 3600));
const DEADLINE = Date.now() + 1000 * Math.max(1, int('deadline', a.deadline, 4 * 3600));
const PROBE_SRC = a['probe-src'] ?? '127.63.0.1';
if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(PROBE_SRC)) fail('--probe-src must be a 127.x.y.z address');

// The whole run is bounded even if a step hangs in a way no per-step timer sees.
setTimeout(() => {
  log(`deadline reached; giving up`);
  process.exit(3);
}, DEADLINE - Date.now()).unref();

function log(msg: string): void {
  process.stderr.write(`[conn-load ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
function result(what: string, fields: Record<string, string | number>): void {
  const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : v}`);
  process.stdout.write(`RESULT conn ${LABEL.padEnd(10)} ${what.padEnd(12)} ${kv.join(' ')}\n`);
}

/** Source address number `k` (from 0): 127.A.B.1-254, then 127.A.(B+1).1-254, and so on (never .0 or .255). */
function sourceAddress(base: string, k: number): string {
  const m = /^(\d{1,3})\.(\d{1,3})$/.exec(base);
  if (m === null) fail(`source base must be "A.B" (for 127.A.B.x), got ${base}`);
  const b = Number(m[2]) + Math.floor(k / 254);
  if (b > 255) fail('too many source addresses for this base');
  return `127.${m[1]}.${b}.${(k % 254) + 1}`;
}

// ---------------------------------------------------------------------------------------------
// The server's memory and CPU, from /proc

function procStatus(): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${PID}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}
/** utime + stime of the server, in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(): number {
  const stat = readFileSync(`/proc/${PID}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state): utime is field 14, stime 15.
  return Number(rest[11]) + Number(rest[12]);
}

// ---------------------------------------------------------------------------------------------
// A line-oriented connection with bounded waits

class Conn {
  readonly socket: Socket;
  #buf = '';
  #waiter: { test: (line: string) => boolean; resolve: (line: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  /** Lines that arrive while nobody waits (idle): IDLE's untagged updates, a 421 or a BYE. */
  onIdleLine: ((line: string) => void) | null = null;
  closed = false;
  ready: Promise<void>;

  constructor(socket: Socket, readyEvent: 'connect' | 'secureConnect') {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    this.ready = new Promise((resolve, reject) => {
      socket.once(readyEvent, () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => this.#data(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.#waiter?.reject(new Error('connection closed'));
    });
  }

  #data(chunk: string): void {
    this.#buf += chunk;
    let i: number;
    while ((i = this.#buf.indexOf('\r\n')) >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 2);
      const w = this.#waiter;
      if (w !== null) {
        if (w.test(line)) {
          this.#waiter = null;
          clearTimeout(w.timer);
          w.resolve(line);
        }
      } else this.onIdleLine?.(line);
    }
  }

  /** The first line that passes `test`, others skipped; rejects on close or after the step timeout. */
  expect(test: (line: string) => boolean, ms = STEP_MS): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'));
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(new Error(`timed out after ${ms} ms`));
      }, ms);
      this.#waiter = {
        test,
        resolve,
        reject: (e) => {
          clearTimeout(timer);
          this.#waiter = null;
          reject(e);
        },
        timer,
      };
    });
  }

  send(line: string): void {
    if (!this.closed) this.socket.write(`${line}\r\n`);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const smtpFinal = (line: string): boolean => /^\d{3}(?: |$)/.test(line);

function openTcp(target: { host: string; port: number }, localAddress: string): Conn {
  return new Conn(netConnect({ host: target.host, port: target.port, localAddress }), 'connect');
}
function openTls(target: { host: string; port: number }, localAddress: string): Conn {
  // The node's certificate is self-signed: the benchmark measures the server, not the PKI.
  // (The TCP socket is made here because tls.connect's types do not take a local address.)
  const tcp = netConnect({ host: target.host, port: target.port, localAddress });
  return new Conn(tlsConnect({ socket: tcp, rejectUnauthorized: false }), 'secureConnect');
}

type Outcome = 'held' | 'refused' | 'failed';
const firstError = new Map<string, string>();
function noteError(kind: string, err: unknown): void {
  const text = err instanceof Error ? err.message : String(err);
  const key = `${kind}: ${text.replace(/\d+/g, 'N')}`;
  firstError.set(key, `${kind}: ${text}`);
}

/** SMTP: banner, EHLO, then silence. */
async function smtpSession(target: { host: string; port: number }, src: string): Promise<{ outcome: Outcome; conn: Conn | null }> {
  const c = openTcp(target, src);
  try {
    await c.ready;
    const banner = await c.expect(smtpFinal);
    if (!banner.startsWith('220')) {
      noteError('smtp banner', banner);
      c.destroy();
      return { outcome: 'refused', conn: null };
    }
    c.send(`EHLO ${a.ehlo}`);
    const ehlo = await c.expect(smtpFinal);
    if (!ehlo.startsWith('250')) {
      noteError('smtp ehlo', ehlo);
      c.destroy();
      return { outcome: 'refused', conn: null };
    }
    return { outcome: 'held', conn: c };
  } catch (err) {
    noteError('smtp', err);
    c.destroy();
    return { outcome: 'failed', conn: null };
  }
}

interface ImapHeld {
  conn: Conn;
  /** When the EXISTS after the delivery arrived (ms since epoch), or 0. */
  sawExists: number;
  watching: boolean;
}

/** IMAP over TLS: greeting, LOGIN, SELECT INBOX, IDLE until "+ idling". */
async function imapSession(target: { host: string; port: number }, src: string): Promise<{ outcome: Outcome; held: ImapHeld | null }> {
  const c = openTls(target, src);
  try {
    await c.ready;
    const greeting = await c.expect((l) => l.startsWith('* '));
    if (!greeting.startsWith('* OK')) {
      noteError('imap greeting', greeting);
      c.destroy();
      return { outcome: 'refused', held: null };
    }
    for (const [tag, cmd] of [
      ['a1', `LOGIN "${a.user}" "${a.password}"`],
      ['a2', 'SELECT INBOX'],
    ] as const) {
      c.send(`${tag} ${cmd}`);
      const reply = await c.expect((l) => l.startsWith(`${tag} `) || l.startsWith('* BYE'));
      if (!reply.startsWith(`${tag} OK`)) {
        noteError(`imap ${cmd.split(' ')[0]}`, reply);
        c.destroy();
        return { outcome: 'refused', held: null };
      }
    }
    c.send('a3 IDLE');
    const cont = await c.expect((l) => l.startsWith('+') || l.startsWith('a3 ') || l.startsWith('* BYE'));
    if (!cont.startsWith('+')) {
      noteError('imap IDLE', cont);
      c.destroy();
      return { outcome: 'refused', held: null };
    }
    const held: ImapHeld = { conn: c, sawExists: 0, watching: false };
    c.onIdleLine = (line) => {
      if (held.watching && held.sawExists === 0 && /^\* \d+ EXISTS/.test(line)) held.sawExists = Date.now();
    };
    return { outcome: 'held', held };
  } catch (err) {
    noteError('imap', err);
    c.destroy();
    return { outcome: 'failed', held: null };
  }
}

/** `count` tasks, at most `width` at a time, stopping early at the deadline. */
async function pool(count: number, width: number, what: string, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let done = 0;
  const step = Math.max(1000, Math.ceil(count / 10 / 1000) * 1000);
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count && Date.now() < DEADLINE) {
        const i = next++;
        await task(i);
        if (++done % step === 0) log(`${what}: ${done}/${count}`);
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Probes: a new client, timed

function quantiles(xs: number[]): { med: number; max: number } {
  if (xs.length === 0) return { med: NaN, max: NaN };
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return { med: s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2, max: s[s.length - 1] as number };
}

async function probeSmtp(target: { host: string; port: number }): Promise<{ banner: number; ehlo: number } | null> {
  const t0 = performance.now();
  const c = openTcp(target, PROBE_SRC);
  try {
    await c.ready;
    const banner = await c.expect(smtpFinal, 10_000);
    const t1 = performance.now();
    if (!banner.startsWith('220')) throw new Error(banner);
    c.send(`EHLO ${a.ehlo}`);
    const ehlo = await c.expect(smtpFinal, 10_000);
    const t2 = performance.now();
    if (!ehlo.startsWith('250')) throw new Error(ehlo);
    c.send('QUIT');
    return { banner: t1 - t0, ehlo: t2 - t0 };
  } catch (err) {
    noteError('smtp probe', err);
    return null;
  } finally {
    setTimeout(() => c.destroy(), 200).unref();
  }
}

async function probeImap(target: { host: string; port: number }): Promise<{ greeting: number; login: number } | null> {
  const t0 = performance.now();
  const c = openTls(target, PROBE_SRC);
  try {
    await c.ready;
    const greeting = await c.expect((l) => l.startsWith('* '), 10_000);
    const t1 = performance.now();
    if (!greeting.startsWith('* OK')) throw new Error(greeting);
    c.send(`p1 LOGIN "${a.user}" "${a.password}"`);
    const ok = await c.expect((l) => l.startsWith('p1 ') || l.startsWith('* BYE'), 10_000);
    const t2 = performance.now();
    if (!ok.startsWith('p1 OK')) throw new Error(ok);
    c.send('p2 LOGOUT');
    return { greeting: t1 - t0, login: t2 - t0 };
  } catch (err) {
    noteError('imap probe', err);
    return null;
  } finally {
    setTimeout(() => c.destroy(), 200).unref();
  }
}

async function probes(phase: string): Promise<void> {
  if (SAMPLES === 0) return;
  const sb: number[] = [];
  const se: number[] = [];
  const ig: number[] = [];
  const il: number[] = [];
  for (let i = 0; i < SAMPLES && Date.now() < DEADLINE; i++) {
    if (SMTP !== null) {
      const r = await probeSmtp(SMTP);
      if (r !== null) {
        sb.push(r.banner);
        se.push(r.ehlo);
      }
    }
    if (IMAP !== null) {
      const r = await probeImap(IMAP);
      if (r !== null) {
        ig.push(r.greeting);
        il.push(r.login);
      }
    }
    // Spread over a few seconds rather than back to back, so timers and polls of the held
    // sessions fall in between as they would for a real client.
    await sleep(150);
  }
  const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'NA');
  if (SMTP !== null) {
    const b = quantiles(sb);
    const e = quantiles(se);
    result(phase === 'idle' ? 'probe-smtp-0' : 'probe-smtp', { phase, samples: SAMPLES, ok: sb.length, banner_med_ms: ms(b.med), banner_max_ms: ms(b.max), ehlo_med_ms: ms(e.med), ehlo_max_ms: ms(e.max) });
  }
  if (IMAP !== null) {
    const g = quantiles(ig);
    const l = quantiles(il);
    result(phase === 'idle' ? 'probe-imap-0' : 'probe-imap', { phase, samples: SAMPLES, ok: ig.length, greeting_med_ms: ms(g.med), greeting_max_ms: ms(g.max), login_med_ms: ms(l.med), login_max_ms: ms(l.max) });
  }
}

// ---------------------------------------------------------------------------------------------
// The SMTP holder (a child of the main client): opens the connections, reports, waits for
// "check", sends NOOP on each, reports again, and is then killed by its parent.

if (a['smtp-holder'] && SMTP !== null) {
  const held: Conn[] = [];
  let refused = 0;
  let failed = 0;
  const t = performance.now();
  await pool(SMTP_N, CONCURRENCY, 'smtp', async (i) => {
    const r = await smtpSession(SMTP, sourceAddress(a['smtp-src'] ?? '61.0', Math.floor(i / PER_SOURCE)));
    if (r.outcome === 'held' && r.conn !== null) held.push(r.conn);
    else if (r.outcome === 'refused') refused++;
    else failed++;
  });
  const report = (noopOk: number): HolderReport => ({
    held: held.length,
    refused,
    failed,
    openS: (performance.now() - t) / 1000,
    closedByServer: held.filter((c) => c.closed).length,
    noopOk,
    errors: [...firstError.values()],
  });
  const opened = report(0);
  process.send?.(opened);
  process.once('message', async () => {
    let noopOk = 0;
    await Promise.all(
      held
        .filter((c) => !c.closed)
        .map(async (c) => {
          try {
            c.send('NOOP');
            if ((await c.expect(smtpFinal, 30_000)).startsWith('250')) noopOk++;
          } catch {
            // counted as not alive
          }
        }),
    );
    process.send?.({ ...report(noopOk), openS: opened.openS });
  });
  // Held until the parent kills this process (or it goes away: the IPC channel closes).
  process.once('disconnect', () => process.exit(0));
  await new Promise(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// The run

const mem = (): { rssKiB: number; hwmKiB: number } => procStatus();
const mem0 = mem();
log(`${LABEL} pid ${PID}: VmRSS ${mem0.rssKiB} KiB before any load`);
await probes('idle');

// The SMTP connections are held by a child process: a process may have only so many open
// descriptors (RLIMIT_NOFILE, 20,000 on the machine this was written on, not raisable without
// CAP_SYS_RESOURCE), and 2 x 10,000 sockets in one client would not fit.
interface HolderReport {
  held: number;
  refused: number;
  failed: number;
  openS: number;
  closedByServer: number;
  noopOk: number;
  errors: string[];
}
let holder: ReturnType<typeof fork> | null = null;
const fromHolder = (): Promise<HolderReport> =>
  new Promise((resolve, reject) => {
    if (holder === null) return reject(new Error('no holder'));
    const h = holder;
    const onExit = (): void => reject(new Error('the SMTP holder exited'));
    h.once('exit', onExit);
    h.once('message', (m) => {
      h.off('exit', onExit);
      resolve(m as HolderReport);
    });
  });
let smtpReport: HolderReport = { held: 0, refused: 0, failed: 0, openS: 0, closedByServer: 0, noopOk: 0, errors: [] };
if (SMTP !== null && SMTP_N > 0) {
  holder = fork(process.argv[1] as string, [...process.argv.slice(2), '--smtp-holder'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  smtpReport = await fromHolder();
  log(`smtp: ${smtpReport.held} held, ${smtpReport.refused} refused, ${smtpReport.failed} failed in ${smtpReport.openS.toFixed(1)} s`);
}
const memSmtp = mem();

const imapHeld: ImapHeld[] = [];
let imapRefused = 0;
let imapFailed = 0;
let imapOpenS = 0;
if (IMAP !== null && IMAP_N > 0) {
  const t = performance.now();
  await pool(IMAP_N, IMAP_CONCURRENCY, 'imap', async (i) => {
    const r = await imapSession(IMAP, sourceAddress(a['imap-src'] ?? '62.0', Math.floor(i / PER_SOURCE)));
    if (r.outcome === 'held' && r.held !== null) imapHeld.push(r.held);
    else if (r.outcome === 'refused') imapRefused++;
    else imapFailed++;
  });
  imapOpenS = (performance.now() - t) / 1000;
  log(`imap: ${imapHeld.length} held, ${imapRefused} refused, ${imapFailed} failed in ${imapOpenS.toFixed(1)} s`);
}
const memAll = mem();

// The hold: what the held sessions cost the server while nothing happens.
const ticks0 = cpuTicks();
const hold0 = performance.now();
log(`holding for ${HOLD_S} s`);
if (a['heap-snapshot']) {
  process.kill(PID, 'SIGUSR2');
  log('asked the server for a heap snapshot (SIGUSR2)');
}
await sleep(HOLD_S * 1000);
const holdS = (performance.now() - hold0) / 1000;
const cpuPct = ((cpuTicks() - ticks0) / 100 / holdS) * 100;
const memHold = mem();

await probes('held');
const memProbed = mem();

// One message to the account: every IDLE session should report it.
let existsSeen = 0;
let existsWatched = 0;
let existsMed = NaN;
let existsMax = NaN;
let deliverOk = false;
if (a.deliver !== undefined && SMTP !== null && imapHeld.length > 0) {
  const live = imapHeld.filter((h) => !h.conn.closed);
  existsWatched = live.length;
  for (const h of live) h.watching = true;
  const c = openTcp(SMTP, PROBE_SRC);
  let t0 = 0;
  try {
    await c.ready;
    await c.expect(smtpFinal);
    for (const cmd of [`EHLO ${a.ehlo}`, 'MAIL FROM:<a@example.test>', `RCPT TO:<${a.deliver}>`, 'DATA']) {
      c.send(cmd);
      const r = await c.expect(smtpFinal);
      if (!/^[23]/.test(r)) throw new Error(`${cmd}: ${r}`);
    }
    c.send(`Subject: connections bench\r\nFrom: <a@example.test>\r\nTo: <${a.deliver}>\r\n\r\nOne message for every IDLE session.\r\n.`);
    const r = await c.expect(smtpFinal);
    t0 = Date.now();
    if (!r.startsWith('250')) throw new Error(`end of data: ${r}`);
    deliverOk = true;
    c.send('QUIT');
  } catch (err) {
    noteError('deliver', err);
  } finally {
    setTimeout(() => c.destroy(), 200).unref();
  }
  if (deliverOk) {
    const until = Math.min(DEADLINE, t0 + EXISTS_S * 1000);
    while (Date.now() < until && live.some((h) => h.sawExists === 0 && !h.conn.closed)) await sleep(50);
    const lat = live.filter((h) => h.sawExists > 0).map((h) => h.sawExists - t0);
    existsSeen = lat.length;
    ({ med: existsMed, max: existsMax } = quantiles(lat));
    log(`EXISTS seen by ${existsSeen} of ${existsWatched} IDLE sessions`);
  }
}

// NOOP on every held SMTP connection: which are still there.
if (holder !== null) {
  const report = fromHolder();
  holder.send('check');
  smtpReport = await report;
  log(`NOOP answered on ${smtpReport.noopOk} of ${smtpReport.held} SMTP connections`);
  for (const e of smtpReport.errors) log(`seen (smtp holder): ${e}`);
  holder.kill();
}
const memEnd = mem();

const per = (after: number, before: number, n: number): string => (n > 0 ? ((after - before) / n).toFixed(1) : 'NA');
if (SMTP !== null && SMTP_N > 0) {
  result('smtp-hold', {
    want: SMTP_N,
    held: smtpReport.held,
    refused: smtpReport.refused,
    failed: smtpReport.failed,
    open_s: smtpReport.openS,
    closed_by_server: smtpReport.closedByServer,
    noop_ok: smtpReport.noopOk,
  });
}
if (IMAP !== null && IMAP_N > 0) {
  result('imap-hold', {
    want: IMAP_N,
    held: imapHeld.length,
    refused: imapRefused,
    failed: imapFailed,
    open_s: imapOpenS,
    closed_by_server: imapHeld.filter((h) => h.conn.closed).length,
    delivered: deliverOk ? 1 : 0,
    exists_seen: existsSeen,
    exists_watched: existsWatched,
    exists_med_ms: Number.isFinite(existsMed) ? existsMed : 'NA',
    exists_max_ms: Number.isFinite(existsMax) ? existsMax : 'NA',
  });
}
result('memory', {
  base_rss_kib: mem0.rssKiB,
  smtp_rss_kib: memSmtp.rssKiB,
  all_rss_kib: memAll.rssKiB,
  hold_rss_kib: memHold.rssKiB,
  probed_rss_kib: memProbed.rssKiB,
  end_rss_kib: memEnd.rssKiB,
  hwm_kib: memEnd.hwmKiB,
  per_smtp_kib: per(memSmtp.rssKiB, mem0.rssKiB, smtpReport.held),
  per_imap_kib: per(memAll.rssKiB, memSmtp.rssKiB, imapHeld.length),
});
result('cpu', { hold_s: holdS, cpu_pct: cpuPct });
for (const e of firstError.values()) log(`seen: ${e}`);

for (const h of imapHeld) h.conn.destroy();
process.exit(0);
