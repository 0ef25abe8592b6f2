/**
 * `postern quickstart DOMAIN --ip ADDRESS`: everything a newcomer needs to run the mail of one
 * domain on one server, the tutorial's "basic configuration". It writes a production config on the
 * standard ports and the domain's zone (SOA, NS, A or AAAA for the apex, www and the mail host,
 * MX 10 to the mail host, SPF and DMARC), creates the postmaster account, and prints what only the
 * admin can do: the records for a DNS provider, the PTR to ask the hosting provider for, and the
 * steps to start and check the server. It never overwrites a file unless told to.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { domainToASCII } from 'node:url';
import { loadConfig } from '../config/load.ts';
import { domainNameProblem, isAtOrBelow, normalizeDomain } from '../core/domain-name.ts';
import { formatHostPort } from '../core/host-port.ts';
import { canonicalAddress } from '../dns/resolver.ts';
import { loadZoneFile } from '../dns/zone/load.ts';
import { hashPassword } from '../store/password.ts';
import { fail, formatTable, withStore } from './format.ts';
import type { Io } from './io.ts';

export interface QuickstartOptions {
  /** The server's public address: every service listens on it and the zone points to it. */
  ip: string;
  /** Where postern.toml and zones/ go; default the current directory. */
  dir?: string;
  /** The mail host's name; default mail.DOMAIN. */
  hostname?: string;
  /** Replace existing files. */
  force?: boolean;
  /** The day the zone's serial is made of; default now. */
  now?: Date;
}

/** A validated request: ASCII names, lower-case, and one spelling of the address. */
export interface QuickstartPlan {
  domain: string;
  hostname: string;
  address: string;
  family: 4 | 6;
}

/** One record of the zone, with its name relative to the apex ("@", "www"). */
export interface QuickstartRecord {
  label: string;
  type: 'A' | 'AAAA' | 'MX' | 'TXT';
  value: string;
}

export type PlanResult = { ok: true; plan: QuickstartPlan; warnings: string[] } | { ok: false; problem: string };

/** Standard ports (DESIGN.md, Ports), in the order the config lists them. */
const PORTS = {
  dns: 53,
  smtp: 25,
  submission: 587,
  submissionTls: 465,
  imap: 143,
  imapTls: 993,
  pop3: 110,
  pop3Tls: 995,
} as const;

export async function quickstartCommand(domainArg: string, options: QuickstartOptions, io: Io): Promise<number> {
  const planned = planQuickstart({ domain: domainArg, ip: options.ip, ...(options.hostname !== undefined ? { hostname: options.hostname } : {}) });
  if (!planned.ok) return fail(io, planned.problem);
  const { plan } = planned;
  for (const w of planned.warnings) io.stderr.write(`postern: warning: ${w}\n`);

  const dir = resolve(io.cwd, options.dir ?? '.');
  const configPath = join(dir, 'postern.toml');
  const zonePath = join(dir, 'zones', `${plan.domain}.zone`);
  const show = (path: string): string => displayPath(path, io.cwd);

  if (options.force !== true) {
    const existing = [configPath, zonePath].filter((p) => existsSync(p));
    if (existing.length > 0) {
      return fail(io, `refusing to overwrite ${existing.map(show).join(' and ')} (add --force to replace ${existing.length === 1 ? 'it' : 'them'})`);
    }
  }
  mkdirSync(join(dir, 'zones'), { recursive: true });
  const flag = options.force === true ? 'w' : 'wx';
  try {
    writeFileSync(configPath, quickstartConfigText(plan, options.now), { flag });
    writeFileSync(zonePath, quickstartZoneText(plan, zoneSerial(options.now ?? new Date())), { flag });
  } catch (err) {
    // Someone created one of them between our check and our write.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fail(io, `refusing to overwrite ${show((err as NodeJS.ErrnoException).path ?? configPath)} (add --force to replace it)`);
    throw err;
  }

  // What we wrote must be what the server accepts: a failure here is our bug, and says so loudly.
  const config = loadConfig(configPath);
  loadZoneFile(zonePath);

  const postmaster = `postmaster@${plan.domain}`;
  const password = randomBytes(15).toString('base64url');
  let created = false;
  // withStore's status is not ours to reuse: it is 1 when the store failed (already printed).
  const stored = await withStore({ configured: config }, io, async ({ store }) => {
    if ((await store.getAccount(postmaster)) !== null) return 0;
    await store.createAccount({ address: postmaster, passwordHash: await hashPassword(password) });
    created = true;
    return 0;
  });
  if (stored !== 0) return stored;

  const out: string[] = [];
  out.push(`Postern for ${plan.domain}: mail host ${plan.hostname}, address ${plan.address}`);
  out.push('');
  out.push(`wrote ${show(configPath)}`);
  out.push(`wrote ${show(zonePath)}`);
  out.push(
    created
      ? `created the account ${postmaster} with password ${password}\n  (shown this once: write it down; it is stored only as a hash)`
      : `the account ${postmaster} already exists in ${show(config.dataDir)}: its password is unchanged`,
  );
  out.push('');
  out.push(...dnsSection(plan));
  out.push('');
  out.push(...ptrSection(plan));
  out.push('');
  out.push(...nextSteps(plan, configPath, show));
  io.stdout.write(out.join('\n') + '\n');
  return 0;
}

