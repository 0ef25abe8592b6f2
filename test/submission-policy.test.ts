/**
 * The submission sender policy, pure parts: reading the addresses of a From: field (a parser that
 * meets the network, so a table and a property), and which addresses belong to a user.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { addressBelongsTo, headerAddresses } from '../src/delivery/submission.ts';
import type { AliasMatch } from '../src/store/types.ts';

describe('headerAddresses', () => {
  const cases: Array<[string, string[] | null]> = [
    ['alice@example.test', ['alice@example.test']],
    ['<alice@example.test>', ['alice@example.test']],
    ['Alice <alice@example.test>', ['alice@example.test']],
    ['"Smith, Alice" <alice@example.test>', ['alice@example.test']],
    ['"alice@example.test" <bob@example.test>', ['bob@example.test']],
    ['alice@example.test (Alice Smith)', ['alice@example.test']],
    ['(comment (nested)) Alice <alice@example.test> (after)', ['alice@example.test']],
    ['=?utf-8?q?Al=C3=AFce?= <alice@example.test>', ['alice@example.test']],
    ['alice@example.test, Bob <bob@example.test>', ['alice@example.test', 'bob@example.test']],
    ['Team: alice@example.test, bob@example.test;', ['alice@example.test', 'bob@example.test']],
    ['Undisclosed recipients:;', []],
    ['"john doe"@example.test', ['john doe@example.test']],
    ['alice@EXAMPLE.test.', ['alice@example.test']],
    ['alice', null],
    ['Alice <alice@example.test', null],
    ['"unterminated <alice@example.test>', null],
    ['(unterminated alice@example.test', null],
    ['a@b@c.test', null],
    ['Alice <alice@example.test> bob@example.test', null],
    ['Team: alice@example.test', null],
  ];
  for (const [input, want] of cases) it(`reads ${JSON.stringify(input)}`, () => assert.deepEqual(headerAddresses(input), want));

  it('never throws, and every address it returns has a local part, an @ and a domain', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '@', '<', '>', ',', ':', ';', '"', '(', ')', '\\', ' ', '.', 'x') }), (s) => {
        const r = headerAddresses(s);
        if (r === null) return;
        for (const a of r) assert.ok(/^.+@[^@<>,:;]+$/.test(a), a);
      }),
    );
    fc.assert(fc.property(fc.string(), (s) => void headerAddresses(s)));
  });
});

describe('addressBelongsTo', () => {
  const accounts = new Set(['alice@example.test', 'bob@example.test']);
  const aliases: Record<string, string[]> = {
    'sales@example.test': ['alice@example.test', 'bob@example.test'],
    'team@example.test': ['bob@example.test'],
    '@catch.test': ['alice@example.test'],
    '@example.test': ['alice@example.test'],
  };
  const store = {
    getAccount: async (a: string) => (accounts.has(a.toLowerCase()) ? { id: 1, address: a.toLowerCase(), passwordHash: null, createdAt: 0 } : null),
    lookupAlias: async (a: string): Promise<AliasMatch | null> => {
      const exact = aliases[a.toLowerCase()];
      if (exact !== undefined) return { alias: a.toLowerCase(), catchAll: false, targets: exact };
      const domain = `@${a.slice(a.lastIndexOf('@') + 1).toLowerCase()}`;
      const all = aliases[domain];
      return all === undefined ? null : { alias: domain, catchAll: true, targets: all };
    },
  };
  const cases: Array<[string, string, boolean]> = [
    ['alice@example.test', 'alice@example.test', true],
    ['ALICE@Example.Test', 'alice@example.test', true],
    ['sales@example.test', 'alice@example.test', true],
    ['sales@example.test', 'bob@example.test', true],
    ['team@example.test', 'alice@example.test', false],
    ['bob@example.test', 'alice@example.test', false],
    ['anything@catch.test', 'alice@example.test', true],
    ['anything@catch.test', 'bob@example.test', false],
    // A catch-all never covers another account, nor an alias of someone else.
    ['bob@example.test', 'alice@example.test', false],
    ['team@example.test', 'alice@example.test', false],
    ['nobody@example.test', 'alice@example.test', true],
    ['alice@elsewhere.test', 'alice@example.test', false],
  ];
  for (const [address, user, want] of cases) {
    it(`${want ? 'lets' : 'does not let'} ${user} send as ${address}`, async () => assert.equal(await addressBelongsTo(address, user, store), want));
  }
});
