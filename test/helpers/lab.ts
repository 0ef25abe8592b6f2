/**
 * A scenario's hosts as real Postern nodes on their own 127.x addresses, each with its own config
 * folder and store, resolving through one Postern DNS server that serves the scenario's zones. Short
 * timers from config: a retry in 200 ms, a probe in 300 ms, a greeting timeout of 500 ms.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { loadConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { startPostern, type RunningPostern } from '../../src/main.ts';
import { tempDir } from './postern.ts';

export const SMTP_PORT = 2525;

export interface NodeSpec {
  hostname: string;
  /** The 127.x address the node listens and sends from; none for a sender that only sends. */
  address?: string;
  domains?: Array<[string, 'primary' | 'backup']>;
  accounts?: string[];
  /** Lines of a backup.recipients file. */
  backupRecipients?: string[];
  /** Sections merged over the defaults. */
  config?: Record<string, Record<string, unknown>>;
}

export interface LabNode {
  spec: NodeSpec;
  dir: string;
  postern: RunningPostern;
}

type Table = Record<string, unknown>;

export function nodeConfig(spec: NodeSpec, resolver: string): Table {
  const sections: Record<string, Table> = {
    log: { level: 'silent' },
    dns: { resolvers: [resolver], timeout_ms: 300, attempts: 1 },
    smtp: { outbound_port: SMTP_PORT, ...(spec.address !== undefined ? { listen: [`${spec.address}:${SMTP_PORT}`], source_address: spec.address } : {}) },
    // Short where the scenarios need a dead host found quickly (connect, greeting); generous once a
    // host has answered, since giving up after the peer committed would send the message twice.
    delivery: { connect_timeout: '500ms', greeting_timeout: '500ms', command_timeout: '20s', data_timeout: '20s', data_block_timeout: '20s', data_end_timeout: '30s' },
    queue: { retry_schedule: ['0s', '200ms'], poll_interval: '100ms', delay_warning: '1h', max_age: '1h' },
    backup: { probe_interval: '300ms', drain_rate: 50, drain_concurrency: 2 },
  };
  for (const [name, values] of Object.entries(spec.config ?? {})) sections[name] = { ...(sections[name] ?? {}), ...values };
  return {
    hostname: spec.hostname,
    data_dir: 'data',
    ...sections,
    ...(spec.backupRecipients !== undefined ? { backup: { ...sections['backup'], recipients: 'backup-recipients.txt' } } : {}),
    domain: (spec.domains ?? []).map(([name, role]) => ({ name, role })),
  };
}

export async function startNode(spec: NodeSpec, resolver: string, dir: string = tempDir(spec.hostname)): Promise<LabNode> {
  writeFileSync(join(dir, 'postern.toml'), stringify(nodeConfig(spec, resolver)));
  if (spec.backupRecipients !== undefined) writeFileSync(join(dir, 'backup-recipients.txt'), spec.backupRecipients.join('\n') + '\n');
  const postern = await startPostern(loadConfig(join(dir, 'postern.toml')), silentLogger);
  for (const a of spec.accounts ?? []) {
    if ((await postern.store.getAccount(a)) === null) await postern.store.createAccount({ address: a });
  }
  return { spec, dir, postern };
}

/** Stops the node and starts it again on the same folder: its store and queue survive. */
export async function restartNode(node: LabNode, resolver: string): Promise<LabNode> {
  await node.postern.stop();
  return startNode(node.spec, resolver, node.dir);
}

let sequence = 0;

/** Queues a message at `sender` for delivery by its MX walk, as `postern sendmail` would. */
export async function send(sender: LabNode, to: string, subject = `test ${++sequence}`): Promise<string> {
  const id = `t${Date.now().toString(36)}${(++sequence).toString(36)}`;
  const domain = to.slice(to.lastIndexOf('@') + 1);
  const data = new TextEncoder().encode(`From: alice@sender.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${id}@sender.test>\r\n\r\nhello\r\n`);
  await sender.postern.store.enqueue({ id, receivedAt: Date.now(), sender: 'alice@sender.test', data, source: 'local', recipients: [{ address: to, domain, route: 'remote' }] });
  sender.postern.kickQueue();
  return id;
}

export async function inboxSubjects(node: LabNode, address: string): Promise<string[]> {
  const list = (await node.postern.store.listMessages({ address })) ?? [];
  const out: string[] = [];
  for (const m of list) {
    const bytes = await node.postern.store.readMessage({ address, uid: m.uid });
    const subject = /^Subject: (.*)$/m.exec(new TextDecoder().decode(bytes ?? new Uint8Array()))?.[1] ?? '';
    out.push(subject.trim());
  }
  return out;
}

/** Polls `check` every 50 ms for at most `ms`. */
export async function eventually<T>(check: () => Promise<T | false | null | undefined> | T | false | null | undefined, ms = 15_000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    last = await check();
    if (last !== false && last !== null && last !== undefined) return last as T;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** A listener that accepts connections and never says a word: the MX that hangs. */
export async function silentListener(address: string, port = SMTP_PORT): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
