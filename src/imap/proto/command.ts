/**
 * One IMAP command (RFC 3501 §6, with ID RFC 2971, ENABLE RFC 5161, IDLE RFC 2177, NAMESPACE
 * RFC 2342, UNSELECT RFC 3691, MOVE RFC 6851, UID EXPUNGE RFC 4315) from the bytes `reader.ts`
 * framed: a tag, a name and typed arguments, or an error naming what is wrong. Never throws.
 */
import { parseFetchItems, type FetchItem } from './fetch.ts';
import { parseDateTime } from './format.ts';
import { parseSearch, type SearchKey } from './search.ts';
import { parseSequenceSet, type SequenceSet } from './sequence.ts';
import { tokenize, valueText, type Value } from './tokens.ts';

export type StoreOperation = 'add' | 'remove' | 'replace';

export type Command =
  | { name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'IDLE' | 'NAMESPACE' }
  | { name: 'EXPUNGE'; uids: SequenceSet | null }
  | { name: 'LOGIN'; username: string; password: string }
  | { name: 'AUTHENTICATE'; mechanism: string; initialResponse: string | null }
  | { name: 'ID'; params: Array<[string, string | null]> | null }
  | { name: 'ENABLE'; capabilities: string[] }
  | { name: 'SELECT' | 'EXAMINE' | 'CREATE' | 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; mailbox: string }
  | { name: 'RENAME'; from: string; to: string }
  | { name: 'LIST' | 'LSUB'; reference: string; pattern: string; selectOptions: string[]; returnOptions: string[] }
  | { name: 'STATUS'; mailbox: string; items: string[] }
  | { name: 'APPEND'; mailbox: string; flags: string[]; date: number | null; message: Buffer }
  | { name: 'FETCH'; uid: boolean; set: SequenceSet; items: FetchItem[] }
  | { name: 'STORE'; uid: boolean; set: SequenceSet; operation: StoreOperation; silent: boolean; flags: string[] }
  | { name: 'COPY' | 'MOVE'; uid: boolean; set: SequenceSet; mailbox: string }
  | { name: 'SEARCH'; uid: boolean; charset: string | null; key: SearchKey };

export type ParseResult = { kind: 'command'; tag: string; command: Command } | { kind: 'error'; tag: string | null; reason: string };

// RFC 3501 §9: tag = 1*<any ASTRING-CHAR except "+">.
const TAG = /^[\x21\x23-\x27\x2a\x2c-\x5b\x5d-\x7a\x7c\x7e]+$/;
const STATUS_ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ']);
const FLAG = /^\\?[\x21\x23-\x27\x2a-\x5b\x5d-\x7a\x7c\x7e]+$/;

function flagsOf(v: Value | undefined): string[] | null {
  if (v === undefined) return null;
  const items = v.type === 'list' ? v.items : [v];
  const out: string[] = [];
  for (const i of items) {
    if (i.type !== 'atom' || !FLAG.test(i.value) || i.value.toLowerCase() === '\\recent') return null;
    out.push(i.value);
  }
  return out;
}

export function parseCommand(bytes: Buffer): ParseResult {
  const sp = bytes.indexOf(0x20);
  const tag = bytes.subarray(0, sp < 0 ? bytes.length : sp).toString('latin1');
  if (!TAG.test(tag)) return { kind: 'error', tag: null, reason: 'a command starts with a tag' };
  if (sp < 0) return { kind: 'error', tag, reason: 'missing command' };
  const t = tokenize(bytes.subarray(sp + 1));
  if (!t.ok) return { kind: 'error', tag, reason: t.reason };
  const [first, ...rest] = t.values;
  if (first === undefined || first.type !== 'atom') return { kind: 'error', tag, reason: 'missing command' };
  let name = first.value.toUpperCase();
  let args = rest;
  let uid = false;
  if (name === 'UID') {
    const sub = args[0];
    if (sub === undefined || sub.type !== 'atom') return { kind: 'error', tag, reason: 'UID needs a command' };
    name = sub.value.toUpperCase();
    args = args.slice(1);
    uid = true;
    if (!['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE'].includes(name)) return { kind: 'error', tag, reason: `UID ${name} is not a command` };
  }
  const r = parseArgs(name, args, uid);
  if (typeof r === 'string') return { kind: 'error', tag, reason: r };
  return { kind: 'command', tag, command: r };
}

