/**
 * The queue is in charge of every message after its 250: the runner claims due work under a lease
 * (so exactly one runner attempts it, even with several nodes on one database), hands it to
 * delivery, records each recipient's outcome, retries on the schedule until the message is too old,
 * and sends the delivery status notifications RFC 3464 and RFC 3461 call for. Messages themselves
 * live in the store; the schedule is a pure function of attempts and times.
 */
export { QueueRunner, type QueueRunnerOptions, type RunnerDelivery } from './runner.ts';
export type { Outcome, RecipientOutcome } from './outcome.ts';
export { DEFAULT_DELAY_WARNING_MS, DEFAULT_MAX_AGE_MS, DEFAULT_RETRY_SCHEDULE_MS, delayNoticeAt, delayNoticeDue, nextAttempt, parseRetrySchedule } from './schedule.ts';
