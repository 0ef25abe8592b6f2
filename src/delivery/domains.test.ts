import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { DomainConfig } from '../config/schema.ts';
import { createLogger, silentLogger } from '../core/logger.ts';
import { openSqliteStore } from '../store/sqlite/index.ts';
import type { Store } from '../store/types.ts';
import { DomainDirectory, mergeDomains } from './domains.ts';

const p = (name: string): DomainConfig => ({ name, role: 'primary' });
const b = (name: string): DomainConfig => ({ name, role: 'backup' });

describe('mergeDomains', () => {
  const cases: Array<{ title: string; configured: DomainConfig[]; stored: DomainConfig[]; domains: DomainConfig[]; shadowed: string[] }> = [
    { title: 'nothing anywhere', configured: [], stored: [], domains: [], shadowed: [] },
    { title: 'the config alone, in its order', configured: [p('z.test'), b('a.test')], stored: [], domains: [p('z.test'), b('a.test')], shadowed: [] },
    { title: 'the store alone', configured: [], stored: [p('a.test'), b('b.test')], domains: [p('a.test'), b('b.test')], shadowed: [] },
    { title: "the config's first, then the store's others", configured: [p('z.test')], stored: [p('a.test'), p('z.test')], domains: [p('z.test'), p('a.test')], shadowed: [] },
    { title: "the config's role wins over the store's, and says so", configured: [b('x.test')], stored: [p('x.test')], domains: [b('x.test')], shadowed: ['x.test backup primary'] },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const r = mergeDomains(c.configured, c.stored);
      assert.deepEqual(r.domains, c.domains);
      assert.deepEqual(
        r.shadowed.map((s) => `${s.name} ${s.configured} ${s.stored}`),
        c.shadowed,
      );
    });
  }
});

describe('DomainDirectory', () => {
  async function setup(configured: DomainConfig[] = [p('config.test')]) {
    const store: Store = await openSqliteStore({ path: ':memory:' });
    let now = 0;
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }) });
    const reads = { count: 0 };
    const counted: Pick<Store, 'listDomains'> = {
      listDomains: () => {
        reads.count++;
        return store.listDomains();
      },
    };
    const dir = new DomainDirectory({ configured, store: counted, logger, maxAgeMs: 1000, now: () => now });
    return { store, dir, reads, lines, advance: (ms: number) => (now += ms) };
  }

  it('serves a domain added to the store once its list is older than maxAgeMs, reading the store at most once per maxAgeMs', async () => {
    const { store, dir, reads, lines, advance } = await setup();
    try {
      assert.deepEqual(await dir.load(), [p('config.test')]);
      await store.addDomain({ name: 'new.test', role: 'backup' });
      advance(999);
      assert.deepEqual(await dir.domains(), [p('config.test')]);
      assert.equal(reads.count, 1);
      advance(1);
      assert.deepEqual(await dir.domains(), [p('config.test'), b('new.test')]);
      assert.equal(reads.count, 2);
      assert.ok(lines.some((l) => l.includes('"event":"domains.added"') && l.includes('new.test')), lines.join(''));

      await store.removeDomain('new.test');
      advance(1000);
      assert.deepEqual(await dir.domains(), [p('config.test')]);
      assert.ok(lines.some((l) => l.includes('"event":"domains.removed"') && l.includes('new.test')));
    } finally {
      await store.close();
    }
  });

  it('shares one store read among callers at once', async () => {
    const { store, dir, reads, advance } = await setup();
    try {
      await dir.load();
      advance(5000);
      const all = await Promise.all(Array.from({ length: 10 }, () => dir.domains()));
      assert.equal(reads.count, 2);
      for (const d of all) assert.deepEqual(d, [p('config.test')]);
    } finally {
      await store.close();
    }
  });

  it("keeps the config's role for a name the store gives another role, warning once", async () => {
    const { store, dir, lines, advance } = await setup([b('shared.test')]);
    try {
      await store.addDomain({ name: 'shared.test', role: 'primary' });
      assert.deepEqual(await dir.load(), [b('shared.test')]);
      advance(1000);
      await dir.domains();
      assert.equal(lines.filter((l) => l.includes('"event":"domains.shadowed"')).length, 1);
    } finally {
      await store.close();
    }
  });

  it('keeps the last list when the store cannot be read, and does not ask again before maxAgeMs', async () => {
    const { store, dir, reads, lines, advance } = await setup();
    await store.addDomain({ name: 'stored.test', role: 'primary' });
    await dir.load();
    await store.close();
    advance(1000);
    assert.deepEqual(await dir.domains(), [p('config.test'), p('stored.test')]);
    assert.equal(reads.count, 2);
    assert.ok(lines.some((l) => l.includes('"event":"domains.read_failed"')));
    advance(500);
    await dir.domains();
    assert.equal(reads.count, 2);
  });

  it('rejects at load when the store cannot be read (a node must not start without its domains)', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    await store.close();
    const dir = new DomainDirectory({ configured: [], store, logger: silentLogger });
    await assert.rejects(dir.load());
  });
});
