/**
 * `postern lab SCENARIO`: picks a free port, writes the topology into a temporary folder, starts
 * every host as its own process, runs the scenario's steps with narration and a progress bar, and
 * prints the summary table. Every process it started is stopped on the way out, whether the run
 * ended, failed, or was interrupted with Ctrl-C; with `keep`, only after Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Io } from '../cli/io.ts';
import type { QueueMessageJson } from '../cli/queue.ts';
import type { MailboxMessageJson } from '../cli/mailbox.ts';
import { errorText } from '../core/errors.ts';
import { pickPort } from './ports.ts';
import { Progress } from './progress.ts';
import { summaryTable, type SummaryRow } from './report.ts';
import { labScenarios, LAB_USER, type ScenarioOptions } from './scenarios.ts';
import type { LabContext, ScenarioScript } from './script.ts';
import { submitMessages } from './submit.ts';
import { servicePort, Topology } from './topology.ts';

export interface LabOptions extends ScenarioOptions {
  io: Io;
  /** Folder of the scenario folders (the package's scenarios/). */
  scenariosDir: string;
  node: string;
  bin: string;
  keep?: boolean;
  /** How to run postern in printed commands. */
  postern?: string;
}

/** Exit statuses: every step ok, some step not, interrupted (128 + SIGINT). */
export const LabExit = { Ok: 0, Failed: 1, Usage: 2, Interrupted: 130 } as const;

/** The scenario folders present in `dir` that have a script, in order. */
export function availableScenarios(dir: string, o: ScenarioOptions = {}): ScenarioScript[] {
  const folders = existsSync(dir) ? new Set(readdirSync(dir)) : new Set<string>();
  return labScenarios(o).filter((s) => folders.has(s.name));
}

export function listText(scripts: readonly ScenarioScript[]): string {
  const width = Math.max(0, ...scripts.map((s) => s.name.length));
  const lines = ['Scenarios (postern lab SCENARIO runs one; --keep leaves it running):'];
  for (const s of scripts) lines.push(`  ${s.name.padEnd(width)}  ${s.title}`);
  return lines.join('\n') + '\n';
}

function isTty(stream: { write(text: string): unknown }): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

