import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeLoginStep, decodePlain, encodeBase64 } from './sasl.ts';

describe('SASL PLAIN', () => {
  const cases: Array<[string, string, ReturnType<typeof decodePlain>]> = [
    ['a user and password', encodeBase64('\u0000user@domain.test\u0000secret'), { ok: true, authzid: '', username: 'user@domain.test', password: 'secret' }],
    ['an authorization identity', encodeBase64('admin\u0000user@domain.test\u0000secret'), { ok: true, authzid: 'admin', username: 'user@domain.test', password: 'secret' }],
    ['UTF-8 in the password', encodeBase64('\u0000u@d.test\u0000pässwörd'), { ok: true, authzid: '', username: 'u@d.test', password: 'pässwörd' }],
    ['no NULs', encodeBase64('user secret'), { ok: false, reason: 'PLAIN needs authzid NUL authcid NUL password' }],
    ['an empty password', encodeBase64('\u0000user\u0000'), { ok: false, reason: 'empty user name or password' }],
    ['something that is not base64', 'not base64!', { ok: false, reason: 'not base64' }],
    ['invalid UTF-8', Buffer.from([0, 0xff, 0, 0x41]).toString('base64'), { ok: false, reason: 'not UTF-8' }],
  ];
  for (const [what, input, want] of cases) it(`reads ${what}`, () => assert.deepEqual(decodePlain(input), want));
  it('never throws on any input', () => {
    fc.assert(fc.property(fc.string(), (s) => void decodePlain(s)));
  });
});

describe('SASL LOGIN steps', () => {
  it('decodes a step, and refuses what is not base64', () => {
    assert.equal(decodeLoginStep(encodeBase64('user@domain.test')), 'user@domain.test');
    assert.equal(decodeLoginStep('***'), null);
  });
});
