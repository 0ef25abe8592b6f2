/**
 * The values of one command (RFC 3501 §9 formal syntax, read generously where clients differ):
 * atoms, quoted strings, literals and parenthesised lists. An atom may carry a bracketed part with
 * spaces and parentheses in it, so `BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>` is one atom, as
 * FETCH needs. Never throws.
 */

export type Value =
  | { type: 'atom'; value: string }
  | { type: 'string'; value: Buffer; literal: boolean }
  | { type: 'list'; items: Value[] };

export type TokenizeResult = { ok: true; values: Value[] } | { ok: false; reason: string };

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACE = 0x7b;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

function isAtomByte(b: number): boolean {
  return b > SP && b < 0x7f && b !== LPAREN && b !== RPAREN && b !== LBRACE && b !== DQUOTE;
}

const MAX_DEPTH = 32;

export function tokenize(input: Buffer): TokenizeResult {
  let pos = 0;
  const stack: Value[][] = [[]];

  while (pos < input.length) {
    const b = input[pos] as number;
    const top = stack[stack.length - 1] as Value[];
    if (b === SP) {
      pos++;
      continue;
    }
    if (b === LPAREN) {
      if (stack.length > MAX_DEPTH) return { ok: false, reason: 'lists nested too deeply' };
      const list: Value[] = [];
      top.push({ type: 'list', items: list });
      stack.push(list);
      pos++;
      continue;
    }
    if (b === RPAREN) {
      if (stack.length === 1) return { ok: false, reason: 'unbalanced ")"' };
      stack.pop();
      pos++;
      continue;
    }
    if (b === DQUOTE) {
      const bytes: number[] = [];
      pos++;
      let closed = false;
      while (pos < input.length) {
        const c = input[pos] as number;
        if (c === DQUOTE) {
          closed = true;
          pos++;
          break;
        }
        if (c === 0x0d || c === 0x0a) return { ok: false, reason: 'line break in a quoted string' };
        if (c === BACKSLASH) {
          const e = input[pos + 1];
          if (e !== DQUOTE && e !== BACKSLASH) return { ok: false, reason: 'bad escape in a quoted string' };
          bytes.push(e);
          pos += 2;
          continue;
        }
        bytes.push(c);
        pos++;
      }
      if (!closed) return { ok: false, reason: 'unterminated quoted string' };
      top.push({ type: 'string', value: Buffer.from(bytes), literal: false });
      continue;
    }
    if (b === LBRACE) {
      const m = /^\{(\d{1,12})\+?\}\r?\n/.exec(input.subarray(pos, pos + 20).toString('latin1'));
      if (m === null) return { ok: false, reason: 'bad literal' };
      const size = Number(m[1]);
      const start = pos + m[0].length;
      if (start + size > input.length) return { ok: false, reason: 'literal cut short' };
      top.push({ type: 'string', value: Buffer.from(input.subarray(start, start + size)), literal: true });
      pos = start + size;
      continue;
    }
    if (!isAtomByte(b)) return { ok: false, reason: `unexpected character 0x${b.toString(16).padStart(2, '0')}` };
    const start = pos;
    while (pos < input.length) {
      const c = input[pos] as number;
      if (c === LBRACKET) {
        // A section: everything up to the matching "]" belongs to the atom.
        let depth = 0;
        while (pos < input.length) {
          const d = input[pos] as number;
          if (d === 0x0d || d === 0x0a) return { ok: false, reason: 'line break in a section' };
          if (d === LBRACKET) depth++;
          if (d === RBRACKET && --depth === 0) break;
          pos++;
        }
        if (pos >= input.length) return { ok: false, reason: 'unterminated "["' };
        pos++;
        continue;
      }
      if (!isAtomByte(c)) break;
      pos++;
    }
    top.push({ type: 'atom', value: input.subarray(start, pos).toString('latin1') });
  }
  if (stack.length !== 1) return { ok: false, reason: 'unbalanced "("' };
  return { ok: true, values: stack[0] as Value[] };
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** An astring or nstring as text; null for anything else (a list). */
export function valueText(v: Value | undefined): string | null {
  if (v === undefined) return null;
  if (v.type === 'atom') return v.value;
  if (v.type === 'string') return utf8.decode(v.value);
  return null;
}
