import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDurationMs, parseDurationMs } from './duration.ts';

describe('durations', () => {
  const cases: Array<[string, number | null]> = [
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['4H', 14_400_000],
    ['5d', 432_000_000],
    ['2w', 1_209_600_000],
    ['1m500ms', 60_500],
    ['', null],
    ['5', null],
    ['5 minutes', null],
    ['-5m', null],
    ['1.5h', null],
  ];
  for (const [text, want] of cases) it(`reads ${JSON.stringify(text)} as ${want}`, () => assert.equal(parseDurationMs(text), want));
  it('writes the shortest exact spelling back', () => {
    assert.equal(formatDurationMs(90_000), '1m30s');
    assert.equal(formatDurationMs(432_000_000), '5d');
    assert.equal(formatDurationMs(0), '0s');
    assert.equal(formatDurationMs(1500), '1s500ms');
  });
});
