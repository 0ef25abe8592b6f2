/**
 * What the operator commands (account, alias, queue, mailbox, sendmail) share: the store the
 * config names, opened for the length of one command (SQLite in WAL mode, so this works while the
 * server runs on the same file), and output for people (aligned tables, ages and sizes in short
 * units, times in UTC) or for scripts (JSON).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configPathFrom, loadConfig } from '../config/load.ts';
import type { Config, DomainConfig } from '../config/schema.ts';
import { mergeDomains } from '../delivery/domains.ts';
import { errorText } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { openConfiguredStore } from '../main.ts';
import { isStoreError } from '../store/errors.ts';
import type { Store } from '../store/types.ts';
import type { Io } from './io.ts';

export interface CommandContext {
  config: Config;
  store: Store;
  /** The node's domains: the config's [[domain]] tables, then those added with `postern domain add`. */
  domains: readonly DomainConfig[];
}

/** The config named by `--config` (else $POSTERN_CONFIG, else ./postern.toml). */
export function commandConfig(options: { config?: string }, io: Io): Config {
  return loadConfig(configPathFrom(options.config, io.env));
}

/**
 * Runs `run` with the configured store open and closes it afterwards. A store error the command
 * did not handle itself (an invalid address, a closed database) becomes one line and exit 1.
 */
export async function withStore(options: { config?: string; configured?: Config }, io: Io, run: (ctx: CommandContext) => Promise<number>): Promise<number> {
  const config = options.configured ?? commandConfig(options, io);
  // The CLI's output is its answer; store logs would only interleave with it.
  const logger = createLogger({ level: config.log.level === 'debug' ? 'debug' : 'silent' });
  const store = await openConfiguredStore(config, logger);
  try {
    const domains = mergeDomains(config.domains, await store.listDomains()).domains;
    return await run({ config, store, domains });
  } catch (err) {
    if (isStoreError(err)) return fail(io, err.message);
    throw err;
  } finally {
    await store.close();
  }
}

/**
 * The node's domains for a command that does not otherwise need the store (`postern route`): the
 * config's, plus the store's when there is a store to read. An SQLite file that does not exist yet
 * is not created for the question; a store that cannot be read is reported on stderr and the
 * config's domains answer alone.
 */
export async function nodeDomains(config: Config, io: Io): Promise<readonly DomainConfig[]> {
  if (config.storage.url === null && !existsSync(join(config.dataDir, 'postern.db'))) return config.domains;
  try {
    const store = await openConfiguredStore(config, createLogger({ level: config.log.level === 'debug' ? 'debug' : 'silent' }));
    try {
      return mergeDomains(config.domains, await store.listDomains()).domains;
    } finally {
      await store.close();
    }
  } catch (err) {
    io.stderr.write(`postern: warning: could not read the domains kept in the store (${errorText(err)}); using the config file's [[domain]] tables alone\n`);
    return config.domains;
  }
}

/** Prints `postern: message` on stderr; returns exit status 1. */
export function fail(io: Io, message: string): number {
  io.stderr.write(`postern: ${message}\n`);
  return 1;
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Why `domain` cannot hold accounts or aliases on this node, or null when it is a primary domain
 * (`domains`: the node's, from the config file and the store).
 */
export function notPrimaryProblem(config: Config, domains: readonly DomainConfig[], domain: string): string | null {
  const primaries = domains.filter((d) => d.role === 'primary').map((d) => d.name);
  if (primaries.includes(domain)) return null;
  const role = domains.find((d) => d.name === domain)?.role;
  const what = role === 'backup' ? `${domain} is a backup domain on this node (mail for it is held and forwarded, never filed here)` : `${domain} is not a domain of this node`;
  return primaries.length === 0
    ? `${what}; there is no primary domain yet: add one with \`postern domain add NAME\` or a [[domain]] table with role = "primary" in ${config.file ?? 'the config'}`
    : `${what}; its primary domains are: ${primaries.join(', ')} (\`postern domain add ${domain}\` makes it one)`;
}

/**
 * Rows aligned in columns under a header, two spaces apart; the last column is not padded, so a
 * long value there does not widen every line.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** "0s", "45s", "12m", "3h05m", "2d04h": how long ago or how far ahead, to the unit that matters. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** "512 B", "1.5 KiB", "3.2 MiB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** "2026-11-29T10:04:05Z": UTC, to the second, the same on every machine. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Text from a message, safe to print on a terminal: control characters (an escape sequence in a
 * stranger's Subject could rewrite the operator's screen) become "?". Tabs and line feeds stay.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');
}

/** At most `max` characters, with "…" when something was cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + '…';
}
