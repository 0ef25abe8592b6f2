/**
 * `postern queue list|show|retry|delete|hold|release`: the operator's view of messages on their
 * way out (Postfix's mailq, postqueue -f, postsuper -d/-h/-H). Every command works on the same
 * database as the running server; the server's scheduler sees a retried or released recipient at
 * its next poll of the queue.
 */
import { splitMessage } from '../message/headers.ts';
import type { QueuedMessage, QueuedRecipient, Store } from '../store/types.ts';
import { fail, formatDuration, formatSize, formatTime, printable, printJson, withStore } from './format.ts';
import type { Io } from './io.ts';

export interface QueueRecipientJson {
  address: string;
  domain: string;
  route: string;
  state: string;
  attempts: number;
  nextAttemptAt: string;
  lastAttemptAt: string | null;
  lastReply: string | null;
}

export interface QueueMessageJson {
  id: string;
  receivedAt: string;
  ageSeconds: number;
  size: number;
  /** '' for the null sender <>. */
  sender: string;
  source: string;
  envid: string | null;
  ret: string | null;
  recipients: QueueRecipientJson[];
}

function toJson(m: QueuedMessage, now: number): QueueMessageJson {
  return {
    id: m.id,
    receivedAt: formatTime(m.receivedAt),
    ageSeconds: Math.max(0, Math.floor((now - m.receivedAt) / 1000)),
    size: m.size,
    sender: m.sender,
    source: m.source,
    envid: m.envid,
    ret: m.ret,
    recipients: m.recipients.map((r) => ({
      address: r.address,
      domain: r.domain,
      route: r.route,
      state: r.state,
      attempts: r.attempts,
      nextAttemptAt: formatTime(r.nextAttemptAt),
      lastAttemptAt: r.lastAttemptAt === null ? null : formatTime(r.lastAttemptAt),
      lastReply: r.lastReply,
    })),
  };
}

/** When a recipient is tried next, as a person wants to read it. */
function nextText(r: QueuedRecipient, now: number): string {
  if (r.state === 'held') return 'after release';
  if (r.state !== 'queued') return '-';
  return r.nextAttemptAt <= now ? 'now' : `in ${formatDuration(r.nextAttemptAt - now)}`;
}

function recipientLines(m: QueuedMessage, now: number, indent: string): string[] {
  const width = Math.max(...m.recipients.map((r) => r.address.length), 0);
  const out: string[] = [];
  for (const r of m.recipients) {
    const attempts = `${r.attempts} attempt${r.attempts === 1 ? '' : 's'}`;
    out.push(`${indent}${r.state.padEnd(9)} ${r.address.padEnd(width)}  ${r.route.padEnd(6)}  ${attempts.padEnd(11)}  next ${nextText(r, now)}`);
    if (r.lastReply !== null) out.push(`${indent}          last reply: ${printable(r.lastReply)}`);
  }
  return out;
}

const sender = (m: QueuedMessage): string => `<${m.sender}>`;

export async function queueListCommand(options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const now = Date.now();
    const messages = await store.listQueue();
    if (options.json === true) {
      printJson(io, messages.map((m) => toJson(m, now)));
      return 0;
    }
    if (messages.length === 0) {
      io.stdout.write('the queue is empty\n');
      return 0;
    }
    const out: string[] = [];
    const states = new Map<string, number>();
    for (const m of messages) {
      out.push(`${m.id}  age ${formatDuration(now - m.receivedAt)}  ${formatSize(m.size)}  from ${sender(m)}  (${m.source})`);
      out.push(...recipientLines(m, now, '    '));
      for (const r of m.recipients) states.set(r.state, (states.get(r.state) ?? 0) + 1);
    }
    const recipients = [...states.values()].reduce((a, b) => a + b, 0);
    const byState = [...states].map(([s, n]) => `${n} ${s}`).join(', ');
    out.push(`${messages.length} message${messages.length === 1 ? '' : 's'}, ${recipients} recipient${recipients === 1 ? '' : 's'} (${byState})`);
    io.stdout.write(out.join('\n') + '\n');
    return 0;
  });
}

