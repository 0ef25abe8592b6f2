import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { formatReply } from '../../core/smtp-reply.ts';
import { NO_CAPABILITIES, parseEhloCapabilities, parseReply } from './reply.ts';
import type { ParseReplyResult } from './reply.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('parseReply', () => {
  const complete: Array<[string, string, SmtpReply]> = [
    ['reads a one-line reply', '250 OK\r\n', { code: 250, enhanced: null, lines: ['OK'] }],
    ['reads a code with no text', '250\r\n', { code: 250, enhanced: null, lines: [''] }],
    ['reads a multi-line reply in order', '250-mx.test hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n', {
      code: 250,
      enhanced: null,
      lines: ['mx.test hello', 'PIPELINING', 'SIZE 1000'],
    }],
    ['takes the enhanced code off the text', '550 5.1.1 no such user\r\n', { code: 550, enhanced: '5.1.1', lines: ['no such user'] }],
    ['takes the enhanced code off every line that repeats it', '451-4.3.0 one\r\n451 4.3.0 two\r\n', {
      code: 451,
      enhanced: '4.3.0',
      lines: ['one', 'two'],
    }],
    ['keeps an enhanced code whose class disagrees with the reply code as text', '250 5.1.1 odd\r\n', {
      code: 250,
      enhanced: null,
      lines: ['5.1.1 odd'],
    }],
    ['reads no enhanced code on a 354', '354 3.0.0 go ahead\r\n', { code: 354, enhanced: null, lines: ['3.0.0 go ahead'] }],
    ['reads an enhanced code alone on its line', '250 2.0.0\r\n', { code: 250, enhanced: '2.0.0', lines: [''] }],
    ['does not take a version number for an enhanced code', '220 2.0.0beta ready\r\n', { code: 220, enhanced: null, lines: ['2.0.0beta ready'] }],
    ['accepts a bare LF as a line end', '221 bye\n', { code: 221, enhanced: null, lines: ['bye'] }],
    ['accepts a hyphenated continuation with no text', '250-\r\n250 x\r\n', { code: 250, enhanced: null, lines: ['', 'x'] }],
  ];
  for (const [name, input, want] of complete) {
    it(name, () => {
      const got = parseReply(bytes(input));
      assert.deepEqual(got, { kind: 'reply', reply: want, consumed: bytes(input).length });
    });
  }

  it('stops at the end of the first reply and says how much it took', () => {
    const got = parseReply(bytes('250 a\r\n354 b\r\n'));
    assert.equal(got.kind, 'reply');
    assert.equal(got.kind === 'reply' && got.consumed, 7);
  });

  const partial = ['', '25', '250 OK', '250 OK\r', '250-a\r\n', '250-a\r\n250 b'];
  for (const input of partial) {
    it(`needs more after ${JSON.stringify(input)}`, () => assert.deepEqual(parseReply(bytes(input)), { kind: 'need-more' }));
  }

  const errors: Array<[string, string, string]> = [
    ['refuses a line that is not a reply', 'hello\r\n', 'syntax'],
    ['refuses a code below 200', '199 x\r\n', 'syntax'],
    ['refuses a code of 600 or more', '600 x\r\n', 'syntax'],
    ['refuses a code without a separator', '2500 x\r\n', 'syntax'],
    ['refuses lines that disagree on the code', '250-a\r\n251 b\r\n', 'code-mismatch'],
  ];
  for (const [name, input, reason] of errors) {
    it(name, () => {
      const got = parseReply(bytes(input));
      assert.equal(got.kind, 'error');
      assert.equal(got.kind === 'error' && got.reason, reason);
    });
  }

  it('refuses a line longer than the limit, complete or not', () => {
    const limits = { maxLineLength: 20, maxLines: 5 };
    assert.equal(kind(parseReply(bytes(`250 ${'x'.repeat(30)}\r\n`), limits)), 'error:line-too-long');
    assert.equal(kind(parseReply(bytes(`250 ${'x'.repeat(30)}`), limits)), 'error:line-too-long');
    assert.equal(kind(parseReply(bytes(`250 ${'x'.repeat(14)}\r\n`), limits)), 'reply');
  });

  it('refuses a reply with more lines than the limit', () => {
    const limits = { maxLineLength: 100, maxLines: 3 };
    assert.equal(kind(parseReply(bytes('250-a\r\n250-b\r\n250 c\r\n'), limits)), 'reply');
    assert.equal(kind(parseReply(bytes('250-a\r\n250-b\r\n250-c\r\n250 d\r\n'), limits)), 'error:too-many-lines');
  });

  it('reads what formatReply writes, for any reply', () => {
    const text = fc.stringMatching(/^[ -~]{0,40}$/).map((s) => s.trim());
    const replyArb = fc.record({
      code: fc.integer({ min: 200, max: 599 }),
      lines: fc.array(text.filter((s) => !/^[245]\.\d/.test(s)), { minLength: 1, maxLength: 5 }),
      withEnhanced: fc.boolean(),
    });
    fc.assert(
      fc.property(replyArb, ({ code, lines, withEnhanced }) => {
        const cls = Math.floor(code / 100);
        const enhanced = withEnhanced && cls !== 3 ? `${cls}.1.2` : null;
        const r: SmtpReply = { code, enhanced, lines };
        const got = parseReply(bytes(formatReply(r)));
        assert.equal(got.kind, 'reply');
        assert.deepEqual(got.kind === 'reply' && got.reply, r);
      }),
    );
  });

  it('gives the same reply however the bytes are split, needing more until the last byte', () => {
    const wire = bytes('250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n');
    const whole = parseReply(wire);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: wire.length - 1 }), (cut) => {
        assert.deepEqual(parseReply(wire.subarray(0, cut)), { kind: 'need-more' });
        assert.deepEqual(parseReply(wire), whole);
      }),
    );
  });

  it('never throws on random bytes and never claims more than it was given', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
        const got = parseReply(input, { maxLineLength: 64, maxLines: 4 });
        if (got.kind === 'reply') {
          assert.ok(got.consumed > 0 && got.consumed <= input.length);
          assert.ok(got.reply.code >= 200 && got.reply.code <= 599);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random reply-shaped lines', () => {
    const line = fc.tuple(fc.constantFrom('250', '550', '25', '999', '354'), fc.constantFrom(' ', '-', '', 'x'), fc.string({ maxLength: 20 }));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), fc.constantFrom('\r\n', '\n', '\r'), (lines, eol) => {
        const got = parseReply(bytes(lines.map(([c, s, t]) => c + s + t + eol).join('')));
        assert.ok(['need-more', 'reply', 'error'].includes(got.kind));
      }),
    );
  });
});

