/**
 * `postern alias add|list|remove`: other names for mail in a primary domain. An alias points to
 * one or more targets (accounts, other aliases, or addresses elsewhere); `@domain` is the
 * catch-all that takes mail for every address of the domain that is neither an account nor an
 * alias of its own.
 */
import { normalizeAddress, normalizeAlias } from '../store/address.ts';
import { isStoreError, StoreErrorCode } from '../store/errors.ts';
import { fail, formatTable, formatTime, notPrimaryProblem, printJson, withStore } from './format.ts';
import type { Io } from './io.ts';

export async function aliasAddCommand(alias: string, target: string, options: { config?: string }, io: Io): Promise<number> {
  const a = normalizeAlias(alias);
  if (a === null) return fail(io, `"${alias}" is not an alias (user@domain, or @domain for a catch-all)`);
  const t = normalizeAddress(target);
  if (t === null) return fail(io, `"${target}" is not an address (user@domain)`);
  return withStore(options, io, async ({ config, store, domains }) => {
    const problem = notPrimaryProblem(config, domains, a.domain);
    if (problem !== null) return fail(io, `cannot add the alias ${a.alias}: ${problem}`);
    if (!a.catchAll && (await store.getAccount(a.alias)) !== null) {
      return fail(io, `${a.alias} is an account: an alias of the same name would never receive mail`);
    }
    try {
      await store.addAlias({ alias: a.alias, target: t.address });
    } catch (err) {
      if (isStoreError(err, StoreErrorCode.AliasExists)) return fail(io, `the alias ${a.alias} already points to ${t.address}`);
      throw err;
    }
    io.stdout.write(`added ${a.alias} -> ${t.address}${a.catchAll ? ` (catch-all: every address of ${a.domain} without an account or alias of its own)` : ''}\n`);
    // A target in one of our primary domains must exist, or the mail would bounce: say so now.
    if (notPrimaryProblem(config, domains, t.domain) === null && (await store.getAccount(t.address)) === null && (await store.lookupAlias(t.address)) === null) {
      io.stderr.write(`postern: warning: ${t.address} is neither an account nor an alias yet; mail to ${a.alias} will be refused until it is\n`);
    }
    return 0;
  });
}

export interface AliasJson {
  alias: string;
  target: string;
  catchAll: boolean;
  createdAt: string;
}

export async function aliasListCommand(options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const rows: AliasJson[] = (await store.listAliases()).map((r) => ({ alias: r.alias, target: r.target, catchAll: r.alias.startsWith('@'), createdAt: formatTime(r.createdAt) }));
    if (options.json === true) printJson(io, rows);
    else if (rows.length === 0) io.stdout.write('no aliases\n');
    else io.stdout.write(formatTable(['ALIAS', 'TARGET', 'CREATED'], rows.map((r) => [r.alias, r.target, r.createdAt])));
    return 0;
  });
}

export async function aliasRemoveCommand(alias: string, target: string | undefined, options: { config?: string }, io: Io): Promise<number> {
  const a = normalizeAlias(alias);
  if (a === null) return fail(io, `"${alias}" is not an alias (user@domain, or @domain for a catch-all)`);
  return withStore(options, io, async ({ store }) => {
    const removed = await store.removeAlias(target === undefined ? { alias: a.alias } : { alias: a.alias, target });
    if (removed === 0) return fail(io, target === undefined ? `no alias ${a.alias}` : `the alias ${a.alias} does not point to ${target}`);
    io.stdout.write(`removed ${a.alias}${target === undefined ? '' : ` -> ${target}`} (${removed} target${removed === 1 ? '' : 's'})\n`);
    return 0;
  });
}
