import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { adaptDatabase } from './dialect.ts';

describe('node:sqlite adapter for Kysely', () => {
  it('tells statements that return rows from those that do not', () => {
    const db = adaptDatabase(new DatabaseSync(':memory:'));
    assert.equal(db.prepare('CREATE TABLE t (a INTEGER, b BLOB)').reader, false);
    db.prepare('CREATE TABLE t (a INTEGER, b BLOB)').run([]);
    assert.equal(db.prepare('INSERT INTO t (a, b) VALUES (?, ?)').reader, false);
    assert.equal(db.prepare('INSERT INTO t (a, b) VALUES (?, ?) RETURNING a').reader, true);
    assert.equal(db.prepare('SELECT a FROM t').reader, true);
    db.close();
  });

  it('binds booleans as 0/1 and undefined as NULL, and returns blobs as bytes', () => {
    const db = adaptDatabase(new DatabaseSync(':memory:'));
    db.prepare('CREATE TABLE t (a INTEGER, b BLOB, c TEXT)').run([]);
    const r = db.prepare('INSERT INTO t (a, b, c) VALUES (?, ?, ?)').run([true, new Uint8Array([1, 2, 3]), undefined]);
    assert.equal(Number(r.changes), 1);
    assert.equal(Number(r.lastInsertRowid), 1);
    const rows = db.prepare('SELECT a, b, c FROM t').all([]) as Array<{ a: number; b: Uint8Array; c: null }>;
    assert.equal(rows[0]?.a, 1);
    assert.deepEqual([...(rows[0]?.b ?? [])], [1, 2, 3]);
    assert.equal(rows[0]?.c, null);
    assert.deepEqual([...db.prepare('SELECT a FROM t').iterate([])].length, 1);
    db.close();
  });

  it('keeps a bounded number of prepared statements and still runs evicted ones', () => {
    const db = adaptDatabase(new DatabaseSync(':memory:'), { cacheSize: 2 });
    for (let round = 0; round < 2; round++) {
      for (let n = 0; n < 5; n++) {
        const rows = db.prepare(`SELECT ${n} AS v`).all([]) as Array<{ v: number }>;
        assert.equal(rows[0]?.v, n);
      }
    }
    db.close();
  });
});
