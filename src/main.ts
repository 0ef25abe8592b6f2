/**
 * The composition root: the one place that turns a Config into running parts, wires them together
 * and stops them. Nothing else opens sockets or reads files because it was imported; two whole
 * Posterns can run in one process (the tests do).
 */
import { join } from 'node:path';
import type { Config } from './config/schema.ts';
import { openSqliteStore, openThreadedSqliteStore } from './store/sqlite/index.ts';
import { openPostgresStore } from './store/postgres/index.ts';
import { startBlobSweeper } from './store/sql/blob-sweeper.ts';
import type { Store } from './store/types.ts';
import { ErrorCode, PosternError, errorText } from './core/errors.ts';
import { formatHostPort, type HostPort } from './core/host-port.ts';
import type { Logger } from './core/logger.ts';
import { buildZoneSet } from './dns/authority.ts';
import { startDnsServer, type DnsServer } from './dns/server.ts';
import { updateCatalog, type CatalogUpdate } from './dns/zone-catalog.ts';
import { loadZonesDir } from './dns/zone/load.ts';
import type { Zone } from './dns/zone/types.ts';
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { createResolver } from './dns/resolver.ts';
import { BackupVerifier } from './delivery/backup-verify.ts';
import { ConnectionPool } from './delivery/connection-pool.ts';
import { StoreClusterLimits } from './delivery/cluster-limits.ts';
import { MailboxLocks } from './pop3/server/locks.ts';
import { DomainDirectory } from './delivery/domains.ts';
import { inboundHooks } from './delivery/inbound.ts';
import { deliverLocal } from './delivery/local.ts';
import { walkMx } from './delivery/mx-walk.ts';
import { routeRecipient } from './delivery/router.ts';
import { selfIdentity } from './delivery/self.ts';
import { createQueueIdGenerator } from './message/message-id.ts';
import { QueueRunner } from './queue/runner.ts';
import type { RecipientOutcome } from './queue/outcome.ts';
import { connectSmtp } from './smtp/client/index.ts';
import { decodeXtext } from './smtp/proto/params.ts';
import { startSmtpServer } from './smtp/server/server.ts';
import type { SmtpServer } from './smtp/server/types.ts';
import { createAuthenticator } from './auth/authenticator.ts';
import { submissionHooks } from './delivery/submission.ts';
import { startPop3Server } from './pop3/index.ts';
import type { Pop3Server } from './pop3/index.ts';
import { startImapServer } from './imap/index.ts';
import { createTlsSource, type ReloadableTlsSource, type TlsReloadResult } from './tls/index.ts';

export interface Endpoint {
  service: string;
  protocol: string;
  address: HostPort;
}

export interface RunningPostern {
  readonly config: Config;
  /** The node's store: accounts, mailboxes and the queue. */
  readonly store: Store;
  /** Every listening socket, with port 0 resolved to the real port. */
  endpoints(): Endpoint[];
  /** The zones published now. */
  zones(): readonly Zone[];
  /** Re-reads zones_dir; a zone whose file now has errors keeps its previous version. */
  reloadZones(): CatalogUpdate;
  /** The certificate every TLS listener presents, or null when none listens. */
  tls(): { fingerprint: string; selfSigned: boolean } | null;
  /** Re-reads the TLS certificate and key; a bad pair keeps the old one. Null when no listener uses TLS. */
  reloadTls(): Promise<TlsReloadResult | null>;
  /** Wakes the queue runner (new work was queued by another process, or a test wants it now). */
  kickQueue(): void;
  stop(): Promise<void>;
}

