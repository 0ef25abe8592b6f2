/**
 * Domain names as users write them: case-insensitive, optional trailing dot. Internally a name is
 * lower-case without the trailing dot.
 */

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

export function normalizeDomain(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** Why `name` is not a usable host or domain name, or null when it is. */
export function domainNameProblem(name: string): string | null {
  const n = normalizeDomain(name);
  if (n === '') return 'is empty';
  if (n.length > 253) return 'is longer than 253 characters';
  for (const label of n.split('.')) {
    if (label === '') return 'has an empty label (two dots in a row)';
    if (!LABEL.test(label)) return `has an invalid label "${label}" (letters, digits and hyphens, at most 63)`;
  }
  return null;
}

/** True when `name` is `zone` or below it. Both normalised. */
export function isAtOrBelow(name: string, zone: string): boolean {
  if (zone === '.' || zone === '') return true;
  return name === zone || name.endsWith('.' + zone);
}
