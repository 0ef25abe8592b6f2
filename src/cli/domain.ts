/**
 * `postern domain add|list|role|remove`: the mail domains kept in the store. Every node sharing
 * the store (a cluster on one PostgreSQL database, or the server on the same SQLite file) serves a
 * domain added here within a second, without a restart. A node's config file may list domains of
 * its own ([[domain]] tables): those are the file's to change, and on that node their role wins.
 */
import type { DomainConfig } from '../config/schema.ts';
import { domainNameProblem, normalizeDomain } from '../core/domain-name.ts';
import { isStoreError, StoreErrorCode } from '../store/errors.ts';
import type { MailDomainRole, Store } from '../store/types.ts';
import { fail, formatTable, printJson, withStore } from './format.ts';
import type { Io } from './io.ts';

const ROLES: readonly MailDomainRole[] = ['primary', 'backup'];

function parseRole(text: string | undefined, io: Io): MailDomainRole | null {
  const role = ROLES.find((r) => r === (text ?? 'primary').toLowerCase());
  if (role === undefined) fail(io, `"${text}" is no domain role: give primary (mail filed in mailboxes here) or backup (held here and forwarded to the domain's more preferred MX hosts)`);
  return role ?? null;
}

function parseName(name: string, io: Io): string | null {
  const problem = domainNameProblem(name);
  if (problem !== null) {
    fail(io, `"${name}" is no domain name: it ${problem}`);
    return null;
  }
  return normalizeDomain(name);
}

function inConfigProblem(configured: readonly DomainConfig[], name: string, file: string | null, what: string): string | null {
  const c = configured.find((d) => d.name === name);
  if (c === undefined) return null;
  return `${name} is a ${c.role} domain in ${file ?? 'the config'} ([[domain]]): ${what} there (it is that node's own setting, and wins over the store on that node)`;
}

export async function domainAddCommand(name: string, options: { config?: string; role?: string }, io: Io): Promise<number> {
  const domain = parseName(name, io);
  if (domain === null) return 1;
  const role = parseRole(options.role, io);
  if (role === null) return 1;
  return withStore(options, io, async ({ config, store }) => {
    const inConfig = inConfigProblem(config.domains, domain, config.file, 'it is served already; change it');
    if (inConfig !== null) return fail(io, inConfig);
    try {
      await store.addDomain({ name: domain, role });
    } catch (err) {
      if (!isStoreError(err, StoreErrorCode.DomainExists)) throw err;
      const existing = (await store.listDomains()).find((d) => d.name === domain);
      return fail(io, `${domain} is already a ${existing?.role ?? 'mail'} domain${existing !== undefined && existing.role !== role ? ` (postern domain role ${domain} ${role} changes that)` : ''}`);
    }
    io.stdout.write(`added ${domain} as a ${role} domain; every node on this store serves it within a second\n`);
    if (role === 'primary') {
      io.stdout.write(`next: postern account add user@${domain}, and MX records for ${domain} that name this node\n`);
    } else {
      io.stdout.write(`mail for ${domain} is held here and forwarded only to its MX hosts more preferred than ${config.hostname}; recipients are checked with the primary (or backup.recipients)\n`);
    }
    return 0;
  });
}

export async function domainRoleCommand(name: string, roleText: string, options: { config?: string; force?: boolean }, io: Io): Promise<number> {
  const domain = parseName(name, io);
  if (domain === null) return 1;
  const role = parseRole(roleText, io);
  if (role === null) return 1;
  return withStore(options, io, async ({ config, store }) => {
    const inConfig = inConfigProblem(config.domains, domain, config.file, 'change its role');
    if (inConfig !== null) return fail(io, inConfig);
    const before = (await store.listDomains()).find((d) => d.name === domain);
    if (before === undefined) return fail(io, `${domain} is not a domain in the store (postern domain list)`);
    if (before.role === 'primary' && role === 'backup' && options.force !== true) {
      const { accounts, aliases } = await usersOf(store, domain);
      // Their mail would be held and forwarded to the domain's MX hosts instead of filed here.
      if (accounts + aliases > 0) {
        return fail(io, `${domain} still has ${accounts} account${accounts === 1 ? '' : 's'} and ${aliases} alias${aliases === 1 ? '' : 'es'}: as a backup domain its mail would be held and forwarded instead of filed for them; add --force to change the role anyway`);
      }
    }
    if (!(await store.setDomainRole(domain, role))) return fail(io, `${domain} is not a domain in the store (postern domain list)`);
    io.stdout.write(before.role === role ? `${domain} is a ${role} domain already\n` : `${domain} is now a ${role} domain (was ${before.role})\n`);
    return 0;
  });
}

