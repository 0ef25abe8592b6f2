import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_RETRY_SCHEDULE_MS, delayNoticeAt, delayNoticeDue, nextAttempt, parseRetrySchedule } from './schedule.ts';
import type { NextAttempt, NextAttemptOptions } from './schedule.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseRetrySchedule', () => {
  it('reads the default schedule', () => {
    assert.deepEqual(parseRetrySchedule(['0s', '5m', '10m', '20m', '40m', '1h']), { kind: 'schedule', offsetsMs: [...DEFAULT_RETRY_SCHEDULE_MS] });
  });

  it('reads compound durations', () => {
    assert.deepEqual(parseRetrySchedule(['1h30m', '500ms']), { kind: 'schedule', offsetsMs: [90 * M, 500] });
  });

  const bad: [what: string, entries: string[], index: number | null, mentions: string][] = [
    ['refuses an entry without a unit, naming it', ['0s', '5', '1h'], 1, 'entry 2 ("5")'],
    ['refuses words, naming the entry', ['0s', 'soon'], 1, '"soon"'],
    ['refuses a negative wait', ['-5m', '1h'], 0, '"-5m"'],
    ['refuses an empty schedule', [], null, 'empty'],
    ['refuses a last entry of zero, which would retry in a tight loop', ['5m', '0s'], 1, 'entry 2 ("0s")'],
  ];
  for (const [what, entries, index, mentions] of bad) {
    it(what, () => {
      const got = parseRetrySchedule(entries);
      assert.equal(got.kind, 'error');
      if (got.kind !== 'error') return;
      assert.equal(got.index, index);
      assert.ok(got.message.includes(mentions), got.message);
    });
  }
});

