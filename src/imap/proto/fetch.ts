/**
 * FETCH (RFC 3501 §6.4.5): which data items a client asked for, and the response for one message.
 * Sections name parts of the message by number (`1.2`) and what of them (`HEADER`,
 * `HEADER.FIELDS (…)`, `TEXT`, `MIME`); a partial `<start.length>` cuts the result. Pure: the
 * session loads the message and its flags, this writes the response.
 */
import { parseHeaderFields, splitMessage } from '../../message/headers.ts';
import { findPart, parseMime, type MimePart } from '../../message/mime.ts';
import { bodyStructure, envelope } from './structure.ts';
import { flagList, formatDateTime, quote, toBuffer, type Chunk } from './format.ts';
import type { Value } from './tokens.ts';

export type SectionText = null | 'HEADER' | 'TEXT' | 'MIME' | { fields: string[]; not: boolean };

export interface Section {
  part: number[];
  text: SectionText;
}

export type FetchItem =
  | { kind: 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' }
  | { kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { kind: 'section'; peek: boolean; section: Section; partial: { start: number; length: number | null } | null };

const MACROS: Record<string, FetchItem['kind'][]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SIMPLE = new Set(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);

export type FetchItemsResult = { ok: true; items: FetchItem[] } | { ok: false; reason: string };

/** RFC 3501 §6.4.5 section-spec, the part inside the brackets. */
export function parseSection(spec: string): Section | null {
  let rest = spec;
  const part: number[] = [];
  for (;;) {
    const m = /^([1-9]\d{0,8})(\.|$)/.exec(rest);
    if (m === null) break;
    part.push(Number(m[1]));
    rest = rest.slice(m[0].length);
    if (m[2] === '') break;
  }
  if (rest === '') return { part, text: null };
  const upper = rest.toUpperCase();
  if (upper === 'HEADER' || upper === 'TEXT') return { part, text: upper };
  if (upper === 'MIME') return part.length > 0 ? { part, text: 'MIME' } : null;
  const f = /^HEADER\.FIELDS(\.NOT)? ?\((.*)\)$/i.exec(rest);
  if (f === null) return null;
  const names = (f[2] as string)
    .trim()
    .split(/\s+/)
    .map((n) => n.replace(/^"(.*)"$/, '$1'))
    .filter((n) => n !== '');
  if (names.length === 0 || names.some((n) => !/^[\x21-\x39\x3b-\x7e]+$/.test(n))) return null;
  return { part, text: { fields: names, not: f[1] !== undefined } };
}

export function formatSection(s: Section): string {
  const parts = s.part.join('.');
  let text = '';
  if (s.text === null) text = '';
  else if (typeof s.text === 'string') text = s.text;
  else text = `HEADER.FIELDS${s.text.not ? '.NOT' : ''} (${s.text.fields.map((f) => f.toUpperCase()).join(' ')})`;
  return parts !== '' && text !== '' ? `${parts}.${text}` : parts + text;
}

function parseItem(atom: string): FetchItem | null {
  const upper = atom.toUpperCase();
  if (SIMPLE.has(upper)) return { kind: upper as 'UID' };
  const m = /^(BODY|BODY\.PEEK)\[([^\]]*)\](?:<(\d{1,10})(?:\.(\d{1,10}))?>)?$/i.exec(atom);
  if (m === null) return null;
  const section = parseSection(m[2] as string);
  if (section === null) return null;
  const partial = m[3] === undefined ? null : { start: Number(m[3]), length: m[4] === undefined ? null : Number(m[4]) };
  // RFC 3501 §9: a partial needs both numbers; some clients send only the start, which we take.
  return { kind: 'section', peek: (m[1] as string).toUpperCase() === 'BODY.PEEK', section, partial };
}

export function parseFetchItems(v: Value | undefined): FetchItemsResult {
  if (v === undefined) return { ok: false, reason: 'FETCH needs data items' };
  if (v.type === 'atom') {
    const macro = MACROS[v.value.toUpperCase()];
    if (macro !== undefined) return { ok: true, items: macro.map((kind) => ({ kind }) as FetchItem) };
  }
  const atoms = v.type === 'list' ? v.items : [v];
  const items: FetchItem[] = [];
  for (const a of atoms) {
    if (a.type !== 'atom') return { ok: false, reason: 'bad FETCH data item' };
    const item = parseItem(a.value);
    if (item === null) return { ok: false, reason: `unknown FETCH data item ${a.value.slice(0, 40)}` };
    items.push(item);
  }
  if (items.length === 0) return { ok: false, reason: 'FETCH needs data items' };
  return { ok: true, items };
}

/** Whether the items need the message's bytes (everything but flags, UID, date and size). */
export function needsBody(items: readonly FetchItem[]): boolean {
  return items.some((i) => !['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'].includes(i.kind));
}

/** RFC 3501 §6.4.5: a body fetch that is not PEEK sets \Seen. */
export function setsSeen(items: readonly FetchItem[]): boolean {
  return items.some((i) => (i.kind === 'section' && !i.peek) || i.kind === 'RFC822' || i.kind === 'RFC822.TEXT');
}

function headerFields(header: Uint8Array, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const fields = parseHeaderFields(header).filter((f) => wanted.has(f.name.toLowerCase()) !== not);
  return Buffer.from(fields.map((f) => `${f.raw}\r\n`).join('') + '\r\n', 'utf8');
}

/** Header (with its empty line), as BODY[HEADER] gives it. */
function headerOf(msg: Uint8Array, p: MimePart): Uint8Array {
  return msg.subarray(p.start, p.bodyStart);
}

/** The bytes a section names; empty when the message has no such part. */
export function sectionBytes(msg: Uint8Array, root: MimePart, section: Section): Uint8Array {
  const empty = new Uint8Array(0);
  let target: MimePart = root;
  if (section.part.length > 0) {
    const p = findPart(root, section.part);
    if (p === null) return empty;
    if (section.text === null) return msg.subarray(p.bodyStart, p.end);
    if (section.text === 'MIME') return headerOf(msg, p);
    // HEADER, TEXT and HEADER.FIELDS of a part apply to the message inside a message/rfc822.
    if (p.message === null) return empty;
    target = p.message;
  }
  const t = section.text;
  if (t === null) return msg.subarray(target.start, target.end);
  if (t === 'HEADER') return headerOf(msg, target);
  if (t === 'TEXT') return msg.subarray(target.bodyStart, target.end);
  if (t === 'MIME') return empty;
  return headerFields(msg.subarray(target.start, target.bodyStart), t.fields, t.not);
}

/** Whether every item that needs the message's bytes is one a `MessageStructure` answers. */
export function structureOnly(items: readonly FetchItem[]): boolean {
  return items.every((i) => ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY'].includes(i.kind));
}

export function wantsStructure(items: readonly FetchItem[]): boolean {
  return items.some((i) => i.kind === 'ENVELOPE' || i.kind === 'BODYSTRUCTURE' || i.kind === 'BODY');
}

/**
 * A message's ENVELOPE, BODYSTRUCTURE and BODY as they go on the wire. A stored message never
 * changes, so these can be kept and reused without reading and parsing the message again.
 */
export interface MessageStructure {
  envelope: Buffer;
  bodyStructure: Buffer;
  body: Buffer;
}

export function messageStructure(data: Uint8Array, root: MimePart = parseMime(data)): MessageStructure {
  return {
    envelope: toBuffer(envelope(root.fields)),
    bodyStructure: toBuffer(bodyStructure(data, root, true)),
    body: toBuffer(bodyStructure(data, root, false)),
  };
}

export interface FetchMessage {
  seq: number;
  uid: number;
  flags: readonly string[];
  internalDate: number;
  size: number;
  /** Present when `needsBody(items)`, unless `structure` answers every item that needs it. */
  data: Uint8Array | null;
  /** ENVELOPE, BODYSTRUCTURE and BODY come from here when given. */
  structure?: MessageStructure | null;
}

/** One `* n FETCH (…)` response, line ending included. UID comes first when asked or implied. */
export function fetchResponse(items: readonly FetchItem[], m: FetchMessage, includeUid: boolean): Chunk[] {
  const out: Chunk[] = [`* ${m.seq} FETCH (`];
  let first = true;
  const sep = (): void => {
    if (!first) out.push(' ');
    first = false;
  };
  const wantUid = includeUid || items.some((i) => i.kind === 'UID');
  if (wantUid) {
    sep();
    out.push(`UID ${m.uid}`);
  }
  let mime: MimePart | null = null;
  const data = m.data ?? new Uint8Array(0);
  const root = (): MimePart => (mime ??= parseMime(data));
  const literal = (bytes: Uint8Array): Chunk[] => [`{${bytes.byteLength}}\r\n`, bytes];
  for (const item of items) {
    switch (item.kind) {
      case 'UID':
        break;
      case 'FLAGS':
        sep();
        out.push(`FLAGS ${flagList(m.flags)}`);
        break;
      case 'INTERNALDATE':
        sep();
        out.push(`INTERNALDATE ${quote(formatDateTime(m.internalDate))}`);
        break;
      case 'RFC822.SIZE':
        sep();
        out.push(`RFC822.SIZE ${m.size}`);
        break;
      case 'ENVELOPE':
        sep();
        if (m.structure) out.push('ENVELOPE ', m.structure.envelope);
        else out.push('ENVELOPE ', ...envelope(root().fields));
        break;
      case 'BODYSTRUCTURE':
        sep();
        if (m.structure) out.push('BODYSTRUCTURE ', m.structure.bodyStructure);
        else out.push('BODYSTRUCTURE ', ...bodyStructure(data, root(), true));
        break;
      case 'BODY':
        sep();
        if (m.structure) out.push('BODY ', m.structure.body);
        else out.push('BODY ', ...bodyStructure(data, root(), false));
        break;
      case 'RFC822':
        sep();
        out.push('RFC822 ', ...literal(data));
        break;
      case 'RFC822.HEADER': {
        sep();
        const s = splitMessage(data);
        out.push('RFC822.HEADER ', ...literal(data.subarray(0, s.header.length + s.separator.length)));
        break;
      }
      case 'RFC822.TEXT':
        sep();
        out.push('RFC822.TEXT ', ...literal(data.subarray(root().bodyStart)));
        break;
      case 'section': {
        sep();
        // BODY[] is the message as stored: no need to parse its MIME structure to find it.
        const whole = item.section.part.length === 0 && item.section.text === null;
        let bytes = whole ? data : sectionBytes(data, root(), item.section);
        let label = `BODY[${formatSection(item.section)}]`;
        if (item.partial !== null) {
          const start = Math.min(item.partial.start, bytes.byteLength);
          const end = item.partial.length === null ? bytes.byteLength : Math.min(bytes.byteLength, start + item.partial.length);
          bytes = bytes.subarray(start, end);
          label += `<${item.partial.start}>`;
        }
        out.push(`${label} `, ...literal(bytes));
        break;
      }
    }
  }
  out.push(')\r\n');
  return out;
}
