/**
 * The RFC 1035 §5 master-file parser: zone text in, records out. Pure: the only I/O is the
 * `readFile` callback used for `$INCLUDE`. It never throws on bad input; every mistake becomes a
 * `file:line:` problem saying what was expected, and parsing goes on with the next record so that
 * one run reports every mistake in a file.
 *
 * The work is done in two steps. The lexer turns the text into entries (one record or directive
 * each: parentheses join lines, `;` starts a comment outside quotes, a line that starts with a
 * blank has no owner of its own). The entry parser then reads owner, TTL, class, type and the
 * fields of each type, BIND's way where RFC 1035 leaves room.
 */
import { dirname, isAbsolute, join } from 'node:path';
import type { RData, SourcePosition, Zone, ZoneProblem, ZoneRecord, ZoneRecordType } from './types.ts';
import { SUPPORTED_TYPES } from './types.ts';

export interface ParseOptions {
  /** Used in problems and record sources. */
  file: string;
  /** The zone apex, e.g. "domain.test" (lower-case, no trailing dot). */
  origin: string;
  /**
   * Reads a `$INCLUDE`d file; the path is resolved relative to the including file's folder.
   * Absent: `$INCLUDE` is a problem.
   */
  readFile?: (path: string) => string;
}

// RFC 2181 §8: a TTL is an unsigned 31-bit number.
const MAX_TTL = 2 ** 31 - 1;
const MAX_U32 = 2 ** 32 - 1;
const MAX_INCLUDE_DEPTH = 16;
const TTL_SYNTAX = 'a number of seconds, or units like 1h30m';

/**
 * Parses one zone. `zone` is null when there is any problem: a zone that is partly wrong is not
 * served (BIND does the same), and the problems say why.
 */
export function parseZone(text: string, options: ParseOptions): { zone: Zone | null; problems: ZoneProblem[] } {
  const problems: ZoneProblem[] = [];
  const apex = parseName(options.origin === '.' ? '.' : options.origin.replace(/\.?$/, '.'), '.');
  if ('error' in apex) {
    problems.push({ file: options.file, line: 1, message: `the zone origin ${apex.error}` });
    return { zone: null, problems };
  }
  const state: ParserState = {
    problems,
    records: [],
    defaultTtl: null,
    lastTtl: null,
    readFile: options.readFile,
    reading: [options.file],
  };
  parseFile(text, { file: options.file, origin: apex.name, owner: null, ownerBroken: false }, state);
  if (problems.length > 0) return { zone: null, problems };
  return { zone: { origin: apex.name, file: options.file, records: state.records }, problems };
}

interface ParserState {
  problems: ZoneProblem[];
  records: ZoneRecord[];
  /** From `$TTL` (RFC 2308), or the SOA minimum when the SOA came first without a TTL, as BIND does. */
  defaultTtl: number | null;
  /** The previous record's TTL: RFC 1035's default when there is no `$TTL`. */
  lastTtl: number | null;
  readFile: ((path: string) => string) | undefined;
  /** The files being read, outermost first: to refuse an `$INCLUDE` loop. */
  reading: string[];
}

/** Per file: `$ORIGIN` and the previous owner do not leak out of an `$INCLUDE`d file (RFC 1035 §5.1). */
interface FileContext {
  file: string;
  origin: string;
  owner: string | null;
  /** The previous owner was written wrongly: records that borrow it are checked but add no noise. */
  ownerBroken: boolean;
}

function parseFile(text: string, ctx: FileContext, state: ParserState): void {
  const report = (line: number, message: string): void => {
    state.problems.push({ file: ctx.file, line, message });
  };
  // A byte-order mark some editors put first is not part of the first owner name.
  for (const entry of lex(text.replace(/^\uFEFF/, ''), report)) {
    if (entry.broken) {
      if (!entry.blankOwner) {
        ctx.owner = null;
        ctx.ownerBroken = true;
      }
      continue;
    }
    const first = entry.tokens[0];
    if (first !== undefined && !first.quoted && first.text.startsWith('$')) {
      if (entry.blankOwner) report(entry.line, `${first.text} must start at the beginning of a line`);
      else directive(entry, ctx, state, report);
      continue;
    }
    record(entry, ctx, state, report);
  }
}

