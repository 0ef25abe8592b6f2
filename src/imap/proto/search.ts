/**
 * SEARCH (RFC 3501 §6.4.4): the search keys as a tree, and whether one message matches. Keys are
 * ANDed; OR and NOT nest; a parenthesised list groups. Text keys match case-insensitively as
 * substrings of the header values as written and of the raw body (content in base64 or
 * quoted-printable is not decoded first). Dates compare by day in UTC.
 */
import { isAscii } from 'node:buffer';
import { parseHeaderFields, splitMessage } from '../../message/headers.ts';
import { headerFieldContains } from '../../store/header-search.ts';
import { parseDate } from './format.ts';
import { inSequenceSet, parseSequenceSet, type SequenceSet } from './sequence.ts';
import { valueText, type Value } from './tokens.ts';

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'flag'; flag: string; set: boolean }
  | { op: 'recent' | 'new' | 'old' }
  | { op: 'seq' | 'uid'; set: SequenceSet }
  | { op: 'header'; field: string; text: string }
  | { op: 'body' | 'text'; text: string }
  | { op: 'date'; which: 'internal' | 'sent'; cmp: 'before' | 'on' | 'since'; day: number }
  | { op: 'size'; cmp: 'larger' | 'smaller'; n: number };

export type SearchParseResult = { ok: true; key: SearchKey } | { ok: false; reason: string };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);
const DATE_KEYS: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};
const MAX_DEPTH = 50;

export function parseSearch(values: readonly Value[]): SearchParseResult {
  let depth = 0;
  const fail = (reason: string): SearchParseResult => ({ ok: false, reason });

  function one(list: readonly Value[], at: { i: number }): SearchParseResult {
    if (++depth > MAX_DEPTH) return fail('search keys nested too deeply');
    try {
      const v = list[at.i++];
      if (v === undefined) return fail('missing search key');
      if (v.type === 'list') {
        const inner = { i: 0 };
        const keys: SearchKey[] = [];
        while (inner.i < v.items.length) {
          const r = one(v.items, inner);
          if (!r.ok) return r;
          keys.push(r.key);
        }
        if (keys.length === 0) return fail('empty search key list');
        return { ok: true, key: keys.length === 1 ? (keys[0] as SearchKey) : { op: 'and', keys } };
      }
      if (v.type !== 'atom') return fail('a search key must be an atom');
      const name = v.value.toUpperCase();
      const arg = (): string | null => valueText(list[at.i++]);
      if (name === 'ALL') return { ok: true, key: { op: 'all' } };
      const flag = FLAG_KEYS[name];
      if (flag !== undefined) return { ok: true, key: { op: 'flag', flag: flag[0], set: flag[1] } };
      if (name === 'RECENT' || name === 'NEW' || name === 'OLD') return { ok: true, key: { op: name.toLowerCase() as 'recent' } };
      if (name === 'KEYWORD' || name === 'UNKEYWORD') {
        const k = arg();
        if (k === null) return fail(`${name} needs a flag`);
        return { ok: true, key: { op: 'flag', flag: k, set: name === 'KEYWORD' } };
      }
      if (HEADER_KEYS.has(name)) {
        const t = arg();
        if (t === null) return fail(`${name} needs a string`);
        return { ok: true, key: { op: 'header', field: name, text: t } };
      }
      if (name === 'HEADER') {
        const f = arg();
        const t = arg();
        if (f === null || t === null) return fail('HEADER needs a field name and a string');
        return { ok: true, key: { op: 'header', field: f, text: t } };
      }
      if (name === 'BODY' || name === 'TEXT') {
        const t = arg();
        if (t === null) return fail(`${name} needs a string`);
        return { ok: true, key: { op: name === 'BODY' ? 'body' : 'text', text: t } };
      }
      const date = DATE_KEYS[name];
      if (date !== undefined) {
        const t = arg();
        const day = t === null ? null : parseDate(t);
        if (day === null) return fail(`${name} needs a date like 1-Feb-2026`);
        return { ok: true, key: { op: 'date', which: date[0], cmp: date[1], day } };
      }
      if (name === 'LARGER' || name === 'SMALLER') {
        const t = arg();
        if (t === null || !/^\d{1,10}$/.test(t)) return fail(`${name} needs a number`);
        return { ok: true, key: { op: 'size', cmp: name === 'LARGER' ? 'larger' : 'smaller', n: Number(t) } };
      }
      if (name === 'UID') {
        const t = arg();
        const set = t === null ? null : parseSequenceSet(t);
        if (set === null) return fail('UID needs a sequence set');
        return { ok: true, key: { op: 'uid', set } };
      }
      if (name === 'NOT') {
        const r = one(list, at);
        return r.ok ? { ok: true, key: { op: 'not', key: r.key } } : r;
      }
      if (name === 'OR') {
        const a = one(list, at);
        if (!a.ok) return a;
        const b = one(list, at);
        if (!b.ok) return b;
        return { ok: true, key: { op: 'or', a: a.key, b: b.key } };
      }
      const set = parseSequenceSet(v.value);
      if (set !== null) return { ok: true, key: { op: 'seq', set } };
      return fail(`unknown search key ${v.value.slice(0, 40)}`);
    } finally {
      depth--;
    }
  }

  const at = { i: 0 };
  const keys: SearchKey[] = [];
  while (at.i < values.length) {
    const r = one(values, at);
    if (!r.ok) return r;
    keys.push(r.key);
  }
  if (keys.length === 0) return fail('SEARCH needs a search key');
  return { ok: true, key: keys.length === 1 ? (keys[0] as SearchKey) : { op: 'and', keys } };
}

