/**
 * postern.toml in, a frozen typed Config out. Every error names the file, the key and what is
 * wrong: `postern.toml: dns.listen[0]: "127.0.0.1" needs a port`.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { ZodError } from 'zod';
import { ErrorCode, PosternError } from '../core/errors.ts';
import { parseDurationMs } from '../core/duration.ts';
import { defaultHostname, fileSchema, type Config } from './schema.ts';

export function configPathFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(option ?? env['POSTERN_CONFIG'] ?? 'postern.toml');
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new PosternError(ErrorCode.Config, `${path}: cannot read the config: ${why} (pass --config FILE or set POSTERN_CONFIG)`, {
      cause: err,
    });
  }
  return parseConfig(text, resolve(path));
}

/** `file` is used to name the config in errors and to resolve relative paths. */
export function parseConfig(text: string, file: string): Config {
  const label = basename(file);
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0] ?? err.message;
      throw new PosternError(ErrorCode.Config, `${label}:${err.line}:${err.column}: ${first.replace(/^Invalid TOML document: /, '')}`, { cause: err });
    }
    throw err;
  }
  const parsed = fileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw new PosternError(ErrorCode.Config, formatZodError(label, parsed.error), { cause: parsed.error });
  }
  const c = parsed.data;
  const dir = dirname(file);
  const config: Config = {
    file,
    hostname: c.hostname ?? defaultHostname(),
    dataDir: resolve(dir, c.data_dir),
    log: { level: c.log.level },
    dns: {
      listen: c.dns.listen,
      zonesDir: resolve(dir, c.dns.zones_dir),
      resolvers: c.dns.resolvers ?? null,
      transferAllow: c.dns.transfer_allow,
      timeoutMs: c.dns.timeout_ms,
      attempts: c.dns.attempts,
    },
    smtp: {
      listen: c.smtp.listen,
      outboundPort: c.smtp.outbound_port,
      sourceAddress: c.smtp.source_address ?? null,
      maxRecipients: c.smtp.max_recipients,
      maxMessageSize: c.smtp.max_message_size,
      maxErrors: c.smtp.max_errors,
      idleTimeoutMs: c.smtp.idle_timeout,
      maxConnections: c.smtp.max_connections,
      maxConnectionsPerIp: c.smtp.max_connections_per_ip,
      minDataRate: c.smtp.min_data_rate,
    },
    storage: { url: c.storage.url ?? null, blobs: c.storage.blobs === undefined ? null : resolve(dir, c.storage.blobs), writeBlobs: c.storage.write_blobs },
    submission: { listen: c.submission.listen, tlsListen: c.submission.tls_listen },
    imap: {
      listen: c.imap.listen,
      tlsListen: c.imap.tls_listen,
      idleTimeoutMs: c.imap.idle_timeout,
      maxConnections: c.imap.max_connections,
      maxConnectionsPerIp: c.imap.max_connections_per_ip,
    },
    pop3: { listen: c.pop3.listen, tlsListen: c.pop3.tls_listen },
    auth: { maxFailures: c.auth.max_failures, lockoutMs: c.auth.lockout, delayStepMs: c.auth.delay_step, maxDelayMs: c.auth.max_delay },
    tls: c.tls.cert !== undefined && c.tls.key !== undefined ? { cert: resolve(dir, c.tls.cert), key: resolve(dir, c.tls.key) } : null,
    delivery: {
      maxConnectionsPerHost: c.delivery.max_connections_per_host,
      slotLeaseMs: c.delivery.slot_lease,
      tls: c.delivery.tls,
      timeouts: {
        connectMs: c.delivery.connect_timeout,
        greetingMs: c.delivery.greeting_timeout,
        commandMs: c.delivery.command_timeout,
        dataMs: c.delivery.data_timeout,
        dataBlockMs: c.delivery.data_block_timeout,
        dataEndMs: c.delivery.data_end_timeout,
      },
    },
    queue: {
      retryScheduleMs: c.queue.retry_schedule.map((entry) => parseDurationMs(entry) ?? 0),
      delayWarningMs: c.queue.delay_warning,
      maxAgeMs: c.queue.max_age,
      pollIntervalMs: c.queue.poll_interval,
      leaseMs: c.queue.lease,
    },
    backup: {
      maxHoldMs: c.backup.max_hold,
      probeIntervalMs: c.backup.probe_interval,
      drainConcurrency: c.backup.drain_concurrency,
      drainRate: c.backup.drain_rate,
      recipientsFile: c.backup.recipients === undefined ? null : resolve(dir, c.backup.recipients),
      calloutPositiveTtlMs: c.backup.callout_positive_ttl,
      calloutNegativeTtlMs: c.backup.callout_negative_ttl,
    },
    domains: c.domain,
  };
  return deepFreeze(config);
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function formatZodError(label: string, error: ZodError): string {
  const lines = error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = formatPath(issue.path);
      return issue.keys
        .map((k) => `${label}: ${where === '' ? k : `${where}.${k}`}: unknown key (check its spelling and section)`)
        .join('\n');
    }
    const where = formatPath(issue.path);
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      message = issue.input === undefined ? 'is required' : `must be ${describeType(issue.expected)}`;
    } else if (issue.code === 'invalid_value') {
      message = issue.input === undefined ? 'is required' : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, not ${JSON.stringify(issue.input)}`;
    }
    return `${label}: ${where === '' ? '(top level)' : where}: ${message}`;
  });
  return lines.join('\n');
}

function describeType(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string (in quotes)';
    case 'number':
      return 'a number';
    case 'array':
      return 'a list, like ["…"]';
    case 'object':
      return 'a table (a [section])';
    default:
      return `of type ${expected}`;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
