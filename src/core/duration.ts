/**
 * Durations as admins write them in the config: "500ms", "30s", "5m", "1h30m", "4h", "5d", "2w".
 * Kept in milliseconds inside the program, so a test can set a five-day queue lifetime to seconds.
 */

const UNIT_MS: Readonly<Record<string, number>> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds, or null when `text` is not a duration. */
export function parseDurationMs(text: string): number | null {
  const s = text.trim().toLowerCase();
  if (!/^(\d+(ms|w|d|h|m|s))+$/.test(s)) return null;
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)(ms|w|d|h|m|s)/g)) total += Number(n) * (UNIT_MS[unit ?? ''] ?? 0);
  return total;
}

/** The shortest exact spelling: 90_000 -> "1m30s". */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit] ?? 1;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
