/**
 * A scenario's hosts as real Postern processes: a folder per host with its postern.toml (short
 * timers, so that a dead host is noticed in a second rather than minutes), one
 * `node bin/postern.js start` child each, and the operator commands (`account add`, `queue list`,
 * `mailbox list`, `route`) run as children against a host's config. Every process started here is
 * stopped by `stopAll()`: SIGTERM, then SIGKILL when it does not exit in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import type { DomainRole } from '../config/schema.ts';

export type LabService = 'dns' | 'smtp' | 'submission' | 'imap' | 'pop3';

export interface HostSpec {
  /** Short name in the narration: "smtp1", "dallas-1", "sender". */
  name: string;
  hostname: string;
  /** The 127.x address every service of the host listens on and sends from. */
  address: string;
  /** What this host is in the scenario, one line. */
  role: string;
  services: readonly LabService[];
  domains?: ReadonlyArray<readonly [string, DomainRole]>;
  /** Accounts created before the host starts, with the lab's password. */
  accounts?: readonly string[];
  /** Lines of a backup.recipients file (a backup MX's list of who the primary accepts). */
  backupRecipients?: readonly string[];
  /** Sections merged over the defaults. */
  config?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

type Table = Record<string, unknown>;

export interface HostConfigOptions {
  port: number;
  /** "127.0.0.53:2701": the scenario's DNS server, every host's only resolver. */
  resolver: string;
  /** Absolute path of the scenario's zone files (read by hosts with the dns service). */
  zonesDir: string;
}

/** The postern.toml of one host, as a table for smol-toml. */
export function hostConfig(spec: HostSpec, o: HostConfigOptions): Table {
  const at = `${spec.address}:${o.port}`;
  const has = (s: LabService): boolean => spec.services.includes(s);
  const sections: Record<string, Table> = {
    log: { level: 'info' },
    dns: { resolvers: [o.resolver], timeout_ms: 300, attempts: 1, ...(has('dns') ? { listen: [`${spec.address}:${servicePort('dns', o.port, spec)}`], zones_dir: o.zonesDir } : {}) },
    smtp: { outbound_port: o.port, source_address: spec.address, ...(has('smtp') ? { listen: [at] } : {}) },
    // Short where a dead host must be found quickly (connect, greeting); generous once a host has
    // answered, since giving up after the peer committed would send the message twice.
    delivery: { connect_timeout: '500ms', greeting_timeout: '1s', command_timeout: '20s', data_timeout: '20s', data_block_timeout: '20s', data_end_timeout: '30s' },
    queue: { retry_schedule: ['0s', '500ms', '1s'], poll_interval: '200ms', delay_warning: '1h', max_age: '1h' },
    backup: { probe_interval: '500ms', drain_rate: 20, drain_concurrency: 2 },
  };
  if (has('submission')) sections['submission'] = { tls_listen: [`${spec.address}:${servicePort('submission', o.port)}`] };
  if (has('imap')) sections['imap'] = { listen: [`${spec.address}:${servicePort('imap', o.port)}`] };
  if (has('pop3')) sections['pop3'] = { listen: [`${spec.address}:${servicePort('pop3', o.port)}`] };
  for (const [name, values] of Object.entries(spec.config ?? {})) sections[name] = { ...(sections[name] ?? {}), ...values };
  if (spec.backupRecipients !== undefined) sections['backup'] = { ...sections['backup'], recipients: 'backup-recipients.txt' };
  return {
    hostname: spec.hostname,
    data_dir: 'data',
    ...sections,
    domain: (spec.domains ?? []).map(([name, role]) => ({ name, role })),
  };
}

/**
 * The ports of a host's services: SMTP on `port`, submission (implicit TLS) +1, IMAP +2, POP3 +3.
 * DNS is on `port` too, except on a host that also runs SMTP (5-vps): the DNS server listens on
 * TCP as well (RFC 7766), so there it takes +4.
 */
