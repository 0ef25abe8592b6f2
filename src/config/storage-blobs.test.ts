import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from './load.ts';

const FILE = '/etc/postern/postern.toml';

describe('config: [storage] blobs', () => {
  it('is off by default', () => {
    const c = parseConfig('', FILE);
    assert.equal(c.storage.blobs, null);
    assert.equal(c.storage.writeBlobs, true);
  });

  it('resolves a relative directory against the config file, as data_dir', () => {
    const c = parseConfig('[storage]\nblobs = "bodies"\n', FILE);
    assert.equal(c.storage.blobs, '/etc/postern/bodies');
    assert.equal(parseConfig('[storage]\nblobs = "/srv/bodies"\nwrite_blobs = false\n', FILE).storage.writeBlobs, false);
  });

  it('refuses an empty directory and a write_blobs that is not a boolean, naming the key', () => {
    assert.throws(() => parseConfig('[storage]\nblobs = ""\n', FILE), /storage\.blobs/);
    assert.throws(() => parseConfig('[storage]\nblobs = "b"\nwrite_blobs = "no"\n', FILE), /storage\.write_blobs/);
  });
});