export async function domainRemoveCommand(name: string, options: { config?: string; force?: boolean }, io: Io): Promise<number> {
  const domain = parseName(name, io);
  if (domain === null) return 1;
  return withStore(options, io, async ({ config, store }) => {
    const inConfig = inConfigProblem(config.domains, domain, config.file, 'remove the [[domain]] table');
    if (inConfig !== null) return fail(io, inConfig);
    const stored = (await store.listDomains()).find((d) => d.name === domain);
    if (stored === undefined) return fail(io, `${domain} is not a domain in the store (postern domain list)`);
    const { accounts, aliases } = await usersOf(store, domain);
    if (stored.role === 'primary' && accounts + aliases > 0 && options.force !== true) {
      // Mail to them would be refused as relaying from then on: a permanent 5xx to every sender.
      return fail(io, `${domain} still has ${accounts} account${accounts === 1 ? '' : 's'} and ${aliases} alias${aliases === 1 ? '' : 'es'}: mail to them would be refused once the domain is gone; remove them first, or add --force to keep them (with their mail) without receiving any`);
    }
    await store.removeDomain(domain);
    io.stdout.write(`removed ${domain}; no node on this store accepts mail for it after a second\n`);
    if (accounts + aliases > 0) io.stdout.write(`kept: ${accounts} account${accounts === 1 ? '' : 's'} and ${aliases} alias${aliases === 1 ? '' : 'es'} of ${domain} (postern domain add ${domain} serves them again)\n`);
    return 0;
  });
}

export interface DomainJson {
  name: string;
  role: MailDomainRole;
  /** `config`: a [[domain]] of this node's config file; `store`: added with `postern domain add`. */
  source: 'config' | 'store';
  accounts: number;
  /** Set when the store holds the name with another role, which the config overrides on this node. */
  storeRole?: MailDomainRole;
}

export async function domainListCommand(options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  return withStore(options, io, async ({ config, store }) => {
    const stored = await store.listDomains();
    const accounts = new Map<string, number>();
    for (const a of await store.listAccounts()) {
      const d = a.address.slice(a.address.lastIndexOf('@') + 1);
      accounts.set(d, (accounts.get(d) ?? 0) + 1);
    }
    const rows: DomainJson[] = config.domains.map((d) => {
      const s = stored.find((x) => x.name === d.name);
      return { name: d.name, role: d.role, source: 'config', accounts: accounts.get(d.name) ?? 0, ...(s !== undefined && s.role !== d.role ? { storeRole: s.role } : {}) };
    });
    for (const s of stored) {
      if (!config.domains.some((d) => d.name === s.name)) rows.push({ name: s.name, role: s.role, source: 'store', accounts: accounts.get(s.name) ?? 0 });
    }
    if (options.json === true) {
      printJson(io, rows);
    } else if (rows.length === 0) {
      io.stdout.write(`no domains: add one with postern domain add NAME, or a [[domain]] table in ${config.file ?? 'the config'}\n`);
    } else {
      io.stdout.write(
        formatTable(
          ['DOMAIN', 'ROLE', 'ACCOUNTS', 'FROM'],
          rows.map((r) => [
            r.name,
            r.role,
            String(r.accounts),
            r.source === 'config' ? `config file${r.storeRole !== undefined ? ` (the store says ${r.storeRole}: the file wins on this node)` : ''}` : 'store (postern domain add)',
          ]),
        ),
      );
    }
    return 0;
  });
}

async function usersOf(store: Store, domain: string): Promise<{ accounts: number; aliases: number }> {
  const accounts = (await store.listAccounts()).filter((a) => a.address.toLowerCase().endsWith(`@${domain}`)).length;
  const aliases = new Set((await store.listAliases()).filter((r) => r.alias.toLowerCase().endsWith(`@${domain}`)).map((r) => r.alias.toLowerCase())).size;
  return { accounts, aliases };
}