export async function startPostern(config: Config, logger: Logger): Promise<RunningPostern> {
  const log = logger.child({ component: 'main' });
  let zones: Zone[] = [];
  let dns: DnsServer | null = null;

  if (config.dns.listen.length > 0) {
    let loaded;
    try {
      loaded = loadZonesDir(config.dns.zonesDir);
    } catch (err) {
      throw new PosternError(ErrorCode.Zone, `dns.zones_dir: ${errorText(err)} (create it with a zone file, or remove dns.listen to run without the DNS server)`, { cause: err });
    }
    if (loaded.failures.length > 0) {
      // At start there is no previous version to fall back on: refuse to start half-configured.
      throw new PosternError(
        ErrorCode.Zone,
        `zone files with errors in ${config.dns.zonesDir} (fix them, or move them out of the folder):\n` +
          loaded.failures.map((f) => f.error).join('\n'),
      );
    }
    zones = loaded.zones;
    if (zones.length === 0) log.warn({ zonesDir: config.dns.zonesDir }, 'no *.zone files: the DNS server will answer REFUSED to everything');
    dns = await startDnsServer({
      listen: config.dns.listen,
      zones: buildZoneSet(zones),
      transferAllow: config.dns.transferAllow,
      logger: logger.child({ component: 'dns' }),
    });
    log.info(
      { listen: dns.addresses.map(formatHostPort), zones: zones.map((z) => z.origin) },
      'DNS server answering',
    );
  }

  const mail = await startMailPath(config, logger).catch(async (err: unknown) => {
    await dns?.close();
    throw err;
  });

  return {
    config,
    store: mail.store,
    endpoints() {
      const out: Endpoint[] = [];
      for (const address of dns?.addresses ?? []) {
        out.push({ service: 'dns', protocol: 'udp+tcp', address });
      }
      return [...out, ...mail.endpoints()];
    },
    tls: () => (mail.tls === null ? null : { fingerprint: mail.tls.fingerprint, selfSigned: mail.tls.selfSigned }),
    reloadTls: async () => (mail.tls === null ? null : mail.tls.reload()),
    kickQueue: () => mail.runner.kick(),
    zones: () => zones,
    reloadZones() {
      let loaded;
      try {
        loaded = config.dns.listen.length > 0 ? loadZonesDir(config.dns.zonesDir) : { zones: [], failures: [] };
      } catch (err) {
        // The whole folder unreadable (removed, permissions): keep serving everything we have.
        loaded = { zones: [], failures: zones.map((z) => ({ file: z.file, error: errorText(err) })) };
      }
      const update = updateCatalog(zones, loaded);
      for (const k of update.kept) log.error({ file: k.file, zone: k.origin, error: k.error }, 'zone file has errors: still serving its previous version');
      for (const m of update.missing) log.error({ file: m.file, error: m.error }, 'zone file has errors: not serving it');
      if (dns !== null) dns.setZones(buildZoneSet(update.zones));
      zones = update.zones;
      log.info({ zones: zones.map((z) => z.origin) }, 'zones reloaded');
      return update;
    },
    async stop() {
      await mail.stop();
      await dns?.close();
      dns = null;
      log.info({}, 'stopped');
    },
  };
}

/**
 * The store this config names: PostgreSQL at [storage] url, else SQLite under data_dir. The
 * server puts SQLite on a worker thread (`server: true`), so its synchronous commits do not stop
 * the sessions; a CLI command, which serves nobody while it waits, keeps it on its own thread.
 */
export async function openConfiguredStore(config: Config, logger: Logger, opts: { server?: boolean } = {}): Promise<Store> {
  const blobs = config.storage.blobs === null ? null : { dir: config.storage.blobs, writes: config.storage.writeBlobs };
  if (config.storage.url !== null) return openPostgresStore({ url: config.storage.url, logger, blobs });
  const path = join(config.dataDir, 'postern.db');
  if (opts.server === true) {
    return openThreadedSqliteStore({ path, logger: logger.child({ component: 'store', engine: 'sqlite' }), logLevel: config.log.level === 'silent' ? 'error' : config.log.level, blobs });
  }
  return openSqliteStore({ path, logger, blobs });
}

interface MailPath {
  store: Store;
  tls: ReloadableTlsSource | null;
  runner: QueueRunner;
  endpoints(): Endpoint[];
  stop(): Promise<void>;
}

/**
 * The store, the SMTP server on smtp.listen, and the queue runner that delivers what it accepts:
 * locally, to backup hold, or by the MX walk.
 */
