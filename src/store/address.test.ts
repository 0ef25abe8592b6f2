import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizeAddress, normalizeAlias } from './address.ts';

describe('store addresses', () => {
  const cases: Array<[string, { address: string; key: string } | null]> = [
    ['Alice@Example.TEST', { address: 'Alice@example.test', key: 'alice@example.test' }],
    [' bob@example.test. ', { address: 'bob@example.test', key: 'bob@example.test' }],
    ['"a@b"@example.test', { address: '"a@b"@example.test', key: '"a@b"@example.test' }],
    ['', null],
    ['no-at-sign', null],
    ['@example.test', null],
    ['user@', null],
    ['user@exa mple.test', null],
    ['us\r\ner@example.test', null],
  ];
  for (const [input, want] of cases) {
    it(`normalises ${JSON.stringify(input)} to ${want === null ? 'nothing' : want.address}`, () => {
      const got = normalizeAddress(input);
      assert.deepEqual(got === null ? null : { address: got.address, key: got.key }, want);
    });
  }

  it('reads @domain as the catch-all alias of the domain', () => {
    assert.deepEqual(normalizeAlias('@Example.TEST'), { alias: '@example.test', key: '@example.test', catchAll: true, domain: 'example.test' });
    assert.equal(normalizeAlias('@'), null);
    assert.equal(normalizeAlias('@a@b'), null);
    assert.equal(normalizeAlias('x@Y.test')?.catchAll, false);
  });

  it('never throws, and normalising twice changes nothing', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const once = normalizeAddress(s);
        if (once === null) return;
        const twice = normalizeAddress(once.address);
        assert.deepEqual(twice, once);
        assert.equal(once.key, once.address.toLowerCase());
        assert.equal(once.domain, once.domain.toLowerCase());
      }),
    );
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => void normalizeAlias(s)));
  });
});
