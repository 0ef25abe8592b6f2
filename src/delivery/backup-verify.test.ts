import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { BackupVerifier, parseRecipientList } from './backup-verify.ts';
import { ConnectionPool } from './connection-pool.ts';
import { connectSmtp } from '../smtp/client/index.ts';
import { silentLogger } from '../core/logger.ts';
import type { LookupResult, Resolver } from '../dns/resolver.ts';

/** domain.test's MX is one host at `address`; we are not in the list. */
function tableResolver(address: string): Resolver {
  return {
    async lookup(name, type): Promise<LookupResult> {
      if (name === 'domain.test' && type === 'MX') return { kind: 'records', records: [{ name, ttl: 300, data: { type: 'MX', preference: 10, exchange: 'mx1.domain.test' } }], cnames: [], ttl: 300 };
      if (name === 'mx1.domain.test' && type === 'A') return { kind: 'records', records: [{ name, ttl: 300, data: { type: 'A', address } }], cnames: [], ttl: 300 };
      return { kind: 'nodata', cnames: [] };
    },
  };
}

describe('parseRecipientList', () => {
  it('reads addresses and @domain wildcards, ignoring comments, blanks and case', () => {
    const l = parseRecipientList('# who the primary takes\nUser@Domain.test\n\n@Sub.Domain.test.  # everyone there\n');
    assert.deepEqual([...l.addresses], ['user@domain.test']);
    assert.deepEqual([...l.domains], ['sub.domain.test']);
  });
});

describe('BackupVerifier with a recipients file', () => {
  it('accepts listed addresses and wildcard domains, refuses the rest, and re-reads the file when it changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-backup-'));
    const file = join(dir, 'recipients.txt');
    writeFileSync(file, 'user@domain.test\n@sub.domain.test\n');
    let now = 1_000_000;
    const pool = new ConnectionPool({ connect: () => Promise.reject(new Error('no callout expected')), maxPerHost: 1, idleMs: 10 });
    const v = new BackupVerifier({ mx: { resolver: tableResolver('127.0.0.1'), self: { hostnames: [], addresses: [] } }, port: 25, pool, recipientsFile: file, positiveTtlMs: 1, negativeTtlMs: 1, logger: silentLogger, now: () => now });
    assert.deepEqual(await v.check('User@domain.test', 'domain.test'), { kind: 'accept' });
    assert.deepEqual(await v.check('anyone@sub.domain.test', 'sub.domain.test'), { kind: 'accept' });
    const refused = await v.check('other@domain.test', 'domain.test');
    assert.equal(refused.kind === 'reject' && `${refused.reply.code} ${refused.reply.enhanced}`, '550 5.1.1');
    writeFileSync(file, 'other@domain.test\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    now += 2000;
    assert.deepEqual(await v.check('other@domain.test', 'domain.test'), { kind: 'accept' });
    assert.equal((await v.check('user@domain.test', 'domain.test')).kind, 'reject');
  });
});

describe('BackupVerifier asking the primary', () => {
  let primary: SMTPServer;
  let port = 0;
  let up = true;
  let asked = 0;
  before(async () => {
    primary = new SMTPServer({
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        asked++;
        if (!up) return callback(Object.assign(new Error('try later'), { responseCode: 451 }));
        if (address.address === 'user@domain.test') return callback();
        return callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
      },
    });
    await new Promise<void>((resolve) => primary.listen(0, '127.0.45.1', () => resolve()));
    port = (primary.server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => primary.close(() => resolve())));

  it('caches the primary\'s answers, and while it cannot answer accepts only recipients verified before', async () => {
    let now = 5_000_000;
    const pool = new ConnectionPool({ connect: (k) => connectSmtp({ address: k.address, port: k.port, serverName: k.serverName, helo: 'backup.test', tls: 'none' }), maxPerHost: 2, idleMs: 50 });
    const v = new BackupVerifier({ mx: { resolver: tableResolver('127.0.45.1'), self: { hostnames: [], addresses: [] } }, port, pool, recipientsFile: null, positiveTtlMs: 60_000, negativeTtlMs: 10_000, logger: silentLogger, now: () => now });
    try {
      assert.deepEqual(await v.check('user@domain.test', 'domain.test'), { kind: 'accept' });
      const no = await v.check('nobody@domain.test', 'domain.test');
      assert.equal(no.kind === 'reject' && no.reply.code, 550);
      const before = asked;
      await v.check('user@domain.test', 'domain.test');
      await v.check('nobody@domain.test', 'domain.test');
      assert.equal(asked, before, 'answered from the cache');

      up = false;
      now += 120_000; // both cache entries have expired
      assert.deepEqual(await v.check('user@domain.test', 'domain.test'), { kind: 'accept' }, 'verified before: accepted while the primary cannot say');
      const unknown = await v.check('new@domain.test', 'domain.test');
      assert.equal(unknown.kind === 'reject' && `${unknown.reply.code} ${unknown.reply.enhanced}`, '451 4.4.3', 'never verified: try again later, never accepted');
    } finally {
      up = true;
      await pool.close();
    }
  });
});