function parseArgs(name: string, args: Value[], uid: boolean): Command | string {
  const text = (i: number): string | null => valueText(args[i]);
  const count = (n: number): string | null => (args.length === n ? null : `${name} takes ${n} argument${n === 1 ? '' : 's'}`);
  switch (name) {
    case 'CAPABILITY':
    case 'NOOP':
    case 'LOGOUT':
    case 'STARTTLS':
    case 'CHECK':
    case 'CLOSE':
    case 'UNSELECT':
    case 'IDLE':
    case 'NAMESPACE':
      return count(0) ?? { name };
    case 'EXPUNGE': {
      if (!uid) return count(0) ?? { name, uids: null };
      const set = args.length === 1 ? parseSequenceSet(text(0) ?? '') : null;
      return set === null ? 'UID EXPUNGE needs a UID set' : { name, uids: set };
    }
    case 'LOGIN': {
      const u = text(0);
      const p = text(1);
      if (args.length !== 2 || u === null || p === null) return 'LOGIN needs a user name and a password';
      return { name, username: u, password: p };
    }
    case 'AUTHENTICATE': {
      const m = args[0];
      if (m === undefined || m.type !== 'atom' || args.length > 2) return 'AUTHENTICATE needs a mechanism';
      const ir = args.length === 2 ? text(1) : null;
      return { name, mechanism: m.value.toUpperCase(), initialResponse: ir };
    }
    case 'ID': {
      const v = args[0];
      if (args.length !== 1 || v === undefined) return 'ID needs a parameter list or NIL';
      if (v.type === 'atom' && v.value.toUpperCase() === 'NIL') return { name, params: null };
      if (v.type !== 'list' || v.items.length % 2 !== 0 || v.items.length > 60) return 'ID needs a list of field and value pairs';
      const params: Array<[string, string | null]> = [];
      for (let i = 0; i < v.items.length; i += 2) {
        const k = valueText(v.items[i]);
        const val = v.items[i + 1];
        if (k === null) return 'bad ID field';
        params.push([k, val?.type === 'atom' && val.value.toUpperCase() === 'NIL' ? null : valueText(val)]);
      }
      return { name, params };
    }
    case 'ENABLE': {
      if (args.length === 0 || args.some((a) => a.type !== 'atom')) return 'ENABLE needs capability names';
      return { name, capabilities: args.map((a) => (a.type === 'atom' ? a.value.toUpperCase() : '')) };
    }
    case 'SELECT':
    case 'EXAMINE':
    case 'CREATE':
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE': {
      const m = text(0);
      // SELECT/EXAMINE may carry RFC 4466 parameters (CONDSTORE): we offer none, so refuse them.
      if (m === null || args.length !== 1) return `${name} needs a mailbox name`;
      return { name, mailbox: m };
    }
    case 'RENAME': {
      const from = text(0);
      const to = text(1);
      if (from === null || to === null || args.length !== 2) return 'RENAME needs two mailbox names';
      return { name, from, to };
    }
    case 'LIST':
    case 'LSUB': {
      // RFC 5258 extended LIST: LIST (selection options) reference pattern [RETURN (options)].
      let i = 0;
      const selectOptions: string[] = [];
      const returnOptions: string[] = [];
      const a0 = args[0];
      if (name === 'LIST' && a0?.type === 'list') {
        for (const o of a0.items) if (o.type === 'atom') selectOptions.push(o.value.toUpperCase());
        i = 1;
      }
      const reference = text(i);
      const patternValue = args[i + 1];
      const pattern = patternValue?.type === 'list' ? null : valueText(patternValue);
      if (reference === null || pattern === null) return `${name} needs a reference and a mailbox pattern`;
      const ret = args[i + 2];
      if (ret !== undefined) {
        const opts = args[i + 3];
        if (name !== 'LIST' || ret.type !== 'atom' || ret.value.toUpperCase() !== 'RETURN' || opts?.type !== 'list' || args.length !== i + 4) {
          return `${name} has unexpected arguments`;
        }
        for (const o of opts.items) if (o.type === 'atom') returnOptions.push(o.value.toUpperCase());
      }
      return { name, reference, pattern, selectOptions, returnOptions };
    }
    case 'STATUS': {
      const m = text(0);
      const list = args[1];
      if (m === null || list?.type !== 'list' || args.length !== 2 || list.items.length === 0) return 'STATUS needs a mailbox and a list of items';
      const items: string[] = [];
      for (const it of list.items) {
        if (it.type !== 'atom' || !STATUS_ITEMS.has(it.value.toUpperCase())) return 'unknown STATUS item';
        items.push(it.value.toUpperCase());
      }
      return { name, mailbox: m, items };
    }
    case 'APPEND': {
      const m = text(0);
      if (m === null) return 'APPEND needs a mailbox';
      let i = 1;
      let flags: string[] = [];
      let date: number | null = null;
      if (args[i]?.type === 'list') {
        const f = flagsOf(args[i]);
        if (f === null) return 'bad APPEND flags';
        flags = f;
        i++;
      }
      const d = args[i];
      if (d !== undefined && d.type === 'string' && !d.literal) {
        date = parseDateTime(d.value.toString('latin1'));
        if (date === null) return 'bad APPEND date-time';
        i++;
      }
      const msg = args[i];
      if (msg === undefined || msg.type !== 'string' || !msg.literal || args.length !== i + 1) return 'APPEND needs the message as a literal';
      return { name, mailbox: m, flags, date, message: msg.value };
    }
    case 'FETCH': {
      const set = parseSequenceSet(text(0) ?? '');
      if (set === null) return 'FETCH needs a sequence set';
      // RFC 7162 modifiers such as (CHANGEDSINCE n) are not offered.
      if (args.length !== 2) return 'FETCH needs a sequence set and data items';
      const items = parseFetchItems(args[1]);
      if (!items.ok) return items.reason;
      return { name, uid, set, items: items.items };
    }
    case 'STORE': {
      const set = parseSequenceSet(text(0) ?? '');
      const what = args[1];
      if (set === null || what?.type !== 'atom' || args.length !== 3) return 'STORE needs a sequence set, a data item and flags';
      const m = /^([+-]?)FLAGS(\.SILENT)?$/i.exec(what.value);
      if (m === null) return `unknown STORE data item ${what.value.slice(0, 40)}`;
      const flags = flagsOf(args[2]);
      if (flags === null) return 'bad STORE flags';
      const operation: StoreOperation = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace';
      return { name, uid, set, operation, silent: m[2] !== undefined, flags };
    }
    case 'COPY':
    case 'MOVE': {
      const set = parseSequenceSet(text(0) ?? '');
      const m = text(1);
      if (set === null || m === null || args.length !== 2) return `${name} needs a sequence set and a mailbox`;
      return { name, uid, set, mailbox: m };
    }
    case 'SEARCH': {
      let charset: string | null = null;
      let keys = args;
      const a0 = args[0];
      if (a0?.type === 'atom' && a0.value.toUpperCase() === 'CHARSET') {
        charset = text(1);
        if (charset === null) return 'CHARSET needs a name';
        keys = args.slice(2);
      }
      const key = parseSearch(keys);
      if (!key.ok) return key.reason;
      return { name, uid, charset, key: key.key };
    }
    default:
      return `unknown command ${name.slice(0, 40)}`;
  }
}
