/**
 * `postern mailbox list ADDRESS` over messages appended to the store, and the RFC 2047 decoding it
 * shows header fields with.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeEncodedWords, type MailboxMessageJson } from '../src/cli/mailbox.ts';
import { loadConfig } from '../src/config/load.ts';
import { silentLogger } from '../src/core/logger.ts';
import { openConfiguredStore } from '../src/main.ts';
import { runCommand, tempDir, writeConfig, type CommandResult } from './helpers/postern.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';

async function node() {
  const dir = tempDir('cli-mailbox');
  const config = writeConfig(
    `hostname = "mx.example.test"\ndata_dir = ${JSON.stringify(join(dir, 'data'))}\n[log]\nlevel = "silent"\n[[domain]]\nname = "example.test"\nrole = "primary"\n`,
    dir,
  );
  const run = (args: string[]): Promise<CommandResult> => runCommand([...args, '-c', config]);
  assert.equal((await run(['account', 'add', 'bob@example.test', '--password', 'pw'])).status, 0);
  return {
    run,
    async append(messages: Array<{ text: string; internalDate: number; mailbox?: string }>): Promise<void> {
      const store = await openConfiguredStore(loadConfig(config), silentLogger);
      try {
        for (const m of messages) {
          await store.append({ address: 'bob@example.test', mailbox: m.mailbox ?? 'INBOX', data: new TextEncoder().encode(m.text), internalDate: m.internalDate });
        }
      } finally {
        await store.close();
      }
    },
  };
}

const FIRST =
  'Return-Path: <alice@example.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0100\r\nFrom: Alice <alice@example.test>\r\nTo: bob@example.test\r\n' +
  'Subject: =?utf-8?Q?Caf=C3=A9?= =?utf-8?B?IG1lbnU=?=\r\nMessage-ID: <m1@example.test>\r\n\r\nHello\r\n';
const SECOND = 'From: carl@remote.test\r\nSubject: a very long subject that will not fit in the table column at all, really\r\n\r\nno date, no id\r\n';

describe('postern mailbox list', () => {
  it('lists uid, date, from, to, subject, size and message-id of each INBOX message as JSON', async () => {
    const n = await node();
    const filed = Date.parse('2026-12-01T09:00:05Z');
    await n.append([
      { text: FIRST, internalDate: filed },
      { text: SECOND, internalDate: filed + 60_000 },
      { text: 'Subject: archived\r\n\r\nx\r\n', internalDate: filed, mailbox: 'Archive' },
    ]);
    const r = await n.run(['mailbox', 'list', 'BOB@example.test', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout) as MailboxMessageJson[], [
      {
        uid: 1,
        internalDate: '2026-12-01T09:00:05Z',
        date: 'Tue, 1 Dec 2026 10:00:00 +0100',
        from: 'Alice <alice@example.test>',
        to: 'bob@example.test',
        subject: 'Café menu',
        messageId: '<m1@example.test>',
        size: FIRST.length, // the subject is encoded: every byte is ASCII
      },
      {
        uid: 2,
        internalDate: '2026-12-01T09:01:05Z',
        date: null,
        from: 'carl@remote.test',
        to: null,
        subject: 'a very long subject that will not fit in the table column at all, really',
        messageId: null,
        size: SECOND.length,
      },
    ]);
  });

  it('prints a table for people, dates in UTC, long values cut', async () => {
    const n = await node();
    await n.append([
      { text: FIRST, internalDate: Date.parse('2026-12-01T09:00:05Z') },
      { text: SECOND, internalDate: Date.parse('2026-12-01T09:01:05Z') },
    ]);
    const r = await n.run(['mailbox', 'list', 'bob@example.test']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^UID\s+DATE\s+SIZE\s+FROM\s+TO\s+SUBJECT\s+MESSAGE-ID$/);
    assert.match(lines[1] ?? '', /^1\s+2026-12-01T09:00:00Z\s+\d+ B\s+Alice <alice@example\.test>\s+bob@example\.test\s+Café menu\s+<m1@example\.test>$/);
    assert.match(lines[2] ?? '', /^2\s+2026-12-01T09:01:05Z\s+\d+ B\s+carl@remote\.test\s+-\s+a very long subject that will not fit i…\s+-$/);
    assert.equal(lines[3], '2 messages in bob@example.test INBOX');
  });

  it('says when the INBOX is empty', async () => {
    const n = await node();
    const r = await n.run(['mailbox', 'list', 'bob@example.test']);
    assert.equal(r.stdout, 'bob@example.test: INBOX is empty\n');
    assert.deepEqual(JSON.parse((await n.run(['mailbox', 'list', 'bob@example.test', '--json'])).stdout), []);
  });

  it('names an account that does not exist, with exit 1', async () => {
    const n = await node();
    const r = await n.run(['mailbox', 'list', 'nobody@example.test']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'postern: no account nobody@example.test\n');
  });
});

describe('decodeEncodedWords', () => {
  const cases: Array<[string, string]> = [
    ['plain text', 'plain text'],
    ['=?UTF-8?B?w6l0w6k=?=', 'été'],
    ['=?iso-8859-1?Q?caf=E9_au_lait?=', 'café au lait'],
    ['=?utf-8?q?a?= =?utf-8?q?b?=', 'ab'],
    ['=?utf-8?q?a?= and =?utf-8?q?b?=', 'a and b'],
    ['=?utf-8*en?Q?hi?=', 'hi'],
    ['=?no-such-charset?Q?x?=', '=?no-such-charset?Q?x?='],
    ['=?utf-8?B?!!!?=', '=?utf-8?B?!!!?='],
  ];
  for (const [input, want] of cases) it(`decodes ${JSON.stringify(input)}`, () => assert.equal(decodeEncodedWords(input), want));
});
