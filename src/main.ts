/**
 * The composition root: the one place that turns a Config into running parts, wires them together
 * and stops them. Nothing else opens sockets or reads files because it was imported; two whole
 * Posterns can run in one process (the tests do).
 */
import { join } from 'node:path';
import type { Config } from './config/schema.ts';
import { openSqliteStore } from './store/sqlite/index.ts';
import type { Store } from './store/types.ts';
import { ErrorCode, PosternError, errorText } from './core/errors.ts';
import { formatHostPort, type HostPort } from './core/host-port.ts';
import type { Logger } from './core/logger.ts';
import { buildZoneSet } from './dns/authority.ts';
import { startDnsServer, type DnsServer } from './dns/server.ts';
import { updateCatalog, type CatalogUpdate } from './dns/zone-catalog.ts';
import { loadZonesDir } from './dns/zone/load.ts';
import type { Zone } from './dns/zone/types.ts';

export interface Endpoint {
  service: string;
  protocol: string;
  address: HostPort;
}

export interface RunningPostern {
  readonly config: Config;
  /** Every listening socket, with port 0 resolved to the real port. */
  endpoints(): Endpoint[];
  /** The zones published now. */
  zones(): readonly Zone[];
  /** Re-reads zones_dir; a zone whose file now has errors keeps its previous version. */
  reloadZones(): CatalogUpdate;
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

  return {
    config,
    endpoints() {
      const out: Endpoint[] = [];
      for (const address of dns?.addresses ?? []) {
        out.push({ service: 'dns', protocol: 'udp+tcp', address });
      }
      return out;
    },
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
      await dns?.close();
      dns = null;
      log.info({}, 'stopped');
    },
  };
}

/** The store this config names: SQLite under data_dir (PostgreSQL comes with [storage] url). */
export async function openConfiguredStore(config: Config, logger: Logger): Promise<Store> {
  return openSqliteStore({ path: join(config.dataDir, 'postern.db'), logger: logger.child({ component: 'store' }) });
}
