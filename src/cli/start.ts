/**
 * `postern start`: runs every service the config lists until SIGINT or SIGTERM, reloads zones on
 * SIGHUP. With no config anywhere it runs the development setup in ./data (see dev-setup.ts).
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { configPathFrom, loadConfig } from '../config/load.ts';
import { formatHostPort } from '../core/host-port.ts';
import { createLogger } from '../core/logger.ts';
import { startPostern, type RunningPostern } from '../main.ts';
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../store/password.ts';
import { DEV_DOMAIN, DEV_POSTMASTER, ensureDevSetup } from './dev-setup.ts';
import type { Io } from './io.ts';

export function chooseConfigPath(option: string | undefined, io: Io): { path: string; created: string[] } {
  if (option !== undefined || io.env['POSTERN_CONFIG'] !== undefined) {
    return { path: configPathFrom(option, io.env), created: [] };
  }
  const local = join(io.cwd, 'postern.toml');
  if (existsSync(local)) return { path: local, created: [] };
  const dev = ensureDevSetup(join(io.cwd, 'data'));
  return { path: dev.configPath, created: dev.created };
}

export async function startCommand(options: { config?: string }, io: Io): Promise<number> {
  const chosen = chooseConfigPath(options.config, io);
  for (const file of chosen.created) io.stdout.write(`created ${relative(io.cwd, file)}\n`);
  const config = loadConfig(chosen.path);
  const logger = createLogger({ level: config.log.level });
  // A SIGHUP while starting would otherwise kill the process (its default action).
  const early = io.onSignal('SIGHUP', () => io.stdout.write('still starting: SIGHUP ignored\n'));
  let postern: RunningPostern;
  try {
    postern = await startPostern(config, logger);
  } finally {
    early();
  }
  if (chosen.created.includes(chosen.path)) {
    // A fresh development setup gets its postmaster, with a password shown this once.
    const password = randomBytes(12).toString('base64url');
    if ((await postern.store.getAccount(DEV_POSTMASTER)) === null) {
      await postern.store.createAccount({ address: DEV_POSTMASTER, passwordHash: await hashPassword(password) });
      io.stdout.write(`created account ${DEV_POSTMASTER} with password ${password} (shown once)\n`);
    }
  }
  io.stdout.write(banner(postern, relative(io.cwd, chosen.path) || chosen.path));

  let offs: Array<() => void> = [];
  // Signal handlers alone do not keep Node's event loop alive: a node that only sends mail has no
  // listening socket, and must still run until it is told to stop.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      io.stdout.write('stopping…\n');
      postern.stop().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    offs = [
      io.onSignal('SIGINT', stop),
      io.onSignal('SIGTERM', stop),
      io.onSignal('SIGHUP', () => {
        const update = postern.reloadZones();
        const bad = update.kept.length + update.missing.length;
        io.stdout.write(
          `zones reloaded: ${postern.zones().map((z) => z.origin).join(', ') || 'none'}` +
            (bad > 0 ? ` (${bad} file(s) with errors, see the log)` : '') +
            '\n',
        );
        void postern.reloadTls().then((r) => {
          if (r === null) return;
          io.stdout.write(r.ok ? `TLS certificate reloaded: SHA-256 ${r.fingerprint}\n` : `TLS certificate not reloaded, still using the old one: ${r.error}\n`);
        });
      }),
    ];
  });
  // Unregistered once stopped, so that a second Ctrl-C ends the process the usual way.
  for (const off of offs) off();
  clearInterval(keepAlive);
  io.stdout.write('stopped\n');
  return 0;
}

function banner(postern: RunningPostern, configLabel: string): string {
  const lines: string[] = [];
  lines.push(`Postern is running (${configLabel}, hostname ${postern.config.hostname})`);
  const endpoints = postern.endpoints();
  if (endpoints.length === 0) {
    lines.push('  no service is configured to listen: add [dns] listen = ["127.0.0.1:5353"] to the config');
  }
  for (const e of endpoints) {
    lines.push(`  ${e.service.padEnd(10)} ${e.protocol.padEnd(8)} ${formatHostPort(e.address)}`);
  }
  const zones = postern.zones().map((z) => z.origin);
  if (zones.length > 0) lines.push(`  zones: ${zones.join(', ')}`);
  const tls = postern.tls();
  if (tls !== null) lines.push(`  TLS certificate SHA-256 ${tls.fingerprint}${tls.selfSigned ? ' (self-signed; set [tls] cert and key for your own)' : ''}`);
  const tries: string[] = [];
  const dns = endpoints.find((e) => e.service === 'dns');
  if (dns !== undefined) {
    const zone = zones.includes(DEV_DOMAIN) ? DEV_DOMAIN : (zones[0] ?? DEV_DOMAIN);
    tries.push(`dig @${dns.address.host} -p ${dns.address.port} ${zone} MX +norecurse`);
    tries.push(`npx postern route postmaster@${zone} --config ${configLabel}`);
  }
  const smtp = endpoints.find((e) => e.service === 'smtp');
  const imap = endpoints.find((e) => e.service === 'imap' && e.protocol === 'starttls');
  const primary = postern.config.domains.find((d) => d.role === 'primary')?.name;
  if (smtp !== undefined && primary !== undefined) {
    tries.push(`swaks --server ${formatHostPort(smtp.address)} --from you@${primary} --to postmaster@${primary}`);
    tries.push(`npx postern mailbox list postmaster@${primary} --config ${configLabel}`);
    if (imap !== undefined) tries.push(`curl --ssl-reqd -k "imap://${formatHostPort(imap.address)}/INBOX;UID=1" --user postmaster@${primary}:PASSWORD`);
  }
  if (tries.length > 0) lines.push('Try:', ...tries.map((t) => `  ${t}`));
  lines.push('Ctrl-C stops; SIGHUP reloads the zones and the TLS certificate.');
  return lines.join('\n') + '\n';
}
