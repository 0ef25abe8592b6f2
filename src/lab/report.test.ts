import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shareText, sharesWithin, summaryTable, tally, tallyOk, tallyText, wrap } from './report.ts';

describe('tally', () => {
  const cases: Array<[string, string[], string[], string]> = [
    ['counts every message found once as delivered', ['a', 'b', 'c'], ['c', 'a', 'b'], '3 of 3 delivered, 0 lost, 0 duplicated'],
    ['counts a message found nowhere as lost', ['a', 'b', 'c'], ['a', 'c'], '2 of 3 delivered, 1 lost, 0 duplicated'],
    ['counts each extra copy as a duplicate', ['a', 'b'], ['a', 'a', 'a', 'b'], '2 of 2 delivered, 0 lost, 2 duplicated'],
    ['ignores messages the lab did not send (bounces, earlier runs)', ['a'], ['a', 'x', 'Undelivered Mail Returned to Sender'], '1 of 1 delivered, 0 lost, 0 duplicated'],
    ['says 0 of 0 when nothing was sent', [], ['x'], '0 of 0 delivered, 0 lost, 0 duplicated'],
  ];
  for (const [name, sent, found, want] of cases) it(name, () => assert.equal(tallyText(tally(sent, found)), want));

  it('is ok only with nothing lost and nothing duplicated', () => {
    assert.equal(tallyOk(tally(['a', 'b'], ['a', 'b'])), true);
    assert.equal(tallyOk(tally(['a', 'b'], ['a'])), false);
    assert.equal(tallyOk(tally(['a', 'b'], ['a', 'b', 'b'])), false);
  });
});

describe('shares', () => {
  it('names each host with its count and percentage', () => {
    assert.equal(shareText([['smtp1', 104], ['smtp2', 96]]), 'smtp1 took 104 (52%), smtp2 took 96 (48%)');
    assert.equal(shareText([['smtp3', 0]], 'holds'), 'smtp3 holds 0');
  });

  it('checks that every share lies within the bounds', () => {
    assert.equal(sharesWithin([104, 96], 0.3, 0.7), true);
    assert.equal(sharesWithin([150, 50], 0.3, 0.7), false);
    assert.equal(sharesWithin([0, 0], 0.3, 0.7), false, 'nothing delivered is no share');
  });
});

describe('summaryTable', () => {
  it('prints a header, a rule and one row per step with ok or FAIL', () => {
    const text = summaryTable([
      { step: 'Send', expected: 'all at mail1', observed: 'mail1 took 10', ok: true },
      { step: 'Stop', expected: 'held', observed: 'nothing held', ok: false },
    ]);
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^#\s+STEP\s+EXPECTED\s+OBSERVED\s+OK$/);
    assert.match(lines[1] ?? '', /^-+\s+-+/);
    assert.match(lines[2] ?? '', /^1\s+Send\s+all at mail1\s+mail1 took 10\s+ok$/);
    assert.match(lines[3] ?? '', /^2\s+Stop\s+held\s+nothing held\s+FAIL$/);
  });

  it('wraps long cells onto continuation lines, keeping the columns aligned', () => {
    const long = 'smtp1 took 104 (52%), smtp2 took 96 (48%); Dallas holds 0 of them';
    const text = summaryTable([{ step: 'Send 200', expected: 'shared', observed: long, ok: true }], 20);
    const lines = text.trimEnd().split('\n').slice(2);
    assert.ok(lines.length > 1);
    const column = (lines[0] ?? '').indexOf('smtp1');
    for (const l of lines.slice(1)) assert.equal(l.search(/\S/), column, l);
    assert.equal(lines.map((l) => l.slice(column).replace(/\s+ok$/, '').trim()).join(' '), long);
  });
});

describe('wrap', () => {
  const cases: Array<[string, number, string[]]> = [
    ['short', 10, ['short']],
    ['one two three', 7, ['one two', 'three']],
    ['abcdefghij', 4, ['abcd', 'efgh', 'ij']],
    ['', 5, ['']],
  ];
  for (const [text, width, want] of cases) it(`wraps ${JSON.stringify(text)} at ${width}`, () => assert.deepEqual(wrap(text, width), want));
});