// ---------------------------------------------------------------------------------------------
// Lexer

interface Token {
  /** As written, escapes kept (`\.`, `\065`); for a quoted string, what is between the quotes. */
  text: string;
  quoted: boolean;
  line: number;
}

interface Entry {
  line: number;
  /** RFC 1035 §5.1: a line that starts with a blank takes the previous owner. */
  blankOwner: boolean;
  tokens: Token[];
  /** The lexer already reported a problem in this entry. */
  broken: boolean;
}

type Report = (line: number, message: string) => void;

const DELIMITERS = new Set([' ', '\t', '\r', '\n', ';', '(', ')', '"']);

function lex(text: string, report: Report): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let depth = 0;
  let parenLine = 0;
  let entry: Entry | null = null;
  let lineStartsBlank = text.startsWith(' ') || text.startsWith('\t');
  const current = (): Entry => {
    entry ??= { line, blankOwner: lineStartsBlank, tokens: [], broken: false };
    return entry;
  };
  const close = (): void => {
    if (entry !== null && (entry.tokens.length > 0 || entry.broken)) entries.push(entry);
    entry = null;
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
      if (depth === 0) {
        close();
        lineStartsBlank = text[i] === ' ' || text[i] === '\t';
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      if (depth === 0) parenLine = line;
      depth++;
      current();
      i++;
      continue;
    }
    if (c === ')') {
      const e = current();
      if (depth === 0) {
        if (!e.broken) report(line, '")" without a matching "("');
        e.broken = true;
      } else {
        depth--;
      }
      i++;
      continue;
    }
    if (c === '"') {
      const e = current();
      let j = i + 1;
      let body = '';
      let closed = false;
      while (j < text.length && text[j] !== '\n') {
        const d = text[j];
        if (d === '"') {
          closed = true;
          j++;
          break;
        }
        if (d === '\\' && j + 1 < text.length && text[j + 1] !== '\n') {
          body += d + text[j + 1];
          j += 2;
          continue;
        }
        body += d;
        j++;
      }
      if (!closed) {
        if (!e.broken) report(line, 'unterminated quoted string (a " is missing before the end of the line)');
        e.broken = true;
      } else {
        e.tokens.push({ text: body, quoted: true, line });
      }
      i = j;
      continue;
    }
    // An unquoted word: up to a delimiter; a backslash takes the next character with it.
    const e = current();
    let j = i;
    let word = '';
    let dangling = false;
    while (j < text.length && !DELIMITERS.has(text[j] ?? '')) {
      if (text[j] === '\\') {
        const next = text[j + 1];
        if (next === undefined || next === '\n') {
          dangling = true;
          j++;
          break;
        }
        word += '\\' + next;
        j += 2;
        continue;
      }
      word += text[j];
      j++;
    }
    if (dangling) {
      if (!e.broken) report(line, 'a backslash at the end of a line escapes nothing');
      e.broken = true;
    } else {
      e.tokens.push({ text: word, quoted: false, line });
    }
    i = j;
  }
  if (depth > 0) {
    const e = current();
    if (!e.broken) report(parenLine, `unterminated parenthesis opened on line ${parenLine}`);
    e.broken = true;
  }
  close();
  return entries;
}

// ---------------------------------------------------------------------------------------------
// Directives