/** Checks DOMAIN, --ip and --hostname, and says what is wrong in words an admin can act on. */
export function planQuickstart(input: { domain: string; ip: string; hostname?: string }): PlanResult {
  const domain = hostName(input.domain, 'the domain');
  if (!domain.ok) return domain;
  const hostname = hostName(input.hostname ?? `mail.${domain.name}`, '--hostname');
  if (!hostname.ok) return hostname;
  const address = checkAddress(input.ip);
  if (!address.ok) return address;
  const warnings = [...address.warnings];
  if (!isAtOrBelow(hostname.name, domain.name)) {
    warnings.push(`${hostname.name} is not in ${domain.name}: the zone cannot hold its address; give it ${address.family === 4 ? 'an A' : 'an AAAA'} record for ${address.address} in its own zone`);
  }
  return { ok: true, plan: { domain: domain.name, hostname: hostname.name, address: address.address, family: address.family }, warnings };
}

function hostName(text: string, what: string): { ok: true; name: string } | { ok: false; problem: string } {
  const trimmed = text.trim();
  if (isIP(trimmed) !== 0) return { ok: false, problem: `${what} "${text}" is an IP address, not a domain name (the address goes in --ip)` };
  // Internationalised names go into DNS as their A-labels (RFC 5890): "bücher.example" is "xn--bcher-kva.example".
  const ascii = /^[\x00-\x7f]*$/.test(trimmed) ? trimmed : domainToASCII(trimmed);
  if (ascii === '') return { ok: false, problem: `${what} "${text}" is not a valid domain name` };
  const problem = domainNameProblem(ascii);
  if (problem !== null) return { ok: false, problem: `${what} "${text}" ${problem}` };
  const name = normalizeDomain(ascii);
  if (name.includes('_')) return { ok: false, problem: `${what} "${text}" has an underscore: host names are letters, digits and hyphens (RFC 952, RFC 1123 §2.1)` };
  if (!name.includes('.')) return { ok: false, problem: `${what} "${text}" is a single label: give the full name, like example.com` };
  if (/^\d+$/.test(name.slice(name.lastIndexOf('.') + 1))) return { ok: false, problem: `${what} "${text}" ends in a number: top-level domains are not numeric` };
  return { ok: true, name };
}

type AddressResult = { ok: true; address: string; family: 4 | 6; warnings: string[] } | { ok: false; problem: string };

function checkAddress(text: string): AddressResult {
  const raw = text.trim();
  if (raw.includes('%')) return { ok: false, problem: `--ip "${text}" has a zone index (%…): give the server's global address, which DNS records can hold` };
  if (isIP(raw) === 0) return { ok: false, problem: `--ip "${text}" is not an IP address (write it like 203.0.113.25 or 2001:db8::25)` };
  // One spelling everywhere (the zone, the config, the PTR name); ::ffff:a.b.c.d is the IPv4 address.
  const address = canonicalAddress(raw);
  const family = isIP(address) === 6 ? 6 : 4;
  const kind = family === 4 ? ipv4Kind(address) : ipv6Kind(address);
  switch (kind) {
    case 'unspecified':
      return { ok: false, problem: `--ip ${address} is the unspecified address: give the address the server is reached at` };
    case 'multicast':
      return { ok: false, problem: `--ip ${address} is a multicast address: give the server's own address` };
    case 'reserved':
      return { ok: false, problem: `--ip ${address} is a reserved or broadcast address: give the server's own address` };
    case 'public':
      return { ok: true, address, family, warnings: [] };
    default:
      return {
        ok: true,
        address,
        family,
        warnings: [
          `${address} is a ${kind} address: other mail servers cannot reach it. Give the server's public address` +
            (kind === 'private' || kind === 'shared (carrier-grade NAT)' ? ' (behind NAT: the public one, for the zone; then change the listen addresses in postern.toml to this machine\'s own)' : ''),
        ],
      };
  }
}