/**
 * What evaluating a key needs beyond the session's view: the header keys it holds (their matches
 * are asked of the store in one `searchHeaders` call, `SearchContext.headerHits`), whether a key
 * reads the header otherwise (SENTBEFORE, SENTON, SENTSINCE read Date:), and whether one reads the
 * body (BODY, TEXT).
 */
export interface SearchNeeds {
  headerKeys: Array<Extract<SearchKey, { op: 'header' }>>;
  header: boolean;
  data: boolean;
}

export function searchNeeds(key: SearchKey): SearchNeeds {
  const out: SearchNeeds = { headerKeys: [], header: false, data: false };
  const walk = (k: SearchKey): void => {
    switch (k.op) {
      case 'and':
        k.keys.forEach(walk);
        return;
      case 'or':
        walk(k.a);
        walk(k.b);
        return;
      case 'not':
        walk(k.key);
        return;
      case 'header':
        out.headerKeys.push(k);
        return;
      case 'body':
      case 'text':
        out.data = true;
        return;
      case 'date':
        if (k.which === 'sent') out.header = true;
        return;
      default:
        return;
    }
  };
  walk(key);
  return out;
}

/** Whether evaluating the key needs the message's bytes. */
export function searchNeedsData(key: SearchKey): boolean {
  switch (key.op) {
    case 'and':
      return key.keys.some(searchNeedsData);
    case 'or':
      return searchNeedsData(key.a) || searchNeedsData(key.b);
    case 'not':
      return searchNeedsData(key.key);
    case 'header':
    case 'body':
    case 'text':
      return true;
    case 'date':
      return key.which === 'sent';
    default:
      return false;
  }
}

export interface SearchMessage {
  seq: number;
  uid: number;
  flags: readonly string[];
  recent: boolean;
  internalDate: number;
  size: number;
  /** The whole message, present when a key needs the body (or the header and `header` is absent). */
  data: Uint8Array | null;
  /** The header section alone (the store keeps it apart), enough for the keys that read the header. */
  header?: Uint8Array | null;
}

export interface SearchContext {
  /** The largest sequence number and UID of the mailbox, for `*`. */
  maxSeq: number;
  maxUid: number;
  /**
   * For each header key of the search (by identity), the UIDs of the messages it matches, found
   * by the store (`searchHeaders`); a key not here is matched against the message's bytes.
   */
  headerHits?: ReadonlyMap<SearchKey, ReadonlySet<number>>;
}

const DAY = 86_400_000;
const decoder = new TextDecoder('utf-8', { fatal: false });

function hasFlag(flags: readonly string[], flag: string): boolean {
  const f = flag.toLowerCase();
  return flags.some((x) => x.toLowerCase() === f);
}

function compareDay(ms: number, cmp: 'before' | 'on' | 'since', day: number): boolean {
  const d = Math.floor(ms / DAY) * DAY;
  if (cmp === 'before') return d < day;
  if (cmp === 'on') return d === day;
  return d >= day;
}

/**
 * Whether `bytes`, decoded as UTF-8 and lower-cased, contain `needle` (already lower-cased). Bytes
 * that are all ASCII decode the same as latin1, which V8 turns into a one-byte string without
 * decoding; their lower-casing then folds ASCII only, as UTF-8's would. Other bytes take the
 * UTF-8 decoder.
 */
function textContains(bytes: Uint8Array, needle: string): boolean {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = isAscii(buf) ? buf.toString('latin1') : decoder.decode(buf);
  return text.toLowerCase().includes(needle);
}

export function matches(key: SearchKey, m: SearchMessage, ctx: SearchContext): boolean {
  switch (key.op) {
    case 'all':
      return true;
    case 'and':
      return key.keys.every((k) => matches(k, m, ctx));
    case 'or':
      return matches(key.a, m, ctx) || matches(key.b, m, ctx);
    case 'not':
      return !matches(key.key, m, ctx);
    case 'flag':
      return hasFlag(m.flags, key.flag) === key.set;
    case 'recent':
      return m.recent;
    case 'new':
      return m.recent && !hasFlag(m.flags, '\\Seen');
    case 'old':
      return !m.recent;
    case 'seq':
      return inSequenceSet(key.set, m.seq, ctx.maxSeq);
    case 'uid':
      return inSequenceSet(key.set, m.uid, ctx.maxUid);
    case 'size':
      return key.cmp === 'larger' ? m.size > key.n : m.size < key.n;
    case 'date': {
      if (key.which === 'internal') return compareDay(m.internalDate, key.cmp, key.day);
      const header = m.header ?? m.data;
      const date = header === null ? undefined : parseHeaderFields(header).find((f) => f.name.toLowerCase() === 'date')?.value;
      const ms = date === undefined ? NaN : Date.parse(date.replace(/\s*\([^)]*\)\s*$/, ''));
      return Number.isFinite(ms) && compareDay(ms, key.cmp, key.day);
    }
    case 'header': {
      const hits = ctx.headerHits?.get(key);
      if (hits !== undefined) return hits.has(m.uid);
      if (m.header != null) return headerFieldContains(m.header, key.field, key.text);
      return m.data !== null && headerFieldContains(m.data, key.field, key.text, true);
    }
    case 'body':
    case 'text': {
      if (m.data === null) return false;
      return textContains(key.op === 'body' ? splitMessage(m.data).body : m.data, key.text.toLowerCase());
    }
  }
}
