/**
 * The development setup `npm start` uses on a fresh clone: when there is no config, a config and an
 * example zone are written into data/ on the first run and reused on every later one. Everything
 * binds loopback on unprivileged ports (DESIGN.md, Ports) and resolves through our own DNS server,
 * so a newcomer's first start sends nothing off the machine.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEV_DOMAIN = 'example.test';
export const DEV_DNS = { host: '127.0.0.1', port: 5353 } as const;
export const DEV_POSTMASTER = `postmaster@${DEV_DOMAIN}`;

export function devConfigText(): string {
  return `# Postern development setup, written by the first \`npm start\`. Edit freely; delete this
# folder to start over. Production settings: see README.md.
hostname = "mail.${DEV_DOMAIN}"
data_dir = "."

[dns]
# The authoritative server for the zones in zones_dir (UDP and TCP).
listen = ["${DEV_DNS.host}:${DEV_DNS.port}"]
zones_dir = "zones"
# Outbound lookups go to our own server: nothing leaves this machine.
resolvers = ["${DEV_DNS.host}:${DEV_DNS.port}"]

[smtp]
# The MX for example.test (the development SMTP port; 25 in production).
listen = ["${DEV_DNS.host}:2525"]
outbound_port = 2525

[submission]
# Mail clients send here, with AUTH over STARTTLS (587 in production) or implicit TLS (465).
listen = ["${DEV_DNS.host}:5870"]
tls_listen = ["${DEV_DNS.host}:4650"]

[imap]
# STARTTLS on listen (143 in production), implicit TLS on tls_listen (993).
listen = ["${DEV_DNS.host}:1143"]
tls_listen = ["${DEV_DNS.host}:9930"]

[pop3]
# STLS on listen (110 in production), implicit TLS on tls_listen (995).
listen = ["${DEV_DNS.host}:1110"]
tls_listen = ["${DEV_DNS.host}:9950"]

[[domain]]
name = "${DEV_DOMAIN}"
role = "primary"
`;
}

export function devZoneText(serial: string): string {
  return `; ${DEV_DOMAIN}: the tutorial's "basic configuration" on loopback. Every change needs a new
; serial; send SIGHUP to a running Postern (or restart it) to publish it.
$ORIGIN ${DEV_DOMAIN}.
$TTL 300
@       IN SOA  ns1 hostmaster ( ${serial} 7200 3600 1209600 300 )
        IN NS   ns1
ns1     IN A    127.0.0.1
@       IN A    127.0.0.1
www     IN A    127.0.0.1
mail    IN A    127.0.0.1
mail    IN AAAA ::1
; Mail for anyone@${DEV_DOMAIN} goes to mail.${DEV_DOMAIN}.
@       IN MX   10 mail
@       IN TXT  "v=spf1 mx -all"
_dmarc  IN TXT  "v=DMARC1; p=none; rua=mailto:postmaster@${DEV_DOMAIN}"
`;
}

/** Returns the config path, writing the development setup under `dir` when it is not there yet. */
export function ensureDevSetup(dir: string, now: Date = new Date()): { configPath: string; created: string[] } {
  const configPath = join(dir, 'postern.toml');
  const zonePath = join(dir, 'zones', `${DEV_DOMAIN}.zone`);
  const created: string[] = [];
  if (!existsSync(configPath)) {
    mkdirSync(join(dir, 'zones'), { recursive: true });
    writeFileSync(configPath, devConfigText(), { flag: 'wx' });
    created.push(configPath);
    if (!existsSync(zonePath)) {
      const serial = now.toISOString().slice(0, 10).replaceAll('-', '') + '01';
      writeFileSync(zonePath, devZoneText(serial), { flag: 'wx' });
      created.push(zonePath);
    }
  }
  return { configPath, created };
}
