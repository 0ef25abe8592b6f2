import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.ts';
import { selfIdentity } from './self.ts';

describe('selfIdentity', () => {
  it('names our hostname and the concrete addresses we listen and send from', () => {
    const c = parseConfig('hostname = "smtp3.domain.test"\n[smtp]\nlisten = ["127.30.30.1:2525", "[::1]:2525"]\nsource_address = "127.30.30.9"', '/x/postern.toml');
    assert.deepEqual(selfIdentity(c, () => ['10.9.9.9']), { hostnames: ['smtp3.domain.test'], addresses: ['127.30.30.1', '::1', '127.30.30.9'] });
  });
  it('expands a wildcard listen address to every address of the machine', () => {
    const c = parseConfig('hostname = "node3.internal.test"\n[smtp]\nlisten = ["0.0.0.0:2525"]', '/x/postern.toml');
    assert.deepEqual(selfIdentity(c, () => ['127.0.0.1', '127.30.30.1', '::1']).addresses, ['127.0.0.1', '127.30.30.1', '::1']);
  });
});
