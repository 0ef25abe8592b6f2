import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routeRecipient, type RouteResult } from './router.ts';
import { openSqliteStore } from '../store/sqlite/index.ts';
import type { Store } from '../store/types.ts';

const domains = [
  { name: 'domain.test', role: 'primary' as const },
  { name: 'other.test', role: 'primary' as const },
  { name: 'held.test', role: 'backup' as const },
];

describe('routeRecipient', () => {
  let store: Store;
  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    await store.createAccount({ address: 'alice@domain.test' });
    await store.createAccount({ address: 'Bob@other.test' });
    await store.addAlias({ alias: 'postmaster@domain.test', target: 'alice@domain.test' });
    await store.addAlias({ alias: 'team@domain.test', target: 'alice@domain.test' });
    await store.addAlias({ alias: 'team@domain.test', target: 'bob@other.test' });
    await store.addAlias({ alias: 'team@domain.test', target: 'friend@far.test' });
    await store.addAlias({ alias: 'loop1@domain.test', target: 'loop2@domain.test' });
    await store.addAlias({ alias: 'loop2@domain.test', target: 'loop1@domain.test' });
    await store.addAlias({ alias: '@other.test', target: 'bob@other.test' });
  });
  after(() => store.close());

  const route = (local: string, domain: string, mayRelay = false): Promise<RouteResult> =>
    routeRecipient({ local, domain }, { domains, accounts: store }, { mayRelay });
  const accepted = async (local: string, domain: string, mayRelay = false) => {
    const r = await route(local, domain, mayRelay);
    assert.equal(r.kind, 'accept', JSON.stringify(r));
    return r.kind === 'accept' ? r.recipients.map((x) => `${x.address} ${x.route}`).sort() : [];
  };
  const refused = async (local: string, domain: string, mayRelay = false) => {
    const r = await route(local, domain, mayRelay);
    assert.equal(r.kind, 'reject');
    return r.kind === 'reject' ? `${r.reply.code} ${r.reply.enhanced}` : '';
  };

  it('accepts an account of a primary domain, whatever the case of its address', async () => {
    assert.deepEqual(await accepted('ALICE', 'Domain.Test'), ['alice@domain.test local']);
  });
  it('refuses an unknown user of a primary domain with 550 5.1.1', async () => {
    assert.equal(await refused('nobody', 'domain.test'), '550 5.1.1');
  });
  it('expands an alias to every target, local and remote', async () => {
    assert.deepEqual(await accepted('team', 'domain.test'), ['Bob@other.test local', 'alice@domain.test local', 'friend@far.test remote']);
  });
  it('uses the catch-all of a domain for an unknown user', async () => {
    assert.deepEqual(await accepted('anything', 'other.test'), ['Bob@other.test local']);
  });
  it('refuses an alias loop rather than following it forever', async () => {
    assert.equal(await refused('loop1', 'domain.test'), '550 5.1.1');
  });
  it('holds a backup domain\'s recipient for forwarding', async () => {
    assert.deepEqual(await accepted('anyone', 'held.test'), ['anyone@held.test backup']);
  });
  it('refuses to relay to another domain for an unauthenticated client, with 550 5.7.1', async () => {
    assert.equal(await refused('someone', 'far.test'), '550 5.7.1');
  });
  it('relays for a trusted sender', async () => {
    assert.deepEqual(await accepted('someone', 'far.test', true), ['someone@far.test remote']);
  });
  for (const local of ['user%far.test', 'far.test!user', 'user@far.test']) {
    it(`refuses the relay trick "${local}@domain.test" with 550 5.7.1, even for a trusted sender`, async () => {
      assert.equal(await refused(local, 'domain.test', true), '550 5.7.1');
    });
  }
});