describe('parseEhloCapabilities', () => {
  const ehlo = (...lines: string[]): SmtpReply => ({ code: 250, enhanced: null, lines: ['mx.test greets you', ...lines] });

  it('reads every extension we use', () => {
    const caps = parseEhloCapabilities(
      ehlo('PIPELINING', 'SIZE 10240000', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'CHUNKING', 'STARTTLS', 'DSN', 'AUTH PLAIN LOGIN'),
    );
    assert.deepEqual(caps, {
      pipelining: true,
      size: 10240000,
      eightBitMime: true,
      smtpUtf8: true,
      enhancedStatusCodes: true,
      chunking: true,
      startTls: true,
      dsn: true,
      auth: ['PLAIN', 'LOGIN'],
    });
  });

  it('reads nothing from the greeting line', () => {
    assert.deepEqual(parseEhloCapabilities({ code: 250, enhanced: null, lines: ['PIPELINING'] }), NO_CAPABILITIES);
  });

  it('reads keywords in any case and ignores unknown ones', () => {
    const caps = parseEhloCapabilities(ehlo('pipelining', 'X-EXPS GSSAPI', 'starttls', 'VRFY'));
    assert.equal(caps.pipelining, true);
    assert.equal(caps.startTls, true);
    assert.equal(caps.chunking, false);
  });

  it('counts SIZE without a number as SIZE with no fixed limit', () => {
    assert.equal(parseEhloCapabilities(ehlo('SIZE')).size, 0);
    assert.equal(parseEhloCapabilities(ehlo('SIZE lots')).size, 0);
    assert.equal(parseEhloCapabilities(ehlo('8BITMIME')).size, null);
  });

  it('reads the old AUTH= spelling and merges it with AUTH', () => {
    assert.deepEqual(parseEhloCapabilities(ehlo('AUTH=LOGIN PLAIN', 'AUTH PLAIN CRAM-MD5')).auth, ['LOGIN', 'PLAIN', 'CRAM-MD5']);
  });
});

function kind(r: ParseReplyResult): string {
  return r.kind === 'error' ? `error:${r.reason}` : r.kind;
}
