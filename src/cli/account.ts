/**
 * `postern account add|list|remove`: the people who receive mail in a primary domain. An account
 * is an address with a password (stored as a scrypt hash) and its mailboxes; removing it removes
 * its mail too.
 */
import { hashPassword } from '../store/password.ts';
import { normalizeAddress } from '../store/address.ts';
import { isStoreError, StoreErrorCode } from '../store/errors.ts';
import type { Store } from '../store/types.ts';
import { fail, formatTable, formatTime, notPrimaryProblem, printJson, withStore } from './format.ts';
import { readStdin, type Io } from './io.ts';

export interface AccountAddOptions {
  config?: string;
  password?: string;
  passwordStdin?: boolean;
}

export async function accountAddCommand(address: string, options: AccountAddOptions, io: Io): Promise<number> {
  if ((options.password !== undefined) === (options.passwordStdin === true)) {
    return fail(io, 'give the password with exactly one of --password PW or --password-stdin');
  }
  const a = normalizeAddress(address);
  if (a === null || a.local.trim() === '') return fail(io, `"${address}" is not an address (user@domain)`);
  return withStore(options, io, async ({ config, store, domains }) => {
    const problem = notPrimaryProblem(config, domains, a.domain);
    if (problem !== null) return fail(io, `cannot add ${a.address}: ${problem}`);
    const password = options.password ?? firstLine(await readStdin(io));
    if (password === '') return fail(io, 'refusing an empty password');
    if ((await store.getAccount(a.address)) !== null) return fail(io, `the account ${a.address} already exists`);
    try {
      await store.createAccount({ address: a.address, passwordHash: await hashPassword(password) });
    } catch (err) {
      // Someone else added it between our check and our insert.
      if (isStoreError(err, StoreErrorCode.AccountExists)) return fail(io, `the account ${a.address} already exists`);
      throw err;
    }
    io.stdout.write(`added ${a.address}\n`);
    const alias = await store.listAliases({ alias: a.address });
    if (alias.length > 0) {
      io.stdout.write(`note: ${a.address} is also an alias (to ${alias.map((r) => r.target).join(', ')}); the account now receives its mail\n`);
    }
    return 0;
  });
}

/** The first line of what came on stdin, without its line ending: `echo secret | postern account add …`. */
function firstLine(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes);
  const end = text.search(/\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}

export interface AccountJson {
  address: string;
  createdAt: string;
  passwordSet: boolean;
  messages: number;
}

export async function accountListCommand(options: { config?: string; json?: boolean }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const accounts: AccountJson[] = [];
    for (const a of await store.listAccounts()) {
      accounts.push({ address: a.address, createdAt: formatTime(a.createdAt), passwordSet: a.passwordHash !== null, messages: await countAllMessages(store, a.address) });
    }
    if (options.json === true) {
      printJson(io, accounts);
    } else if (accounts.length === 0) {
      io.stdout.write('no accounts\n');
    } else {
      io.stdout.write(
        formatTable(
          ['ADDRESS', 'CREATED', 'PASSWORD', 'MESSAGES'],
          accounts.map((a) => [a.address, a.createdAt, a.passwordSet ? 'set' : 'none', String(a.messages)]),
        ),
      );
    }
    return 0;
  });
}

export async function accountRemoveCommand(address: string, options: { config?: string }, io: Io): Promise<number> {
  return withStore(options, io, async ({ store }) => {
    const account = await store.getAccount(address);
    if (account === null) return fail(io, `no account ${address}`);
    const messages = await countAllMessages(store, account.address);
    if (!(await store.deleteAccount(account.address))) return fail(io, `no account ${address}`);
    io.stdout.write(`removed ${account.address} and its ${messages} message${messages === 1 ? '' : 's'}\n`);
    const key = account.address.toLowerCase();
    const pointing = (await store.listAliases()).filter((r) => r.target.toLowerCase() === key);
    if (pointing.length > 0) {
      io.stdout.write(`aliases still pointing to it (postern alias remove ALIAS TARGET): ${pointing.map((r) => r.alias).join(', ')}\n`);
    }
    return 0;
  });
}

/** Messages in all of an account's mailboxes. */
async function countAllMessages(store: Store, address: string): Promise<number> {
  let n = 0;
  for (const m of (await store.listMailboxes(address)) ?? []) n += await store.countMessages({ address, mailbox: m.name });
  return n;
}
