/**
 * `postern alias add|list|remove`, run in-process against a temporary config and data_dir; the
 * aliases are checked through the router that SMTP and sendmail use.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/core/logger.ts';
import { routeRecipient } from '../src/delivery/router.ts';
import { openConfiguredStore } from '../src/main.ts';
import { runCommand, tempDir, writeConfig, type CommandResult } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

function node() {
  const dir = tempDir('cli-alias');
  const config = writeConfig(
    `hostname = "mx.example.test"\ndata_dir = ${JSON.stringify(join(dir, 'data'))}\n[log]\nlevel = "silent"\n` +
      `[[domain]]\nname = "example.test"\nrole = "primary"\n[[domain]]\nname = "backup.test"\nrole = "backup"\n`,
    dir,
  );
  const run = (args: string[]): Promise<CommandResult> => runCommand([...args, '-c', config]);
  return {
    run,
    /** Where the router sends mail for `address`: the final addresses, or the refusal. */
    async route(address: string): Promise<string[] | string> {
      const loaded = loadConfig(config);
      const store = await openConfiguredStore(loaded, silentLogger);
      try {
        const at = address.lastIndexOf('@');
        const r = await routeRecipient({ local: address.slice(0, at), domain: address.slice(at + 1) }, { domains: loaded.domains, accounts: store }, { mayRelay: false });
        return r.kind === 'accept' ? r.recipients.map((x) => x.address).sort() : `${r.reply.code} ${r.reply.enhanced}`;
      } finally {
        await store.close();
      }
    },
    async withAccounts(...addresses: string[]): Promise<void> {
      for (const a of addresses) assert.equal((await run(['account', 'add', a, '--password', 'pw'])).status, 0);
    },
  };
}

describe('postern alias add', () => {
  it('makes an alias deliver to its targets, one target per add', async () => {
    const n = node();
    await n.withAccounts('ann@example.test', 'ben@example.test');
    const first = await n.run(['alias', 'add', 'team@example.test', 'ann@example.test']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, 'added team@example.test -> ann@example.test\n');
    assert.equal((await n.run(['alias', 'add', 'Team@EXAMPLE.test', 'ben@example.test'])).status, 0);
    assert.deepEqual(await n.route('team@example.test'), ['ann@example.test', 'ben@example.test']);
  });

  it('adds a catch-all (@domain) that takes every address without an account or alias', async () => {
    const n = node();
    await n.withAccounts('ann@example.test', 'ben@example.test');
    assert.equal(await n.route('whoever@example.test'), '550 5.1.1');
    const r = await n.run(['alias', 'add', '@example.test', 'ann@example.test']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^added @example\.test -> ann@example\.test \(catch-all/);
    assert.deepEqual(await n.route('whoever@example.test'), ['ann@example.test']);
    assert.deepEqual(await n.route('ben@example.test'), ['ben@example.test'], 'an account still gets its own mail');
  });

  it('may point outside our domains', async () => {
    const n = node();
    assert.equal((await n.run(['alias', 'add', 'fwd@example.test', 'someone@elsewhere.test'])).status, 0);
    assert.deepEqual(await n.route('fwd@example.test'), ['someone@elsewhere.test']);
  });

  it('refuses an alias outside the primary domains, naming the ones that are', async () => {
    const n = node();
    for (const alias of ['x@other.test', '@other.test', 'x@backup.test']) {
      const r = await n.run(['alias', 'add', alias, 'ann@example.test']);
      assert.equal(r.status, 1, alias);
      assert.match(r.stderr, /its primary domains are: example\.test/);
    }
  });

  it('refuses the same alias and target twice with exit 1', async () => {
    const n = node();
    await n.withAccounts('ann@example.test');
    await n.run(['alias', 'add', 'a@example.test', 'ann@example.test']);
    const r = await n.run(['alias', 'add', 'A@example.test', 'ANN@example.test']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'postern: the alias A@example.test already points to ANN@example.test\n');
  });

  it('refuses an alias named like an account, which would never receive mail', async () => {
    const n = node();
    await n.withAccounts('ann@example.test');
    const r = await n.run(['alias', 'add', 'ann@example.test', 'someone@elsewhere.test']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ann@example\.test is an account/);
  });

  it('warns, and still adds, when the target in our own domain does not exist yet', async () => {
    const n = node();
    const r = await n.run(['alias', 'add', 'sales@example.test', 'nobody@example.test']);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /warning: nobody@example\.test is neither an account nor an alias yet/);
    assert.equal(await n.route('sales@example.test'), '550 5.1.1');
  });

  it('refuses what is not an address', async () => {
    const n = node();
    assert.match((await n.run(['alias', 'add', 'nope', 'ann@example.test'])).stderr, /"nope" is not an alias/);
    assert.match((await n.run(['alias', 'add', 'a@example.test', 'nope'])).stderr, /"nope" is not an address/);
  });
});

describe('postern alias list and remove', () => {
  it('lists aliases as a table and as JSON', async () => {
    const n = node();
    assert.equal((await n.run(['alias', 'list'])).stdout, 'no aliases\n');
    await n.withAccounts('ann@example.test');
    await n.run(['alias', 'add', '@example.test', 'ann@example.test']);
    await n.run(['alias', 'add', 'info@example.test', 'ann@example.test']);
    const text = await n.run(['alias', 'list']);
    assert.match(text.stdout, /^ALIAS\s+TARGET\s+CREATED\n@example\.test\s+ann@example\.test\s+\S+Z\ninfo@example\.test\s+ann@example\.test\s+\S+Z\n$/);
    const json = JSON.parse((await n.run(['alias', 'list', '--json'])).stdout) as Array<{ alias: string; target: string; catchAll: boolean }>;
    assert.deepEqual(
      json.map((a) => [a.alias, a.target, a.catchAll]),
      [
        ['@example.test', 'ann@example.test', true],
        ['info@example.test', 'ann@example.test', false],
      ],
    );
  });

  it('removes one target, then the whole alias; an unknown one is exit 1', async () => {
    const n = node();
    await n.withAccounts('ann@example.test', 'ben@example.test', 'cat@example.test');
    for (const t of ['ann', 'ben', 'cat']) await n.run(['alias', 'add', 'team@example.test', `${t}@example.test`]);
    const one = await n.run(['alias', 'remove', 'team@example.test', 'ben@example.test']);
    assert.equal(one.status, 0, one.stderr);
    assert.equal(one.stdout, 'removed team@example.test -> ben@example.test (1 target)\n');
    assert.deepEqual(await n.route('team@example.test'), ['ann@example.test', 'cat@example.test']);

    const notThere = await n.run(['alias', 'remove', 'team@example.test', 'ben@example.test']);
    assert.equal(notThere.status, 1);
    assert.match(notThere.stderr, /the alias team@example\.test does not point to ben@example\.test/);

    const all = await n.run(['alias', 'remove', 'team@example.test']);
    assert.equal(all.stdout, 'removed team@example.test (2 targets)\n');
    assert.equal(await n.route('team@example.test'), '550 5.1.1');

    const gone = await n.run(['alias', 'remove', 'team@example.test']);
    assert.equal(gone.status, 1);
    assert.equal(gone.stderr, 'postern: no alias team@example.test\n');
  });

  it('removes a catch-all', async () => {
    const n = node();
    await n.withAccounts('ann@example.test');
    await n.run(['alias', 'add', '@example.test', 'ann@example.test']);
    assert.equal((await n.run(['alias', 'remove', '@example.test'])).status, 0);
    assert.equal(await n.route('whoever@example.test'), '550 5.1.1');
  });
});
