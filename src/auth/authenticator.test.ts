import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../core/logger.ts';
import { hashPassword } from '../store/password.ts';
import type { Account } from '../store/types.ts';
import { addressKey, createAuthenticator } from './authenticator.ts';
import type { AuthenticatorOptions } from './authenticator.ts';
import type { AuthRequest } from './types.ts';

// Cheap scrypt: these tests are about counting, not about the cost of a hash.
const FAST = { N: 2 ** 4, r: 1, p: 1 };

interface Rig {
  auth: ReturnType<typeof createAuthenticator>;
  clock: { t: number };
  slept: number[];
  verified: string[];
  login(username: string, password: string, remoteAddress?: string): ReturnType<ReturnType<typeof createAuthenticator>['authenticate']>;
}

async function rig(options: Partial<AuthenticatorOptions> = {}): Promise<Rig> {
  const accounts = new Map<string, Account>();
  const add = async (address: string, password: string | null): Promise<void> => {
    accounts.set(address.toLowerCase(), { id: accounts.size + 1, address, passwordHash: password === null ? null : await hashPassword(password, { params: FAST }), createdAt: 0 });
  };
  await add('alice@example.test', 'alice-secret');
  await add('bob@example.test', 'bob-secret');
  await add('nologin@example.test', null);
  const dummyHash = await hashPassword('never', { params: FAST });
  const clock = { t: 1_000_000 };
  const slept: number[] = [];
  const verified: string[] = [];
  const auth = createAuthenticator({
    store: { getAccount: async (a) => accounts.get(a.toLowerCase()) ?? null },
    maxFailures: 3,
    lockoutMs: 60_000,
    delayStepMs: 100,
    maxDelayMs: 250,
    logger: silentLogger,
    now: () => clock.t,
    sleep: async (ms) => {
      slept.push(ms);
    },
    dummyHash,
    verify: async (password, hash) => {
      verified.push(hash === dummyHash ? 'dummy' : 'real');
      const { verifyPassword } = await import('../store/password.ts');
      return verifyPassword(password, hash);
    },
    ...options,
  });
  return {
    auth,
    clock,
    slept,
    verified,
    login: (username, password, remoteAddress = '192.0.2.1') => {
      const request: AuthRequest = { username, password, remoteAddress, service: 'submission' };
      return auth.authenticate(request);
    },
  };
}

