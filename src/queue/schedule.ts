/**
 * The retry schedule as arithmetic: after a failed attempt, when to try again, when to give up and
 * bounce, and when to tell the sender that their mail is late. Times are milliseconds since the
 * epoch; nothing here reads a clock, so a test can walk a message through five days in a loop.
 */
import { parseDurationMs } from '../core/duration.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** At once, then 5m, 10m, 20m, 40m, then hourly (the last entry repeats). */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([0, 5 * MINUTE, 10 * MINUTE, 20 * MINUTE, 40 * MINUTE, HOUR]);
export const DEFAULT_DELAY_WARNING_MS = 4 * HOUR;
export const DEFAULT_MAX_AGE_MS = 5 * 24 * HOUR;

/** How far jitter may stretch a wait: up to a tenth longer, never shorter than the schedule says. */
const JITTER_SPREAD = 0.1;

export type ScheduleParse =
  | { kind: 'schedule'; offsetsMs: number[] }
  | { kind: 'error'; message: string; index: number | null; entry: string | null };

/**
 * Reads `queue.retry_schedule` as written in the config: `["0s", "5m", "10m", "20m", "40m", "1h"]`.
 * Entry i is the wait before attempt i + 1 (the first relative to arrival, the others relative to
 * the attempt before); the last entry repeats. Errors name the entry.
 */
export function parseRetrySchedule(entries: readonly string[]): ScheduleParse {
  if (entries.length === 0) return { kind: 'error', message: 'the retry schedule is empty: give at least one wait, e.g. ["0s", "5m", "1h"]', index: null, entry: null };
  const offsetsMs: number[] = [];
  for (const [index, entry] of entries.entries()) {
    const ms = parseDurationMs(entry);
    if (ms === null) return { kind: 'error', message: `retry schedule entry ${index + 1} ("${entry}") is not a duration (write it with units: "0s", "5m", "1h")`, index, entry };
    offsetsMs.push(ms);
  }
  const last = offsetsMs[offsetsMs.length - 1] ?? 0;
  // The last wait repeats for days: zero would retry in a tight loop.
  if (last <= 0 && offsetsMs.length > 0) {
    const index = offsetsMs.length - 1;
    return { kind: 'error', message: `retry schedule entry ${index + 1} ("${entries[index]}") repeats until the message expires, so it must be longer than zero`, index, entry: entries[index] ?? null };
  }
  return { kind: 'schedule', offsetsMs };
}

export interface NextAttemptOptions {
  /** Waits in ms: entry i before attempt i + 1; the last repeats. Default `DEFAULT_RETRY_SCHEDULE_MS`. */
  schedule?: readonly number[];
  /** Attempts made so far (0 for a message just queued). */
  attempts: number;
  /** When the message was queued: the age that `maxAgeMs` limits counts from here. */
  receivedAt: number;
  /** When the last attempt ended; needed once `attempts` > 0 (else `receivedAt` is used). */
  lastAttemptAt?: number;
  /** After this age the message is bounced (`queue.max_age`, or `backup.max_hold` for held mail). */
  maxAgeMs: number;
  /** In [0, 1), as Math.random: stretches each wait by up to 10% so retries do not march in step. */
  jitter?: () => number;
}

export type NextAttempt = { kind: 'retry'; at: number } | { kind: 'expire' };

/**
 * When to try next, or that the time is up. A wait that would end past the message's lifetime is
 * cut short to end at it, so the last attempt comes at the deadline, not a schedule step before;
 * once an attempt has been made at or after the deadline, the message expires.
 */
export function nextAttempt(o: NextAttemptOptions): NextAttempt {
  const schedule = o.schedule === undefined || o.schedule.length === 0 ? DEFAULT_RETRY_SCHEDULE_MS : o.schedule;
  const attempts = Math.max(0, Math.floor(o.attempts));
  const deadline = o.receivedAt + Math.max(0, o.maxAgeMs);
  const from = attempts === 0 ? o.receivedAt : (o.lastAttemptAt ?? o.receivedAt);
  if (attempts > 0 && from >= deadline) return { kind: 'expire' };
  const wait = Math.max(0, schedule[Math.min(attempts, schedule.length - 1)] ?? 0);
  const r = o.jitter === undefined ? 0 : Math.min(Math.max(o.jitter(), 0), 0.999999);
  const at = from + Math.round(wait * (1 + JITTER_SPREAD * r));
  return { kind: 'retry', at: Math.min(at, Math.max(deadline, from)) };
}

export interface DelayNoticeOptions {
  receivedAt: number;
  now: number;
  /** `queue.delay_warning`; zero (or less) sends no delay notices. */
  delayWarningMs: number;
  /** A delay notice was sent for this message (or recipient) already. */
  noticeSent: boolean;
  /** When given: a message past its lifetime is bounced instead, so no delay notice is due. */
  maxAgeMs?: number;
}

/** True once the message has waited `delayWarningMs` and no delay notice was sent (RFC 3464 "delayed"). */
export function delayNoticeDue(o: DelayNoticeOptions): boolean {
  if (o.noticeSent || o.delayWarningMs <= 0) return false;
  const age = o.now - o.receivedAt;
  if (o.maxAgeMs !== undefined && age >= o.maxAgeMs) return false;
  return age >= o.delayWarningMs;
}

/** When the delay notice falls due, for a scheduler that wants to wake then; null when none will. */
export function delayNoticeAt(o: Omit<DelayNoticeOptions, 'now'>): number | null {
  if (o.noticeSent || o.delayWarningMs <= 0) return null;
  if (o.maxAgeMs !== undefined && o.delayWarningMs >= o.maxAgeMs) return null;
  return o.receivedAt + o.delayWarningMs;
}
