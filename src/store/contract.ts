/**
 * The behaviour every `Store` engine must show, as a node:test suite. An engine's test file calls
 * `runStoreContract('sqlite :memory:', () => openSqliteStore(…))`; each case opens a fresh, empty
 * store and closes it. Times are given explicitly everywhere, so nothing here depends on the clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError, StoreErrorCode } from './errors.ts';
import type { NewQueuedMessage, NewRecipient, Route, Store } from './types.ts';

const T0 = 1_800_000_000_000;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

function rcpt(address: string, route: Route = 'remote', more: Partial<NewRecipient> = {}): NewRecipient {
  return { address, domain: address.slice(address.lastIndexOf('@') + 1), route, ...more };
}

function msg(id: string, receivedAt: number, recipients: NewRecipient[], more: Partial<NewQueuedMessage> = {}): NewQueuedMessage {
  return { id, receivedAt, sender: 'from@sender.test', data: bytes(`Subject: ${id}\r\n\r\nbody of ${id}\r\n`), source: 'mx', recipients, ...more };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isStoreError(err), `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

export function runStoreContract(name: string, makeStore: () => Promise<Store>): void {
  async function withStore(fn: (s: Store) => Promise<void>): Promise<void> {
    const s = await makeStore();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  }
  const test = (title: string, fn: (s: Store) => Promise<void>) => it(title, () => withStore(fn));

  describe(`store contract: ${name}`, () => {
    describe('accounts', () => {
      test('creates an account with its domain lower-cased and the local part as given', async (s) => {
        const a = await s.createAccount({ address: 'Alice.Smith@Example.TEST', passwordHash: 'h', now: T0 });
        assert.equal(a.address, 'Alice.Smith@example.test');
        assert.equal(a.passwordHash, 'h');
        assert.equal(a.createdAt, T0);
      });

      test('creates INBOX, Sent, Drafts, Trash, Junk and Archive with their RFC 6154 attributes', async (s) => {
        await s.createAccount({ address: 'a@example.test', now: T0 });
        const mbs = await s.listMailboxes('a@example.test');
        assert.ok(mbs !== null);
        assert.deepEqual(
          mbs.map((m) => [m.name, m.specialUse, m.uidNext]),
          [
            ['INBOX', null, 1],
            ['Sent', '\\Sent', 1],
            ['Drafts', '\\Drafts', 1],
            ['Trash', '\\Trash', 1],
            ['Junk', '\\Junk', 1],
            ['Archive', '\\Archive', 1],
          ],
        );
        assert.equal(new Set(mbs.map((m) => m.uidValidity)).size, 6, 'each mailbox has its own UIDVALIDITY');
        for (const m of mbs) assert.ok(m.uidValidity > 0 && m.uidValidity < 2 ** 32);
      });

      test('refuses a second account for the same address in any case with POSTERN_STORE_ACCOUNT_EXISTS', async (s) => {
        await s.createAccount({ address: 'bob@example.test', now: T0 });
        await rejectsWith(s.createAccount({ address: 'bob@example.test', now: T0 }), StoreErrorCode.AccountExists);
        await rejectsWith(s.createAccount({ address: 'BOB@EXAMPLE.TEST', now: T0 }), StoreErrorCode.AccountExists);
        assert.equal((await s.listAccounts()).length, 1);
      });

      for (const bad of ['', 'nobody', '@example.test', 'user@', 'user@exa mple.test']) {
        test(`refuses to create an account for ${JSON.stringify(bad)} with POSTERN_STORE_INVALID_ADDRESS`, async (s) => {
          await rejectsWith(s.createAccount({ address: bad, now: T0 }), StoreErrorCode.InvalidAddress);
        });
      }

      test('finds an account whatever the case of its local part and domain', async (s) => {
        await s.createAccount({ address: 'Carol@example.test', now: T0 });
        for (const q of ['Carol@example.test', 'carol@EXAMPLE.test', 'CAROL@Example.Test']) {
          assert.equal((await s.getAccount(q))?.address, 'Carol@example.test', q);
        }
        assert.equal(await s.getAccount('carol@other.test'), null);
        assert.equal(await s.getAccount('not an address'), null);
      });

      test('lists accounts by domain, then local part', async (s) => {
        for (const a of ['zed@b.test', 'amy@b.test', 'Mia@a.test']) await s.createAccount({ address: a, now: T0 });
        assert.deepEqual(
          (await s.listAccounts()).map((a) => a.address),
          ['Mia@a.test', 'amy@b.test', 'zed@b.test'],
        );
      });

      test('sets and clears the password hash, and says false for an unknown account', async (s) => {
        await s.createAccount({ address: 'd@example.test', now: T0 });
        assert.equal(await s.setPasswordHash('D@example.test', '$scrypt$x'), true);
        assert.equal((await s.getAccount('d@example.test'))?.passwordHash, '$scrypt$x');
        assert.equal(await s.setPasswordHash('d@example.test', null), true);
        assert.equal((await s.getAccount('d@example.test'))?.passwordHash, null);
        assert.equal(await s.setPasswordHash('nobody@example.test', 'h'), false);
      });

      test('deletes an account with its mailboxes and messages', async (s) => {
        await s.createAccount({ address: 'e@example.test', now: T0 });
        await s.append({ address: 'e@example.test', data: bytes('one'), internalDate: T0 });
        const before = await s.getMailbox({ address: 'e@example.test' });
        assert.equal(await s.deleteAccount('E@example.test'), true);
        assert.equal(await s.getAccount('e@example.test'), null);
        assert.equal(await s.listMailboxes('e@example.test'), null);
        assert.equal(await s.deleteAccount('e@example.test'), false);

        // Recreated, it starts empty and its INBOX has a new UIDVALIDITY (RFC 3501 §2.3.1.1).
        await s.createAccount({ address: 'e@example.test', now: T0 });
        assert.equal(await s.countMessages({ address: 'e@example.test' }), 0);
        const after = await s.getMailbox({ address: 'e@example.test' });
        assert.notEqual(after?.uidValidity, before?.uidValidity);
      });
    });

    describe('aliases', () => {
      test('adds, lists and removes alias rows, several targets per alias', async (s) => {
        await s.addAlias({ alias: 'Sales@Example.test', target: 'amy@example.test', now: T0 });
        await s.addAlias({ alias: 'sales@example.test', target: 'bob@example.test', now: T0 });
        await s.addAlias({ alias: '@example.test', target: 'postmaster@example.test', now: T0 });
        assert.deepEqual(
          (await s.listAliases()).map((r) => [r.alias, r.target]),
          [
            ['@example.test', 'postmaster@example.test'],
            ['Sales@example.test', 'amy@example.test'],
            ['sales@example.test', 'bob@example.test'],
          ],
        );
        assert.equal((await s.listAliases({ alias: 'SALES@example.test' })).length, 2);
        assert.equal(await s.removeAlias({ alias: 'sales@example.test', target: 'AMY@example.test' }), 1);
        assert.deepEqual(
          (await s.listAliases({ alias: 'sales@example.test' })).map((r) => r.target),
          ['bob@example.test'],
        );
        await s.addAlias({ alias: 'sales@example.test', target: 'cy@example.test', now: T0 });
        assert.equal(await s.removeAlias({ alias: 'sales@example.test' }), 2);
        assert.equal(await s.removeAlias({ alias: 'sales@example.test' }), 0);
        assert.equal((await s.listAliases()).length, 1);
      });

      test('refuses the same alias and target twice with POSTERN_STORE_ALIAS_EXISTS', async (s) => {
        await s.addAlias({ alias: 'x@example.test', target: 'y@example.test', now: T0 });
        await rejectsWith(s.addAlias({ alias: 'X@example.test', target: 'Y@EXAMPLE.test', now: T0 }), StoreErrorCode.AliasExists);
      });

      test('refuses an alias or target that is no address with POSTERN_STORE_INVALID_ADDRESS', async (s) => {
        await rejectsWith(s.addAlias({ alias: 'nobody', target: 'y@example.test' }), StoreErrorCode.InvalidAddress);
        await rejectsWith(s.addAlias({ alias: 'x@example.test', target: '@example.test' }), StoreErrorCode.InvalidAddress);
      });

      test('looks up the exact alias before the catch-all of its domain', async (s) => {
        await s.addAlias({ alias: '@example.test', target: 'catch@example.test', now: T0 });
        await s.addAlias({ alias: 'info@example.test', target: 'amy@example.test', now: T0 });
        await s.addAlias({ alias: 'info@example.test', target: 'bob@example.test', now: T0 });

        assert.deepEqual(await s.lookupAlias('INFO@Example.test'), {
          alias: 'info@example.test',
          catchAll: false,
          targets: ['amy@example.test', 'bob@example.test'],
        });
        assert.deepEqual(await s.lookupAlias('anyone@EXAMPLE.test'), {
          alias: '@example.test',
          catchAll: true,
          targets: ['catch@example.test'],
        });
        assert.equal(await s.lookupAlias('info@other.test'), null);
        assert.equal(await s.lookupAlias('info@sub.example.test'), null, 'a catch-all covers its own domain only');
      });
    });

    describe('mail domains', () => {
      test('adds domains in lower case, lists them by name, changes a role and removes one', async (s) => {
        assert.deepEqual(await s.listDomains(), []);
        const added = await s.addDomain({ name: 'Zeta.TEST', role: 'primary', now: T0 });
        assert.deepEqual(added, { name: 'zeta.test', role: 'primary', createdAt: T0 });
        await s.addDomain({ name: 'Beta.test.', role: 'backup', now: T0 + 1 });
        assert.deepEqual(
          (await s.listDomains()).map((d) => [d.name, d.role, d.createdAt]),
          [
            ['beta.test', 'backup', T0 + 1],
            ['zeta.test', 'primary', T0],
          ],
        );
        assert.equal(await s.setDomainRole('ZETA.test', 'backup'), true);
        assert.equal(await s.setDomainRole('missing.test', 'backup'), false);
        assert.equal(await s.removeDomain('beta.test'), true);
        assert.equal(await s.removeDomain('beta.test'), false);
        assert.deepEqual((await s.listDomains()).map((d) => [d.name, d.role]), [['zeta.test', 'backup']]);
      });

      test('refuses a domain that exists (in any case, with any role) with POSTERN_STORE_DOMAIN_EXISTS', async (s) => {
        await s.addDomain({ name: 'example.test', role: 'primary', now: T0 });
        await rejectsWith(s.addDomain({ name: 'EXAMPLE.test', role: 'backup', now: T0 }), StoreErrorCode.DomainExists);
        assert.deepEqual((await s.listDomains()).map((d) => d.role), ['primary']);
      });

      test('refuses a name that is no domain, and a role that is neither primary nor backup, with POSTERN_STORE_INVALID', async (s) => {
        await rejectsWith(s.addDomain({ name: 'a..test', role: 'primary', now: T0 }), StoreErrorCode.Invalid);
        await rejectsWith(s.addDomain({ name: 'ok.test', role: 'relay' as 'primary', now: T0 }), StoreErrorCode.Invalid);
        assert.deepEqual(await s.listDomains(), []);
      });

      test('removing a domain keeps its accounts and their mail', async (s) => {
        await s.addDomain({ name: 'example.test', role: 'primary', now: T0 });
        await s.createAccount({ address: 'a@example.test', now: T0 });
        assert.equal(await s.removeDomain('example.test'), true);
        assert.notEqual(await s.getAccount('a@example.test'), null);
      });
    });

    describe('mailboxes and messages', () => {
      test('appends a message and reads back its bytes, size, internal date and flags', async (s) => {
        await s.createAccount({ address: 'f@example.test', now: T0 });
        const data = bytes('From: a@b.test\r\nSubject: hi\r\n\r\nhello\r\n');
        const r = await s.append({ address: 'f@example.test', data, internalDate: T0 + 5, flags: ['\\Seen', '$Label1'] });
        const inbox = await s.getMailbox({ address: 'f@example.test', mailbox: 'inbox' });
        assert.deepEqual(r, { uid: 1, uidValidity: inbox?.uidValidity });
        assert.deepEqual(await s.listMessages({ address: 'F@example.test', mailbox: 'Inbox' }), [
          { uid: 1, internalDate: T0 + 5, size: data.byteLength, flags: ['\\Seen', '$Label1'] },
        ]);
        assert.deepEqual(await s.readMessage({ address: 'f@example.test', uid: 1 }), data);
        assert.equal(await s.readMessage({ address: 'f@example.test', uid: 2 }), null);
        assert.equal(await s.countMessages({ address: 'f@example.test' }), 1);
        assert.equal((await s.getMailbox({ address: 'f@example.test' }))?.uidNext, 2);
      });

      test('appends to a named mailbox, whose name is case-sensitive unlike INBOX', async (s) => {
        await s.createAccount({ address: 'g@example.test', now: T0 });
        await s.append({ address: 'g@example.test', mailbox: 'Sent', data: bytes('x'), internalDate: T0 });
        assert.equal(await s.countMessages({ address: 'g@example.test', mailbox: 'Sent' }), 1);
        assert.equal(await s.countMessages({ address: 'g@example.test' }), 0);
        await rejectsWith(
          s.append({ address: 'g@example.test', mailbox: 'sent', data: bytes('x'), internalDate: T0 }),
          StoreErrorCode.NotFound,
        );
      });

      test('refuses an append to an unknown account without failing the other writes of its batch', async (s) => {
        await s.createAccount({ address: 'h@example.test', now: T0 });
        const results = await Promise.allSettled([
          s.append({ address: 'h@example.test', data: bytes('1'), internalDate: T0 }),
          s.append({ address: 'nobody@example.test', data: bytes('2'), internalDate: T0 }),
          s.append({ address: 'h@example.test', data: bytes('3'), internalDate: T0 }),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        const bad = results[1];
        assert.ok(bad?.status === 'rejected' && isStoreError(bad.reason, StoreErrorCode.NotFound));
        assert.equal(await s.countMessages({ address: 'h@example.test' }), 2);
        assert.equal(await s.listMessages({ address: 'nobody@example.test' }), null);
      });

      test('gives 50 concurrent appends distinct, strictly increasing UIDs', async (s) => {
        await s.createAccount({ address: 'i@example.test', now: T0 });
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, n) => s.append({ address: 'i@example.test', data: bytes(`m${n}`), internalDate: T0 + n })),
        );
        const uids = results.map((r) => r.uid);
        assert.deepEqual(uids, Array.from({ length: 50 }, (_, n) => n + 1), 'in the order the appends were made');
        const listed = await s.listMessages({ address: 'i@example.test' });
        assert.deepEqual(
          listed?.map((m) => m.uid),
          uids,
        );
        // Each UID holds the bytes its append sent.
        for (const [n, r] of results.entries()) {
          assert.equal(text(await s.readMessage({ address: 'i@example.test', uid: r.uid })), `m${n}`);
        }
      });

      test('never gives a UID out again, even after its message is deleted', async (s) => {
        await s.createAccount({ address: 'j@example.test', now: T0 });
        const ref = { address: 'j@example.test' };
        await s.append({ ...ref, data: bytes('1'), internalDate: T0 });
        const two = await s.append({ ...ref, data: bytes('2'), internalDate: T0 });
        assert.equal(await s.deleteMessage({ ...ref, uid: two.uid }), true);
        assert.equal(await s.deleteMessage({ ...ref, uid: two.uid }), false);
        const three = await s.append({ ...ref, data: bytes('3'), internalDate: T0 });
        assert.equal(three.uid, 3);
        assert.deepEqual(
          (await s.listMessages(ref))?.map((m) => m.uid),
          [1, 3],
        );
      });
    });

    describe('IMAP: mailboxes, flags, copy, expunge and changes', () => {
      const A = 'imap@example.test';
      const add = (s: Store, text: string, more: { mailbox?: string; flags?: string[] } = {}) =>
        s.append({ address: A, data: bytes(text), internalDate: T0, ...more });

      test('creates, lists, renames with children and deletes mailboxes, refusing names taken or INBOX', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        const work = await s.createMailbox({ address: A, name: 'Work', now: T0 });
        assert.equal(work.uidNext, 1);
        await s.createMailbox({ address: A, name: 'Work/2026', now: T0 });
        await rejectsWith(s.createMailbox({ address: A, name: 'Work', now: T0 }), StoreErrorCode.Invalid);
        await rejectsWith(s.createMailbox({ address: A, name: 'inbox', now: T0 }), StoreErrorCode.Invalid);
        await rejectsWith(s.createMailbox({ address: 'nobody@example.test', name: 'X', now: T0 }), StoreErrorCode.NotFound);
        await add(s, 'w', { mailbox: 'Work/2026' });
        await s.renameMailbox({ address: A, from: 'Work', to: 'Jobs', delimiter: '/' });
        const names = (await s.listMailboxes(A))?.map((m) => m.name);
        assert.ok(names?.includes('Jobs') && names.includes('Jobs/2026') && !names.includes('Work'));
        assert.equal((await s.getMailbox({ address: A, mailbox: 'Jobs' }))?.uidValidity, work.uidValidity, 'a rename keeps UIDVALIDITY');
        assert.equal(await s.countMessages({ address: A, mailbox: 'Jobs/2026' }), 1);
        await rejectsWith(s.renameMailbox({ address: A, from: 'Jobs', to: 'Sent', delimiter: '/' }), StoreErrorCode.Invalid);
        await rejectsWith(s.renameMailbox({ address: A, from: 'Nope', to: 'X', delimiter: '/' }), StoreErrorCode.NotFound);
        assert.equal(await s.deleteMailbox({ address: A, mailbox: 'Jobs/2026' }), true);
        assert.equal(await s.deleteMailbox({ address: A, mailbox: 'Jobs/2026' }), false);
        await rejectsWith(s.deleteMailbox({ address: A, mailbox: 'INBOX' }), StoreErrorCode.Invalid);
        // Recreated under a used name, it gets a new UIDVALIDITY (RFC 3501 §2.3.1.1).
        const again = await s.createMailbox({ address: A, name: 'Work', now: T0 });
        assert.notEqual(again.uidValidity, work.uidValidity);
      });

      test('renaming INBOX moves its messages to the new mailbox and leaves INBOX empty', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        await add(s, 'one');
        await add(s, 'two');
        await s.renameMailbox({ address: A, from: 'inbox', to: 'Old', delimiter: '/' });
        assert.equal(await s.countMessages({ address: A }), 0);
        assert.deepEqual(
          (await s.listMessages({ address: A, mailbox: 'Old' }))?.map((m) => m.uid),
          [1, 2],
        );
        assert.equal((await add(s, 'three')).uid, 3, 'INBOX keeps counting UIDs');
      });

      test('keeps subscriptions as names: the default mailboxes are subscribed, others on request', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        assert.deepEqual(await s.listSubscriptions(A), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        await s.setSubscribed({ address: A, mailbox: 'Later', subscribed: true });
        await s.setSubscribed({ address: A, mailbox: 'Later', subscribed: true });
        await s.setSubscribed({ address: A, mailbox: 'Junk', subscribed: false });
        assert.deepEqual(await s.listSubscriptions(A), ['Archive', 'Drafts', 'INBOX', 'Later', 'Sent', 'Trash']);
        assert.equal(await s.listSubscriptions('nobody@example.test'), null);
      });

      test('adds, removes and replaces flags, system flags in any case, never storing \\Recent', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        await add(s, 'a', { flags: ['\\seen'] });
        await add(s, 'b');
        const ref = { address: A };
        let changed = await s.setFlags({ ...ref, uids: [1, 2, 99], operation: 'add', flags: ['\\FLAGGED', '$Work', '\\Recent'] });
        assert.deepEqual(
          changed.map((m) => [m.uid, m.flags]),
          [
            [1, ['\\Seen', '\\Flagged', '$Work']],
            [2, ['\\Flagged', '$Work']],
          ],
        );
        changed = await s.setFlags({ ...ref, uids: [1, 2], operation: 'remove', flags: ['\\seen'] });
        assert.deepEqual(
          changed.map((m) => m.uid),
          [1],
          'only messages whose flags changed',
        );
        changed = await s.setFlags({ ...ref, uids: [2], operation: 'replace', flags: ['\\Answered'] });
        assert.deepEqual((await s.listMessages(ref))?.map((m) => m.flags), [['\\Flagged', '$Work'], ['\\Answered']]);
      });

      test('expunges messages flagged \\Deleted, or only those among given UIDs, and reports them as changes', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        for (const t of ['1', '2', '3', '4']) await add(s, t);
        const ref = { address: A };
        const before = await s.getMailboxStatus(ref);
        await s.setFlags({ ...ref, uids: [1, 2, 4], operation: 'add', flags: ['\\Deleted'] });
        assert.deepEqual(await s.expunge({ ...ref, uids: [2, 3] }), [2]);
        assert.deepEqual(await s.expunge(ref), [1, 4]);
        assert.deepEqual(await s.expunge(ref), []);
        const changes = await s.mailboxChanges({ ...ref, since: before?.highestModseq ?? 0 });
        assert.deepEqual(changes?.expunged, [1, 2, 4]);
        assert.deepEqual(changes?.changed, [], 'message 3 was not touched; the others are gone');
      });

      test('copies and moves messages under new target UIDs, keeping flags and dates', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        await add(s, 'one', { flags: ['\\Seen'] });
        await add(s, 'two');
        await add(s, 'three');
        await add(s, 'x', { mailbox: 'Archive' });
        const archive = await s.getMailbox({ address: A, mailbox: 'Archive' });
        const copy = await s.copyMessages({ address: A, from: 'INBOX', to: 'Archive', uids: [3, 1, 42] });
        assert.deepEqual(copy, {
          uidValidity: archive?.uidValidity,
          uids: [
            [1, 2],
            [3, 3],
          ],
        });
        assert.deepEqual(
          (await s.listMessages({ address: A, mailbox: 'Archive' }))?.map((m) => [m.uid, m.flags, m.internalDate]),
          [
            [1, [], T0],
            [2, ['\\Seen'], T0],
            [3, [], T0],
          ],
        );
        assert.equal(text(await s.readMessage({ address: A, mailbox: 'Archive', uid: 3 })), 'three');
        const moved = await s.copyMessages({ address: A, from: 'INBOX', to: 'Trash', uids: [2], move: true });
        assert.deepEqual(moved.uids, [[2, 1]]);
        assert.deepEqual(
          (await s.listMessages({ address: A }))?.map((m) => m.uid),
          [1, 3],
        );
        await rejectsWith(s.copyMessages({ address: A, from: 'INBOX', to: 'Nope', uids: [1] }), StoreErrorCode.NotFound);
      });

      test('reports appends, flag changes and deletions since a modseq, and announces them to watchers', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        const seen: string[] = [];
        const stop = s.watchMailboxes((c) => seen.push(`${c.kind}:${c.account}`));
        await add(s, 'one');
        const mid = await s.getMailboxStatus({ address: A });
        assert.ok(mid !== null && mid.highestModseq > 0);
        await add(s, 'two');
        await s.setFlags({ address: A, uids: [1], operation: 'add', flags: ['\\Seen'] });
        await add(s, 'three');
        assert.equal(await s.deleteMessage({ address: A, uid: 3 }), true);
        const changes = await s.mailboxChanges({ address: A, since: mid.highestModseq });
        assert.deepEqual(
          changes?.changed.map((m) => [m.uid, m.flags]),
          [
            [1, ['\\Seen']],
            [2, []],
          ],
        );
        assert.deepEqual(changes?.expunged, [3]);
        assert.deepEqual(seen, ['append:' + A, 'append:' + A, 'flags:' + A, 'append:' + A, 'expunge:' + A]);
        stop();
        await add(s, 'four');
        assert.equal(seen.length, 5, 'no notice after the watcher stopped');
        const status = await s.getMailboxStatus({ address: A });
        assert.deepEqual([status?.messages, status?.unseen], [3, 2]);
        assert.equal(await s.mailboxChanges({ address: A, mailbox: 'Nope', since: 0 }), null);
      });

      test('reads many messages of a mailbox at once, in UID order, leaving out UIDs that do not exist', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        // More than one IN (…) chunk of the store's queries.
        await Promise.all(Array.from({ length: 230 }, (_, i) => add(s, `m${i + 1}`)));
        const all = (await s.listMessages({ address: A })) ?? [];
        const byUid = new Map<number, string>();
        for (const m of all) byUid.set(m.uid, text(await s.readMessage({ address: A, uid: m.uid })) ?? '');
        const wanted = [230, 3, 1, 999, 3, ...Array.from({ length: 220 }, (_, i) => i + 5)];
        const got = await s.readMessages({ address: A, uids: wanted });
        assert.ok(got !== null);
        const expected = [...new Set(wanted)].filter((u) => u <= 230).sort((a, b) => a - b);
        assert.deepEqual(got.map((m) => m.uid), expected);
        for (const m of got) assert.equal(text(m.data), byUid.get(m.uid));
        assert.deepEqual(await s.readMessages({ address: A, uids: [] }), []);
        assert.equal(await s.readMessages({ address: A, mailbox: 'Nope', uids: [1] }), null);
      });

      test('keeps each message\'s header section apart, and it follows the message through copy, move, rename and expunge', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        await add(s, 'Subject: one\r\nFrom: a@x.test\r\n\r\nbody one\r\n');
        await add(s, 'Subject: lf only\nX: y\n\nbody\n');
        await add(s, 'Subject: no body at all\r\n');
        await add(s, '\r\nno header\r\n');
        const header = async (mailbox: string | undefined, uids?: number[]) =>
          (await s.readHeaders({ address: A, ...(mailbox !== undefined ? { mailbox } : {}), ...(uids !== undefined ? { uids } : {}) }))?.map((h) => [h.uid, text(h.header)]);
        assert.deepEqual(await header(undefined), [
          [1, 'Subject: one\r\nFrom: a@x.test\r\n'],
          [2, 'Subject: lf only\nX: y\n'],
          [3, 'Subject: no body at all\r\n'],
          [4, ''],
        ]);
        assert.deepEqual(await header(undefined, [3, 1, 77]), [
          [1, 'Subject: one\r\nFrom: a@x.test\r\n'],
          [3, 'Subject: no body at all\r\n'],
        ]);
        await s.copyMessages({ address: A, from: 'INBOX', to: 'Archive', uids: [2] });
        await s.copyMessages({ address: A, from: 'INBOX', to: 'Trash', uids: [3], move: true });
        assert.deepEqual(await header('Archive'), [[1, 'Subject: lf only\nX: y\n']]);
        assert.deepEqual(await header('Trash'), [[1, 'Subject: no body at all\r\n']]);
        await s.setFlags({ address: A, uids: [4], operation: 'add', flags: ['\\Deleted'] });
        await s.expunge({ address: A });
        assert.equal(await s.deleteMessage({ address: A, uid: 2 }), true);
        assert.deepEqual(await header(undefined), [[1, 'Subject: one\r\nFrom: a@x.test\r\n']]);
        await s.renameMailbox({ address: A, from: 'INBOX', to: 'Old', delimiter: '/' });
        assert.deepEqual(await header(undefined), []);
        assert.deepEqual(await header('Old'), [[1, 'Subject: one\r\nFrom: a@x.test\r\n']]);
        await s.deleteMailbox({ address: A, mailbox: 'Old' });
        assert.equal(await s.readHeaders({ address: A, mailbox: 'Old' }), null);
      });

      test('searches header fields without regard to case, unfolded, in the named field only (IMAP SEARCH FROM, SUBJECT, HEADER)', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        await add(s, 'From: Alice <alice@x.test>\r\nSubject: Quarterly\r\n report\r\n\r\nbob is in the body\r\n');
        await add(s, 'From: bob@x.test\r\nTo: alice@x.test\r\nSubject: hello\r\n\r\n\r\n');
        await add(s, 'From: \u212aelvin <t@x.test>\r\nSubject: Grüße\r\n\r\nx\r\n');
        await add(s, 'Subject: none from\r\n\r\nFrom: alice@x.test\r\n');
        await add(s, 'Subject: 100%_off \\ deal\r\nX-Nul: a\u0000b Ottoline\r\n\r\n');
        const search = (tests: Array<{ field: string; text: string }>, uids?: number[]) =>
          s.searchHeaders({ address: A, tests, ...(uids !== undefined ? { uids } : {}) });
        assert.deepEqual(await search([{ field: 'FROM', text: 'ALICE' }]), [[1]], 'To: alice and a From: line in a body do not count');
        assert.deepEqual(await search([{ field: 'subject', text: 'quarterly report' }]), [[1]], 'a match across a folded line');
        assert.deepEqual(await search([{ field: 'From', text: 'KELVIN' }]), [[3]], 'K (U+212A) lower-cases to k');
        assert.deepEqual(await search([{ field: 'Subject', text: 'GRÜSSE' }, { field: 'subject', text: 'grüße' }]), [[], [3]]);
        assert.deepEqual(await search([{ field: 'from', text: '' }, { field: 'to', text: 'x.test' }]), [[1, 2, 3], [2]], 'an empty text: every message with the field');
        assert.deepEqual(await search([{ field: 'from', text: '' }], [3, 2, 4]), [[2, 3]]);
        assert.deepEqual(await search([{ field: 'subject', text: '' }]), [[1, 2, 3, 4, 5]]);
        assert.deepEqual(await search([]), []);
        assert.deepEqual(
          await search([
            { field: 'subject', text: '0%_OFF \\ D' },
            { field: 'subject', text: 'q_arterly' },
            { field: 'subject', text: '%' },
            { field: 'x-nul', text: 'OTTOLINE' },
          ]),
          [[5], [], [5], [5]],
          'LIKE\'s wildcards in the text are plain characters; a field after a NUL is still read',
        );
        assert.equal(await s.searchHeaders({ address: A, mailbox: 'Nope', tests: [{ field: 'from', text: 'a' }] }), null);
      });

      test('hands \\Recent to the first claimer only (RFC 3501 §2.3.2)', async (s) => {
        await s.createAccount({ address: A, now: T0 });
        await add(s, 'one');
        await add(s, 'two');
        assert.equal((await s.getMailboxStatus({ address: A }))?.recent, 2);
        assert.equal(await s.claimRecent({ address: A, upTo: 2 }), 0, 'the first session sees UIDs 1 and 2 as recent');
        assert.equal(await s.claimRecent({ address: A, upTo: 2 }), 2, 'the second sees none');
        await add(s, 'three');
        const status = await s.getMailboxStatus({ address: A });
        assert.deepEqual([status?.recent, status?.recentUid], [1, 2]);
        assert.equal(await s.claimRecent({ address: A, upTo: 1 }), 2, 'the mark never goes down');
        assert.equal((await s.getMailboxStatus({ address: A }))?.recentUid, 2);
      });
    });

    // [storage] blobs: the engines' test files run this contract with and without a directory.
    describe('message bodies (with or without [storage] blobs)', () => {
      test('the sweep takes no body a row names, however old, and every body reads back after it', async (s) => {
        await s.createAccount({ address: 'sw@example.test', now: T0 });
        await s.append({ address: 'sw@example.test', data: bytes('Subject: kept\r\n\r\nkept\r\n'), internalDate: T0 });
        await s.enqueue(msg('swq', T0, [rcpt('r@x.test')]));
        await s.copyMessages({ address: 'sw@example.test', from: 'INBOX', to: 'Archive', uids: [1] });
        // Grace 0 at the end of time (8.64e15 ms, JavaScript's last date): every file is old enough to be judged.
        const r = await s.sweepBlobs({ graceMs: 0, now: 8.64e15 });
        assert.equal(r.removed, 0);
        assert.deepEqual(r.sample, []);
        assert.equal(text(await s.readMessage({ address: 'sw@example.test', uid: 1 })), 'Subject: kept\r\n\r\nkept\r\n');
        assert.equal(text(await s.readMessage({ address: 'sw@example.test', mailbox: 'Archive', uid: 1 })), 'Subject: kept\r\n\r\nkept\r\n');
        assert.equal(text(await s.readQueuedData('swq')), 'Subject: swq\r\n\r\nbody of swq\r\n');
      });

      test('a copy stays readable after its original is expunged, and an INBOX rename keeps the bodies', async (s) => {
        await s.createAccount({ address: 'cp@example.test', now: T0 });
        await s.append({ address: 'cp@example.test', data: bytes('one'), internalDate: T0, flags: ['\\Deleted'] });
        await s.copyMessages({ address: 'cp@example.test', from: 'INBOX', to: 'Archive', uids: [1] });
        assert.deepEqual(await s.expunge({ address: 'cp@example.test' }), [1]);
        assert.equal(await s.readMessage({ address: 'cp@example.test', uid: 1 }), null);
        assert.equal(text(await s.readMessage({ address: 'cp@example.test', mailbox: 'Archive', uid: 1 })), 'one');
        await s.append({ address: 'cp@example.test', data: bytes('two'), internalDate: T0 });
        await s.renameMailbox({ address: 'cp@example.test', from: 'INBOX', to: 'Old', delimiter: '/' });
        assert.equal(text(await s.readMessage({ address: 'cp@example.test', mailbox: 'Old', uid: 1 })), 'two');
        await s.copyMessages({ address: 'cp@example.test', from: 'Old', to: 'Archive', uids: [1], move: true });
        assert.deepEqual(
          (await s.readMessages({ address: 'cp@example.test', mailbox: 'Archive', uids: [1, 2] }))?.map((m) => text(m.data)),
          ['one', 'two'],
        );
        assert.equal(await s.countMessages({ address: 'cp@example.test', mailbox: 'Old' }), 0);
      });
    });

    describe('queue: enqueue', () => {
      test('keeps the envelope, the recipients and the bytes of an enqueued message', async (s) => {
        const m = msg('m1', T0, [
          rcpt('a@one.test', 'local'),
          rcpt('b@Two.TEST', 'remote', { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;b@two.test' }),
        ], { sender: '', envid: 'ENV1', ret: 'hdrs', source: 'submission' });
        await s.enqueue(m);
        const q = await s.getQueued('m1');
        assert.ok(q !== null);
        assert.deepEqual(
          { ...q, recipients: [] },
          { id: 'm1', receivedAt: T0, sender: '', envid: 'ENV1', ret: 'hdrs', source: 'submission', size: m.data.byteLength, recipients: [] },
        );
        assert.deepEqual(
          q.recipients.map((r) => ({ ...r, id: 0 })),
          [
            {
              id: 0, address: 'a@one.test', domain: 'one.test', route: 'local', notify: null, orcpt: null, state: 'queued',
              attempts: 0, nextAttemptAt: T0, lastAttemptAt: null, lastReply: null, delayNoticeSent: false, leaseOwner: null, leaseUntil: null,
            },
            {
              id: 0, address: 'b@Two.TEST', domain: 'two.test', route: 'remote', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;b@two.test',
              state: 'queued', attempts: 0, nextAttemptAt: T0, lastAttemptAt: null, lastReply: null, delayNoticeSent: false,
              leaseOwner: null, leaseUntil: null,
            },
          ],
        );
        assert.deepEqual(await s.readQueuedData('m1'), m.data);
        assert.equal(await s.getQueued('nope'), null);
        assert.equal(await s.readQueuedData('nope'), null);
      });

      test('makes the first attempt due at firstAttemptAt when given', async (s) => {
        await s.enqueue(msg('m1', T0, [rcpt('a@x.test')], { firstAttemptAt: T0 + 1000 }));
        assert.equal(await s.nextAttemptAt(), T0 + 1000);
      });

      test('refuses a second message with the same id, and keeps the rest of its batch', async (s) => {
        await s.enqueue(msg('dup', T0, [rcpt('a@x.test')]));
        const results = await Promise.allSettled([
          s.enqueue(msg('dup', T0 + 1, [rcpt('b@x.test')])),
          s.enqueue(msg('other', T0 + 1, [rcpt('c@x.test')])),
        ]);
        const first = results[0];
        assert.ok(first?.status === 'rejected' && isStoreError(first.reason, StoreErrorCode.MessageExists));
        assert.equal(results[1]?.status, 'fulfilled');
        assert.equal((await s.getQueued('dup'))?.recipients[0]?.address, 'a@x.test');
        assert.ok((await s.getQueued('other')) !== null);
      });

      test('refuses a message without recipients with POSTERN_STORE_INVALID', async (s) => {
        await rejectsWith(s.enqueue(msg('empty', T0, [])), StoreErrorCode.Invalid);
      });

      test('writes 500 concurrent enqueues in far fewer commits (group commit)', async (s) => {
        const before = s.writeStats();
        await Promise.all(Array.from({ length: 500 }, (_, n) => s.enqueue(msg(`g${n}`, T0 + n, [rcpt(`r${n}@x.test`)]))));
        const after = s.writeStats();
        assert.equal(after.writes - before.writes, 500);
        const commits = after.commits - before.commits;
        assert.ok(commits >= 1 && commits <= 10, `500 enqueues took ${commits} commits`);
        assert.equal((await s.listQueue()).length, 500);
      });

      test('rejects every caller of a batch in which a write fails, and commits none of them', async (s) => {
        const before = s.writeStats();
        const good = Array.from({ length: 5 }, (_, n) => s.enqueue(msg(`ok${n}`, T0, [rcpt('a@x.test')])));
        // A route the schema does not allow: the engine's constraint fails the INSERT itself.
        const bad = s.enqueue(msg('bad', T0, [rcpt('a@x.test', 'nowhere' as Route)]));
        const results = await Promise.allSettled([...good, bad]);
        assert.deepEqual(
          results.map((r) => r.status),
          Array(6).fill('rejected'),
        );
        assert.deepEqual(await s.listQueue(), []);
        assert.equal(s.writeStats().writes, before.writes);
        // The store is still usable.
        await s.enqueue(msg('after', T0, [rcpt('a@x.test')]));
        assert.equal((await s.listQueue()).length, 1);
      });

      test('refuses writes after close with POSTERN_STORE_CLOSED, having committed those made before', async () => {
        const s = await makeStore();
        const p = s.enqueue(msg('last', T0, [rcpt('a@x.test')]));
        await s.close();
        await p;
        await rejectsWith(s.enqueue(msg('late', T0, [rcpt('a@x.test')])), StoreErrorCode.Closed);
      });
    });

    describe('queue: claims and results', () => {
      test('claims due recipients oldest message first, grouped by message, and leases them', async (s) => {
        await s.enqueue(msg('new', T0 + 20, [rcpt('a@x.test')]));
        await s.enqueue(msg('old', T0 + 10, [rcpt('b@x.test'), rcpt('c@y.test'), rcpt('d@x.test')]));
        await s.enqueue(msg('later', T0 + 5, [rcpt('e@x.test')], { firstAttemptAt: T0 + 1000 }));
        const claimed = await s.claimDue({ now: T0 + 100, limit: 10, owner: 'node1', leaseMs: 60_000 });
        assert.deepEqual(
          claimed.map((m) => [m.id, m.recipients.map((r) => r.address)]),
          [
            ['old', ['b@x.test', 'c@y.test', 'd@x.test']],
            ['new', ['a@x.test']],
          ],
        );
        for (const r of claimed.flatMap((m) => m.recipients)) {
          assert.equal(r.leaseOwner, 'node1');
          assert.equal(r.leaseUntil, T0 + 100 + 60_000);
        }
        assert.deepEqual(await s.claimDue({ now: T0 + 100, limit: 10, owner: 'node1', leaseMs: 60_000 }), [], 'all leased now');
      });

      test('never hands one recipient to two of several concurrent claimers', async (s) => {
        await Promise.all(
          Array.from({ length: 30 }, (_, n) => s.enqueue(msg(`c${n}`, T0 + n, [rcpt('a@x.test'), rcpt('b@y.test')]))),
        );
        const claims = await Promise.all(
          ['w1', 'w2', 'w3', 'w4'].map((owner) => s.claimDue({ now: T0 + 100, limit: 10, owner, leaseMs: 60_000 })),
        );
        const seen = new Map<number, string>();
        claims.forEach((messages, i) => {
          for (const r of messages.flatMap((m) => m.recipients)) {
            assert.equal(seen.has(r.id), false, `recipient ${r.id} claimed twice`);
            seen.set(r.id, `w${i + 1}`);
            assert.equal(r.leaseOwner, `w${i + 1}`);
          }
        });
        assert.equal(seen.size, 60, 'four claims of ten messages cover all thirty');
      });

      test('claims at most `limit` messages', async (s) => {
        for (let n = 0; n < 5; n++) await s.enqueue(msg(`m${n}`, T0 + n, [rcpt('a@x.test'), rcpt('b@x.test')]));
        const claimed = await s.claimDue({ now: T0 + 10, limit: 2, owner: 'o', leaseMs: 1000 });
        assert.deepEqual(
          claimed.map((m) => [m.id, m.recipients.length]),
          [
            ['m0', 2],
            ['m1', 2],
          ],
        );
        assert.deepEqual(await s.claimDue({ now: T0 + 10, limit: 0, owner: 'o', leaseMs: 1000 }), []);
      });

      test('lets a second owner claim a leased recipient only once the lease has expired', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test')]));
        const first = await s.claimDue({ now: T0, limit: 10, owner: 'A', leaseMs: 1000 });
        assert.equal(first.length, 1);
        assert.deepEqual(await s.claimDue({ now: T0 + 999, limit: 10, owner: 'B', leaseMs: 1000 }), []);
        const second = await s.claimDue({ now: T0 + 1000, limit: 10, owner: 'B', leaseMs: 1000 });
        assert.equal(second[0]?.recipients[0]?.leaseOwner, 'B');
      });

      test('ignores the results of an owner whose lease was taken over', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test')]));
        const [claimed] = await s.claimDue({ now: T0, limit: 10, owner: 'A', leaseMs: 1000 });
        const id = claimed?.recipients[0]?.id ?? -1;
        await s.claimDue({ now: T0 + 5000, limit: 10, owner: 'B', leaseMs: 1000 });
        const stale = await s.recordResults('A', [{ recipientId: id, outcome: 'delivered', reply: '250 ok', at: T0 + 5001 }]);
        assert.deepEqual(stale, { applied: 0, ignored: [id] });
        let r = (await s.getQueued('m'))?.recipients[0];
        assert.equal(r?.state, 'queued');
        assert.equal(r?.leaseOwner, 'B');
        const fresh = await s.recordResults('B', [{ recipientId: id, outcome: 'failed', reply: '550 5.1.1 no', at: T0 + 5002 }]);
        assert.deepEqual(fresh, { applied: 1, ignored: [] });
        r = (await s.getQueued('m'))?.recipients[0];
        assert.equal(r?.state, 'failed');
      });

      test('applies the results of an owner whose lease expired but was not taken over', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test')]));
        const [claimed] = await s.claimDue({ now: T0, limit: 10, owner: 'A', leaseMs: 10 });
        const id = claimed?.recipients[0]?.id ?? -1;
        assert.equal((await s.recordResults('A', [{ recipientId: id, outcome: 'delivered', reply: '250', at: T0 + 100 }])).applied, 1);
      });

      test('records delivered, failed and retry-later results and clears the lease', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test'), rcpt('b@x.test'), rcpt('c@x.test')]));
        const [claimed] = await s.claimDue({ now: T0, limit: 10, owner: 'o', leaseMs: 1000 });
        const [a, b, c] = claimed?.recipients.map((r) => r.id) ?? [];
        assert.ok(a !== undefined && b !== undefined && c !== undefined);
        const out = await s.recordResults('o', [
          { recipientId: a, outcome: 'delivered', reply: '250 2.0.0 ok', at: T0 + 1 },
          { recipientId: b, outcome: 'failed', reply: '550 5.1.1 unknown', at: T0 + 2 },
          { recipientId: c, outcome: 'queued', reply: '451 4.3.0 later', at: T0 + 3, nextAttemptAt: T0 + 300_000 },
        ]);
        assert.deepEqual(out, { applied: 3, ignored: [] });
        const rs = (await s.getQueued('m'))?.recipients ?? [];
        assert.deepEqual(
          rs.map((r) => [r.state, r.attempts, r.lastAttemptAt, r.lastReply, r.leaseOwner, r.leaseUntil]),
          [
            ['delivered', 1, T0 + 1, '250 2.0.0 ok', null, null],
            ['failed', 1, T0 + 2, '550 5.1.1 unknown', null, null],
            ['queued', 1, T0 + 3, '451 4.3.0 later', null, null],
          ],
        );
        assert.equal(rs[2]?.nextAttemptAt, T0 + 300_000);
        assert.deepEqual(await s.claimDue({ now: T0 + 299_999, limit: 10, owner: 'o', leaseMs: 1000 }), []);
        const again = await s.claimDue({ now: T0 + 300_000, limit: 10, owner: 'o', leaseMs: 1000 });
        assert.deepEqual(
          again.map((m) => m.recipients.map((r) => [r.address, r.attempts])),
          [[['c@x.test', 1]]],
        );
      });

      test('claims only the routes asked for, oldest first (the backup drain)', async (s) => {
        await s.enqueue(msg('r1', T0 + 3, [rcpt('a@remote.test', 'remote')]));
        await s.enqueue(msg('b2', T0 + 2, [rcpt('a@backup.test', 'backup'), rcpt('b@remote.test', 'remote')]));
        await s.enqueue(msg('b1', T0 + 1, [rcpt('c@backup.test', 'backup')]));
        const claimed = await s.claimDue({ now: T0 + 10, limit: 10, owner: 'drain', leaseMs: 1000, routes: ['backup'] });
        assert.deepEqual(
          claimed.map((m) => [m.id, m.recipients.map((r) => r.address)]),
          [
            ['b1', ['c@backup.test']],
            ['b2', ['a@backup.test']],
          ],
        );
        const rest = await s.claimDue({ now: T0 + 10, limit: 10, owner: 'x', leaseMs: 1000, routes: ['local', 'remote'] });
        assert.deepEqual(
          rest.map((m) => [m.id, m.recipients.map((r) => r.address)]),
          [
            ['b2', ['b@remote.test']],
            ['r1', ['a@remote.test']],
          ],
        );
      });

      test('counts queued backup recipients per domain with the oldest message time', async (s) => {
        await s.enqueue(msg('1', T0 + 1, [rcpt('a@b1.test', 'backup'), rcpt('b@b1.test', 'backup')]));
        await s.enqueue(msg('2', T0 + 2, [rcpt('c@b1.test', 'backup'), rcpt('d@b2.test', 'backup'), rcpt('e@r.test', 'remote')]));
        await s.enqueue(msg('3', T0 + 3, [rcpt('f@b2.test', 'backup')]));
        await s.hold('3');
        assert.deepEqual(await s.countQueuedByDomain({ route: 'backup' }), [
          { domain: 'b1.test', count: 3, oldestReceivedAt: T0 + 1 },
          { domain: 'b2.test', count: 1, oldestReceivedAt: T0 + 2 },
        ]);
        assert.deepEqual(await s.countQueuedByDomain({ route: 'local' }), []);
      });

      test('tells when the earliest queued recipient becomes claimable', async (s) => {
        assert.equal(await s.nextAttemptAt(), null);
        await s.enqueue(msg('a', T0, [rcpt('a@x.test')], { firstAttemptAt: T0 + 500 }));
        await s.enqueue(msg('b', T0, [rcpt('b@x.test', 'backup')], { firstAttemptAt: T0 + 200 }));
        assert.equal(await s.nextAttemptAt(), T0 + 200);
        assert.equal(await s.nextAttemptAt({ routes: ['remote'] }), T0 + 500);
        // Leased until T0 + 10_200: claimable again only then, unless its owner reports first.
        await s.claimDue({ now: T0 + 200, limit: 10, owner: 'o', leaseMs: 10_000 });
        assert.equal(await s.nextAttemptAt(), T0 + 500);
        await s.hold('a');
        assert.equal(await s.nextAttemptAt(), T0 + 10_200);
      });

      test('deletes a message only once every recipient is delivered or failed', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test'), rcpt('b@x.test')]));
        const [c] = await s.claimDue({ now: T0, limit: 1, owner: 'o', leaseMs: 1000 });
        const [a, b] = c?.recipients.map((r) => r.id) ?? [];
        assert.ok(a !== undefined && b !== undefined);
        await s.recordResults('o', [{ recipientId: a, outcome: 'delivered', reply: '250', at: T0 }]);
        assert.equal(await s.deleteIfFinal('m'), false);
        await s.hold('m');
        assert.equal(await s.deleteIfFinal('m'), false, 'a held recipient is not final');
        await s.release('m', T0);
        const [c2] = await s.claimDue({ now: T0 + 2000, limit: 1, owner: 'o', leaseMs: 1000 });
        assert.equal(c2?.recipients[0]?.id, b);
        await s.recordResults('o', [{ recipientId: b, outcome: 'failed', reply: '550', at: T0 }]);
        assert.equal(await s.deleteIfFinal('m'), true);
        assert.equal(await s.getQueued('m'), null);
        assert.equal(await s.readQueuedData('m'), null);
      });

      test('with deleteFinished, removes in the same commit each message whose last recipient became final', async (s) => {
        await s.enqueue(msg('done', T0, [rcpt('a@x.test')]));
        await s.enqueue(msg('open', T0 + 1, [rcpt('b@x.test'), rcpt('c@x.test')]));
        await s.enqueue(msg('held', T0 + 2, [rcpt('d@x.test'), rcpt('e@x.test')]));
        const claimed = await s.claimDue({ now: T0 + 10, limit: 10, owner: 'o', leaseMs: 1000 });
        const id = (address: string) => claimed.flatMap((m) => m.recipients).find((r) => r.address === address)?.id ?? -1;
        await s.hold('held');
        const out = await s.recordResults(
          'o',
          [
            { recipientId: id('a@x.test'), outcome: 'delivered', reply: '250', at: T0 + 11 },
            { recipientId: id('b@x.test'), outcome: 'failed', reply: '550', at: T0 + 11 },
            { recipientId: id('c@x.test'), outcome: 'queued', reply: '451', at: T0 + 11, nextAttemptAt: T0 + 60_000 },
            { recipientId: id('d@x.test'), outcome: 'delivered', reply: '250', at: T0 + 11 },
          ],
          { deleteFinished: true },
        );
        assert.deepEqual(out, { applied: 4, ignored: [], deleted: ['done'] }, 'open has a queued recipient, held a held one');
        assert.deepEqual((await s.listQueue()).map((m) => m.id).sort(), ['held', 'open']);
        assert.equal(await s.readQueuedData('done'), null);
        // Results of another owner delete nothing, and without the option nothing is deleted.
        const last = await s.claimDue({ now: T0 + 60_000, limit: 10, owner: 'p', leaseMs: 1000 });
        assert.deepEqual(last.map((m) => m.id), ['open']);
        assert.deepEqual(await s.recordResults('o', [{ recipientId: id('c@x.test'), outcome: 'delivered', reply: '250', at: T0 + 60_001 }], { deleteFinished: true }), {
          applied: 0,
          ignored: [id('c@x.test')],
          deleted: [],
        });
        await s.recordResults('p', [{ recipientId: id('c@x.test'), outcome: 'delivered', reply: '250', at: T0 + 60_002 }]);
        assert.deepEqual((await s.listQueue()).map((m) => m.id).sort(), ['held', 'open']);
        assert.deepEqual(await s.recordResults('p', [], { deleteFinished: true }), { applied: 0, ignored: [], deleted: [] });
      });

      test('marks the delay notice sent for the given recipients', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test'), rcpt('b@x.test')]));
        const ids = (await s.getQueued('m'))?.recipients.map((r) => r.id) ?? [];
        await s.markDelayNoticeSent(ids.slice(0, 1));
        assert.deepEqual(
          (await s.getQueued('m'))?.recipients.map((r) => r.delayNoticeSent),
          [true, false],
        );
        await s.markDelayNoticeSent([]);
      });
    });

    describe('queue: operator operations', () => {
      test('lists every message oldest first with its recipients and their states', async (s) => {
        await s.enqueue(msg('b', T0 + 2, [rcpt('x@y.test')]));
        await s.enqueue(msg('a', T0 + 1, [rcpt('p@q.test'), rcpt('r@s.test')]));
        await s.hold('b');
        const list = await s.listQueue();
        assert.deepEqual(
          list.map((m) => [m.id, m.recipients.map((r) => `${r.address}:${r.state}`)]),
          [
            ['a', ['p@q.test:queued', 'r@s.test:queued']],
            ['b', ['x@y.test:held']],
          ],
        );
        assert.equal((await s.listQueue({ limit: 1 })).length, 1);
      });

      test('holds a message so it is never claimed, and releases it due at once', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test')], { firstAttemptAt: T0 + 1_000_000 }));
        assert.equal(await s.hold('m'), 1);
        assert.equal(await s.hold('m'), 0);
        assert.deepEqual(await s.claimDue({ now: T0 + 2_000_000, limit: 10, owner: 'o', leaseMs: 1 }), []);
        assert.equal(await s.release('m', T0 + 10), 1);
        const q = await s.getQueued('m');
        assert.equal(q?.recipients[0]?.state, 'queued');
        assert.equal(q?.recipients[0]?.nextAttemptAt, T0 + 10);
        assert.equal((await s.claimDue({ now: T0 + 10, limit: 10, owner: 'o', leaseMs: 1 })).length, 1);
      });

      test('keeps a recipient held when it was put on hold while being delivered', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test'), rcpt('b@x.test')]));
        const [c] = await s.claimDue({ now: T0, limit: 1, owner: 'o', leaseMs: 1000 });
        const [a, b] = c?.recipients.map((r) => r.id) ?? [];
        assert.ok(a !== undefined && b !== undefined);
        await s.hold('m');
        await s.recordResults('o', [
          { recipientId: a, outcome: 'queued', reply: '451', at: T0 + 1, nextAttemptAt: T0 + 60_000 },
          { recipientId: b, outcome: 'delivered', reply: '250', at: T0 + 1 },
        ]);
        assert.deepEqual(
          (await s.getQueued('m'))?.recipients.map((r) => [r.state, r.attempts]),
          [
            ['held', 1],
            ['delivered', 1],
          ],
        );
      });

      test('retries one message or all of them by making their queued recipients due now', async (s) => {
        await s.enqueue(msg('a', T0, [rcpt('a@x.test')], { firstAttemptAt: T0 + 999_999 }));
        await s.enqueue(msg('b', T0, [rcpt('b@x.test'), rcpt('c@x.test')], { firstAttemptAt: T0 + 999_999 }));
        await s.enqueue(msg('c', T0, [rcpt('d@x.test')], { firstAttemptAt: T0 + 999_999 }));
        await s.hold('c');
        assert.equal(await s.retry({ id: 'a' }, T0 + 5), 1);
        assert.deepEqual(
          (await s.claimDue({ now: T0 + 5, limit: 10, owner: 'o', leaseMs: 1 })).map((m) => m.id),
          ['a'],
        );
        assert.equal(await s.retry({ all: true }, T0 + 6), 3, 'queued recipients only: the held one stays held');
        assert.deepEqual(
          (await s.claimDue({ now: T0 + 6, limit: 10, owner: 'o2', leaseMs: 1 })).map((m) => m.id).sort(),
          ['a', 'b'],
        );
        assert.equal(await s.retry({ id: 'nope' }, T0), 0);
      });

      test('delivers a leased recipient into its mailbox and marks it delivered in one step', async (s) => {
        await s.createAccount({ address: 'bob@one.test', now: T0 });
        await s.enqueue(msg('m', T0, [rcpt('bob@one.test', 'local'), rcpt('carl@two.test')]));
        const [claimed] = await s.claimDue({ now: T0, limit: 1, owner: 'o', leaseMs: 1000 });
        const bob = claimed?.recipients.find((r) => r.address === 'bob@one.test');
        assert.ok(bob);
        assert.deepEqual(await s.deliverToMailbox({ owner: 'other', recipientId: bob.id, address: 'bob@one.test', data: bytes('x'), internalDate: T0, reply: '250', at: T0 }), { kind: 'not-leased' }, 'not the lease holder: nothing written');
        assert.equal(await s.countMessages({ address: 'bob@one.test' }), 0);
        assert.deepEqual(await s.deliverToMailbox({ owner: 'o', recipientId: bob.id, address: 'bob@one.test', data: bytes('x'), internalDate: T0, reply: '250 ok', at: T0 + 1 }), { kind: 'delivered', uid: 1 });
        assert.equal(await s.countMessages({ address: 'bob@one.test' }), 1);
        const after = (await s.getQueued('m'))?.recipients.find((r) => r.id === bob.id);
        assert.deepEqual([after?.state, after?.attempts, after?.lastReply, after?.leaseOwner], ['delivered', 1, '250 ok', null], 'carl is still queued: the message stays');
        assert.deepEqual(await s.deliverToMailbox({ owner: 'o', recipientId: bob.id, address: 'bob@one.test', data: bytes('x'), internalDate: T0, reply: '250', at: T0 }), { kind: 'not-leased' }, 'never twice');
        const carl = claimed?.recipients.find((r) => r.address === 'carl@two.test');
        assert.ok(carl);
        await assert.rejects(
          s.deliverToMailbox({ owner: 'o', recipientId: carl.id, address: 'nobody@one.test', data: bytes('x'), internalDate: T0, reply: '250', at: T0 }),
          (err: unknown) => err instanceof Error && 'code' in err && err.code === 'POSTERN_STORE_NOT_FOUND',
        );
      });

      test('accepts a message in one commit: local deliveries into INBOXes and the rest into the queue', async (s) => {
        await s.createAccount({ address: 'bob@one.test', now: T0 });
        await s.createAccount({ address: 'ann@one.test', now: T0 });
        const r = await s.accept({
          queue: msg('m', T0, [rcpt('carl@two.test')]),
          deliveries: [
            { address: 'bob@one.test', data: bytes('for bob'), internalDate: T0 },
            { address: 'ann@one.test', data: bytes('for ann'), internalDate: T0 },
          ],
        });
        assert.deepEqual(r.delivered, [
          { address: 'bob@one.test', uid: 1 },
          { address: 'ann@one.test', uid: 1 },
        ]);
        assert.equal(text(await s.readMessage({ address: 'ann@one.test', uid: 1 })), 'for ann');
        assert.deepEqual((await s.getQueued('m'))?.recipients.map((x) => x.address), ['carl@two.test']);
        const onlyLocal = await s.accept({ queue: null, deliveries: [{ address: 'bob@one.test', data: bytes('again'), internalDate: T0 }] });
        assert.deepEqual(onlyLocal.delivered, [{ address: 'bob@one.test', uid: 2 }]);
      });

      test('accepts nothing when one mailbox is missing or the queue id exists', async (s) => {
        await s.createAccount({ address: 'bob@one.test', now: T0 });
        await assert.rejects(
          s.accept({ queue: msg('m', T0, [rcpt('carl@two.test')]), deliveries: [{ address: 'bob@one.test', data: bytes('x'), internalDate: T0 }, { address: 'ghost@one.test', data: bytes('x'), internalDate: T0 }] }),
          (err: unknown) => err instanceof Error && 'code' in err && err.code === 'POSTERN_STORE_NOT_FOUND',
        );
        assert.equal(await s.countMessages({ address: 'bob@one.test' }), 0);
        assert.equal(await s.getQueued('m'), null);
        await s.enqueue(msg('dup', T0, [rcpt('a@two.test')]));
        await assert.rejects(s.accept({ queue: msg('dup', T0, [rcpt('b@two.test')]), deliveries: [{ address: 'bob@one.test', data: bytes('x'), internalDate: T0 }] }));
        assert.equal(await s.countMessages({ address: 'bob@one.test' }), 0);
      });

      test('removes a message from the queue in the commit that delivers its last recipient', async (s) => {
        await s.createAccount({ address: 'bob@one.test', now: T0 });
        await s.enqueue(msg('m', T0, [rcpt('bob@one.test', 'local')]));
        const [claimed] = await s.claimDue({ now: T0, limit: 1, owner: 'o', leaseMs: 1000 });
        const bob = claimed?.recipients[0];
        assert.ok(bob);
        assert.equal((await s.deliverToMailbox({ owner: 'o', recipientId: bob.id, address: 'bob@one.test', data: bytes('x'), internalDate: T0, reply: '250', at: T0 })).kind, 'delivered');
        assert.equal(await s.getQueued('m'), null);
      });

      test("extends a claim on recipients still under it, even past its lease, and not once another claim took them, ours included", async (s) => {
        await s.enqueue(msg('a', T0, [rcpt('a1@x.test'), rcpt('a2@x.test')]));
        const [claimed] = await s.claimDue({ now: T0, limit: 1, owner: 'mine', leaseMs: 1000 });
        const ids = claimed?.recipients.map((r) => r.id) ?? [];
        assert.equal(ids.length, 2);
        assert.equal(claimed?.recipients[0]?.leaseUntil, T0 + 1000);
        // Past the lease's end, not yet claimed again: still this claim's to extend.
        assert.equal(await s.extendLeases({ owner: 'mine', recipientIds: ids, from: T0 + 1000, until: T0 + 5000 }), 2);
        assert.deepEqual(await s.claimDue({ now: T0 + 4000, limit: 1, owner: 'other', leaseMs: 1000 }), [], 'still ours at T0 + 4 s');
        assert.equal(await s.extendLeases({ owner: 'other', recipientIds: ids, from: T0 + 5000, until: T0 + 9000 }), 0, 'not the owner');
        assert.equal(await s.extendLeases({ owner: 'mine', recipientIds: ids, from: T0 + 1000, until: T0 + 9000 }), 0, 'an older claim of the same owner');
        // Run out and claimed again by the same owner: the earlier attempt's claim is gone.
        assert.equal((await s.claimDue({ now: T0 + 5000, limit: 1, owner: 'mine', leaseMs: 1000 })).length, 1);
        assert.equal(await s.extendLeases({ owner: 'mine', recipientIds: ids, from: T0 + 5000, until: T0 + 9000 }), 0);
        assert.equal(await s.extendLeases({ owner: 'mine', recipientIds: ids, from: T0 + 6000, until: T0 + 9000 }), 2, 'the new claim extends');
        // Taken by another owner: ours no more.
        assert.equal((await s.claimDue({ now: T0 + 9000, limit: 1, owner: 'other', leaseMs: 1000 })).length, 1);
        assert.equal(await s.extendLeases({ owner: 'mine', recipientIds: ids, from: T0 + 9000, until: T0 + 12000 }), 0);
      });

      test('releases the leases of a crashed process of the same node, and only those', async (s) => {
        await s.enqueue(msg('a', T0, [rcpt('a@x.test')]));
        await s.enqueue(msg('b', T0, [rcpt('b@x.test')]));
        await s.enqueue(msg('c', T0, [rcpt('c@x.test')]));
        await s.claimDue({ now: T0, limit: 1, owner: 'node1/100', leaseMs: 60_000 });
        await s.claimDue({ now: T0, limit: 1, owner: 'node1/200', leaseMs: 60_000 });
        await s.claimDue({ now: T0, limit: 1, owner: 'node10_x/300', leaseMs: 60_000 });
        assert.equal(await s.releaseLeases({ ownerPrefix: 'node1/', except: 'node1/200' }), 1);
        const claimed = await s.claimDue({ now: T0 + 1, limit: 10, owner: 'node1/200', leaseMs: 60_000 });
        assert.deepEqual(claimed.map((m) => m.id), ['a'], 'only the dead process\'s work is free again; _ and % in names are not wildcards');
      });

      test('deletes messages whose every recipient is final', async (s) => {
        await s.enqueue(msg('done', T0, [rcpt('a@x.test')]));
        await s.enqueue(msg('open', T0, [rcpt('b@x.test'), rcpt('c@x.test')]));
        const claimed = await s.claimDue({ now: T0, limit: 10, owner: 'o', leaseMs: 1000 });
        const rs = claimed.flatMap((m) => m.recipients);
        await s.recordResults('o', rs.filter((r) => r.address !== 'c@x.test').map((r) => ({ recipientId: r.id, outcome: 'delivered' as const, reply: '250', at: T0 })));
        assert.deepEqual(await s.deleteFinished(), ['done']);
        assert.deepEqual((await s.listQueue()).map((m) => m.id), ['open']);
      });

      test('retries every held recipient of one domain on one route, for a backup drain', async (s) => {
        await s.enqueue(msg('a', T0, [rcpt('a@held.test', 'backup'), rcpt('b@other.test', 'backup')], { firstAttemptAt: T0 + 999_999 }));
        await s.enqueue(msg('b', T0 + 1, [rcpt('c@Held.test', 'backup'), rcpt('d@held.test', 'remote')], { firstAttemptAt: T0 + 999_999 }));
        assert.equal(await s.retry({ route: 'backup', domain: 'HELD.test' }, T0 + 5), 2);
        const claimed = await s.claimDue({ now: T0 + 5, limit: 10, owner: 'o', leaseMs: 1000 });
        assert.deepEqual(claimed.flatMap((m) => m.recipients.filter((r) => r.leaseOwner === 'o').map((r) => r.address)), ['a@held.test', 'c@Held.test']);
      });

      test('deletes a message whatever the state of its recipients', async (s) => {
        await s.enqueue(msg('m', T0, [rcpt('a@x.test')]));
        await s.claimDue({ now: T0, limit: 1, owner: 'o', leaseMs: 1000 });
        assert.equal(await s.deleteQueued('m'), true);
        assert.equal(await s.deleteQueued('m'), false);
        assert.equal(await s.getQueued('m'), null);
        assert.equal(await s.nextAttemptAt(), null);
      });
    });

    describe('cluster-wide slots and pacing', () => {
      const slot = (s: Store, owner: string, more: { key?: string; limit?: number; now?: number; leaseMs?: number } = {}) =>
        s.acquireSlot({ key: more.key ?? 'smtp:192.0.2.1|25', limit: more.limit ?? 2, owner, now: more.now ?? T0, leaseMs: more.leaseMs ?? 60_000 });

      test('hands out slots 0 .. limit - 1 of a key and refuses the next while their leases live', async (s) => {
        const got = [await slot(s, 'a'), await slot(s, 'b')];
        assert.deepEqual([...got].sort(), [0, 1]);
        assert.equal(await slot(s, 'c'), null, 'the limit is reached');
        assert.equal(await slot(s, 'c', { now: T0 + 59_999 }), null, 'still live a moment before the lease ends');
        assert.notEqual(await slot(s, 'c', { key: 'smtp:192.0.2.2|25' }), null, 'another key has its own slots');
        assert.equal(await slot(s, 'c', { key: 'pop3:a@x.test', limit: 1 }), 0);
        assert.equal(await slot(s, 'd', { key: 'pop3:a@x.test', limit: 1 }), null, 'a limit of one is a lock');
      });

      test('takes over a slot whose lease ran out, and the old holder can no longer free it', async (s) => {
        const old = await slot(s, 'dead', { limit: 1, leaseMs: 1000 });
        assert.equal(old, 0);
        assert.equal(await slot(s, 'new', { limit: 1, now: T0 + 1000 }), 0, 'expired at now + leaseMs');
        assert.equal(await s.releaseSlot({ key: 'smtp:192.0.2.1|25', slot: 0, owner: 'dead' }), false);
        assert.equal(await slot(s, 'third', { limit: 1, now: T0 + 1001 }), null, 'the new holder keeps it');
      });

      test('renews the slots of the owners named and only those, saying which it renewed', async (s) => {
        await slot(s, 'a1', { key: 'k1', limit: 1, leaseMs: 1000 });
        await slot(s, 'a2', { key: 'k2', limit: 1, leaseMs: 1000 });
        await slot(s, 'b', { key: 'k3', limit: 1, leaseMs: 1000 });
        assert.deepEqual((await s.renewSlots({ owners: ['a1', 'a2', 'gone'], now: T0 + 900, leaseMs: 1000 })).sort(), ['a1', 'a2'], 'a name without a slot is not renewed');
        assert.deepEqual(await s.renewSlots({ owners: [], now: T0 + 900, leaseMs: 1000 }), []);
        assert.equal(await slot(s, 'x', { key: 'k1', limit: 1, now: T0 + 1500 }), null, 'renewed: still held');
        assert.equal(await slot(s, 'x', { key: 'k2', limit: 1, now: T0 + 1500 }), null);
        assert.equal(await slot(s, 'x', { key: 'k3', limit: 1, now: T0 + 1500 }), 0, 'not renewed: taken over');
      });

      test('releases one slot of its owner, freeing it for the next', async (s) => {
        const a = await slot(s, 'a', { limit: 1 });
        assert.equal(a, 0);
        assert.equal(await s.releaseSlot({ key: 'smtp:192.0.2.1|25', slot: 0, owner: 'other' }), false, 'only the holder frees it');
        assert.equal(await slot(s, 'b', { limit: 1 }), null);
        assert.equal(await s.releaseSlot({ key: 'smtp:192.0.2.1|25', slot: 0, owner: 'a' }), true);
        assert.equal(await s.releaseSlot({ key: 'smtp:192.0.2.1|25', slot: 0, owner: 'a' }), false);
        assert.equal(await slot(s, 'b', { limit: 1 }), 0);
      });

      test('releases the slots of a crashed process of the same node, and only those', async (s) => {
        await slot(s, 'node_1/100', { key: 'k1', limit: 1 });
        await slot(s, 'node_1/200', { key: 'k2', limit: 1 });
        await slot(s, 'nodeX1/300', { key: 'k3', limit: 1 });
        assert.equal(await s.releaseSlots({ ownerPrefix: 'node_1/', except: 'node_1/200' }), 1);
        assert.equal(await slot(s, 'node_1/200', { key: 'k1', limit: 1 }), 0, 'the dead process\'s slot is free');
        assert.equal(await slot(s, 'y', { key: 'k2', limit: 1 }), null, 'the current process keeps its own');
        assert.equal(await slot(s, 'y', { key: 'k3', limit: 1 }), null, '_ and % in names are not wildcards');
      });

      test('counts a slot above a lowered limit as held', async (s) => {
        await slot(s, 'a', { limit: 3 });
        await slot(s, 'b', { limit: 3 });
        const c = await slot(s, 'c', { limit: 3 });
        assert.equal(c, 2);
        assert.equal(await s.releaseSlot({ key: 'smtp:192.0.2.1|25', slot: 0, owner: 'a' }), true);
        assert.equal(await slot(s, 'd', { limit: 2 }), null, 'b and c still hold two connections');
      });

      test('spaces the starts of a paced key intervalMs apart, never earlier than now', async (s) => {
        const pace = (now: number, key = 'backup-drain') => s.reservePace({ key, intervalMs: 250, now });
        assert.equal(await pace(T0), T0, 'the first may start at once');
        assert.equal(await pace(T0), T0 + 250);
        assert.equal(await pace(T0 + 10), T0 + 500, 'queued behind the earlier reservations');
        assert.equal(await pace(T0 + 100, 'other'), T0 + 100, 'keys are paced apart');
        assert.equal(await pace(T0 + 5000), T0 + 5000, 'an idle key does not save up a burst');
        assert.equal(await pace(T0 + 5000), T0 + 5250);
      });

      test('refuses an empty key, a limit below one or a negative interval, naming the key', async (s) => {
        await rejectsWith(s.acquireSlot({ key: '', limit: 1, owner: 'a', now: T0, leaseMs: 1 }), StoreErrorCode.Invalid);
        await assert.rejects(s.acquireSlot({ key: 'smtp:192.0.2.9|25', limit: 0, owner: 'a', now: T0, leaseMs: 1 }), /the slot limit of smtp:192\.0\.2\.9\|25 must be at least 1, not 0/);
        await assert.rejects(s.reservePace({ key: 'backup-drain', intervalMs: -1, now: T0 }), /the pacing interval of backup-drain must be/);
      });
    });
  });
}