function directive(entry: Entry, ctx: FileContext, state: ParserState, report: Report): void {
  const [first, ...args] = entry.tokens;
  if (first === undefined) return;
  const name = first.text.toUpperCase();
  const line = entry.line;
  switch (name) {
    case '$ORIGIN': {
      const [arg, extra] = args;
      if (arg === undefined || extra !== undefined) {
        report(line, '$ORIGIN needs one domain name');
        return;
      }
      const origin = nameField(arg, ctx.origin, 'a domain name', report);
      if (origin !== null) ctx.origin = origin;
      return;
    }
    case '$TTL': {
      const [arg, extra] = args;
      if (arg === undefined || extra !== undefined) {
        report(line, `$TTL needs one TTL (${TTL_SYNTAX})`);
        return;
      }
      const ttl = ttlField(arg, report);
      if (ttl !== null) {
        state.defaultTtl = ttl;
        state.lastTtl = ttl;
      }
      return;
    }
    case '$INCLUDE':
      include(entry, args, ctx, state, report);
      return;
    case '$GENERATE':
      report(line, '$GENERATE is not supported (only $ORIGIN, $TTL and $INCLUDE)');
      return;
    default:
      report(line, `unknown directive ${first.text} (expected $ORIGIN, $TTL or $INCLUDE)`);
  }
}