export function servicePort(service: LabService, port: number, host?: Pick<HostSpec, 'services'>): number {
  if (service === 'dns' && host?.services.includes('smtp') === true) return port + 4;
  return port + ({ dns: 0, smtp: 0, submission: 1, imap: 2, pop3: 3 } as const)[service];
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface TopologyOptions {
  hosts: readonly HostSpec[];
  /** The folder that gets a subfolder per host. */
  dir: string;
  port: number;
  resolver: string;
  zonesDir: string;
  /** The node binary and bin/postern.js: each host and each command is `node postern.js …`. */
  node: string;
  bin: string;
  env: NodeJS.ProcessEnv;
  /** Password of every account the lab creates. */
  password: string;
  /** Bounds, in milliseconds. */
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  commandTimeoutMs?: number;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  log: WriteStream;
}

export class Topology {
  readonly #o: TopologyOptions;
  readonly #running = new Map<string, Running>();
  readonly #commands = new Set<ChildProcess>();

  constructor(options: TopologyOptions) {
    this.#o = options;
  }

  get hosts(): readonly HostSpec[] {
    return this.#o.hosts;
  }

  get port(): number {
    return this.#o.port;
  }

  get dir(): string {
    return this.#o.dir;
  }

  host(name: string): HostSpec {
    const h = this.#o.hosts.find((x) => x.name === name);
    if (h === undefined) throw new Error(`no host ${name} in this scenario`);
    return h;
  }

  hostDir(name: string): string {
    return join(this.#o.dir, name);
  }

  configPath(name: string): string {
    return join(this.hostDir(name), 'postern.toml');
  }

  isRunning(name: string): boolean {
    return this.#running.has(name);
  }

  /** Writes every host's folder and config, and creates the accounts (the hosts are not running yet). */
  async prepare(): Promise<void> {
    for (const h of this.#o.hosts) {
      const dir = this.hostDir(h.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'postern.toml'), stringify(hostConfig(h, { port: this.#o.port, resolver: this.#o.resolver, zonesDir: this.#o.zonesDir })));
      if (h.backupRecipients !== undefined) writeFileSync(join(dir, 'backup-recipients.txt'), h.backupRecipients.join('\n') + '\n');
    }
    // One host's accounts in sequence (one SQLite file), the hosts side by side.
    await Promise.all(
      this.#o.hosts.map(async (h) => {
        for (const a of h.accounts ?? []) {
          const r = await this.cli(h.name, ['account', 'add', a, '--password-stdin'], this.#o.password + '\n');
          if (r.status !== 0) throw new Error(`${h.name}: account add ${a} failed: ${r.stderr.trim() || r.stdout.trim()}`);
        }
      }),
    );
  }

  /** Starts `postern start` for the host and waits for its "Postern is running" banner. */
  async start(name: string): Promise<void> {
    if (this.#running.has(name)) return;
    const dir = this.hostDir(name);
    const log = createWriteStream(join(dir, 'postern.log'), { flags: 'a' });
    const child = spawn(this.#o.node, [this.#o.bin, 'start', '--config', this.configPath(name)], { cwd: dir, env: this.#o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.#running.set(name, { child, exited, log });
    void exited.then(() => {
      if (this.#running.get(name)?.child === child) this.#running.delete(name);
      log.end();
    });
    let seen = '';
    let errors = '';
    child.stderr?.on('data', (d: Buffer) => {
      errors = (errors + d.toString('utf8')).slice(-4000);
      log.write(d);
    });
    const timeout = this.#o.startTimeoutMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not say "Postern is running" within ${timeout} ms`), timeout);
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new Error(`${name} (${this.host(name).hostname}) ${why}${errors.trim() === '' ? '' : `:\n${errors.trim()}`}`));
      };
      child.stdout?.on('data', (d: Buffer) => {
        log.write(d);
        if (seen.length > 100_000) return;
        seen += d.toString('utf8');
        if (seen.includes('Postern is running')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => fail(`exited while starting (${signal ?? `status ${code}`})`));
      child.once('error', (err) => fail(`could not be started: ${err.message}`));
    });
  }

  /** Stops one host: SIGTERM, then SIGKILL after the bound. */
  async stop(name: string): Promise<void> {
    const r = this.#running.get(name);
    if (r === undefined) return;
    r.child.kill('SIGTERM');
    const bound = this.#o.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), bound)));
    if ((await Promise.race([r.exited, late])) === 'late') {
      r.child.kill('SIGKILL');
      await r.exited;
    }
    clearTimeout(timer);
    this.#running.delete(name);
  }

  /** Stops every host and every command still running. Safe to call more than once. */
  async stopAll(): Promise<void> {
    for (const c of this.#commands) c.kill('SIGKILL');
    await Promise.all([...this.#running.keys()].map((n) => this.stop(n)));
  }

  /** SIGKILL to everything at once, synchronously: for a process that is exiting right now. */
  killNow(): void {
    for (const c of this.#commands) c.kill('SIGKILL');
    for (const r of this.#running.values()) r.child.kill('SIGKILL');
  }

  /** Runs `postern ARGS… --config HOST/postern.toml` as a child process. */
  cli(name: string, args: readonly string[], stdin = ''): Promise<CliResult> {
    const child = spawn(this.#o.node, [this.#o.bin, ...args, '--config', this.configPath(name)], { cwd: this.hostDir(name), env: this.#o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#commands.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.stdin?.on('error', () => {});
    child.stdin?.end(stdin);
    const bound = this.#o.commandTimeoutMs ?? 60_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), bound);
    return new Promise((resolve) => {
      const done = (status: number): void => {
        clearTimeout(timer);
        this.#commands.delete(child);
        resolve({ status, stdout, stderr });
      };
      child.once('error', (err) => {
        stderr += err.message;
        done(127);
      });
      child.once('close', (code, signal) => done(code ?? (signal === 'SIGKILL' ? 137 : 1)));
    });
  }

  /** `cli` parsing the JSON it prints; throws with the command's own message when it fails. */
  async cliJson<T>(name: string, args: readonly string[]): Promise<T> {
    const r = await this.cli(name, [...args, '--json']);
    if (r.status !== 0) throw new Error(`${name}: postern ${args.join(' ')} failed: ${r.stderr.trim() || `status ${r.status}`}`);
    return JSON.parse(r.stdout) as T;
  }
}
