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
import { parseDurationMs } from '../core/duration.ts';

function endpoint(defaultPort?: number, rules: { what?: 'listen' | 'server' } = {}) {
  return z.string().transform((text, ctx): HostPort => {
    const r = parseHostPort(text, defaultPort);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.reason });
      return z.NEVER;
    }
    if (rules.what === 'server' && r.value.port === 0) {
      ctx.addIssue({ code: 'custom', message: `"${text}": port 0 is no server's port` });
      return z.NEVER;
    }
    return r.value;
  });
}

/** A UDP socket bound to a wildcard answers from whatever source address the kernel picks, which
 *  resolvers discard: the DNS server binds each address it serves. */
const dnsListen = endpoint().superRefine((hp, ctx) => {
  if (hp.host === '0.0.0.0' || hp.host === '::') {
    ctx.addIssue({ code: 'custom', message: `${hp.host} is a wildcard: list each address the DNS server should answer on (replies must come from the address asked)` });
  }
});

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

function duration(fallback: string) {
  return z
    .string()
    .transform((text, ctx) => {
      const ms = parseDurationMs(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (write it with units: "500ms", "30s", "5m", "4h", "5d")` });
        return z.NEVER;
      }
      return ms;
    })
    .prefault(fallback);
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };

/** Bytes, written as a number or with a unit ("25MiB", "10MB", "512k"). */
function byteSize(fallback: number) {
  return z
    .union([z.number().int().min(0), z.string()])
    .transform((v, ctx) => {
      if (typeof v === 'number') return v;
      const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(v);
      const unit = SIZE_UNITS[(m?.[2] ?? 'x').toLowerCase()];
      if (m === null || unit === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (a number of bytes, or with a unit: "512KiB", "25MiB", "10MB")` });
        return z.NEVER;
      }
      return Number(m[1]) * unit;
    })
    .default(fallback);
}

// prefault: an absent section is parsed as {} so that each key's own default applies.
const section = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict().prefault({} as never);

