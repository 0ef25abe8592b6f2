/**
 * ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2): what a client shows in a message list and how it
 * finds the parts to download, computed from the header fields and the MIME structure
 * (`message/mime.ts`). Header values go out as written, encoded words and all: decoding them is
 * the client's job.
 */
import { headerValue, type HeaderField } from '../../message/headers.ts';
import { countLines, parseParameterized, type MimePart } from '../../message/mime.ts';
import { nstring, quote, type Chunk } from './format.ts';

export interface EnvelopeAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

type Token = { kind: 'word'; text: string } | { kind: 'quoted'; text: string } | { kind: 'special'; text: string };

function tokens(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(') {
      let depth = 0;
      while (i < s.length) {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')' && --depth === 0) break;
        i++;
      }
      i++;
    } else if (c === '"') {
      let text = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        text += s[i];
        i++;
      }
      i++;
      out.push({ kind: 'quoted', text });
    } else if ('<>,:;@'.includes(c)) {
      out.push({ kind: 'special', text: c });
      i++;
    } else {
      const start = i;
      while (i < s.length && !' \t\r\n()"<>,:;@'.includes(s[i] as string)) i++;
      out.push({ kind: 'word', text: s.slice(start, i) });
    }
  }
  return out;
}

function splitAddrSpec(text: string): { mailbox: string | null; host: string | null } {
  const at = text.lastIndexOf('@');
  if (at < 0) return { mailbox: text === '' ? null : text, host: null };
  return { mailbox: text.slice(0, at), host: text.slice(at + 1) };
}

/** RFC 5322 §3.4 address lists, groups included (a group is framed by NIL-host entries). */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const toks = tokens(value);
  const out: EnvelopeAddress[] = [];
  let pending: Token[] = [];
  let inGroup = false;
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.map((t) => t.text).join('');
    const { mailbox, host } = splitAddrSpec(text);
    if (mailbox !== null) out.push({ name: null, adl: null, mailbox, host });
    pending = [];
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Token;
    if (t.kind === 'special' && t.text === '<') {
      const name = pending.map((p) => p.text).join(' ').trim();
      pending = [];
      let inner = '';
      i++;
      for (; i < toks.length; i++) {
        const u = toks[i] as Token;
        if (u.kind === 'special' && u.text === '>') break;
        inner += u.text;
      }
      let adl: string | null = null;
      const colon = inner.lastIndexOf(':');
      if (inner.startsWith('@') && colon > 0) {
        adl = inner.slice(0, colon);
        inner = inner.slice(colon + 1);
      }
      const { mailbox, host } = splitAddrSpec(inner);
      out.push({ name: name === '' ? null : name, adl, mailbox: mailbox ?? '', host: host ?? '' });
    } else if (t.kind === 'special' && t.text === ':' && !inGroup) {
      const name = pending.map((p) => p.text).join(' ').trim();
      pending = [];
      inGroup = true;
      out.push({ name: null, adl: null, mailbox: name, host: null });
    } else if (t.kind === 'special' && t.text === ';') {
      flush();
      if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
      inGroup = false;
    } else if (t.kind === 'special' && t.text === ',') {
      flush();
    } else {
      pending.push(t);
    }
  }
  flush();
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}

function addressList(fields: readonly HeaderField[], name: string, fallback?: string): Chunk[] {
  const v = headerValue(fields, name) ?? (fallback === undefined ? undefined : headerValue(fields, fallback));
  if (v === undefined) return ['NIL'];
  const list = parseAddressList(v);
  if (list.length === 0) return ['NIL'];
  const out: Chunk[] = ['('];
  for (const a of list) out.push('(', ...nstring(a.name), ' ', ...nstring(a.adl), ' ', ...nstring(a.mailbox), ' ', ...nstring(a.host), ')');
  out.push(')');
  return out;
}