describe('nextAttempt', () => {
  const t0 = Date.UTC(2026, 11, 1);
  const base: NextAttemptOptions = { attempts: 0, receivedAt: t0, maxAgeMs: 5 * D };
  const cases: [what: string, options: Partial<NextAttemptOptions>, want: NextAttempt][] = [
    ['tries a new message at once', {}, { kind: 'retry', at: t0 }],
    ['waits 5 minutes after the first attempt', { attempts: 1, lastAttemptAt: t0 + 2 * S }, { kind: 'retry', at: t0 + 2 * S + 5 * M }],
    ['waits 10 minutes after the second', { attempts: 2, lastAttemptAt: t0 + 5 * M }, { kind: 'retry', at: t0 + 15 * M }],
    ['waits 40 minutes after the fourth', { attempts: 4, lastAttemptAt: t0 + 35 * M }, { kind: 'retry', at: t0 + 75 * M }],
    ['waits an hour after the fifth and every later one', { attempts: 5, lastAttemptAt: t0 + 75 * M }, { kind: 'retry', at: t0 + 135 * M }],
    ['keeps repeating the last wait', { attempts: 40, lastAttemptAt: t0 + 2 * D }, { kind: 'retry', at: t0 + 2 * D + H }],
    ['cuts the last wait short to try once more at the deadline', { attempts: 100, lastAttemptAt: t0 + 5 * D - 10 * M }, { kind: 'retry', at: t0 + 5 * D }],
    ['expires after an attempt at the deadline', { attempts: 101, lastAttemptAt: t0 + 5 * D }, { kind: 'expire' }],
    ['expires after an attempt past the deadline', { attempts: 3, lastAttemptAt: t0 + 6 * D }, { kind: 'expire' }],
    ['follows a schedule of its own', { schedule: [S, 2 * S], attempts: 0 }, { kind: 'retry', at: t0 + S }],
    ['repeats the last entry of its own schedule', { schedule: [S, 2 * S], attempts: 7, lastAttemptAt: t0 + 10 * S }, { kind: 'retry', at: t0 + 12 * S }],
    ['uses the default for an empty schedule', { schedule: [], attempts: 1, lastAttemptAt: t0 }, { kind: 'retry', at: t0 + 5 * M }],
    ['lets a backup hold its mail for max_hold', { attempts: 200, lastAttemptAt: t0 + 9 * D, maxAgeMs: 10 * D }, { kind: 'retry', at: t0 + 9 * D + H }],
    ['stretches the wait by up to a tenth with jitter', { attempts: 1, lastAttemptAt: t0, jitter: () => 0.5 }, { kind: 'retry', at: t0 + 5 * M + 15 * S }],
    ['keeps jitter out of range from shortening the wait', { attempts: 1, lastAttemptAt: t0, jitter: () => -3 }, { kind: 'retry', at: t0 + 5 * M }],
    ['never lets jitter push past the deadline', { attempts: 9, lastAttemptAt: t0 + 5 * D - H, jitter: () => 0.99 }, { kind: 'retry', at: t0 + 5 * D }],
  ];
  for (const [what, options, want] of cases) it(what, () => assert.deepEqual(nextAttempt({ ...base, ...options }), want));

  it('walks a message through its whole life: retries on schedule, then expires', () => {
    let attempts = 0;
    let last: number | undefined;
    const times: number[] = [];
    for (let guard = 0; guard < 1000; guard++) {
      const next = nextAttempt({ attempts, receivedAt: t0, maxAgeMs: 5 * D, ...(last === undefined ? {} : { lastAttemptAt: last }) });
      if (next.kind === 'expire') break;
      times.push(next.at - t0);
      last = next.at;
      attempts++;
    }
    assert.deepEqual(times.slice(0, 7), [0, 5 * M, 15 * M, 35 * M, 75 * M, 135 * M, 195 * M]);
    assert.equal(times.at(-1), 5 * D);
    // Five steps to 75 minutes, then hourly while under five days, then one at the deadline.
    assert.equal(times.length, 5 + Math.floor((5 * D - 75 * M) / H) + 1);
  });

  it('never schedules before the last attempt nor after the deadline, and always ends', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 * H }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 3 * D }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (schedule, maxAgeMs, j) => {
          // A last wait of at least a minute keeps the walk to a few thousand steps.
          schedule[schedule.length - 1] = Math.max(schedule.at(-1) ?? 0, M);
          let attempts = 0;
          let last = t0;
          for (let guard = 0; ; guard++) {
            assert.ok(guard < 100_000, 'never expired');
            const next = nextAttempt({ schedule, attempts, receivedAt: t0, lastAttemptAt: last, maxAgeMs, jitter: () => j });
            if (next.kind === 'expire') break;
            assert.ok(next.at >= last && next.at <= t0 + maxAgeMs);
            last = next.at;
            attempts++;
          }
          assert.ok(last >= t0 + maxAgeMs);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('delayNoticeDue', () => {
  const t0 = 1_000_000;
  const cases: [what: string, options: Partial<Parameters<typeof delayNoticeDue>[0]>, want: boolean][] = [
    ['is not due before the warning time', { now: t0 + 4 * H - 1 }, false],
    ['is due at the warning time', { now: t0 + 4 * H }, true],
    ['is not due again once sent', { now: t0 + 5 * H, noticeSent: true }, false],
    ['is never due when warnings are off', { now: t0 + 4 * D, delayWarningMs: 0 }, false],
    ['is not due once the message has expired (a bounce goes instead)', { now: t0 + 5 * D, maxAgeMs: 5 * D }, false],
    ['is due before expiry', { now: t0 + 5 * D - 1, maxAgeMs: 5 * D }, true],
  ];
  for (const [what, options, want] of cases) {
    it(what, () => assert.equal(delayNoticeDue({ receivedAt: t0, now: t0, delayWarningMs: 4 * H, noticeSent: false, ...options }), want));
  }
});

describe('delayNoticeAt', () => {
  it('says when the notice falls due', () => assert.equal(delayNoticeAt({ receivedAt: 10, delayWarningMs: 4 * H, noticeSent: false }), 10 + 4 * H));
  it('is null once sent', () => assert.equal(delayNoticeAt({ receivedAt: 10, delayWarningMs: 4 * H, noticeSent: true }), null));
  it('is null when the message expires first', () => assert.equal(delayNoticeAt({ receivedAt: 10, delayWarningMs: 4 * H, noticeSent: false, maxAgeMs: H }), null));
});
