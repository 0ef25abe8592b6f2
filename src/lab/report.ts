/**
 * What the lab concludes from what it saw: which messages arrived, how often, where, and the
 * summary table printed at the end. Pure: lists in, numbers and text out.
 */

export interface Tally {
  sent: number;
  /** Sent messages found at least once. */
  delivered: number;
  /** Sent messages found nowhere. */
  lost: number;
  /** Extra copies: a message found three times counts two. */
  duplicated: number;
}

/** Compares the subjects sent with the subjects found (across every host's mailbox). */
export function tally(sent: readonly string[], found: readonly string[]): Tally {
  const wanted = new Set(sent);
  const seen = new Map<string, number>();
  for (const s of found) if (wanted.has(s)) seen.set(s, (seen.get(s) ?? 0) + 1);
  let duplicated = 0;
  for (const n of seen.values()) duplicated += n - 1;
  return { sent: wanted.size, delivered: seen.size, lost: wanted.size - seen.size, duplicated };
}

/** "250 of 250 delivered, 0 lost, 0 duplicated". */
export function tallyText(t: Tally): string {
  return `${t.delivered} of ${t.sent} delivered, ${t.lost} lost, ${t.duplicated} duplicated`;
}

export function tallyOk(t: Tally): boolean {
  return t.lost === 0 && t.duplicated === 0 && t.delivered === t.sent;
}

/** "smtp1 took 104 (52%), smtp2 took 96 (48%)". */
export function shareText(counts: ReadonlyArray<readonly [string, number]>, verb = 'took'): string {
  const total = counts.reduce((a, [, n]) => a + n, 0);
  return counts.map(([name, n]) => `${name} ${verb} ${n}${total > 0 ? ` (${Math.round((n / total) * 100)}%)` : ''}`).join(', ');
}

/** Every host's share lies within [min, max] (fractions of the total). */
export function sharesWithin(counts: readonly number[], min: number, max: number): boolean {
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 && counts.every((n) => n / total >= min && n / total <= max);
}

export interface SummaryRow {
  step: string;
  expected: string;
  observed: string;
  ok: boolean;
}

/** The table printed at the end: one row per step, columns aligned, long cells wrapped. */
export function summaryTable(rows: readonly SummaryRow[], width = 44): string {
  const head = ['#', 'STEP', 'EXPECTED', 'OBSERVED', 'OK'];
  const body = rows.map((r, i) => [String(i + 1), r.step, r.expected, r.observed, r.ok ? 'ok' : 'FAIL']);
  const wrapped = body.map((cells) => cells.map((c) => wrap(c, width)));
  const widths = head.map((h, col) => Math.max(h.length, ...wrapped.map((cells) => Math.max(...(cells[col] ?? ['']).map((l) => l.length)))));
  const line = (cells: readonly string[]): string => cells.map((c, col) => c.padEnd(widths[col] ?? 0)).join('  ').trimEnd();
  const out = [line(head), line(widths.map((w) => '-'.repeat(w)))];
  for (const cells of wrapped) {
    const height = Math.max(...cells.map((c) => c.length));
    for (let i = 0; i < height; i++) out.push(line(cells.map((c) => c[i] ?? '')));
  }
  return out.join('\n') + '\n';
}

/** Splits text into lines of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (current === '') current = word;
    else if (current.length + 1 + word.length <= width) current += ` ${word}`;
    else {
      out.push(current);
      current = word;
    }
    while (current.length > width) {
      out.push(current.slice(0, width));
      current = current.slice(width);
    }
  }
  if (current !== '' || out.length === 0) out.push(current);
  return out;
}