async function startMailPath(config: Config, logger: Logger): Promise<MailPath> {
  const store = await openConfiguredStore(config, logger, { server: true });
  try {
    const resolver = createResolver({
      servers: config.dns.resolvers,
      timeoutMs: config.dns.timeoutMs,
      attempts: config.dns.attempts,
      logger: logger.child({ component: 'resolver' }),
    });
    const self = selfIdentity(config);
    const mx = { resolver, self };
    const t = config.delivery.timeouts;
    // Every process of this node names its leases under one prefix, so a restart can take back
    // what a crashed process had claimed.
    // On a shared (PostgreSQL) store the machine's name is part of it: two machines given one
    // config file (one hostname) must not take back each other's live claims when one starts. On
    // SQLite only this machine uses the store, and a container that comes back under a new
    // machine name must still take its claims back at once.
    const ownerPrefix = config.storage.url !== null ? `${config.hostname}/${osHostname()}/` : `${config.hostname}/`;
    const owner = `${ownerPrefix}${config.storage.url !== null ? '' : `${osHostname()}.`}${process.pid}.${randomBytes(4).toString('hex')}`;
    // Several nodes share a PostgreSQL store: connection limits, backup drains and POP3 maildrop
    // locks are counted there, across all of them. One SQLite node keeps them in the process.
    const cluster = config.storage.url !== null ? new StoreClusterLimits({ store, owner, ownerPrefix, logger, leaseMs: config.delivery.slotLeaseMs, renewMs: Math.floor(config.delivery.slotLeaseMs / 3) }) : undefined;
    await cluster?.start();
    const pool = new ConnectionPool({
      maxPerHost: config.delivery.maxConnectionsPerHost,
      idleMs: 5000,
      ...(cluster !== undefined ? { cluster } : {}),
      connect: (k) =>
        connectSmtp({
          address: k.address,
          port: k.port,
          serverName: k.serverName,
          helo: config.hostname,
          sourceAddress: config.smtp.sourceAddress,
          tls: config.delivery.tls,
          timeouts: { connect: t.connectMs, greeting: t.greetingMs, ehlo: t.commandMs, mail: t.commandMs, rcpt: t.commandMs, data: t.dataMs, dataBlock: t.dataBlockMs, endOfData: t.dataEndMs },
          logger: logger.child({ component: 'smtp-client' }),
        }),
    });
    // The config's [[domain]] tables and those added with `postern domain add` on any node.
    const domains = new DomainDirectory({ configured: config.domains, store, logger });
    await domains.load();
    // Always built, even with no backup domain yet: one may be added while the node runs.
    const verifier = new BackupVerifier({
      mx,
      port: config.smtp.outboundPort,
      pool,
      recipientsFile: config.backup.recipientsFile,
      positiveTtlMs: config.backup.calloutPositiveTtlMs,
      negativeTtlMs: config.backup.calloutNegativeTtlMs,
      logger: logger.child({ component: 'backup-verify' }),
    });
    const newQueueId = createQueueIdGenerator();
    const deliveryLog = logger.child({ component: 'delivery' });
    const runner: QueueRunner = new QueueRunner({
      store,
      hostname: config.hostname,
      // The first primary domain as the node knows it now: one added while running counts.
      postmaster: () => `postmaster@${domains.snapshot().find((d) => d.role === 'primary')?.name ?? config.hostname}`,
      owner,
      ownerPrefix,
      newQueueId,
      logger,
      retryScheduleMs: config.queue.retryScheduleMs,
      delayWarningMs: config.queue.delayWarningMs,
      maxAgeMs: config.queue.maxAgeMs,
      pollIntervalMs: config.queue.pollIntervalMs,
      leaseMs: config.queue.leaseMs,
      backup: config.backup,
      ...(cluster !== undefined ? { cluster } : {}),
      delivery: {
        local: (message, data, recipients) => deliverLocal({ store, owner, now: Date.now }, { sender: message.sender, data }, recipients),
        async remote(message, data, domain, recipients, route, claim): Promise<RecipientOutcome[]> {
          const walked = await walkMx(
            {
              domain,
              deadline: claim.deadline,
              keepClaim: claim.keep,
              message: {
                sender: message.sender,
                data,
                ...(message.envid !== null ? { envid: decodeXtext(message.envid) ?? message.envid } : {}),
                ...(message.ret !== null ? { ret: message.ret === 'hdrs' ? ('HDRS' as const) : ('FULL' as const) } : {}),
              },
              recipients: recipients.map((r) => ({
                id: r.id,
                address: r.address,
                ...(r.notify !== null ? { notify: r.notify as Array<'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY'> } : {}),
                ...(r.orcpt !== null ? { orcpt: orcptOf(r.orcpt) } : {}),
              })),
            },
            { mx, port: config.smtp.outboundPort, pool, logger: deliveryLog },
          );
          if (route === 'backup' && walked.plan.kind === 'self-most-preferred') {
            // A backup that finds itself most preferred has nowhere to forward: keep holding
            // (the log says why) rather than bounce mail the primary would have taken.
            deliveryLog.error({ event: 'delivery.backup.no_primary', domain }, 'backup domain: no MX host is more preferred than this node; holding its mail');
            return walked.outcomes.map((o) => ({ ...o, outcome: 'temporary', status: '4.4.1', reply: `451 4.4.1 ${o.reply.replace(/^\d{3} [\d.]+ /, '')}` }));
          }
          return walked.outcomes;
        },
        async route(address) {
          const at = address.lastIndexOf('@');
          const r = await routeRecipient({ local: address.slice(0, at), domain: address.slice(at + 1) }, { domains: await domains.domains(), accounts: store }, { mayRelay: true });
          return r.kind === 'accept' ? r.recipients : null;
        },
      },
    });

    // Every listener that speaks TLS shares one certificate source, reloaded on SIGHUP.
    const anyTls = [config.smtp.listen, config.submission.listen, config.submission.tlsListen, config.pop3.listen, config.pop3.tlsListen, config.imap.listen, config.imap.tlsListen].some((l) => l.length > 0);
    const tls = anyTls ? await createTlsSource({ ...(config.tls ?? {}), dataDir: config.dataDir, hostname: config.hostname, logger }) : null;
    const authenticator = createAuthenticator({ store, ...config.auth, logger: logger.child({ component: 'auth' }) });
    const limits = {
      maxRecipients: config.smtp.maxRecipients,
      maxMessageSize: config.smtp.maxMessageSize,
      maxErrors: config.smtp.maxErrors,
      idleTimeoutMs: config.smtp.idleTimeoutMs,
      maxConnections: config.smtp.maxConnections,
      maxConnectionsPerIp: config.smtp.maxConnectionsPerIp,
      minDataRate: config.smtp.minDataRate,
    };
    const servers: Array<{ close(): Promise<void> }> = [];
    let smtp: SmtpServer | null = null;
    let submission: SmtpServer | null = null;
    let pop3: Pop3Server | null = null;
    let imap: Awaited<ReturnType<typeof startImapServer>> | null = null;
    try {
      if (config.smtp.listen.length > 0) {
        smtp = await startSmtpServer({
          listen: config.smtp.listen,
          hostname: config.hostname,
          mode: 'mx',
          tls,
          hooks: inboundHooks({ domains, store, verifier, onQueued: () => runner.kick(), logger }),
          idFactory: newQueueId,
          logger: logger.child({ component: 'smtp' }),
          ...limits,
        });
        servers.push(smtp);
      }
      if (config.submission.listen.length + config.submission.tlsListen.length > 0) {
        submission = await startSmtpServer({
          listen: config.submission.listen,
          tlsListen: config.submission.tlsListen,
          hostname: config.hostname,
          mode: 'submission',
          tls,
          authenticator,
          hooks: submissionHooks({ domains, store, verifier, onQueued: () => runner.kick(), logger, hostname: config.hostname }),
          idFactory: newQueueId,
          logger: logger.child({ component: 'submission' }),
          ...limits,
        });
        servers.push(submission);
      }
      if (config.pop3.listen.length + config.pop3.tlsListen.length > 0) {
        pop3 = await startPop3Server({ listen: config.pop3.listen, tlsListen: config.pop3.tlsListen, hostname: config.hostname, store, authenticator, tls, logger, locks: new MailboxLocks(cluster !== undefined ? { cluster } : {}) });
        servers.push(pop3);
      }
      if (config.imap.listen.length + config.imap.tlsListen.length > 0) {
        imap = await startImapServer({
          listen: config.imap.listen,
          tlsListen: config.imap.tlsListen,
          hostname: config.hostname,
          store,
          authenticator,
          tls,
          logger,
          limits: { idleTimeoutMs: config.imap.idleTimeoutMs, maxConnections: config.imap.maxConnections, maxConnectionsPerIp: config.imap.maxConnectionsPerIp },
        });
        servers.push(imap);
      }
    } catch (err) {
      for (const server of servers) await server.close();
      await cluster?.close();
      throw err;
    }
    runner.start();
    // [storage] blobs: files a crash left behind, at start and daily.
    const sweeper = config.storage.blobs === null ? null : startBlobSweeper({ store, logger: logger.child({ component: 'blob-sweep' }) });
    return {
      store,
      tls,
      runner,
      endpoints() {
        const out: Endpoint[] = [];
        const add = (service: string, protocol: string, list: readonly HostPort[] | undefined) => {
          for (const address of list ?? []) out.push({ service, protocol, address });
        };
        add('smtp', 'starttls', smtp?.addresses);
        add('submission', 'starttls', submission?.addresses);
        add('submission', 'tls', submission?.tlsAddresses);
        add('pop3', 'stls', pop3?.addresses);
        add('pop3', 'tls', pop3?.tlsAddresses);
        add('imap', 'starttls', imap?.addresses);
        add('imap', 'tls', imap?.tlsAddresses);
        return out;
      },
      async stop() {
        sweeper?.stop();
        for (const server of servers) await server.close();
        await runner.stop();
        await pool.close();
        await cluster?.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** ORCPT as stored ("rfc822;xtext") to what the client sends on. */
function orcptOf(stored: string): { type: string; address: string } {
  const semi = stored.indexOf(';');
  const type = semi < 0 ? 'rfc822' : stored.slice(0, semi);
  const value = semi < 0 ? stored : stored.slice(semi + 1);
  return { type, address: decodeXtext(value) ?? value };
}
