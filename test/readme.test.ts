/** The README's configuration reference is the schema's own: it cannot drift from the code. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withReference } from '../scripts/update-readme.ts';
import { ROOT } from './helpers/postern.ts';

describe('README.md', () => {
  it('carries the configuration and command references generated from the code (npm run docs rewrites them)', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.equal(readme, await withReference(readme), 'README.md is out of date: run npm run docs');
  });
  it('documents every command', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const command of ['start', 'route', 'check-zone', 'account add', 'alias add', 'queue retry', 'mailbox list', 'sendmail', 'quickstart', 'lab', 'check']) {
      assert.ok(readme.includes(`#### \`postern ${command}\``), command);
    }
  });
  it('documents every key of every section', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const key of ['`max_connections_per_host`', '`callout_negative_ttl`', '`tls_listen`', '`[[domain]]`', '`retry_schedule`']) assert.ok(readme.includes(key), key);
  });
});
