import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, isPasswordHash, needsRehash, verifyPassword } from './password.ts';

const cheap = { N: 1024, r: 8, p: 1 };

describe('password hashes', () => {
  it('writes a self-describing scrypt string', async () => {
    const h = await hashPassword('secret', { params: cheap });
    assert.match(h, /^\$scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    assert.ok(isPasswordHash(h));
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const h = await hashPassword('correct horse', { params: cheap });
    assert.equal(await verifyPassword('correct horse', h), true);
    assert.equal(await verifyPassword('correct horsf', h), false);
    assert.equal(await verifyPassword('', h), false);
  });

  it('salts every hash, so one password gives different strings', async () => {
    const a = await hashPassword('same', { params: cheap });
    const b = await hashPassword('same', { params: cheap });
    assert.notEqual(a, b);
  });

  it('uses the default parameters when none are given', async () => {
    const h = await hashPassword('pw');
    assert.match(h, /^\$scrypt\$N=32768,r=8,p=1\$/);
    assert.equal(await verifyPassword('pw', h), true);
    assert.equal(needsRehash(h), false);
    assert.equal(needsRehash(await hashPassword('pw', { params: cheap })), true);
  });

  it('treats the same text in composed and decomposed Unicode as one password', async () => {
    const h = await hashPassword('caf\u00e9', { params: cheap });
    assert.equal(await verifyPassword('cafe\u0301', h), true);
  });

  for (const bad of [
    '',
    'plain',
    '$scrypt$N=1000,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', // N not a power of two
    '$scrypt$N=16777216,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', // 16 GiB: refused, not tried
    '$bcrypt$N=1024,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    '$scrypt$N=1024,r=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
  ]) {
    it(`refuses to verify against the malformed hash ${JSON.stringify(bad)}`, async () => {
      assert.equal(isPasswordHash(bad), false);
      assert.equal(await verifyPassword('anything', bad), false);
    });
  }
});
