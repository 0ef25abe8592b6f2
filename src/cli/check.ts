/**
 * `postern check DOMAIN`: a health check of a domain's mail setup, like the web tools people use,
 * in a terminal. A table of findings with a verdict each (or JSON with --json); exit status 1 when
 * anything fails, 0 otherwise. Progress goes to stderr, one line per network step, so a slow host
 * shows what it is waiting for.
 *
 * Without a config it asks the resolvers of /etc/resolv.conf and port 25; with one (--config or
 * $POSTERN_CONFIG) it uses dns.resolvers and smtp.outbound_port. --resolver and --port win.
 */
import { hostname as osHostname } from 'node:os';
import { configPathFrom, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { ErrorCode, PosternError } from '../core/errors.ts';
import { parseHostPort } from '../core/host-port.ts';
import type { HostPort } from '../core/host-port.ts';
import { checkDomain, createSmtpProber, formatReport, reportJson } from '../check/index.ts';
import { createResolver } from '../dns/resolver.ts';
import type { Io } from './io.ts';

export interface CheckCommandOptions {
  config?: string;
  resolver?: string;
  port?: string;
  json?: boolean;
  /** Milliseconds per network step. */
  timeout?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_DNS_TIMEOUT_MS = 3_000;

export async function checkCommand(domain: string, options: CheckCommandOptions, io: Io): Promise<number> {
  const config = options.config !== undefined || io.env['POSTERN_CONFIG'] !== undefined ? loadConfig(configPathFrom(options.config, io.env)) : null;
  const timeoutMs = options.timeout === undefined ? DEFAULT_TIMEOUT_MS : whole(options.timeout, '--timeout', 1, 600_000);
  const port = options.port !== undefined ? whole(options.port, '--port', 1, 65_535) : (config?.smtp.outboundPort ?? 25);
  const servers = resolverServers(options.resolver, config);
  const resolver = createResolver({
    servers,
    timeoutMs: Math.min(timeoutMs, config?.dns.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS),
    attempts: config?.dns.attempts ?? 2,
  });
  const report = await checkDomain(domain.trim(), {
    resolver,
    smtp: createSmtpProber(),
    port,
    helo: config?.hostname ?? osHostname(),
    timeoutMs,
    progress: (step) => io.stderr.write(`checking ${step} …\n`),
  });
  io.stdout.write(options.json === true ? reportJson(report) : formatReport(report));
  return report.verdict === 'fail' ? 1 : 0;
}

function resolverServers(option: string | undefined, config: Config | null): HostPort[] | null {
  if (option === undefined) return config?.dns.resolvers ?? null;
  const parsed = parseHostPort(option, 53);
  if (!parsed.ok) throw new PosternError(ErrorCode.Usage, `--resolver: ${parsed.reason}`);
  return [parsed.value];
}

function whole(text: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new PosternError(ErrorCode.Usage, `${name}: expected a whole number from ${min} to ${max}, not "${text}"`);
  return Number(text);
}
