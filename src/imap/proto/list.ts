/**
 * LIST and LSUB patterns (RFC 3501 §6.3.8): `*` matches anything, `%` anything but the hierarchy
 * delimiter. INBOX matches in any case (RFC 3501 §5.1).
 */

export function listPatternRegExp(pattern: string, delimiter: string): RegExp {
  const d = delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let re = '';
  for (const c of pattern) {
    if (c === '*') re += '.*';
    else if (c === '%') re += d === '' ? '.*' : `[^${d}]*`;
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export function matchesListPattern(name: string, pattern: RegExp): boolean {
  if (pattern.test(name)) return true;
  // INBOX in any case, as the pattern may name it.
  return name === 'INBOX' && new RegExp(pattern.source, 'is').test(name);
}

/** Every ancestor name of `name` ("a/b/c" → "a", "a/b"). */
export function parentNames(name: string, delimiter: string): string[] {
  const out: string[] = [];
  let i = name.indexOf(delimiter);
  while (i > 0) {
    out.push(name.slice(0, i));
    i = name.indexOf(delimiter, i + 1);
  }
  return out;
}
