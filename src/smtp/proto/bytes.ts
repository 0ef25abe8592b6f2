/**
 * Byte helpers the readers share: joining the pieces of a message once at the end (never by
 * repeated concatenation, which would make a large message quadratic) and the CR/LF constants.
 */

export const CR = 0x0d;
export const LF = 0x0a;
export const DOT = 0x2e;

export const EMPTY: Uint8Array = new Uint8Array(0);

/** One buffer holding `parts` in order. */
export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const size = total ?? parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