export async function runLab(name: string, o: LabOptions): Promise<number> {
  const { io } = o;
  const out = (text: string): void => void io.stdout.write(text);
  const script = availableScenarios(o.scenariosDir, o).find((s) => s.name === name);
  if (script === undefined) {
    io.stderr.write(`postern lab: no scenario ${JSON.stringify(name)}\n`);
    io.stderr.write(listText(availableScenarios(o.scenariosDir, o)));
    return LabExit.Usage;
  }
  const progress = new Progress({ write: (t) => io.stderr.write(t), tty: isTty(io.stderr) });
  const dns = script.hosts.find((h) => h.name === script.dnsHost);
  const sender = script.hosts.find((h) => h.name === script.senderHost);
  if (dns === undefined || sender === undefined) throw new Error(`scenario ${name}: its DNS or sender host is missing`);

  const port = await pickPort({ addresses: [...new Set(script.hosts.map((h) => h.address))], udpAddresses: [dns.address] });
  if (port === null) {
    io.stderr.write('postern lab: no port of 2700-2799 is free on every address of the scenario\n');
    return LabExit.Failed;
  }
  const dir = mkdtempSync(join(tmpdir(), `postern-lab-${name}-`));
  const password = randomBytes(9).toString('base64url');
  const topology = new Topology({
    hosts: script.hosts,
    dir,
    port,
    resolver: `${dns.address}:${servicePort('dns', port, dns)}`,
    zonesDir: join(o.scenariosDir, name),
    node: o.node,
    bin: o.bin,
    env: { ...io.env, POSTERN_LOOPBACK_ONLY: '1', POSTERN_CONFIG: undefined },
    password,
  });

  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    progress.done();
    io.stderr.write('\ninterrupted: stopping every host…\n');
    abort.abort();
    void topology.stopAll();
  };
  const offs = [io.onSignal('SIGINT', onSignal), io.onSignal('SIGTERM', onSignal)];
  // Last resort: should this process end without reaching the `finally` below (process.exit
  // somewhere, a fatal error), no host may outlive it.
  const killNow = (): void => topology.killNow();
  process.once('exit', killNow);

  const rows: SummaryRow[] = [];
  let ok = false;
  try {
    out(`postern lab ${name}: ${script.title}\n${script.story}\n\n`);
    out(`Hosts (port ${port}, folders under ${dir}):\n`);
    for (const h of script.hosts) out(`  ${h.name.padEnd(8)} ${h.address.padEnd(12)} ${h.hostname.padEnd(24)} ${h.role}\n`);
    out('\n');

    await topology.prepare();
    // The DNS server first: every other host resolves through it.
    const others = script.hosts.filter((h) => h.name !== dns.name).map((h) => h.name);
    let started = 0;
    progress.update(0, script.hosts.length, 'starting hosts');
    await topology.start(dns.name);
    progress.update(++started, script.hosts.length, 'starting hosts');
    await Promise.all(
      others.map(async (h) => {
        await topology.start(h);
        progress.update(++started, script.hosts.length, 'starting hosts');
      }),
    );
    progress.done();
    out(`every host is running\n\n`);

    const ctx = context({ script, topology, progress, password, signal: abort.signal, out, senderAddress: sender.address, port });
    for (const [i, step] of script.steps.entries()) {
      if (abort.signal.aborted) break;
      out(`Step ${i + 1}/${script.steps.length}: ${step.title}\n  expected: ${step.expected}\n`);
      let result: { observed: string; ok: boolean };
      let broken = false;
      try {
        result = await step.run(ctx);
      } catch (err) {
        if (abort.signal.aborted) break;
        // A step that could not act or look (a host would not start, a command failed): the
        // steps after it would only report the same trouble.
        broken = true;
        result = { observed: `error: ${errorText(err)}`, ok: false };
      } finally {
        progress.done();
      }
      rows.push({ step: step.title, expected: step.expected, ...result });
      out(`  ${result.ok ? 'ok' : 'FAIL'}: ${result.observed}\n\n`);
      if (broken) break;
    }
    if (interrupted) return LabExit.Interrupted;
    for (const s of script.steps.slice(rows.length)) rows.push({ step: s.title, expected: s.expected, observed: 'not run', ok: false });
    out(`Summary of ${name}\n${summaryTable(rows)}`);
    ok = rows.every((r) => r.ok);
    if (ctx.conclusion !== null) out(`\n${ctx.conclusion}\n`);
    out(ok ? `\nevery step went as the tutorial says\n` : `\nsome steps did not go as expected: the hosts' logs are in ${dir}/*/postern.log\n`);

    if (o.keep === true && !interrupted) {
      out('\n' + keepText(script, { port, dir, password, postern: o.postern ?? 'npx postern' }));
      await new Promise<void>((resolve) => {
        if (abort.signal.aborted) resolve();
        abort.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return interrupted ? LabExit.Interrupted : ok ? LabExit.Ok : LabExit.Failed;
  } catch (err) {
    progress.done();
    if (interrupted) return LabExit.Interrupted;
    io.stderr.write(`postern lab: ${errorText(err)}\n  the hosts' folders and logs are in ${dir}\n`);
    return LabExit.Failed;
  } finally {
    await topology.stopAll();
    process.off('exit', killNow);
    for (const off of offs) off();
    // A run that went well leaves nothing behind; otherwise the logs are worth reading.
    if (ok) rmSync(dir, { recursive: true, force: true });
    if (interrupted) io.stderr.write(ok ? 'stopped\n' : `stopped; the hosts' folders and logs are in ${dir}\n`);
  }
}

interface ContextOptions {
  script: ScenarioScript;
  topology: Topology;
  progress: Progress;
  password: string;
  signal: AbortSignal;
  out: (text: string) => void;
  senderAddress: string;
  port: number;
}

function context(o: ContextOptions): LabContext {
  const { topology, progress, signal } = o;
  const sent: string[] = [];
  const ctx: LabContext = {
    topology,
    user: LAB_USER,
    password: o.password,
    progress,
    signal,
    sent,
    conclusion: null,
    say: (text) => {
      progress.done();
      o.out(`  ${text}\n`);
    },
    async send(to, n, prefix) {
      const subjects = Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);
      progress.update(0, n, `submitting to ${o.script.senderHost}`);
      await submitMessages({
        host: o.senderAddress,
        port: servicePort('submission', o.port),
        username: LAB_USER,
        password: o.password,
        messages: subjects.map((subject) => ({ from: LAB_USER, to, subject })),
        onSent: (k) => progress.update(k, n, `submitting to ${o.script.senderHost}`),
      });
      progress.done();
      sent.push(...subjects);
      return subjects;
    },
    async submit(host, account, to, subjects) {
      await submitMessages({
        host: topology.host(host).address,
        port: servicePort('submission', o.port),
        username: account.username,
        password: account.password,
        messages: subjects.map((subject) => ({ from: account.username, to, subject })),
      });
      sent.push(...subjects);
    },
    async inbox(host, address) {
      const r = await topology.cli(host, ['mailbox', 'list', address, '--json']);
      if (r.status !== 0) {
        if (/no account/.test(r.stderr)) return [];
        throw new Error(`${host}: postern mailbox list ${address} failed: ${r.stderr.trim() || `status ${r.status}`}`);
      }
      return (JSON.parse(r.stdout) as MailboxMessageJson[]).map((m) => m.subject ?? '');
    },
    queue: (host) => topology.cliJson<QueueMessageJson[]>(host, ['queue', 'list']),
    async waitFor(w, check) {
      const until = Date.now() + w.timeoutMs;
      for (;;) {
        if (signal.aborted) throw new Error('interrupted');
        const r = await check();
        if (w.total !== undefined) progress.update(r.progress ?? 0, w.total, `waiting: ${w.what}`);
        else {
          // Nothing to count: the bar shows the time spent against the time allowed.
          const seconds = Math.round((Date.now() - (until - w.timeoutMs)) / 1000);
          progress.update(seconds, Math.round(w.timeoutMs / 1000), `s waiting for ${w.what}`);
        }
        if (r.done || Date.now() >= until) {
          progress.done();
          if (!r.done) ctx.say(`gave up waiting for ${w.what} after ${Math.round(w.timeoutMs / 1000)} s`);
          return { done: r.done, value: r.value };
        }
        await pause(300, signal);
      }
    },
    async start(...hosts) {
      await Promise.all(hosts.map((h) => topology.start(h)));
      ctx.say(`started ${hosts.join(' and ')}`);
    },
    async stop(...hosts) {
      await Promise.all(hosts.map((h) => topology.stop(h)));
    },
  };
  return ctx;
}

/** What --keep prints: the hosts with their services, and commands to try against them. */
export function keepText(script: ScenarioScript, o: { port: number; dir: string; password: string; postern: string }): string {
  const lines: string[] = ['The topology keeps running. Hosts:'];
  for (const h of script.hosts) {
    const services = h.services.map((s) => `${s} ${h.address}:${servicePort(s, o.port, h)}`).join(', ');
    lines.push(`  ${h.name.padEnd(8)} ${h.hostname.padEnd(24)} ${services}`);
  }
  const dns = script.hosts.find((h) => h.name === script.dnsHost);
  const sender = script.hosts.find((h) => h.name === script.senderHost);
  const zone = script.hosts.flatMap((h) => h.domains ?? []).find(([d, role]) => role === 'primary' && d !== 'sender.test')?.[0];
  const mx = script.hosts.find((h) => h.name !== script.senderHost && h.services.includes('smtp') && (h.accounts ?? []).length > 0);
  const account = mx?.accounts?.[0];
  const cfg = (name: string): string => join(o.dir, name, 'postern.toml');
  lines.push('', 'Try:');
  if (dns !== undefined && zone !== undefined) lines.push(`  dig @${dns.address} -p ${servicePort('dns', o.port, dns)} ${zone} MX +norecurse`);
  if (mx !== undefined && account !== undefined) {
    lines.push(`  swaks --server ${mx.address}:${o.port} --from ${LAB_USER} --to ${account}`);
    if (sender !== undefined) {
      lines.push(`  swaks --server ${sender.address}:${servicePort('submission', o.port)} --tls-on-connect --auth PLAIN --auth-user ${LAB_USER} --auth-password ${o.password} --from ${LAB_USER} --to ${account}`);
    }
    lines.push(`  ${o.postern} mailbox list ${account} --config ${cfg(mx.name)}`);
  }
  if (sender !== undefined) lines.push(`  ${o.postern} queue list --config ${cfg(sender.name)}`);
  for (const h of script.hosts.filter((x) => x.services.includes('imap'))) {
    const user = h.accounts?.[0];
    if (user !== undefined) lines.push(`  curl -k --ssl-reqd --user '${user}:${o.password}' 'imap://${h.address}:${servicePort('imap', o.port)}/INBOX;UID=1'`);
  }
  lines.push(`Every account's password: ${o.password}. Logs: ${o.dir}/HOST/postern.log. Ctrl-C stops every host.`);
  return lines.join('\n') + '\n';
}
