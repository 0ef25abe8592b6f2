/**
 * The one definition of postern.toml. Keys are snake_case as admins write them; `Config` is the
 * typed, resolved value the rest of the program receives. Unknown keys are errors: a misspelt key
 * silently ignored is a setting the admin believes in and does not have.
 *
 * These keys are a contract with later work and outside scripts: add keys freely, rename none.
 */
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { domainNameProblem, normalizeDomain } from '../core/domain-name.ts';
import { parseHostPort, type HostPort } from '../core/host-port.ts';
import { isIP } from 'node:net';

function endpoint(defaultPort?: number) {
  return z.string().transform((text, ctx): HostPort => {
    const r = parseHostPort(text, defaultPort);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.reason });
      return z.NEVER;
    }
    return r.value;
  });
}

const domainName = z.string().transform((text, ctx) => {
  const problem = domainNameProblem(text);
  if (problem !== null) {
    ctx.addIssue({ code: 'custom', message: `"${text}" ${problem}` });
    return z.NEVER;
  }
  return normalizeDomain(text);
});

const ipAddress = z.string().refine((s) => isIP(s) !== 0, { message: 'must be an IP address' });

const port = z.number().int().min(1).max(65535);

export const DomainRole = ['primary', 'backup'] as const;
export type DomainRole = (typeof DomainRole)[number];

export const fileSchema = z
  .object({
    hostname: domainName.optional(),
    data_dir: z.string().min(1).default('data'),
    log: z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
    dns: z
      .object({
        listen: z.array(endpoint()).default([]),
        zones_dir: z.string().min(1).default('zones'),
        resolvers: z.array(endpoint(53)).min(1, 'needs at least one server, or leave it out to use /etc/resolv.conf').optional(),
        /** Addresses allowed to ask for AXFR/IXFR of our zones; none by default. */
        transfer_allow: z.array(ipAddress).default([]),
        /** Per-query timeout of the stub resolver, in milliseconds. */
        timeout_ms: z.number().int().min(10).max(60_000).default(2000),
        /** How many times the stub resolver tries each query across its servers. */
        attempts: z.number().int().min(1).max(10).default(2),
      })
      .strict()
      .default({ listen: [], zones_dir: 'zones', transfer_allow: [], timeout_ms: 2000, attempts: 2 }),
    smtp: z
      .object({
        listen: z.array(endpoint()).default([]),
        outbound_port: port.default(25),
        source_address: ipAddress.optional(),
      })
      .strict()
      .default({ listen: [], outbound_port: 25 }),
    domain: z
      .array(
        z
          .object({
            name: domainName,
            role: z.enum(DomainRole),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.domain.forEach((d, i) => {
      const first = seen.get(d.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['domain', i, 'name'],
          message: `"${d.name}" is already configured as domain[${first}]; a domain has one role on a node`,
        });
      } else {
        seen.set(d.name, i);
      }
    });
  });

export type ConfigFile = z.output<typeof fileSchema>;

export interface DomainConfig {
  name: string;
  role: DomainRole;
}

export interface Config {
  /** Absolute path of the file this came from, or null for a built-in config. */
  file: string | null;
  hostname: string;
  /** Absolute. */
  dataDir: string;
  log: { level: 'debug' | 'info' | 'warn' | 'error' | 'silent' };
  dns: {
    listen: HostPort[];
    /** Absolute. */
    zonesDir: string;
    /** null: the servers of /etc/resolv.conf. */
    resolvers: HostPort[] | null;
    transferAllow: string[];
    timeoutMs: number;
    attempts: number;
  };
  smtp: {
    listen: HostPort[];
    outboundPort: number;
    sourceAddress: string | null;
  };
  domains: DomainConfig[];
}

export function defaultHostname(): string {
  return normalizeDomain(osHostname());
}
