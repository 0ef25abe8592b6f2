/** The configs under examples/ are documentation: each must load, and its zones with it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.ts';
import { loadZonesDir } from '../src/dns/zone/load.ts';
import { ROOT } from './helpers/postern.ts';

describe('examples/', () => {
  for (const file of readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.toml'))) {
    it(`${file} loads, with every zone of its zones_dir`, () => {
      const config = loadConfig(join(ROOT, 'examples', file));
      const { zones, failures } = loadZonesDir(config.dns.zonesDir);
      assert.deepEqual(failures, []);
      assert.ok(zones.length > 0);
      assert.ok(config.dns.resolvers?.every((r) => r.host.startsWith('127.')), 'examples resolve through loopback only');
    });
  }
});