type AddressKind = 'public' | 'unspecified' | 'multicast' | 'reserved' | 'private' | 'loopback' | 'link-local' | 'shared (carrier-grade NAT)' | 'documentation';

function ipv4Kind(address: string): AddressKind {
  const [a = 0, b = 0, c = 0] = address.split('.').map(Number);
  if (a === 0) return 'unspecified';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved';
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private'; // RFC 1918
  if (a === 169 && b === 254) return 'link-local';
  if (a === 100 && b >= 64 && b <= 127) return 'shared (carrier-grade NAT)'; // RFC 6598
  if ((a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return 'documentation'; // RFC 5737
  return 'public';
}

function ipv6Kind(address: string): AddressKind {
  const g = ipv6Groups(address);
  const first = g[0] ?? 0;
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  if (first >> 8 === 0xff) return 'multicast';
  if ((first & 0xffc0) === 0xfe80) return 'link-local';
  if ((first & 0xfe00) === 0xfc00) return 'private'; // RFC 4193 unique local
  if (first === 0x2001 && g[1] === 0x0db8) return 'documentation'; // RFC 3849
  return 'public';
}

/** The eight 16-bit groups of an IPv6 address (which `isIP` has accepted). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  const parts = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(':'));
  const head = parts(halves[0]);
  const tail = parts(halves[1]);
  const groups = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return groups.map((h) => parseInt(h, 16));
}

/**
 * The name a PTR record for `address` lives at: RFC 1035 §3.5 (in-addr.arpa, octets reversed) and
 * RFC 3596 §2.5 (ip6.arpa, every hex digit reversed).
 */
export function reverseName(address: string): string {
  const canonical = canonicalAddress(address);
  if (isIP(canonical) === 4) return `${canonical.split('.').reverse().join('.')}.in-addr.arpa`;
  const nibbles = ipv6Groups(canonical).map((g) => g.toString(16).padStart(4, '0')).join('');
  return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
}

/** The zone serial for `day`: YYYYMMDD01, the convention that leaves 99 edits a day (RFC 1912 §2.2). */
export function zoneSerial(day: Date): string {
  return day.toISOString().slice(0, 10).replaceAll('-', '') + '01';
}

/** The mail host's name relative to the apex, or null when it lies outside the domain. */
function hostLabel(plan: QuickstartPlan): string | null {
  if (plan.hostname === plan.domain) return '@';
  return isAtOrBelow(plan.hostname, plan.domain) ? plan.hostname.slice(0, -(plan.domain.length + 1)) : null;
}

/** The records a DNS provider would publish: the zone without its SOA and NS (theirs). */
export function quickstartRecords(plan: QuickstartPlan): QuickstartRecord[] {
  const addressType = plan.family === 4 ? 'A' : 'AAAA';
  const mailLabel = hostLabel(plan);
  const hosts = [...new Set(['@', 'www', ...(mailLabel !== null ? [mailLabel] : [])])];
  return [
    ...hosts.map((label): QuickstartRecord => ({ label, type: addressType, value: plan.address })),
    { label: '@', type: 'MX', value: `10 ${mailLabel ?? `${plan.hostname}.`}` },
    // RFC 7208: only the hosts of our MX records may send as the domain; anything else fails.
    { label: '@', type: 'TXT', value: 'v=spf1 mx -all' },
    // RFC 7489 §6.3: p=none asks only for reports, to watch before enforcing anything.
    { label: '_dmarc', type: 'TXT', value: `v=DMARC1; p=none; rua=mailto:postmaster@${plan.domain}` },
  ];
}

export function quickstartZoneText(plan: QuickstartPlan, serial: string): string {
  const addressType = plan.family === 4 ? 'A' : 'AAAA';
  const line = (label: string, type: string, value: string): string => `${label.padEnd(8)}IN ${type.padEnd(5)}${value}`;
  const records = quickstartRecords(plan);
  const addresses = records.filter((r) => r.type === addressType && r.label !== 'ns1');
  const mx = records.filter((r) => r.type === 'MX');
  const txt = records.filter((r) => r.type === 'TXT');
  return [
    `; ${plan.domain}: the tutorial's "basic configuration", written by \`postern quickstart\`.`,
    '; One server for the web site and the mail. Every change needs a higher serial; then send',
    '; SIGHUP to Postern (or restart it) to publish the zone, and `postern check-zone` it first.',
    `$ORIGIN ${plan.domain}.`,
    '$TTL 3600',
    '; The contact in the SOA is postmaster@ (its first dot is the @), the account quickstart creates.',
    line('@', 'SOA', `ns1 postmaster ( ${serial} 7200 3600 1209600 300 )`),
    line('', 'NS', 'ns1'),
    line('ns1', addressType, plan.address),
    ...addresses.map((r) => line(r.label, r.type, r.value)),
    `; Mail for anyone@${plan.domain} goes to ${plan.hostname}.`,
    ...mx.map((r) => line(r.label, r.type, r.value)),
    '; Who may send as the domain (SPF), and what receivers do when a message fails the checks (DMARC).',
    ...txt.map((r) => line(r.label, r.type, `"${r.value}"`)),
    '',
  ].join('\n');
}

export function quickstartConfigText(plan: QuickstartPlan, now: Date = new Date()): string {
  const at = (port: number): string => JSON.stringify(formatHostPort({ host: plan.address, port }));
  return `# Postern for ${plan.domain}, written by \`postern quickstart\` on ${now.toISOString().slice(0, 10)}.
# Standard ports: run it as a user allowed to bind ports below 1024 (CAP_NET_BIND_SERVICE).
# Every key: README.md, Configuration.
hostname = "${plan.hostname}"
# Accounts, mailboxes and the queue (SQLite), and a generated TLS certificate. Relative to this file.
data_dir = "data"

[dns]
# The authoritative DNS server for the zones in zones_dir (UDP and TCP). If a DNS provider
# publishes ${plan.domain}'s records instead, remove this listen line.
listen = [${at(PORTS.dns)}]
zones_dir = "zones"
# Lookups of other domains (their MX records, when sending) need a recursive resolver: the server
# above answers only for its own zones, so never list it here. Left out, the nameservers of
# /etc/resolv.conf are used. A resolver on this machine (unbound, systemd-resolved) is best:
# resolvers = ["127.0.0.1:53"]

[smtp]
# The MX: other mail servers deliver to ${plan.domain} here.
listen = [${at(PORTS.smtp)}]
# Outgoing mail leaves from whatever address the kernel picks. If this machine has other addresses
# (IPv6 too), pin it to the one the PTR, the zone and SPF name:
# source_address = "${plan.address}"

[submission]
# Mail clients send here, with AUTH: STARTTLS on listen, implicit TLS on tls_listen (RFC 8314).
listen = [${at(PORTS.submission)}]
tls_listen = [${at(PORTS.submissionTls)}]

[imap]
listen = [${at(PORTS.imap)}]
tls_listen = [${at(PORTS.imapTls)}]

[pop3]
listen = [${at(PORTS.pop3)}]
tls_listen = [${at(PORTS.pop3Tls)}]

[tls]
# Without cert and key, a self-signed certificate for ${plan.hostname} is generated into data_dir,
# and mail clients warn about it. For a trusted one (Let's Encrypt, say), give both files (readable
# by the user Postern runs as); SIGHUP reloads them after a renewal.
# cert = "/etc/letsencrypt/live/${plan.hostname}/fullchain.pem"
# key = "/etc/letsencrypt/live/${plan.hostname}/privkey.pem"

[[domain]]
# Final destination: mail for its accounts and aliases is filed here (postern account add …).
name = "${plan.domain}"
role = "primary"
`;
}

function dnsSection(plan: QuickstartPlan): string[] {
  const fqdn = (label: string): string => (label === '@' ? plan.domain : `${label}.${plan.domain}`);
  const rows = quickstartRecords(plan).map((r) => [fqdn(r.label), r.type, r.type === 'MX' ? `10 ${plan.hostname}` : r.value]);
  return [
    'DNS records',
    `  If Postern is the DNS server for ${plan.domain} (the zone file above), give your registrar`,
    `  the name server ns1.${plan.domain} with its glue address ${plan.address}. Registrars often want`,
    '  a second name server: any secondary that copies the zone (allow it in dns.transfer_allow).',
    '',
    `  If a DNS provider publishes ${plan.domain} instead, enter these records there (the provider's`,
    '  name servers replace ns1), and remove [dns] listen from the config:',
    '',
    ...formatTable(['NAME', 'TYPE', 'VALUE'], rows)
      .trimEnd()
      .split('\n')
      .map((l) => `    ${l}`),
  ];
}

function ptrSection(plan: QuickstartPlan): string[] {
  return [
    'Reverse DNS (PTR)',
    `  Ask your hosting provider, who owns ${plan.address}, to set its reverse DNS to ${plan.hostname}:`,
    '',
    `    ${reverseName(plan.address)}  PTR  ${plan.hostname}`,
    '',
    `  Receiving servers check that ${plan.address} names ${plan.hostname} and that ${plan.hostname}`,
    '  points back to it; without that, much of what you send is refused or filed as spam.',
  ];
}

function nextSteps(plan: QuickstartPlan, configPath: string, show: (path: string) => string): string[] {
  const config = show(configPath);
  const bin = resolve(import.meta.dirname, '../../bin/postern.js');
  const user = currentUser();
  const ports = `${PORTS.dns} (UDP and TCP), ${[PORTS.smtp, PORTS.submission, PORTS.submissionTls, PORTS.imap, PORTS.imapTls, PORTS.pop3, PORTS.pop3Tls].join(', ')}`;
  return [
    'Next steps',
    `  1. Ports below 1024 need root or CAP_NET_BIND_SERVICE. Better than root, either run Postern`,
    '     from a systemd unit that grants the capability (/etc/systemd/system/postern.service):',
    '',
    '       [Service]',
    ...(user === null ? ['       User=postern        # a user of its own: useradd --system postern,', `                           # then chown -R postern ${dirOf(configPath)}`] : [`       User=${user}`]),
    `       ExecStart=${process.execPath} ${bin} start --config ${resolve(configPath)}`,
    '       ExecReload=/bin/kill -HUP $MAINPID',
    '       AmbientCapabilities=CAP_NET_BIND_SERVICE',
    '       Restart=on-failure',
    '       [Install]',
    '       WantedBy=multi-user.target',
    '',
    '     then `sudo systemctl enable --now postern`; or give the capability to the node binary',
    '     (every script it runs gets it too):',
    '',
    `       sudo setcap 'cap_net_bind_service=+ep' ${process.execPath}`,
    '',
    `  2. Open these ports in the firewall: ${ports}.`,
    '     Many hosting providers block outgoing port 25 until asked: without it, mail comes in',
    '     but cannot go out.',
    `  3. Start it:`,
    `       postern start --config ${config}`,
    `  4. Once the DNS records are published, check the domain's mail setup from outside:`,
    `       postern check ${plan.domain}`,
    `  5. Get a TLS certificate for ${plan.hostname} (Let's Encrypt: certbot certonly -d ${plan.hostname})`,
    '     and set it as [tls] cert and key in the config; until then clients see a self-signed one.',
    `  6. Read and send mail as postmaster@${plan.domain} at ${plan.hostname}: IMAP 993 (TLS) or 143,`,
    '     POP3 995 or 110, sending on 465 (TLS) or 587. Add people, and the abuse@ and hostmaster@',
    '     addresses RFC 2142 asks for:',
    `       postern account add USER@${plan.domain} --password-stdin --config ${config}`,
    `       postern alias add abuse@${plan.domain} postmaster@${plan.domain} --config ${config}`,
    `       postern alias add hostmaster@${plan.domain} postmaster@${plan.domain} --config ${config}`,
    '  7. Read the DMARC reports that come to postmaster for a few weeks; once only your server sends',
    `     as ${plan.domain}, raise p=none to p=quarantine in the zone (and its serial).`,
  ];
}

/** The login name for the unit's User=, or null when that is root (a service should not be). */
function currentUser(): string | null {
  try {
    const u = userInfo();
    return u.uid === 0 ? null : u.username;
  } catch {
    return null;
  }
}

function dirOf(path: string): string {
  return resolve(path, '..');
}

/** A path as the admin would type it: relative to where they are when it is below it. */
function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
