/**
 * Several Postern nodes as real `postern start` processes sharing one PostgreSQL database, for the
 * cluster tests: a process can be killed with SIGKILL mid-work, which an in-process node cannot.
 * Also a database of their own per run, a DNS server over a folder of zones assembled for the test,
 * and a slow SMTP sink that records every message it took, duplicates included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { loadConfig } from '../../src/config/load.ts';
import { formatHostPort } from '../../src/core/host-port.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { startPostern, type RunningPostern } from '../../src/main.ts';
import { nodeConfig, type NodeSpec } from './lab.ts';
import { ROOT, SCENARIOS, tempDir, writeConfig } from './postern.ts';

const NODE = join(ROOT, 'node_modules/.bin/node');
const BIN = join(ROOT, 'bin/postern.js');

export { createTestDatabase } from './test-database.ts';

/**
 * A Postern DNS server (in this process) publishing a scenario's zones plus `extra` zone files
 * (name → text), on `host` and a free port.
 */
export async function zonesDns(scenario: string, extra: Record<string, string>, host = '127.0.0.53'): Promise<{ postern: RunningPostern; resolver: string }> {
  const zones = tempDir('zones');
  for (const f of readdirSync(join(SCENARIOS, scenario))) if (f.endsWith('.zone')) copyFileSync(join(SCENARIOS, scenario, f), join(zones, f));
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(zones, file), text);
  const path = writeConfig(`hostname = "ns1.test"\n[log]\nlevel = "silent"\n[dns]\nlisten = ["${host}:0"]\nresolvers = ["${host}:53"]\nzones_dir = ${JSON.stringify(zones)}\n`);
  const postern = await startPostern(loadConfig(path), silentLogger);
  const dns = postern.endpoints().find((e) => e.service === 'dns');
  if (dns === undefined) throw new Error('the DNS server did not start');
  return { postern, resolver: formatHostPort(dns.address) };
}

export interface ProcessNode {
  spec: NodeSpec;
  dir: string;
  config: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** `postern start` in a child process on the lab's config for `spec`; resolves once it is running. */
export async function startProcessNode(spec: NodeSpec, resolver: string, dir: string = tempDir(spec.hostname), timeoutMs = 30_000): Promise<ProcessNode> {
  const config = join(dir, 'postern.toml');
  writeFileSync(config, stringify(nodeConfig(spec, resolver)));
  const logFile = join(dir, 'postern.log');
  const env: NodeJS.ProcessEnv = { ...process.env, POSTERN_LOOPBACK_ONLY: '1' };
  delete env['POSTERN_CONFIG'];
  const child = spawn(NODE, [BIN, 'start', '--config', config], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stderr?.on('data', (d: Buffer) => appendFileSync(logFile, d));
  let stdout = '';
  const running = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${spec.hostname}: postern start did not say it is running within ${timeoutMs} ms (see ${logFile})`)), timeoutMs);
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
      reject(new Error(`${spec.hostname}: postern start exited with ${child.exitCode ?? child.signalCode} before running (see ${logFile})`));
    });
  });
  const node = { spec, dir, config, child, exited };
  try {
    await running;
  } catch (err) {
    await stopProcessNode(node);
    throw err;
  }
  return node;
}

/** SIGTERM (deliveries in progress finish), then SIGKILL if it has not gone within a bound. */
export async function stopProcessNode(node: ProcessNode | undefined): Promise<void> {
  if (node === undefined || node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill('SIGTERM');
  const gone = await Promise.race([node.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
  if (!gone) {
    node.child.kill('SIGKILL');
    await Promise.race([node.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

export interface SinkMessage {
  messageId: string;
  /** When the end of its data arrived, before the (delayed) 250. */
  at: number;
  /** The sending node's address. */
  from: string;
}

export interface SmtpSink {
  /** Every message taken, in arrival order, a message sent twice twice. */
  readonly received: SinkMessage[];
  /** The most connections open at once. */
  readonly peakConnections: number;
  close(): Promise<void>;
}

/**
 * The remote MX: takes every message, records it when its data ends (as a real MTA commits before
 * replying), then waits `delayMs` before the 250, so a sender is slow to get through a queue and a
 * sender killed in that window has delivered a message it never heard accepted.
 */
export async function startSmtpSink(host: string, port: number, delayMs: number): Promise<SmtpSink> {
  const received: SinkMessage[] = [];
  const sockets = new Set<Socket>();
  let peak = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    peak = Math.max(peak, sockets.size);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    let data: string[] | null = null;
    const say = (line: string) => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };
    say('220 sink.remote.test ESMTP');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (data !== null) {
          if (line !== '.') {
            data.push(line);
            continue;
          }
          const id = /^Message-ID:\s*(<[^>]*>)/im.exec(data.join('\r\n'))?.[1] ?? '(none)';
          data = null;
          received.push({ messageId: id, at: Date.now(), from: socket.remoteAddress ?? '' });
          setTimeout(() => say('250 2.0.0 taken'), delayMs);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') say('250 sink.remote.test');
        else if (verb === 'DATA') {
          data = [];
          say('354 go ahead');
        } else if (verb === 'QUIT') {
          say('221 bye');
          socket.end();
        } else say('250 ok');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    received,
    get peakConnections() {
      return peak;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
