import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatReply } from '../../core/smtp-reply.ts';
import { parseCommand, parseCommandBytes, redactCommandLine } from './command.ts';
import type { Command, CommandResult } from './command.ts';
import { formatMailbox } from './mailbox.ts';
import { decodeXtext, emptyMailParams, emptyRcptParams, encodeXtext } from './params.ts';

/** "250 2.1.0" style summary of an error, or the command. */
function outcome(r: CommandResult): Command | string {
  if (r.kind === 'command') return r.command;
  return formatReply(r.reply).slice(0, 9).trim();
}

const mail = (sender: { local: string; domain: string; raw: string } | null, params = {}): Command => ({
  verb: 'MAIL',
  sender,
  params: { ...emptyMailParams(), ...params },
});
const rcpt = (local: string, domain: string, raw: string, params = {}): Command => ({
  verb: 'RCPT',
  recipient: { local, domain, raw },
  params: { ...emptyRcptParams(), ...params },
});

describe('parseCommand: verbs', () => {
  const cases: Array<[string, Command | string]> = [
    ['EHLO client.example', { verb: 'EHLO', domain: 'client.example' }],
    ['ehlo client.example', { verb: 'EHLO', domain: 'client.example' }],
    ['HELO [127.0.0.1]', { verb: 'HELO', domain: '[127.0.0.1]' }],
    ['LHLO lmtp.client', { verb: 'LHLO', domain: 'lmtp.client' }],
    ['EHLO', '501 5.5.4'],
    ['EHLO two words', '501 5.5.4'],
    ['DATA', { verb: 'DATA' }],
    ['data', { verb: 'DATA' }],
    ['DATA now', '501 5.5.4'],
    ['RSET', { verb: 'RSET' }],
    ['NOOP', { verb: 'NOOP' }],
    ['NOOP anything at all', { verb: 'NOOP' }],
    ['QUIT', { verb: 'QUIT' }],
    ['QUIT now', '501 5.5.4'],
    ['STARTTLS', { verb: 'STARTTLS' }],
    ['STARTTLS x', '501 5.5.4'],
    ['VRFY postmaster', { verb: 'VRFY', argument: 'postmaster' }],
    ['VRFY', '501 5.5.4'],
    ['HELP', { verb: 'HELP', argument: '' }],
    ['HELP MAIL', { verb: 'HELP', argument: 'MAIL' }],
    ['BDAT 1000', { verb: 'BDAT', size: 1000, last: false }],
    ['BDAT 0 LAST', { verb: 'BDAT', size: 0, last: true }],
    ['bdat 12 last', { verb: 'BDAT', size: 12, last: true }],
    ['BDAT', '501 5.5.4'],
    ['BDAT -1', '501 5.5.4'],
    ['BDAT 10 FIRST', '501 5.5.4'],
    ['BDAT 1234567890123456', '501 5.5.4'],
    ['AUTH PLAIN', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: null }],
    ['AUTH plain AGFsaWNlAHNlY3JldA==', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHNlY3JldA==' }],
    ['AUTH PLAIN =', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' }],
    ['AUTH', '501 5.5.4'],
    ['EXPN staff', '500 5.5.2'],
    ['XYZZY', '500 5.5.2'],
    ['', '500 5.5.2'],
    ['NO\rOP', '500 5.5.2'],
    ['NOOP\x00', '500 5.5.2'],
  ];
  for (const [line, want] of cases) {
    it(`${JSON.stringify(line)} gives ${typeof want === 'string' ? want : want.verb}`, () => {
      assert.deepEqual(outcome(parseCommand(line)), want);
    });
  }

  it('refuses invalid UTF-8 with 500 5.5.2', () => {
    assert.equal(outcome(parseCommandBytes(new Uint8Array([0x4e, 0x4f, 0xff, 0xfe]))), '500 5.5.2');
  });

  it('names the verb of a recognised command with bad arguments, and none for an unknown one', () => {
    const bad = parseCommand('DATA x');
    assert.equal(bad.kind === 'error' && bad.verb, 'DATA');
    const unknown = parseCommand('FOO');
    assert.equal(unknown.kind === 'error' && unknown.verb, null);
  });
});

describe('parseCommand: MAIL FROM and RCPT TO paths (RFC 5321 §4.1.2)', () => {
  const cases: Array<[string, Command | string]> = [
    ['MAIL FROM:<alice@example.test>', mail({ local: 'alice', domain: 'example.test', raw: 'alice@example.test' })],
    ['mail from:<alice@example.test>', mail({ local: 'alice', domain: 'example.test', raw: 'alice@example.test' })],
    ['MAIL FROM:<>', mail(null)],
    ['MAIL FROM: <alice@example.test>', mail({ local: 'alice', domain: 'example.test', raw: 'alice@example.test' })],
    ['MAIL FROM:<Alice@EXAMPLE.Test>', mail({ local: 'Alice', domain: 'example.test', raw: 'Alice@EXAMPLE.Test' })],
    ['MAIL FROM:<alice@example.test.>', mail({ local: 'alice', domain: 'example.test', raw: 'alice@example.test.' })],
    ['MAIL FROM:<"john doe"@example.test>', mail({ local: 'john doe', domain: 'example.test', raw: '"john doe"@example.test' })],
    ['MAIL FROM:<"a\\"b"@example.test>', mail({ local: 'a"b', domain: 'example.test', raw: '"a\\"b"@example.test' })],
    ['MAIL FROM:<"a>b"@example.test>', mail({ local: 'a>b', domain: 'example.test', raw: '"a>b"@example.test' })],
    ['MAIL FROM:<u@[127.0.0.1]>', mail({ local: 'u', domain: '[127.0.0.1]', raw: 'u@[127.0.0.1]' })],
    ['MAIL FROM:<u@[IPv6:2001:DB8::1]>', mail({ local: 'u', domain: '[IPv6:2001:db8::1]', raw: 'u@[IPv6:2001:DB8::1]' })],
    ['MAIL FROM:<@relay.test,@other.test:user@final.test>', mail({ local: 'user', domain: 'final.test', raw: 'user@final.test' })],
    ["MAIL FROM:<o'brien+tag@example.test>", mail({ local: "o'brien+tag", domain: 'example.test', raw: "o'brien+tag@example.test" })],
    ['MAIL FROM:alice@example.test', '501 5.1.7'],
    ['MAIL FROM:<alice@example.test', '501 5.1.7'],
    ['MAIL FROM:<alice>', '501 5.1.7'],
    ['MAIL FROM:<alice@>', '501 5.1.7'],
    ['MAIL FROM:<@example.test>', '501 5.1.7'],
    ['MAIL FROM:<a..b@example.test>', '501 5.1.7'],
    ['MAIL FROM:<.a@example.test>', '501 5.1.7'],
    ['MAIL FROM:<a b@example.test>', '501 5.1.7'],
    ['MAIL FROM:<a@exa mple.test>', '501 5.1.7'],
    ['MAIL FROM:<a@-bad.test>', '501 5.1.7'],
    ['MAIL FROM:<a@bad-.test>', '501 5.1.7'],
    ['MAIL FROM:<a@ex..test>', '501 5.1.7'],
    ['MAIL FROM:<a@ex_ample.test>', '501 5.1.7'],
    ['MAIL FROM:<a@[300.0.0.1]>', '501 5.1.7'],
    ['MAIL FROM:<a@[IPv6:zz::1]>', '501 5.1.7'],
    ['MAIL FROM:<a@[tag:whatever]>', '501 5.1.7'],
    ['MAIL FROM:<a@example.test>x', '501 5.1.7'],
    ['MAIL FROM:<"unterminated@example.test>', '501 5.1.7'],
    ['MAIL TO:<a@example.test>', '501 5.5.4'],
    ['MAIL', '501 5.5.4'],
    ['RCPT TO:<bob@example.test>', rcpt('bob', 'example.test', 'bob@example.test')],
    ['RCPT TO:<Postmaster>', rcpt('Postmaster', '', 'Postmaster')],
    ['RCPT TO:<postmaster>', rcpt('postmaster', '', 'postmaster')],
    ['RCPT TO:<bob>', '501 5.1.3'],
    ['RCPT TO:<>', '501 5.1.3'],
    ['RCPT TO:<@hop.test:bob@example.test>', rcpt('bob', 'example.test', 'bob@example.test')],
    // Open-relay tricks parse as what they literally are; the recipient check refuses them.
    ['RCPT TO:<user%other.test@domain.test>', rcpt('user%other.test', 'domain.test', 'user%other.test@domain.test')],
    ['RCPT TO:<other.test!user@domain.test>', rcpt('other.test!user', 'domain.test', 'other.test!user@domain.test')],
    ['RCPT TO:<"user@other.test"@domain.test>', rcpt('user@other.test', 'domain.test', '"user@other.test"@domain.test')],
    ['RCPT FROM:<bob@example.test>', '501 5.5.4'],
  ];
  for (const [line, want] of cases) {
    it(`${JSON.stringify(line)} gives ${typeof want === 'string' ? want : 'a command'}`, () => {
      assert.deepEqual(outcome(parseCommand(line)), want);
    });
  }
});

describe('parseCommand: SMTPUTF8 addresses (RFC 6531)', () => {
  it('accepts a UTF-8 sender when MAIL carries SMTPUTF8, with the domain as IDNA A-labels', () => {
    assert.deepEqual(
      outcome(parseCommand('MAIL FROM:<jöran@bücher.example> SMTPUTF8')),
      mail({ local: 'jöran', domain: 'xn--bcher-kva.example', raw: 'jöran@bücher.example' }, { smtputf8: true }),
    );
  });

  it('refuses a UTF-8 sender without SMTPUTF8 with 553 5.6.7', () => {
    assert.equal(outcome(parseCommand('MAIL FROM:<jöran@example.test>')), '553 5.6.7');
    assert.equal(outcome(parseCommand('MAIL FROM:<a@bücher.example>')), '553 5.6.7');
  });

  it('accepts a UTF-8 recipient only in a transaction that uses SMTPUTF8', () => {
    assert.equal(outcome(parseCommand('RCPT TO:<用户@例子.测试>')), '553 5.6.7');
    const r = parseCommand('RCPT TO:<用户@例子.测试>', { smtputf8: true });
    assert.ok(r.kind === 'command' && r.command.verb === 'RCPT');
    assert.equal(r.command.recipient.local, '用户');
    assert.equal(r.command.recipient.domain, 'xn--fsqu00a.xn--0zwm56d');
  });

  it('accepts UTF-8 inside a quoted local part under SMTPUTF8', () => {
    const r = parseCommand('RCPT TO:<"ö ü"@example.test>', { smtputf8: true });
    assert.ok(r.kind === 'command' && r.command.verb === 'RCPT');
    assert.equal(r.command.recipient.local, 'ö ü');
  });

  it('normalises an A-label domain to lower case as is', () => {
    const r = parseCommand('RCPT TO:<a@XN--BCHER-KVA.example>');
    assert.ok(r.kind === 'command' && r.command.verb === 'RCPT');
    assert.equal(r.command.recipient.domain, 'xn--bcher-kva.example');
  });
});

describe('parseCommand: ESMTP parameters', () => {
  const cases: Array<[string, Command | string]> = [
    ['MAIL FROM:<a@b.test> SIZE=12345', mail({ local: 'a', domain: 'b.test', raw: 'a@b.test' }, { size: 12345 })],
    ['MAIL FROM:<a@b.test> size=0', mail({ local: 'a', domain: 'b.test', raw: 'a@b.test' }, { size: 0 })],
    ['MAIL FROM:<a@b.test> SIZE', '501 5.5.4'],
    ['MAIL FROM:<a@b.test> SIZE=12k', '501 5.5.4'],
    ['MAIL FROM:<a@b.test> SIZE=1 SIZE=2', '501 5.5.4'],
    ['MAIL FROM:<a@b.test> BODY=8BITMIME', mail({ local: 'a', domain: 'b.test', raw: 'a@b.test' }, { body: '8BITMIME' })],
    ['MAIL FROM:<a@b.test> BODY=7bit', mail({ local: 'a', domain: 'b.test', raw: 'a@b.test' }, { body: '7BIT' })],
    ['MAIL FROM:<a@b.test> BODY=BINARYMIME', mail({ local: 'a', domain: 'b.test', raw: 'a@b.test' }, { body: 'BINARYMIME' })],
    ['MAIL FROM:<a@b.test> BODY=9BIT', '501 5.5.4'],
    ['MAIL FROM:<a@b.test> SMTPUTF8', mail({ local: 'a', domain: 'b.test', raw: 'a@b.test' }, { smtputf8: true })],
    ['MAIL FROM:<a@b.test> SMTPUTF8=yes', '501 5.5.4'],
    ['MAIL FROM:<> RET=HDRS ENVID=QQ314159', mail(null, { ret: 'HDRS', envid: 'QQ314159' })],
    ['MAIL FROM:<> RET=full', mail(null, { ret: 'FULL' })],
    ['MAIL FROM:<> RET=BOTH', '501 5.5.4'],
    ['MAIL FROM:<> ENVID=a+2Bb+3Dc', mail(null, { envid: 'a+b=c' })],
    ['MAIL FROM:<> ENVID=a+2', '501 5.5.4'],
    ['MAIL FROM:<> ENVID=a+00', '501 5.5.4'],
    [`MAIL FROM:<> ENVID=${'x'.repeat(101)}`, '501 5.5.4'],
    ['MAIL FROM:<> NOTIFY=NEVER', '555 5.5.4'],
    ['MAIL FROM:<> AUTH=<>', '555 5.5.4'],
    ['MAIL FROM:<> X-UNKNOWN', '555 5.5.4'],
    ['MAIL FROM:<> =x', '501 5.5.4'],
    ['MAIL FROM:<>  SIZE=5', mail(null, { size: 5 })],
    ['RCPT TO:<b@c.test> NOTIFY=NEVER', rcpt('b', 'c.test', 'b@c.test', { notify: 'NEVER' })],
    ['RCPT TO:<b@c.test> NOTIFY=success,FAILURE', rcpt('b', 'c.test', 'b@c.test', { notify: ['SUCCESS', 'FAILURE'] })],
    ['RCPT TO:<b@c.test> NOTIFY=DELAY', rcpt('b', 'c.test', 'b@c.test', { notify: ['DELAY'] })],
    ['RCPT TO:<b@c.test> NOTIFY=NEVER,SUCCESS', '501 5.5.4'],
    ['RCPT TO:<b@c.test> NOTIFY=SUCCESS,SUCCESS', '501 5.5.4'],
    ['RCPT TO:<b@c.test> NOTIFY=', '501 5.5.4'],
    ['RCPT TO:<b@c.test> ORCPT=rfc822;b+40c.test', rcpt('b', 'c.test', 'b@c.test', { orcpt: { addrType: 'rfc822', address: 'b@c.test' } })],
    ['RCPT TO:<b@c.test> ORCPT=utf-8;j\\x{00F6}ran@c.test', rcpt('b', 'c.test', 'b@c.test', { orcpt: { addrType: 'utf-8', address: 'jöran@c.test' } })],
    ['RCPT TO:<b@c.test> ORCPT=rfc822', '501 5.5.4'],
    ['RCPT TO:<b@c.test> ORCPT=;b@c.test', '501 5.5.4'],
    ['RCPT TO:<b@c.test> ORCPT=rfc822;', '501 5.5.4'],
    ['RCPT TO:<b@c.test> SIZE=10', '555 5.5.4'],
  ];
  for (const [line, want] of cases) {
    it(`${JSON.stringify(line.slice(0, 60))} gives ${typeof want === 'string' ? want : 'a command'}`, () => {
      assert.deepEqual(outcome(parseCommand(line)), want);
    });
  }
});

describe('xtext (RFC 3461 §4)', () => {
  it('round-trips any string through encode and decode for ASCII (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii' }), (s) => {
        assert.equal(decodeXtext(encodeXtext(s)), s);
      }),
    );
  });

  it('encodes "+", "=", spaces and controls as +HH', () => {
    assert.equal(encodeXtext('a+b=c d\r'), 'a+2Bb+3Dc+20d+0D');
  });
});

