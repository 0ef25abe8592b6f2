/**
 * Sequence sets (RFC 3501 §9 "sequence-set"): `1:4,7,9:*`. The same syntax names message sequence
 * numbers or UIDs; `*` is the largest number in use. Ranges may be written high to low.
 */

/** `null` stands for `*`. */
export type SeqNumber = number | null;
export type SequenceSet = ReadonlyArray<{ from: SeqNumber; to: SeqNumber }>;

const NUMBER = /^[1-9]\d{0,9}$/;

export function parseSequenceSet(text: string): SequenceSet | null {
  if (text === '') return null;
  const out: Array<{ from: SeqNumber; to: SeqNumber }> = [];
  for (const part of text.split(',')) {
    const bounds = part.split(':');
    if (bounds.length > 2) return null;
    const nums: SeqNumber[] = [];
    for (const b of bounds) {
      if (b === '*') nums.push(null);
      else if (NUMBER.test(b) && Number(b) <= 0xffffffff) nums.push(Number(b));
      else return null;
    }
    const from = nums[0] as SeqNumber;
    out.push({ from, to: nums.length === 2 ? (nums[1] as SeqNumber) : from });
  }
  return out;
}

function bounds(r: { from: SeqNumber; to: SeqNumber }, star: number): [number, number] {
  const a = r.from ?? star;
  const b = r.to ?? star;
  return a <= b ? [a, b] : [b, a];
}

/** Does `n` fall in the set, `*` being `star`? */
export function inSequenceSet(set: SequenceSet, n: number, star: number): boolean {
  return set.some((r) => {
    const [lo, hi] = bounds(r, star);
    return n >= lo && n <= hi;
  });
}

/**
 * The message sequence numbers of a set, ascending, against a mailbox of `count` messages; null
 * when the set names a number past the end (RFC 3501 §9: "invalid").
 */
export function resolveSequenceNumbers(set: SequenceSet, count: number): number[] | null {
  const picked = new Set<number>();
  for (const r of set) {
    if (count === 0) return null;
    const [lo, hi] = bounds(r, count);
    if (hi > count) return null;
    for (let n = lo; n <= hi; n++) picked.add(n);
  }
  return [...picked].sort((a, b) => a - b);
}

/**
 * The positions (0-based) in `uids` (ascending) that a UID set names. Missing UIDs are no error
 * (RFC 3501 §6.4.8); `*` is the largest UID, so `N:*` always names at least the last message.
 */
export function resolveUidSet(set: SequenceSet, uids: readonly number[]): number[] {
  const star = uids.length === 0 ? 0 : (uids[uids.length - 1] as number);
  const out: number[] = [];
  uids.forEach((uid, i) => {
    if (inSequenceSet(set, uid, star)) out.push(i);
  });
  return out;
}

/** A compact set for responses (COPYUID, APPENDUID): `3:5,9`. */
export function formatSequenceSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    const start = numbers[i] as number;
    let end = start;
    while (i + 1 < numbers.length && numbers[i + 1] === end + 1) end = numbers[++i] as number;
    parts.push(start === end ? `${start}` : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}
