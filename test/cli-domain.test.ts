/**
 * `postern domain add|list|role|remove`, run in-process against a temporary config and data_dir,
 * and against a node that runs on the same SQLite file: a domain added by the command is served by
 * the running server without a restart. (test/e2e-cluster.test.ts does the same across three
 * processes on one PostgreSQL database.)
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/core/logger.ts';
import { startPostern } from '../src/main.ts';
import { eventually } from './helpers/lab.ts';
import { runCommand, tempDir, writeConfig, type CommandResult } from './helpers/postern.ts';
import { RawSmtpClient } from './helpers/smtp-socket-client.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

/** This file's own address: no other test file listens on it. */
const HOST = '127.20.50.1';

function node(extra = '') {
  const dir = tempDir('cli-domain');
  const config = writeConfig(
    `hostname = "mx.example.test"\ndata_dir = ${JSON.stringify(join(dir, 'data'))}\n[log]\nlevel = "silent"\n` +
      // Nothing answers there: `postern route` below gives up on DNS quickly, which it reports.
      `[dns]\nresolvers = ["${HOST}:53"]\ntimeout_ms = 50\nattempts = 1\n` +
      `[[domain]]\nname = "example.test"\nrole = "primary"\n` +
      extra,
    dir,
  );
  return { config, run: (args: string[]): Promise<CommandResult> => runCommand([...args, '-c', config]) };
}

