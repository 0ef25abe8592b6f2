import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCommand } from './command.ts';

const parse = (s: string) => parseCommand(Buffer.from(s, 'latin1'));

describe('IMAP command parser', () => {
  const good: Array<[string, object]> = [
    ['a1 NOOP', { name: 'NOOP' }],
    ['a1 login "bob@x.test" {6}\r\nsecret', { name: 'LOGIN', username: 'bob@x.test', password: 'secret' }],
    ['a1 LOGIN bob "p\\"w"', { name: 'LOGIN', username: 'bob', password: 'p"w' }],
    ['a1 SELECT inbox', { name: 'SELECT', mailbox: 'inbox' }],
    ['a1 RENAME "A B" C', { name: 'RENAME', from: 'A B', to: 'C' }],
    ['a1 LIST "" "*"', { name: 'LIST', reference: '', pattern: '*', selectOptions: [], returnOptions: [] }],
    ['a1 LIST (SPECIAL-USE) "" % RETURN (SUBSCRIBED)', { name: 'LIST', reference: '', pattern: '%', selectOptions: ['SPECIAL-USE'], returnOptions: ['SUBSCRIBED'] }],
    ['a1 STATUS Sent (MESSAGES unseen)', { name: 'STATUS', mailbox: 'Sent', items: ['MESSAGES', 'UNSEEN'] }],
    ['a1 UID STORE 1:* -FLAGS.SILENT (\\Seen $Work)', { name: 'STORE', uid: true, set: [{ from: 1, to: null }], operation: 'remove', silent: true, flags: ['\\Seen', '$Work'] }],
    ['a1 MOVE 2,4:5 Trash', { name: 'MOVE', uid: false, set: [{ from: 2, to: 2 }, { from: 4, to: 5 }], mailbox: 'Trash' }],
    ['a1 UID EXPUNGE 3', { name: 'EXPUNGE', uids: [{ from: 3, to: 3 }] }],
    ['a1 EXPUNGE', { name: 'EXPUNGE', uids: null }],
    ['a1 ID NIL', { name: 'ID', params: null }],
    ['a1 ENABLE condstore', { name: 'ENABLE', capabilities: ['CONDSTORE'] }],
    ['a1 AUTHENTICATE plain dGVzdA==', { name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: 'dGVzdA==' }],
  ];
  for (const [line, want] of good) {
    it(`reads ${JSON.stringify(line)}`, () => {
      const r = parse(line);
      assert.equal(r.kind, 'command', JSON.stringify(r));
      if (r.kind === 'command') assert.deepEqual(r.command, want);
    });
  }

  it('reads APPEND with flags, a date and a literal', () => {
    const r = parse('a1 APPEND Drafts (\\Draft) "15-Jan-2026 10:00:00 +0000" {5+}\r\nhello');
    assert.ok(r.kind === 'command' && r.command.name === 'APPEND');
    assert.deepEqual([r.command.flags, r.command.date, r.command.message.toString()], [['\\Draft'], Date.UTC(2026, 0, 15, 10), 'hello']);
  });

  it('reads FETCH items with sections, partials and macros', () => {
    const r = parse('a1 UID FETCH 1:3 (FLAGS BODY.PEEK[HEADER.FIELDS (From "Subject")] BODY[1.2.MIME] BODY[]<0.100>)');
    assert.ok(r.kind === 'command' && r.command.name === 'FETCH');
    assert.deepEqual(r.command.items, [
      { kind: 'FLAGS' },
      { kind: 'section', peek: true, section: { part: [], text: { fields: ['From', 'Subject'], not: false } }, partial: null },
      { kind: 'section', peek: false, section: { part: [1, 2], text: 'MIME' }, partial: null },
      { kind: 'section', peek: false, section: { part: [], text: null }, partial: { start: 0, length: 100 } },
    ]);
    const all = parse('a2 FETCH 1 ALL');
    assert.ok(all.kind === 'command' && all.command.name === 'FETCH' && all.command.items.length === 4);
  });

  const bad: Array<[string, string]> = [
    ['', 'a command starts with a tag'],
    ['a1', 'missing command'],
    ['a+ NOOP', 'a command starts with a tag'],
    ['a1 FROB', 'unknown command FROB'],
    ['a1 NOOP extra', 'NOOP takes 0 arguments'],
    ['a1 LOGIN bob', 'LOGIN needs a user name and a password'],
    ['a1 FETCH 0 FLAGS', 'FETCH needs a sequence set'],
    ['a1 FETCH 1 BODY[HEADER.FIELDS ()]', 'unknown FETCH data item BODY[HEADER.FIELDS ()]'],
    ['a1 STORE 1 +FLAGS (\\Recent)', 'bad STORE flags'],
    ['a1 SEARCH SINCE yesterday', 'SINCE needs a date like 1-Feb-2026'],
    ['a1 SELECT "a', 'unterminated quoted string'],
    ['a1 UID NOOP', 'UID NOOP is not a command'],
    ['a1 APPEND INBOX (\\Seen)', 'APPEND needs the message as a literal'],
    ['a1 APPEND INBOX "not a date"', 'bad APPEND date-time'],
  ];
  for (const [line, reason] of bad) {
    it(`refuses ${JSON.stringify(line)}: ${reason}`, () => {
      const r = parse(line);
      assert.equal(r.kind, 'error');
      if (r.kind === 'error') assert.equal(r.reason, reason);
    });
  }

  it('never throws on any input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parseCommand(Buffer.from(bytes));
      }),
    );
    const words = fc.constantFrom('a1', 'UID', 'FETCH', 'SEARCH', 'STORE', '(', ')', '"x"', '{3}\r\nabc', '1:*', 'BODY[', ']', 'OR', 'NOT', '\\Seen', 'NIL', ' ');
    fc.assert(
      fc.property(fc.array(words, { maxLength: 30 }), (ws) => {
        parseCommand(Buffer.from(`t ${ws.join(' ')}`));
      }),
    );
  });
});
