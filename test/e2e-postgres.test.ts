/**
 * A whole node on PostgreSQL ([storage] url): mail accepted over SMTP lands in the INBOX kept in
 * the database, and a second node on the same database sees it. Runs when POSTERN_TEST_PG is set
 * (.ci/run sets it); each run creates its own database and drops it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sendPlain } from './helpers/smtp-socket-client.ts';
import { eventually, inboxSubjects, SMTP_PORT, startNode, type LabNode } from './helpers/lab.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const base = process.env['POSTERN_TEST_PG'];

describe('a node on PostgreSQL', { skip: base === undefined ? 'POSTERN_TEST_PG not set: the PostgreSQL engine is not tested end to end' : false }, () => {
  const name = `postern_e2e_${randomBytes(4).toString('hex')}`;
  let url = '';
  let a: LabNode;
  let b: LabNode;
  const admin = () => new pg.Client({ connectionString: base });
  before(async () => {
    const c = admin();
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    const u = new URL(base ?? '');
    u.pathname = `/${name}`;
    url = u.toString();
    const node = (hostname: string, address: string) => ({ hostname, address, domains: [['domain.test', 'primary']] as Array<[string, 'primary']>, config: { storage: { url } } });
    a = await startNode({ ...node('smtp1.domain.test', '127.0.91.1'), accounts: ['user@domain.test'] }, '127.0.0.1:53');
    b = await startNode(node('imap.domain.test', '127.0.91.2'), '127.0.0.1:53');
  });
  after(async () => {
    await a?.postern.stop();
    await b?.postern.stop();
    const c = admin();
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });

  it('files a message accepted by one node where the other reads it', async () => {
    await sendPlain('127.0.91.1', SMTP_PORT, { from: 'a@sender.test', to: 'user@domain.test', message: 'Subject: in postgres\r\n\r\nhello\r\n' });
    assert.ok(await eventually(async () => (await inboxSubjects(b, 'user@domain.test')).includes('in postgres'), 10_000, 'seen from the other node'));
    assert.deepEqual(await inboxSubjects(a, 'user@domain.test'), ['in postgres']);
  });
});
