/**
 * Running Postern in a test: a config written to a temporary folder, the real composition root, and
 * commands run in-process with their output captured.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/io.ts';
import { loadConfig } from '../../src/config/load.ts';
import { formatHostPort } from '../../src/core/host-port.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { startPostern, type RunningPostern } from '../../src/main.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SCENARIOS = join(ROOT, 'scenarios');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `postern-${prefix}-`));
}

/** Writes `toml` as postern.toml in a fresh folder; returns its path. */
export function writeConfig(toml: string, dir: string = tempDir('config')): string {
  const path = join(dir, 'postern.toml');
  writeFileSync(path, toml);
  return path;
}

/** A Postern DNS server publishing every zone of one scenario folder, on 127.0.0.53 and a free port. */
export async function scenarioDns(scenario: string, host = '127.0.0.53'): Promise<{ postern: RunningPostern; resolver: string }> {
  // This node only answers DNS; its own resolver is never asked, but must not default to the
  // system's (off the machine), so it names a loopback address.
  const path = writeConfig(`hostname = "ns1.test"\n[log]\nlevel = "silent"\n[dns]\nlisten = ["${host}:0"]\nresolvers = ["${host}:53"]\nzones_dir = ${JSON.stringify(join(SCENARIOS, scenario))}\n`);
  const postern = await startPostern(loadConfig(path), silentLogger);
  const dns = postern.endpoints().find((e) => e.service === 'dns');
  if (dns === undefined) throw new Error('the DNS server did not start');
  return { postern, resolver: formatHostPort(dns.address) };
}

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `postern ARGS…` in-process; `stdin` is what the command reads on standard input (default: nothing). */
export async function runCommand(args: string[], env: NodeJS.ProcessEnv = {}, stdin: string | Uint8Array = ''): Promise<CommandResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { POSTERN_LOOPBACK_ONLY: '1', ...env },
    cwd: tempDir('cwd'),
    onSignal: () => () => {},
    stdin: async () => (typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin),
  };
  const status = await main(args, io);
  return { status, stdout, stderr };
}