describe('parseCommand on anything a client may send', () => {
  it('never throws on random text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 120 }), fc.boolean(), (s, utf8) => {
        const r = parseCommand(s, { smtputf8: utf8 });
        assert.ok(r.kind === 'command' || r.kind === 'error');
      }),
    );
  });

  it('never throws on random MAIL/RCPT arguments (property)', () => {
    const alphabet = fc.constantFrom('<', '>', '@', '"', '\\', ':', ',', '.', '[', ']', ' ', '=', 'a', 'B', '1', 'ö', '+', ';', 'IPv6:');
    fc.assert(
      fc.property(fc.constantFrom('MAIL FROM:', 'RCPT TO:'), fc.array(alphabet, { maxLength: 40 }), (verb, parts) => {
        const r = parseCommand(verb + parts.join(''), { smtputf8: true });
        assert.ok(r.kind === 'command' || r.kind === 'error');
      }),
    );
  });

  it('never throws on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => assert.ok(parseCommandBytes(b).kind !== undefined)));
  });

  it('parses back any dot-atom address it formats (property)', () => {
    const atom = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]{1,10}$/);
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(atom, { minLength: 1, maxLength: 3 }), fc.array(label, { minLength: 1, maxLength: 4 }), (atoms, labels) => {
        const local = atoms.join('.');
        const domain = labels.join('.');
        const r = parseCommand(`RCPT TO:<${local}@${domain.toUpperCase()}>`);
        assert.ok(r.kind === 'command' && r.command.verb === 'RCPT', JSON.stringify(r));
        assert.equal(r.command.recipient.local, local);
        assert.equal(r.command.recipient.domain, domain);
        assert.equal(formatMailbox(r.command.recipient), `${local}@${domain}`);
      }),
    );
  });

  it('parses back any quoted local part it formats (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ -~]{1,20}$/), (local) => {
        const text = formatMailbox({ local, domain: 'example.test', raw: '' });
        const r = parseCommand(`MAIL FROM:<${text}>`);
        assert.ok(r.kind === 'command' && r.command.verb === 'MAIL', `${text}: ${JSON.stringify(r)}`);
        assert.equal(r.command.sender?.local, local);
      }),
    );
  });
});

describe('redactCommandLine', () => {
  it('hides the initial response of AUTH', () => {
    assert.equal(redactCommandLine('AUTH PLAIN AGFsaWNlAHNlY3JldA=='), 'AUTH PLAIN ***');
    assert.equal(redactCommandLine('MAIL FROM:<a@b>'), 'MAIL FROM:<a@b>');
  });
});
