/**
 * `postern account add|list|remove`, run in-process against a temporary config and data_dir.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/core/logger.ts';
import { openConfiguredStore } from '../src/main.ts';
import { verifyPassword } from '../src/store/password.ts';
import type { Store } from '../src/store/types.ts';
import { runCommand, tempDir, writeConfig, type CommandResult } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

function node() {
  const dir = tempDir('cli-account');
  const config = writeConfig(
    `hostname = "mx.example.test"\ndata_dir = ${JSON.stringify(join(dir, 'data'))}\n[log]\nlevel = "silent"\n` +
      `[[domain]]\nname = "example.test"\nrole = "primary"\n[[domain]]\nname = "example.org"\nrole = "primary"\n[[domain]]\nname = "backup.test"\nrole = "backup"\n`,
    dir,
  );
  return {
    run: (args: string[], stdin?: string): Promise<CommandResult> => runCommand([...args, '-c', config], {}, stdin),
    async withStore<T>(f: (store: Store) => Promise<T>): Promise<T> {
      const store = await openConfiguredStore(loadConfig(config), silentLogger);
      try {
        return await f(store);
      } finally {
        await store.close();
      }
    },
  };
}

describe('postern account add', () => {
  it('stores the password as a scrypt hash that verifies, and creates the mailboxes', async () => {
    const n = node();
    const r = await n.run(['account', 'add', 'Alice@Example.TEST', '--password', 'correct horse']);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.equal(r.stdout, 'added Alice@example.test\n');
    await n.withStore(async (store) => {
      const account = await store.getAccount('alice@example.test');
      assert.ok(account?.passwordHash);
      assert.match(account.passwordHash, /^\$scrypt\$/);
      assert.equal(await verifyPassword('correct horse', account.passwordHash), true);
      assert.equal(await verifyPassword('wrong', account.passwordHash), false);
      assert.ok((await store.listMailboxes('alice@example.test'))?.some((m) => m.name === 'INBOX'));
    });
  });

  it('reads the password from the first line of stdin with --password-stdin', async () => {
    const n = node();
    const r = await n.run(['account', 'add', 'bob@example.org', '--password-stdin'], 's3cret pass\r\nignored second line\n');
    assert.equal(r.status, 0, r.stderr);
    await n.withStore(async (store) => {
      const hash = (await store.getAccount('bob@example.org'))?.passwordHash ?? '';
      assert.equal(await verifyPassword('s3cret pass', hash), true);
    });
  });

  const empties: Array<[string, string[], string | undefined]> = [
    ['an empty --password', ['--password', ''], undefined],
    ['nothing on stdin', ['--password-stdin'], ''],
    ['an empty first line on stdin', ['--password-stdin'], '\nsecond\n'],
  ];
  for (const [what, args, stdin] of empties) {
    it(`refuses ${what} and creates nothing`, async () => {
      const n = node();
      const r = await n.run(['account', 'add', 'carol@example.test', ...args], stdin);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /refusing an empty password/);
      assert.equal(await n.withStore((s) => s.getAccount('carol@example.test')), null);
    });
  }

  it('wants exactly one of --password and --password-stdin', async () => {
    const n = node();
    for (const args of [[], ['--password', 'x', '--password-stdin']]) {
      const r = await n.run(['account', 'add', 'dave@example.test', ...args], 'x\n');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /exactly one of --password PW or --password-stdin/);
    }
  });

  it('refuses an address outside the primary domains, naming the ones that are', async () => {
    const n = node();
    const other = await n.run(['account', 'add', 'eve@other.test', '--password', 'x']);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /other\.test is not a domain of this node; its primary domains are: example\.test, example\.org/);
    const backup = await n.run(['account', 'add', 'eve@backup.test', '--password', 'x']);
    assert.equal(backup.status, 1);
    assert.match(backup.stderr, /backup\.test is a backup domain on this node .*its primary domains are: example\.test, example\.org/);
  });

  it('refuses what is not an address', async () => {
    const r = await node().run(['account', 'add', 'no-at-sign', '--password', 'x']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /"no-at-sign" is not an address/);
  });

  it('refuses a duplicate, whatever its case, with exit 1', async () => {
    const n = node();
    assert.equal((await n.run(['account', 'add', 'frank@example.test', '--password', 'x'])).status, 0);
    const r = await n.run(['account', 'add', 'FRANK@example.test', '--password', 'y']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'postern: the account FRANK@example.test already exists\n');
  });
});

describe('postern account list', () => {
  it('lists accounts with their message counts, as a table and as JSON', async () => {
    const n = node();
    assert.equal((await n.run(['account', 'list'])).stdout, 'no accounts\n');
    assert.deepEqual(JSON.parse((await n.run(['account', 'list', '--json'])).stdout), []);
    await n.run(['account', 'add', 'zed@example.test', '--password', 'x']);
    await n.run(['account', 'add', 'amy@example.org', '--password', 'x']);
    await n.withStore((s) => s.append({ address: 'zed@example.test', data: new TextEncoder().encode('Subject: a\r\n\r\nb\r\n'), internalDate: Date.now() }));

    const text = await n.run(['account', 'list']);
    assert.equal(text.status, 0);
    const lines = text.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ADDRESS\s+CREATED\s+PASSWORD\s+MESSAGES$/);
    assert.match(lines[1] ?? '', /^amy@example\.org\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+set\s+0$/);
    assert.match(lines[2] ?? '', /^zed@example\.test\s+\S+\s+set\s+1$/);

    const json = JSON.parse((await n.run(['account', 'list', '--json'])).stdout) as Array<{ address: string; messages: number; passwordSet: boolean }>;
    assert.deepEqual(
      json.map((a) => [a.address, a.messages, a.passwordSet]),
      [
        ['amy@example.org', 0, true],
        ['zed@example.test', 1, true],
      ],
    );
  });
});

describe('postern account remove', () => {
  it('removes the account and says how many messages went with it', async () => {
    const n = node();
    await n.run(['account', 'add', 'gina@example.test', '--password', 'x']);
    await n.withStore(async (s) => {
      for (let i = 0; i < 3; i++) await s.append({ address: 'gina@example.test', data: new TextEncoder().encode(`Subject: ${i}\r\n\r\nx\r\n`), internalDate: Date.now() });
      await s.append({ address: 'gina@example.test', mailbox: 'Archive', data: new TextEncoder().encode('Subject: old\r\n\r\nx\r\n'), internalDate: Date.now() });
    });
    await n.run(['alias', 'add', 'info@example.test', 'gina@example.test']);
    const r = await n.run(['account', 'remove', 'GINA@example.test']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^removed gina@example\.test and its 4 messages\n/);
    assert.match(r.stdout, /aliases still pointing to it .*: info@example\.test/);
    assert.equal(await n.withStore((s) => s.getAccount('gina@example.test')), null);
  });

  it('names an account that does not exist, with exit 1', async () => {
    const r = await node().run(['account', 'remove', 'nobody@example.test']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'postern: no account nobody@example.test\n');
  });
});