// RFC 1035 §5.1: $INCLUDE <file-name> [<domain-name>]
function include(
  entry: Entry,
  args: Token[],
  ctx: FileContext,
  state: ParserState,
  report: Report,
): void {
  const line = entry.line;
  if (state.readFile === undefined) {
    report(line, '$INCLUDE is not allowed here');
    return;
  }
  const [fileToken, originToken, extra] = args;
  if (fileToken === undefined || extra !== undefined) {
    report(line, '$INCLUDE needs a file name and, optionally, an origin for it');
    return;
  }
  const fileText = decodeText(fileToken.text);
  if ('error' in fileText) {
    report(line, fileText.error);
    return;
  }
  const target = new TextDecoder().decode(fileText.bytes);
  const path = isAbsolute(target) ? target : join(dirname(ctx.file), target);
  let origin = ctx.origin;
  if (originToken !== undefined) {
    const o = nameField(originToken, ctx.origin, 'an origin', report);
    if (o === null) return;
    origin = o;
  }
  if (state.reading.includes(path)) {
    report(line, `$INCLUDE "${target}" would loop: ${path} is already being read`);
    return;
  }
  if (state.reading.length > MAX_INCLUDE_DEPTH) {
    report(line, `$INCLUDE "${target}" nests more than ${MAX_INCLUDE_DEPTH} files deep`);
    return;
  }
  let text: string;
  try {
    text = state.readFile(path);
  } catch (err) {
    report(line, `cannot read $INCLUDE file "${target}": ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  state.reading.push(path);
  parseFile(text, { file: path, origin, owner: ctx.owner, ownerBroken: ctx.ownerBroken }, state);
  state.reading.pop();
}

// ---------------------------------------------------------------------------------------------
// Records: [owner] [ttl] [class] type rdata, TTL and class in either order (RFC 1035 §5.1)

const CLASS_TOKEN = /^(IN|CH|CS|HS|NONE|ANY|CLASS\d+)$/i;

function record(entry: Entry, ctx: FileContext, state: ParserState, report: Report): void {
  const tokens = entry.tokens;
  let i = 0;
  let owner: string | null;
  if (entry.blankOwner) {
    if (ctx.owner === null && !ctx.ownerBroken) {
      report(entry.line, 'this line starts with a blank, so it takes the owner of the previous record, but there is none');
      return;
    }
    owner = ctx.owner;
  } else {
    const t = tokens[i++];
    if (t === undefined) return;
    owner = nameField(t, ctx.origin, 'an owner name', report);
    ctx.owner = owner;
    ctx.ownerBroken = owner === null;
  }

  let ttl: number | null = null;
  let ttlGiven = false;
  let classGiven = false;
  let ok = owner !== null;
  for (let k = 0; k < 2; k++) {
    const t = tokens[i];
    if (t === undefined || t.quoted) break;
    if (CLASS_TOKEN.test(t.text)) {
      if (classGiven) break;
      classGiven = true;
      i++;
      if (t.text.toUpperCase() !== 'IN') {
        report(t.line, `class ${t.text.toUpperCase()} is not supported: only IN`);
        ok = false;
      }
      continue;
    }
    if (/^[0-9]/.test(t.text)) {
      if (ttlGiven) break;
      ttlGiven = true;
      i++;
      ttl = ttlField(t, report);
      if (ttl === null) ok = false;
      continue;
    }
    break;
  }

  const typeToken = tokens[i++];
  if (typeToken === undefined) {
    report(entry.line, `a record needs a type (one of ${SUPPORTED_TYPES.join(', ')})`);
    return;
  }
  const typeName = typeToken.text.toUpperCase();
  if (typeToken.quoted || !isSupported(typeName)) {
    const shown = typeToken.quoted ? `"${typeToken.text}" (quoted)` : `"${typeToken.text}"`;
    report(typeToken.line, `${shown} is not a supported record type (supported: ${SUPPORTED_TYPES.join(', ')})`);
    return;
  }
  const data = parseRData(typeName, tokens.slice(i), typeToken.line, ctx.origin, report);
  if (data === null || !ok || owner === null) return;

  if (ttl !== null) {
    state.lastTtl = ttl;
  } else if (state.defaultTtl !== null) {
    ttl = state.defaultTtl;
  } else if (state.lastTtl !== null) {
    ttl = state.lastTtl;
  } else if (data.type === 'SOA') {
    // BIND: with neither $TTL nor a TTL before it, the SOA's minimum becomes the default.
    ttl = data.minimum;
    state.defaultTtl = ttl;
    state.lastTtl = ttl;
  } else {
    report(entry.line, 'no TTL for this record: give it one, or put a $TTL line before it');
    return;
  }
  const source: SourcePosition = { file: ctx.file, line: entry.line };
  state.records.push({ name: owner, ttl, class: 'IN', data, source });
}

function isSupported(type: string): type is ZoneRecordType {
  return (SUPPORTED_TYPES as readonly string[]).includes(type);
}

// ---------------------------------------------------------------------------------------------
// RDATA, one reader per type: the fields it needs and how to read them

interface RDataReader {
  /** What the type needs, said when the number of fields is wrong. */
  needs: string;
  /** How many fields; "1+" for one or more. */
  fields: number | '1+';
  /** `f(k)` is field k (the count is checked before), `all` every field. */
  read: (f: (k: number) => Token, all: readonly Token[], origin: string, report: Report) => RData | null;
}

const READERS: { readonly [T in ZoneRecordType]: RDataReader } = {
  A: {
    needs: 'A needs an IPv4 address',
    fields: 1,
    read: (f, _all, _origin, report) => {
      const address = plain(f(0), 'an IPv4 address', report);
      if (address === null) return null;
      if (!isIPv4(address)) return fail(report, f(0), `"${address}" is not an IPv4 address`);
      return { type: 'A', address };
    },
  },
  AAAA: {
    needs: 'AAAA needs an IPv6 address',
    fields: 1,
    read: (f, _all, _origin, report) => {
      const address = plain(f(0), 'an IPv6 address', report);
      if (address === null) return null;
      if (!isIPv6(address)) return fail(report, f(0), `"${address}" is not an IPv6 address`);
      return { type: 'AAAA', address: address.toLowerCase() };
    },
  },
  MX: {
    needs: 'MX needs a preference and a host',
    fields: 2,
    read: (f, _all, origin, report) => {
      const preference = numberField(f(0), 'an MX preference', 0xffff, report);
      const exchange = nameField(f(1), origin, 'a host name', report);
      if (preference === null || exchange === null) return null;
      return { type: 'MX', preference, exchange };
    },
  },
  CNAME: {
    needs: 'CNAME needs a target name',
    fields: 1,
    read: (f, _all, origin, report) => {
      const target = nameField(f(0), origin, 'a target name', report);
      return target === null ? null : { type: 'CNAME', target };
    },
  },
  NS: {
    needs: 'NS needs a host name',
    fields: 1,
    read: (f, _all, origin, report) => {
      const host = nameField(f(0), origin, 'a host name', report);
      return host === null ? null : { type: 'NS', host };
    },
  },
  PTR: {
    needs: 'PTR needs a host name',
    fields: 1,
    read: (f, _all, origin, report) => {
      const host = nameField(f(0), origin, 'a host name', report);
      return host === null ? null : { type: 'PTR', host };
    },
  },
  // RFC 1035 §3.3.13; BIND also takes TTL units in the four timers.
  SOA: {
    needs: 'SOA needs a primary server, a mailbox and five numbers (serial refresh retry expire minimum)',
    fields: 7,
    read: (f, _all, origin, report) => {
      const mname = nameField(f(0), origin, 'a primary server name', report);
      const rname = nameField(f(1), origin, 'a mailbox (written as a name)', report, true);
      const serial = numberField(f(2), 'a SOA serial', MAX_U32, report);
      const refresh = timerField(f(3), 'refresh', report);
      const retry = timerField(f(4), 'retry', report);
      const expire = timerField(f(5), 'expire', report);
      const minimum = timerField(f(6), 'minimum', report);
      if (mname === null || rname === null || serial === null) return null;
      if (refresh === null || retry === null || expire === null || minimum === null) return null;
      return { type: 'SOA', mname, rname, serial, refresh, retry, expire, minimum };
    },
  },
  TXT: {
    needs: 'TXT needs at least one string',
    fields: '1+',
    read: (_f, all, _origin, report) => {
      const strings: Uint8Array[] = [];
      for (const t of all) {
        const s = characterString(t, report);
        if (s === null) return null;
        strings.push(s);
      }
      return { type: 'TXT', strings };
    },
  },
  // RFC 2782
  SRV: {
    needs: 'SRV needs a priority, a weight, a port and a target',
    fields: 4,
    read: (f, _all, origin, report) => {
      const priority = numberField(f(0), 'an SRV priority', 0xffff, report);
      const weight = numberField(f(1), 'an SRV weight', 0xffff, report);
      const port = numberField(f(2), 'a port', 0xffff, report);
      const target = nameField(f(3), origin, 'a target name', report);
      if (priority === null || weight === null || port === null || target === null) return null;
      return { type: 'SRV', priority, weight, port, target };
    },
  },
  // RFC 8659 §4.1
  CAA: {
    needs: 'CAA needs flags, a tag and a value',
    fields: 3,
    read: (f, _all, _origin, report) => {
      const flags = numberField(f(0), 'CAA flags', 0xff, report);
      let tag = plain(f(1), 'a CAA tag', report);
      if (tag !== null && !/^[A-Za-z0-9]{1,255}$/.test(tag)) {
        report(f(1).line, `"${tag}" is not a CAA tag (letters and digits only, RFC 8659 §4.1)`);
        tag = null;
      }
      const value = decodeText(f(2).text);
      if ('error' in value) report(f(2).line, value.error);
      if (flags === null || tag === null || 'error' in value) return null;
      return { type: 'CAA', flags, tag, value: new TextDecoder().decode(value.bytes) };
    },
  },
};

function parseRData(type: ZoneRecordType, fields: Token[], line: number, origin: string, report: Report): RData | null {
  const reader = READERS[type];
  if (reader.fields === '1+' ? fields.length === 0 : fields.length < reader.fields) {
    report(line, reader.needs);
    return null;
  }
  if (typeof reader.fields === 'number' && fields.length > reader.fields) {
    const extra = fields[reader.fields];
    report(extra?.line ?? line, `${reader.needs} (unexpected "${extra?.text ?? ''}" after them)`);
    return null;
  }
  const missing: Token = { text: '', quoted: false, line };
  return reader.read((k) => fields[k] ?? missing, fields, origin, report);
}

function fail(report: Report, t: Token, message: string): null {
  report(t.line, message);
  return null;
}

/** An unquoted field: its text, or null (reported) when it was quoted. */
function plain(t: Token, what: string, report: Report): string | null {
  if (t.quoted) return fail(report, t, `expected ${what}, not the quoted string "${t.text}"`);
  return t.text;
}

function numberField(t: Token, what: string, max: number, report: Report): number | null {
  const text = plain(t, what, report);
  if (text === null) return null;
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n <= max)) return fail(report, t, `"${text}" is not ${what} (a number from 0 to ${max})`);
  return n;
}

function timerField(t: Token, which: string, report: Report): number | null {
  const text = plain(t, `a SOA ${which} time`, report);
  if (text === null) return null;
  const n = parseDuration(text);
  if (n === null || n > MAX_U32) return fail(report, t, `"${text}" is not a SOA ${which} time (${TTL_SYNTAX}, at most ${MAX_U32})`);
  return n;
}

function ttlField(t: Token, report: Report): number | null {
  const text = plain(t, 'a TTL', report);
  if (text === null) return null;
  const n = parseDuration(text);
  if (n === null) return fail(report, t, `"${text}" is not a TTL (${TTL_SYNTAX})`);
  if (n > MAX_TTL) return fail(report, t, `TTL ${text} is more than ${MAX_TTL} seconds (RFC 2181 §8)`);
  return n;
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };

/** Seconds, or BIND's units (`1w2d3h4m5s`, any order, case-insensitive); null when neither. */
export function parseDuration(text: string): number | null {
  if (/^[0-9]+$/.test(text)) return Number(text);
  if (!/^([0-9]+[wdhms])+$/i.test(text)) return null;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)([wdhms])/gi)) {
    total += Number(n) * (UNIT_SECONDS[(unit ?? '').toLowerCase()] ?? 0);
  }
  return total;
}

/** RFC 1035 §3.3: a <character-string> is a length octet and at most 255 octets. */
function characterString(t: Token, report: Report): Uint8Array | null {
  const decoded = decodeText(t.text);
  if ('error' in decoded) return fail(report, t, decoded.error);
  if (decoded.bytes.length > 255) {
    const n = decoded.bytes.length;
    return fail(report, t, `a TXT string is ${n} octets long; at most 255 fit in one (RFC 1035 §3.3): split it into several quoted strings`);
  }
  return decoded.bytes;
}

// ---------------------------------------------------------------------------------------------
// Escapes and names

/** RFC 1035 §5.1: `\X` is X itself, `\DDD` the octet DDD; other characters are their UTF-8 bytes. */
export function decodeText(raw: string): { bytes: Uint8Array } | { error: string } {
  const out: number[] = [];
  const r = decodeInto(raw, out, null);
  if (r !== null) return { error: r };
  return { bytes: Uint8Array.from(out) };
}

const encoder = new TextEncoder();

/**
 * Appends the octets of `raw` to `out`. With `labels`, an unescaped dot ends a label (pushed onto
 * `labels`) instead. Returns a problem, or null.
 */
function decodeInto(raw: string, out: number[], labels: number[][] | null): string | null {
  let cur = out;
  for (let i = 0; i < raw.length; ) {
    const c = raw[i] ?? '';
    if (c === '\\') {
      const ddd = /^[0-9]{3}/.exec(raw.slice(i + 1, i + 4));
      if (ddd !== null) {
        const v = Number(ddd[0]);
        if (v > 255) return `"\\${ddd[0]}" is not an octet (\\DDD must be 255 or less)`;
        cur.push(v);
        i += 4;
        continue;
      }
      if (/^[0-9]/.test(raw.slice(i + 1))) return `"\\${raw.slice(i + 1, i + 4)}": \\ before a digit needs three digits (\\DDD)`;
      const cp = raw.codePointAt(i + 1);
      if (cp === undefined) return 'a backslash at the end escapes nothing';
      const ch = String.fromCodePoint(cp);
      cur.push(...encoder.encode(ch));
      i += 1 + ch.length;
      continue;
    }
    if (c === '.' && labels !== null) {
      labels.push(cur);
      cur = [];
      i++;
      continue;
    }
    const cp = raw.codePointAt(i) ?? 0;
    const ch = String.fromCodePoint(cp);
    cur.push(...encoder.encode(ch));
    i += ch.length;
  }
  if (labels !== null) labels.push(cur);
  return null;
}

// Characters that must be escaped in a name's presentation form (as BIND prints them).
const SPECIAL = new Set(['.', '\\', '"', '(', ')', ';', '@', '$'].map((c) => c.charCodeAt(0)));

function encodeLabel(bytes: readonly number[]): string {
  let s = '';
  for (const b of bytes) {
    if (b >= 0x41 && b <= 0x5a) s += String.fromCharCode(b + 0x20);
    else if (SPECIAL.has(b)) s += '\\' + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + String(b).padStart(3, '0');
  }
  return s;
}

/** The labels of a name in our form (absolute, no trailing dot), split on unescaped dots. */
export function nameLabels(name: string): string[] {
  if (name === '.' || name === '') return [];
  const labels: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\') {
      cur += c + (name[i + 1] ?? '');
      i++;
    } else if (c === '.') {
      labels.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  labels.push(cur);
  return labels;
}

/** True when `name` is `apex` or below it, label by label (both in our form). */
export function isInZone(name: string, apex: string): boolean {
  const n = nameLabels(name);
  const a = nameLabels(apex);
  if (a.length > n.length) return false;
  return a.every((label, k) => label === n[n.length - a.length + k]);
}

function wireLength(name: string): number {
  let length = 1;
  for (const label of nameLabels(name)) {
    const bytes: number[] = [];
    decodeInto(label, bytes, null);
    length += 1 + bytes.length;
  }
  return length;
}

/**
 * A name as written in a master file (`@`, relative to `origin`, or absolute with a trailing dot),
 * in our form: lower-case, absolute, no trailing dot, escapes only where needed.
 */
export function parseName(raw: string, origin: string): { name: string } | { error: string } {
  if (raw === '@') return { name: origin };
  if (raw === '.') return { name: '.' };
  const labels: number[][] = [];
  const problem = decodeInto(raw, [], labels);
  if (problem !== null) return { error: problem };
  const absolute = labels.length > 1 && labels[labels.length - 1]?.length === 0;
  if (absolute) labels.pop();
  for (const label of labels) {
    if (label.length === 0) return { error: `"${raw}" has an empty label (two dots in a row, or a leading dot)` };
    // RFC 1035 §2.3.4
    if (label.length > 63) return { error: `"${raw}" has a label of ${label.length} octets; at most 63 fit (RFC 1035 §2.3.4)` };
  }
  const own = labels.map(encodeLabel).join('.');
  const name = absolute || origin === '.' ? own : `${own}.${origin}`;
  const length = wireLength(name);
  if (length > 255) return { error: `"${raw}" makes a name of ${length} octets; at most 255 fit (RFC 1035 §2.3.4)` };
  return { name };
}

function nameField(t: Token, origin: string, what: string, report: Report, mailbox = false): string | null {
  const text = plain(t, what, report);
  if (text === null) return null;
  const r = parseName(text, origin);
  if ('error' in r) return fail(report, t, r.error);
  // dns-packet writes names label by label from their text and has no escapes, so a dot, blank or
  // control byte inside a label would go out as a different name. Only the SOA mailbox, which it
  // encodes as a mailbox, may escape the dot of its local part.
  const unservable = mailbox ? nameLabels(r.name).slice(1).some((l) => l.includes('\\')) || /\\[^.]/.test(nameLabels(r.name)[0] ?? '') : r.name.includes('\\');
  if (unservable) return fail(report, t, `"${text}" has a dot, blank or control character inside a label; such names cannot be served`);
  return r.name;
}

// ---------------------------------------------------------------------------------------------
// Addresses

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
// No leading zeros: "010" would be octal to some readers and decimal to others.
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** RFC 4291 §2.2 text forms: eight groups, `::` for a run of zeros, an IPv4 tail. No zone index. */
export function isIPv6(s: string): boolean {
  const halves = s.split('::');
  if (halves.length > 2) return false;
  let groups = 0;
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h] ?? '';
    if (half === '') continue;
    const parts = half.split(':');
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k] ?? '';
      const last = h === halves.length - 1 && k === parts.length - 1;
      if (last && part.includes('.')) {
        if (!isIPv4(part)) return false;
        groups += 2;
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        groups += 1;
      } else {
        return false;
      }
    }
  }
  return halves.length === 2 ? groups <= 7 : groups === 8;
}