export const fileSchema = z
  .object({
    hostname: domainName.optional().describe("this node's name: the SMTP banner, EHLO and Received headers; default the machine's host name"),
    data_dir: z.string().min(1).default('data').describe('where the database, queue and generated keys live'),
    storage: section({
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (leave it out for SQLite under data_dir)')
        .optional()
        .describe('a PostgreSQL database shared by several nodes (postgres://user@host:5432/db); absent: SQLite under data_dir'),
      blobs: z
        .string()
        .min(1)
        .optional()
        .describe(
          'a directory (which must exist) for message bodies as files, each fsynced before the row naming it commits; nodes on one PostgreSQL share it (NFS). Absent: bodies in the database. Messages stored while it was set stay in it: leaving it out later makes them unreadable (reads fail naming the file), so keep it and set write_blobs = false to go back',
        ),
      write_blobs: z
        .boolean()
        .default(true)
        .describe('with blobs: false stores new bodies in the database again, while those already in blobs are still read and deleted there'),
    }).describe('Where accounts, mailboxes and the queue are kept'),
    log: section({
      level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('how much the log says (JSON lines on standard error)'),
    }).describe('Logging'),
    dns: section({
      listen: z.array(dnsListen).default([]).describe('addresses of the authoritative DNS server, UDP and TCP on each; empty: off'),
      zones_dir: z.string().min(1).default('zones').describe('every *.zone file in it is one zone, named ORIGIN.zone (RFC 1035 master files)'),
      resolvers: z
        .array(endpoint(53, { what: 'server' }))
        .min(1, 'needs at least one server, or leave it out to use /etc/resolv.conf')
        .optional()
        .describe('where outbound lookups go ("ip" or "ip:port"); absent: the servers of /etc/resolv.conf'),
      transfer_allow: z.array(ipAddress).default([]).describe('client addresses allowed AXFR/IXFR of our zones over TCP; none by default'),
      timeout_ms: z.number().int().min(10).max(60_000).default(2000).describe("the stub resolver's wait for one server's answer, in milliseconds"),
      attempts: z.number().int().min(1).max(10).default(2).describe('rounds over the resolver list before a lookup fails for now'),
    }).describe('The authoritative DNS server and outbound lookups'),
    smtp: section({
      listen: z.array(endpoint()).default([]).describe('addresses of the inbound MX (port 25 in production)'),
      outbound_port: port.default(25).describe('the port dialled on MX hosts'),
      source_address: ipAddress.optional().describe('the source address of outbound connections'),
      max_recipients: z.number().int().min(1).default(100).describe('recipients per transaction; the next gets 452 4.5.3'),
      max_message_size: byteSize(25 * 1024 * 1024).describe('largest message, advertised in SIZE; more gets 552 5.3.4 (a number of bytes or "25MiB")'),
      max_errors: z.number().int().min(1).default(10).describe('protocol errors in a session before 421 and close'),
      // RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command.
      idle_timeout: duration('5m').describe('how long a session may wait between commands'),
      max_connections: z.number().int().min(1).default(1000).describe('SMTP connections at once'),
      max_connections_per_ip: z.number().int().min(1).default(20).describe('connections at once from one client address; more get 421 4.7.0'),
      min_data_rate: z.number().int().min(0).default(1024).describe('bytes per second a client must keep up during DATA, after a grace period'),
    }).describe('SMTP: the MX that other servers deliver to, and outbound connections'),
    submission: section({
      listen: z.array(endpoint()).default([]).describe('message submission with STARTTLS and AUTH (RFC 6409; 587 in production)'),
      tls_listen: z.array(endpoint()).default([]).describe('submission with implicit TLS (RFC 8314; 465 in production)'),
    }).describe('Submission: where mail clients send'),
    imap: section({
      listen: z.array(endpoint()).default([]).describe('IMAP4rev1 with STARTTLS (143 in production)'),
      tls_listen: z.array(endpoint()).default([]).describe('IMAP with implicit TLS (993 in production)'),
      // RFC 3501 §5.4 asks for at least 30 minutes before an autologout; shorter is allowed here
      // for tests and for operators who accept the cost to clients.
      idle_timeout: duration('30m').describe('how long a session may go without a command (IDLE included) before autologout; RFC 3501 asks for at least 30m'),
      max_connections: z.number().int().min(1).default(2000).describe('IMAP sessions at once'),
      max_connections_per_ip: z.number().int().min(1).default(50).describe('sessions at once from one client address; more are refused'),
    }).describe('IMAP'),
    pop3: section({
      listen: z.array(endpoint()).default([]).describe('POP3 with STLS (110 in production)'),
      tls_listen: z.array(endpoint()).default([]).describe('POP3 with implicit TLS (995 in production)'),
    }).describe('POP3'),
    auth: section({
      max_failures: z.number().int().min(1).default(10).describe('failed logins from one client address, or for one account, before a lockout'),
      lockout: duration('15m').describe('how long a lockout lasts'),
      delay_step: duration('500ms').describe('each failed login delays the next answer by this much more'),
      max_delay: duration('5s').describe('the longest such delay'),
    }).describe('Logins (submission, IMAP, POP3)'),
    tls: section({
      cert: z.string().min(1).optional().describe('PEM certificate chain; absent: a self-signed certificate for hostname, generated once into data_dir'),
      key: z.string().min(1).optional().describe('PEM private key of cert'),
    }).describe('The certificate every TLS listener presents (reloaded on SIGHUP)'),
    delivery: section({
      max_connections_per_host: z.number().int().min(1).default(10).describe('outbound connections at once to one MX address (all nodes together on PostgreSQL)'),
      slot_lease: duration('30s')
        .refine((ms) => ms >= 300, { message: 'must be at least 300ms: held slots are renewed every third of it' })
        .describe("on PostgreSQL: how long a node's hold on a connection, drain lane or POP3 maildrop lasts unless renewed (every third of it): a node that dies blocks them this long"),
      tls: z.enum(['opportunistic', 'none', 'required']).default('opportunistic').describe('STARTTLS when offered (certificates not checked, RFC 7435), never, or always'),
      // RFC 5321 §4.5.3.2 minimum timeouts, per stage of the client's transaction.
      connect_timeout: duration('30s').describe('waiting for a TCP connection'),
      greeting_timeout: duration('5m').describe("waiting for the server's greeting (RFC 5321 §4.5.3.2.1)"),
      command_timeout: duration('5m').describe('waiting for the reply to EHLO, MAIL and RCPT (RFC 5321 §4.5.3.2.2-3)'),
      data_timeout: duration('2m').describe('waiting for the reply to DATA (RFC 5321 §4.5.3.2.4)'),
      data_block_timeout: duration('3m').describe('waiting to send each block of the message (RFC 5321 §4.5.3.2.5)'),
      data_end_timeout: duration('10m').describe('waiting for the reply after the message (RFC 5321 §4.5.3.2.6)'),
    }).describe('Outbound delivery by the MX walk'),
    queue: section({
      retry_schedule: z
        .array(z.string())
        .min(1)
        .default(['0s', '5m', '10m', '20m', '40m', '1h'])
        .describe('waits between attempts; the last one repeats until max_age'),
      delay_warning: duration('4h').describe('when the sender is told a message is delayed (once)'),
      max_age: duration('5d').describe('when an undeliverable message is bounced'),
      poll_interval: duration('1s').describe('how soon mail queued by another process (postern sendmail) is seen'),
      lease: duration('30m').describe("how long a node's claim on queued work lasts: another node takes over a dead node's work after it; must outlast the longest delivery attempt"),
    }).describe('The queue'),
    backup: section({
      max_hold: duration('10d').describe('how long mail for a backup domain is held for its primaries'),
      probe_interval: duration('1m').describe('how often a backup checks whether a primary answers again'),
      drain_concurrency: z.number().int().min(1).default(2).describe('connections at once to a primary that has come back'),
      drain_rate: z.number().min(0.01).default(20).describe('messages per second forwarded to a primary that has come back'),
      recipients: z.string().min(1).optional().describe('a file of accepted addresses and @domain wildcards, instead of asking the primary'),
      callout_positive_ttl: duration('7d').describe("how long the primary's yes to a recipient is remembered"),
      callout_negative_ttl: duration('1h').describe("how long the primary's no to a recipient is remembered"),
    }).describe('Backup MX domains'),
    domain: z
      .array(
        z
          .object({
            name: domainName.describe('the mail domain'),
            role: z.enum(DomainRole).describe('"primary": final delivery into mailboxes here; "backup": hold and forward to more preferred MX hosts'),
          })
          .strict(),
      )
      .default([])
      .describe('The mail domains of this node, one [[domain]] table each'),
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
    if ((cfg.tls.cert === undefined) !== (cfg.tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', cfg.tls.cert === undefined ? 'cert' : 'key'], message: 'is required when tls.cert or tls.key is set: give both, or neither for a generated certificate' });
    }
    cfg.queue.retry_schedule.forEach((entry, i) => {
      if (parseDurationMs(entry) === null) {
        ctx.addIssue({ code: 'custom', path: ['queue', 'retry_schedule', i], message: `"${entry}" is not a duration (write it with units: "0s", "5m", "1h")` });
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
    maxRecipients: number;
    maxMessageSize: number;
    maxErrors: number;
    idleTimeoutMs: number;
    maxConnections: number;
    maxConnectionsPerIp: number;
    minDataRate: number;
  };
  /** null: SQLite under data_dir. */
  /** blobs: the absolute directory of body files, or null; writeBlobs: new bodies go there. */
  storage: { url: string | null; blobs: string | null; writeBlobs: boolean };
  submission: { listen: HostPort[]; tlsListen: HostPort[] };
  imap: { listen: HostPort[]; tlsListen: HostPort[]; idleTimeoutMs: number; maxConnections: number; maxConnectionsPerIp: number };
  pop3: { listen: HostPort[]; tlsListen: HostPort[] };
  auth: { maxFailures: number; lockoutMs: number; delayStepMs: number; maxDelayMs: number };
  /** Absolute paths, or null for a self-signed certificate generated into data_dir. */
  tls: { cert: string; key: string } | null;
  delivery: {
    maxConnectionsPerHost: number;
    slotLeaseMs: number;
    tls: 'opportunistic' | 'none' | 'required';
    timeouts: { connectMs: number; greetingMs: number; commandMs: number; dataMs: number; dataBlockMs: number; dataEndMs: number };
  };
  queue: { retryScheduleMs: number[]; delayWarningMs: number; maxAgeMs: number; pollIntervalMs: number; leaseMs: number };
  backup: {
    maxHoldMs: number;
    probeIntervalMs: number;
    drainConcurrency: number;
    drainRate: number;
    /** Absolute, or null: verify recipients by asking the primary. */
    recipientsFile: string | null;
    calloutPositiveTtlMs: number;
    calloutNegativeTtlMs: number;
  };
  domains: DomainConfig[];
}

export function defaultHostname(): string {
  return normalizeDomain(osHostname());
}
