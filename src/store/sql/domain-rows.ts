/**
 * Mail domains kept in the store (`postern domain add`), so that every node sharing the database
 * sees a domain added or removed on any of them. Names are stored as `normalizeDomain` gives them
 * (lower-case, no trailing dot), as the config's [[domain]] names are: the key every lookup compares.
 */
import type { Kysely } from 'kysely';
import { domainNameProblem, normalizeDomain } from '../../core/domain-name.ts';
import { StoreError, StoreErrorCode } from '../errors.ts';
import type { MailDomain, MailDomainRole } from '../types.ts';
import type { Database } from './tables.ts';

const ROLES: readonly MailDomainRole[] = ['primary', 'backup'];

function requireDomain(name: string): string {
  const problem = domainNameProblem(name);
  if (problem !== null) throw new StoreError(StoreErrorCode.Invalid, `"${name}" is no domain name: it ${problem}`);
  return normalizeDomain(name);
}

function requireRole(role: string): MailDomainRole {
  const found = ROLES.find((r) => r === role);
  if (found === undefined) throw new StoreError(StoreErrorCode.Invalid, `"${role}" is no domain role: give "primary" or "backup"`);
  return found;
}

function toDomain(row: { name: string; role: string; created_at: number | string }): MailDomain {
  return { name: row.name, role: requireRole(row.role), createdAt: Number(row.created_at) };
}

export async function addDomain(db: Kysely<Database>, options: { name: string; role: MailDomainRole; now: number }): Promise<MailDomain> {
  const name = requireDomain(options.name);
  const role = requireRole(options.role);
  // ON CONFLICT DO NOTHING rather than catching the duplicate key: the engines word that error
  // differently, and two nodes adding one domain at once is a plain "exists" for the loser.
  const row = await db
    .insertInto('mail_domains')
    .values({ name, role, created_at: options.now })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning(['name', 'role', 'created_at'])
    .executeTakeFirst();
  if (row === undefined) throw new StoreError(StoreErrorCode.DomainExists, `the domain ${name} exists`);
  return toDomain(row);
}

export async function setDomainRole(db: Kysely<Database>, name: string, role: MailDomainRole): Promise<boolean> {
  const key = requireDomain(name);
  const r = await db.updateTable('mail_domains').set({ role: requireRole(role) }).where('name', '=', key).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function removeDomain(db: Kysely<Database>, name: string): Promise<boolean> {
  if (domainNameProblem(name) !== null) return false;
  const r = await db.deleteFrom('mail_domains').where('name', '=', normalizeDomain(name)).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function listDomains(db: Kysely<Database>): Promise<MailDomain[]> {
  const rows = await db.selectFrom('mail_domains').select(['name', 'role', 'created_at']).orderBy('name').execute();
  return rows.map(toDomain);
}
