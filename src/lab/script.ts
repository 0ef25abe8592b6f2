/**
 * The shape of a scenario's script: the hosts it runs, and steps that each act (send mail, stop a
 * host, bring it back) and then check and say what happened. The runner (runner.ts) gives each
 * step a `LabContext`: the topology and the few operations every script needs.
 */
import type { QueueMessageJson } from '../cli/queue.ts';
import type { Progress } from './progress.ts';
import type { HostSpec, Topology } from './topology.ts';

export interface StepResult {
  observed: string;
  ok: boolean;
}

export interface Step {
  title: string;
  /** What the tutorial says must happen, one line for the summary table. */
  expected: string;
  run(ctx: LabContext): Promise<StepResult>;
}

export interface KeepHintOptions {
  port: number;
  dir: string;
  password: string;
  /** How to run postern from here: "npx postern". */
  postern: string;
}

export interface ScenarioScript {
  /** The folder under scenarios/: "2-datacenters". */
  name: string;
  /** One line: the tutorial section it makes concrete. */
  title: string;
  /** What must happen, a few sentences. */
  story: string;
  hosts: readonly HostSpec[];
  /** The host whose DNS server publishes the scenario's zones; everyone's resolver. */
  dnsHost: string;
  /** The host users submit through (implicit TLS submission, the lab's account). */
  senderHost: string;
  steps: readonly Step[];
}

export interface WaitOptions {
  what: string;
  timeoutMs: number;
  /** For the progress bar: how far along, and of how many. */
  total?: number;
}

export interface LabContext {
  topology: Topology;
  /** The lab's account on the sender host, and its password. */
  user: string;
  password: string;
  progress: Progress;
  signal: AbortSignal;
  /** A line of narration, indented under the step's title. */
  say(text: string): void;
  /** Submits `count` messages to `to` through the sender host, subjects `${prefix} 1`…; returns the subjects. */
  send(to: string, count: number, prefix: string): Promise<string[]>;
  /** Submits through another host's submission service with its own account. */
  submit(host: string, account: { username: string; password: string }, to: string, subjects: readonly string[]): Promise<void>;
  /** Subjects in an account's INBOX on a host (`postern mailbox list --json`); [] when the account has none. */
  inbox(host: string, address: string): Promise<string[]>;
  /** The host's queue (`postern queue list --json`). */
  queue(host: string): Promise<QueueMessageJson[]>;
  /** Polls `check` until it returns done or the time runs out; the last value either way. */
  waitFor<T>(o: WaitOptions, check: () => Promise<{ done: boolean; value: T; progress?: number }>): Promise<{ done: boolean; value: T }>;
  start(...hosts: string[]): Promise<void>;
  stop(...hosts: string[]): Promise<void>;
  /** Subjects sent so far in this run, for the final count. */
  readonly sent: string[];
  /** The line printed under the summary table ("250 of 250 delivered, 0 lost, 0 duplicated"). */
  conclusion: string | null;
}

export function hostsWithService(script: ScenarioScript, service: HostSpec['services'][number]): HostSpec[] {
  return script.hosts.filter((h) => h.services.includes(service));
}
