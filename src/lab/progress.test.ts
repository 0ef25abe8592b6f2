import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, quarter, renderBar } from './progress.ts';

describe('renderBar', () => {
  const cases: Array<[number, number, string]> = [
    [0, 200, '[..........]   0/200  sending'],
    [100, 200, '[#####.....] 100/200  sending'],
    [200, 200, '[##########] 200/200  sending'],
    [250, 200, '[##########] 200/200  sending'],
    [0, 0, '[##########] 0/0  sending'],
  ];
  for (const [done, total, want] of cases) it(`draws ${done} of ${total}`, () => assert.equal(renderBar(done, total, 'sending', 10), want));
});

describe('quarter', () => {
  it('moves from 0 to 4 as the work is done', () => {
    assert.deepEqual([0, 24, 25, 50, 99, 100].map((d) => quarter(d, 100)), [0, 0, 1, 2, 3, 4]);
  });
});

describe('Progress', () => {
  it('prints plain lines, one per quarter, when stderr is no terminal', () => {
    let out = '';
    const p = new Progress({ write: (t) => (out += t), tty: false });
    for (let i = 0; i <= 100; i++) p.update(i, 100, 'sending');
    p.done();
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 5);
    assert.doesNotMatch(out, /[\r\x1b]/, 'no carriage returns or escape codes in a file');
  });

  it('redraws one line in place on a terminal and ends it when done', () => {
    let out = '';
    const p = new Progress({ write: (t) => (out += t), tty: true });
    p.update(1, 2, 'a');
    p.update(2, 2, 'a');
    p.done();
    assert.equal(out.split('\r').length, 3);
    assert.ok(out.endsWith('\n'));
    assert.doesNotMatch(out, /\x1b/, 'no escape codes even on a terminal');
  });
});