async function requireQueued(store: Store, id: string, io: Io): Promise<QueuedMessage | number> {
  const m = await store.getQueued(id);
  return m ?? fail(io, `no message ${id} in the queue (postern queue list shows the ids)`);
}

export async function queueShowCommand(id: string, options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const m = await requireQueued(store, id, io);
    if (typeof m === 'number') return m;
    const now = Date.now();
    const data = await store.readQueuedData(id);
    // The header section as the message has it, line endings made local for the terminal.
    const header = data === null ? null : new TextDecoder().decode(splitMessage(data).header).replace(/\r\n/g, '\n');
    if (options.json === true) {
      printJson(io, { ...toJson(m, now), header });
      return 0;
    }
    const out = [
      `id          ${m.id}`,
      `received    ${formatTime(m.receivedAt)} (${formatDuration(now - m.receivedAt)} ago)`,
      `source      ${m.source}`,
      `sender      ${sender(m)}`,
      `size        ${formatSize(m.size)} (${m.size} bytes)`,
    ];
    if (m.envid !== null) out.push(`envid       ${m.envid}`);
    if (m.ret !== null) out.push(`ret         ${m.ret}`);
    out.push('recipients');
    out.push(...recipientLines(m, now, '    '));
    out.push('header');
    out.push(header === null ? '    (the message data is gone)' : printable(header.trimEnd()));
    io.stdout.write(out.join('\n') + '\n');
    return 0;
  });
}

export async function queueRetryCommand(id: string | undefined, options: { config?: string; all?: boolean }, io: Io): Promise<number> {
  if ((id === undefined) === (options.all !== true)) return fail(io, 'name one message (postern queue retry ID) or every one (postern queue retry --all)');
  return withStore(options, io, async ({ store }) => {
    const now = Date.now();
    if (id === undefined) {
      const n = await store.retry({ all: true }, now);
      io.stdout.write(`${n} recipient${n === 1 ? '' : 's'} due now\n`);
      return 0;
    }
    const m = await requireQueued(store, id, io);
    if (typeof m === 'number') return m;
    const n = await store.retry({ id }, now);
    const held = m.recipients.filter((r) => r.state === 'held').length;
    io.stdout.write(`${id}: ${n} recipient${n === 1 ? '' : 's'} due now${held > 0 ? ` (${held} on hold: postern queue release ${id})` : ''}\n`);
    return 0;
  });
}

export async function queueDeleteCommand(id: string, options: { config?: string }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const m = await requireQueued(store, id, io);
    if (typeof m === 'number') return m;
    // Deleted without a bounce: the operator decided, so the sender is not told.
    if (!(await store.deleteQueued(id))) return fail(io, `no message ${id} in the queue`);
    const pending = m.recipients.filter((r) => r.state === 'queued' || r.state === 'held').length;
    io.stdout.write(`deleted ${id} (${pending} recipient${pending === 1 ? '' : 's'} not delivered, no bounce sent)\n`);
    return 0;
  });
}

export async function queueHoldCommand(id: string, options: { config?: string }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const m = await requireQueued(store, id, io);
    if (typeof m === 'number') return m;
    const n = await store.hold(id);
    io.stdout.write(n === 0 ? `${id}: no queued recipients to hold\n` : `${id}: ${n} recipient${n === 1 ? '' : 's'} on hold until postern queue release ${id}\n`);
    return 0;
  });
}

export async function queueReleaseCommand(id: string, options: { config?: string }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const m = await requireQueued(store, id, io);
    if (typeof m === 'number') return m;
    const n = await store.release(id, Date.now());
    io.stdout.write(n === 0 ? `${id}: no recipients on hold\n` : `${id}: ${n} recipient${n === 1 ? '' : 's'} released, due now\n`);
    return 0;
  });
}