/** RFC 3501 §7.4.2 ENVELOPE of a message (or of a message/rfc822 part's message). */
export function envelope(fields: readonly HeaderField[]): Chunk[] {
  const h = (name: string): Chunk[] => nstring(headerValue(fields, name) ?? null);
  return [
    '(',
    ...h('Date'),
    ' ',
    ...h('Subject'),
    ' ',
    ...addressList(fields, 'From'),
    ' ',
    // RFC 3501 §7.4.2: Sender and Reply-To default to From.
    ...addressList(fields, 'Sender', 'From'),
    ' ',
    ...addressList(fields, 'Reply-To', 'From'),
    ' ',
    ...addressList(fields, 'To'),
    ' ',
    ...addressList(fields, 'Cc'),
    ' ',
    ...addressList(fields, 'Bcc'),
    ' ',
    ...h('In-Reply-To'),
    ' ',
    ...h('Message-ID'),
    ')',
  ];
}

function paramList(params: ReadonlyArray<[string, string]>): Chunk[] {
  if (params.length === 0) return ['NIL'];
  const out: Chunk[] = ['('];
  params.forEach(([n, v], i) => out.push(i > 0 ? ' ' : '', quote(n.toUpperCase()), ' ', ...nstring(v)));
  out.push(')');
  return out;
}

function disposition(fields: readonly HeaderField[]): Chunk[] {
  const v = headerValue(fields, 'Content-Disposition');
  if (v === undefined) return ['NIL'];
  const p = parseParameterized(v);
  if (p.value === '') return ['NIL'];
  return ['(', quote(p.value.toUpperCase()), ' ', ...paramList(p.params), ')'];
}

/**
 * BODYSTRUCTURE (`extended`) or BODY (`false`: without the extension data) of a part.
 * `message` is the whole message the offsets point into.
 */
export function bodyStructure(message: Uint8Array, part: MimePart, extended: boolean): Chunk[] {
  const f = part.fields;
  if (part.type === 'multipart' && part.children.length > 0) {
    const out: Chunk[] = ['('];
    for (const c of part.children) out.push(...bodyStructure(message, c, extended));
    out.push(' ', quote(part.subtype.toUpperCase()));
    if (extended) {
      out.push(' ', ...paramList(part.params), ' ', ...disposition(f), ' ', ...nstring(headerValue(f, 'Content-Language') ?? null));
      out.push(' ', ...nstring(headerValue(f, 'Content-Location') ?? null));
    }
    out.push(')');
    return out;
  }
  const isMultipart = part.type === 'multipart';
  const type = isMultipart ? 'text' : part.type;
  const subtype = isMultipart ? 'plain' : part.subtype;
  let params: Array<[string, string]> = isMultipart ? [] : [...part.params];
  // RFC 2045 §5.2: text without a charset is US-ASCII; clients expect to be told.
  if (type === 'text' && !params.some(([n]) => n === 'charset')) params = [['charset', 'us-ascii'], ...params];
  const encoding = (headerValue(f, 'Content-Transfer-Encoding') ?? '7bit').trim().toUpperCase() || '7BIT';
  const size = part.end - part.bodyStart;
  const out: Chunk[] = [
    '(',
    quote(type.toUpperCase()),
    ' ',
    quote(subtype.toUpperCase()),
    ' ',
    ...paramList(params),
    ' ',
    ...nstring(headerValue(f, 'Content-ID') ?? null),
    ' ',
    ...nstring(headerValue(f, 'Content-Description') ?? null),
    ' ',
    quote(encoding),
    ` ${size}`,
  ];
  if (type === 'message' && part.message !== null) {
    out.push(' ', ...envelope(part.message.fields), ' ', ...bodyStructure(message, part.message, extended));
    out.push(` ${countLines(message, part.bodyStart, part.end)}`);
  } else if (type === 'text') {
    out.push(` ${countLines(message, part.bodyStart, part.end)}`);
  }
  if (extended) {
    out.push(' ', ...nstring(headerValue(f, 'Content-MD5') ?? null), ' ', ...disposition(f));
    out.push(' ', ...nstring(headerValue(f, 'Content-Language') ?? null), ' ', ...nstring(headerValue(f, 'Content-Location') ?? null));
  }
  out.push(')');
  return out;
}