describe('postern domain', () => {
  it('adds, lists, re-roles and removes domains kept in the store, next to the config file\'s', async () => {
    const n = node();
    const added = await n.run(['domain', 'add', 'Hosted.TEST.']);
    assert.equal(added.stderr, '');
    assert.equal(added.status, 0);
    assert.match(added.stdout, /^added hosted\.test as a primary domain; every node on this store serves it within a second\n/);
    assert.equal((await n.run(['domain', 'add', 'held.test', '--role', 'backup'])).status, 0);
    assert.equal((await n.run(['account', 'add', 'ann@hosted.test', '--password', 'pw'])).status, 0, 'an account in a stored primary domain');

    const list = await n.run(['domain', 'list']);
    assert.equal(list.status, 0, list.stderr);
    assert.equal(
      list.stdout,
      [
        'DOMAIN        ROLE     ACCOUNTS  FROM',
        'example.test  primary  0         config file',
        'held.test     backup   0         store (postern domain add)',
        'hosted.test   primary  1         store (postern domain add)',
        '',
      ].join('\n'),
    );

    const route = await n.run(['route', 'ann@hosted.test', '--json']);
    assert.equal(route.stderr, '');
    assert.equal((JSON.parse(route.stdout) as { route: string }).route, 'local', 'postern route knows the stored domain');

    const role = await n.run(['domain', 'role', 'held.test', 'primary']);
    assert.equal(role.stdout, 'held.test is now a primary domain (was backup)\n');
    assert.equal((await n.run(['domain', 'role', 'held.test', 'primary'])).stdout, 'held.test is a primary domain already\n');
    const removed = await n.run(['domain', 'remove', 'held.test']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed held.test; no node on this store accepts mail for it after a second\n');
    const json = JSON.parse((await n.run(['domain', 'list', '--json'])).stdout) as Array<{ name: string; source: string }>;
    assert.deepEqual(json.map((d) => `${d.name} ${d.source}`), ['example.test config', 'hosted.test store']);
  });

  const refusals: Array<{ title: string; args: string[]; stderr: RegExp }> = [
    { title: 'a name that is no domain', args: ['domain', 'add', 'bad..test'], stderr: /"bad\.\.test" is no domain name: it has an empty label/ },
    { title: 'a role that is neither primary nor backup', args: ['domain', 'add', 'x.test', '--role', 'relay'], stderr: /"relay" is no domain role: give primary .* or backup/ },
    { title: "a domain of the config file (the file's to change)", args: ['domain', 'add', 'example.test'], stderr: /example\.test is a primary domain in .*postern\.toml \(\[\[domain\]\]\): it is served already; change it there/ },
    { title: "re-roling a domain of the config file", args: ['domain', 'role', 'example.test', 'backup'], stderr: /example\.test is a primary domain in .*: change its role there/ },
    { title: 'removing a domain of the config file', args: ['domain', 'remove', 'example.test'], stderr: /remove the \[\[domain\]\] table there/ },
    { title: 'removing a domain the store does not have', args: ['domain', 'remove', 'nothere.test'], stderr: /nothere\.test is not a domain in the store \(postern domain list\)/ },
    { title: 're-roling a domain the store does not have', args: ['domain', 'role', 'nothere.test', 'backup'], stderr: /nothere\.test is not a domain in the store/ },
  ];
  for (const r of refusals) {
    it(`refuses ${r.title}, naming it`, async () => {
      const n = node();
      const out = await n.run(r.args);
      assert.equal(out.status, 1);
      assert.equal(out.stdout, '');
      assert.match(out.stderr, r.stderr);
    });
  }

  it('refuses a domain added twice, saying how to change its role', async () => {
    const n = node();
    assert.equal((await n.run(['domain', 'add', 'x.test'])).status, 0);
    const again = await n.run(['domain', 'add', 'X.test', '--role', 'backup']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /x\.test is already a primary domain \(postern domain role x\.test backup changes that\)/);
  });

  it('refuses to remove a primary domain with accounts or aliases, or make it a backup domain, unless --force, and keeps them when forced', async () => {
    const n = node();
    assert.equal((await n.run(['domain', 'add', 'x.test'])).status, 0);
    assert.equal((await n.run(['account', 'add', 'ann@x.test', '--password', 'pw'])).status, 0);
    assert.equal((await n.run(['alias', 'add', 'team@x.test', 'ann@x.test'])).status, 0);
    const refused = await n.run(['domain', 'remove', 'x.test']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /x\.test still has 1 account and 1 alias: mail to them would be refused once the domain is gone; remove them first, or add --force/);
    const role = await n.run(['domain', 'role', 'x.test', 'backup']);
    assert.equal(role.status, 1);
    assert.match(role.stderr, /x\.test still has 1 account and 1 alias: as a backup domain its mail would be held and forwarded instead of filed for them; add --force/);
    assert.equal((await n.run(['domain', 'role', 'x.test', 'backup', '--force'])).status, 0);
    assert.equal((await n.run(['domain', 'role', 'x.test', 'primary'])).status, 0);
    const forced = await n.run(['domain', 'remove', 'x.test', '--force']);
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stdout, /kept: 1 account and 1 alias of x\.test/);
    const accounts = await n.run(['account', 'list', '--json']);
    assert.match(accounts.stdout, /ann@x\.test/);
    // With the domain gone, it can no longer take accounts.
    const add = await n.run(['account', 'add', 'ben@x.test', '--password', 'pw']);
    assert.equal(add.status, 1);
    assert.match(add.stderr, /x\.test is not a domain of this node; its primary domains are: example\.test \(`postern domain add x\.test` makes it one\)/);
  });

  it('a domain added while the server runs on the same SQLite file is served without a restart, and stops being served once removed', async () => {
    const n = node(`[smtp]\nlisten = ["${HOST}:0"]\n`);
    const postern = await startPostern(loadConfig(n.config), silentLogger);
    try {
      const smtp = postern.endpoints().find((e) => e.service === 'smtp');
      assert.ok(smtp);
      const rcpt = async (to: string): Promise<string> => {
        const c = await RawSmtpClient.connect(HOST, smtp.address.port);
        try {
          await c.reply('220');
          await c.send('EHLO tester.test', '250');
          await c.send('MAIL FROM:<alice@sender.test>', '250');
          return (await c.send(`RCPT TO:<${to}>`)).split('\r\n')[0] ?? '';
        } finally {
          c.close();
        }
      };
      assert.match(await rcpt('ann@late.test'), /^550 5\.7\.1 relaying denied: late\.test is not a domain of this server/);
      assert.equal((await n.run(['domain', 'add', 'late.test'])).status, 0);
      assert.equal((await n.run(['account', 'add', 'ann@late.test', '--password', 'pw'])).status, 0);
      await eventually(async () => /^250 /.test(await rcpt('ann@late.test')), 5000, 'the running server to accept ann@late.test');
      assert.equal((await n.run(['domain', 'remove', 'late.test', '--force'])).status, 0);
      await eventually(async () => /^550 5\.7\.1 /.test(await rcpt('ann@late.test')), 5000, 'the running server to refuse ann@late.test again');
    } finally {
      await postern.stop();
    }
  });
});