describe('authenticator', () => {
  it('accepts the right password and answers with the address as stored, case and all', async () => {
    const r = await rig();
    assert.deepEqual(await r.login('Alice@Example.test', 'alice-secret'), { ok: true, address: 'alice@example.test' });
    assert.deepEqual(r.slept, []);
  });

  it('refuses a wrong password without saying more than "not locked"', async () => {
    const r = await rig();
    assert.deepEqual(await r.login('alice@example.test', 'guess'), { ok: false, locked: false });
  });

  it('treats an unknown account exactly like a wrong password: a hash is checked, and it counts', async () => {
    const r = await rig();
    assert.deepEqual(await r.login('nobody@example.test', 'guess'), { ok: false, locked: false });
    assert.deepEqual(await r.login('nologin@example.test', 'guess'), { ok: false, locked: false });
    assert.deepEqual(r.verified, ['dummy', 'dummy']);
    // Two failures from this address: the next answer is delayed by two steps.
    await r.login('alice@example.test', 'alice-secret');
    assert.deepEqual(r.slept, [100, 200]);
  });

  it('never lets an account without a password in, whatever it is given', async () => {
    const r = await rig();
    assert.equal((await r.login('nologin@example.test', 'never')).ok, false);
  });

  it('delays each answer by one step per failure so far, up to the maximum', async () => {
    const r = await rig({ maxFailures: 100 });
    for (let i = 0; i < 5; i++) await r.login('alice@example.test', `wrong ${i}`);
    assert.deepEqual(r.slept, [100, 200, 250, 250]);
  });

  it('locks the client address after maxFailures, answering locked without checking the password', async () => {
    const r = await rig();
    for (const user of ['a@example.test', 'b@example.test', 'c@example.test']) await r.login(user, 'guess');
    const checks = r.verified.length;
    assert.deepEqual(await r.login('alice@example.test', 'alice-secret'), { ok: false, locked: true });
    assert.equal(r.verified.length, checks, 'no password check while locked');
    // Another address is not affected.
    assert.deepEqual(await r.login('alice@example.test', 'alice-secret', '192.0.2.2'), { ok: true, address: 'alice@example.test' });
  });

  it('locks the account after maxFailures from many addresses, for everyone', async () => {
    const r = await rig();
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) await r.login('bob@example.test', 'guess', ip);
    assert.deepEqual(await r.login('bob@example.test', 'bob-secret', '203.0.113.9'), { ok: false, locked: true });
    assert.deepEqual(await r.login('alice@example.test', 'alice-secret', '203.0.113.9'), { ok: true, address: 'alice@example.test' });
  });

  it('locks unknown account names too, so a lockout says nothing about existence', async () => {
    const r = await rig();
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) await r.login('ghost@example.test', 'guess', ip);
    assert.deepEqual(await r.login('ghost@example.test', 'x', '203.0.113.9'), { ok: false, locked: true });
  });

  it('lifts a lockout after lockoutMs and starts counting afresh', async () => {
    const r = await rig();
    for (let i = 0; i < 3; i++) await r.login('alice@example.test', 'guess');
    r.clock.t += 59_999;
    assert.deepEqual(await r.login('alice@example.test', 'alice-secret'), { ok: false, locked: true });
    r.clock.t += 1;
    r.slept.length = 0;
    assert.deepEqual(await r.login('alice@example.test', 'alice-secret'), { ok: true, address: 'alice@example.test' });
    assert.deepEqual(r.slept, [], 'no delay left over from before the lockout');
  });

  it('forgets failures that never reached a lockout after lockoutMs', async () => {
    const r = await rig();
    await r.login('alice@example.test', 'guess');
    await r.login('alice@example.test', 'guess');
    r.clock.t += 60_000;
    await r.login('alice@example.test', 'guess');
    assert.deepEqual(await r.login('alice@example.test', 'alice-secret'), { ok: true, address: 'alice@example.test' });
  });

  it("clears the client address's count on success", async () => {
    const r = await rig();
    await r.login('alice@example.test', 'guess');
    await r.login('alice@example.test', 'guess');
    await r.login('alice@example.test', 'alice-secret');
    r.slept.length = 0;
    await r.login('carol@example.test', 'guess');
    // Only the account table remembers alice; carol from this address starts at zero.
    assert.deepEqual(r.slept, []);
  });

  it('keeps its tables bounded however many addresses and names fail', async () => {
    const r = await rig({ maxEntries: 50, maxFailures: 1000 });
    for (let i = 0; i < 500; i++) await r.login(`user${i}@example.test`, 'guess', `10.0.${i >> 8}.${i & 255}`);
    assert.ok(r.auth.tableSizes.addresses <= 50, `addresses: ${r.auth.tableSizes.addresses}`);
    assert.ok(r.auth.tableSizes.accounts <= 50, `accounts: ${r.auth.tableSizes.accounts}`);
  });

  it('answers locked (a temporary refusal) when the store fails, without counting it', async () => {
    const r = await rig({
      store: {
        getAccount: async () => {
          throw new Error('database is gone');
        },
      },
    });
    assert.deepEqual(await r.login('alice@example.test', 'alice-secret'), { ok: false, locked: true });
    assert.deepEqual(r.auth.tableSizes, { addresses: 0, accounts: 0 });
  });

  it('takes as long for an unknown account as for a wrong password with the real scrypt cost', async () => {
    const real = await hashPassword('alice-secret');
    const auth = createAuthenticator({
      store: { getAccount: async (a) => (a === 'alice@example.test' ? { id: 1, address: a, passwordHash: real, createdAt: 0 } : null) },
      maxFailures: 1000,
      lockoutMs: 60_000,
      delayStepMs: 0,
      maxDelayMs: 0,
      logger: silentLogger,
    });
    const time = async (username: string): Promise<number> => {
      const t = performance.now();
      await auth.authenticate({ username, password: 'guess', remoteAddress: '192.0.2.1', service: 'imap' });
      return performance.now() - t;
    };
    await time('nobody@example.test'); // makes the dummy hash
    const known = Math.min(await time('alice@example.test'), await time('alice@example.test'));
    const unknown = Math.min(await time('nobody@example.test'), await time('nobody@example.test'));
    // Both run one scrypt of the same cost; a shared machine makes exact ratios meaningless, so
    // this only rules out the shortcut (an unknown account answered without hashing).
    assert.ok(unknown > known / 4, `unknown ${unknown.toFixed(1)} ms vs known ${known.toFixed(1)} ms`);
  });
});

describe('addressKey', () => {
  const cases: Array<[string, string]> = [
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
  ];
  for (const [address, want] of cases) it(`counts ${address} as ${want}`, () => assert.equal(addressKey(address), want));
});
