/**
 * ESMTP parameters on MAIL FROM and RCPT TO (RFC 5321 §4.1.2 `esmtp-param`): SIZE (RFC 1870),
 * BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531) and the delivery status notification ones, RET and
 * ENVID on MAIL, NOTIFY and ORCPT on RCPT (RFC 3461 §4). Each is parsed, checked and kept so the
 * queue can honour it and pass it on to the next hop; anything else is refused with 555 5.5.4
 * (RFC 5321 §4.1.1.11). xtext (RFC 3461 §4) is decoded here and encoded for the client.
 */
import { reply } from '../../core/smtp-reply.ts';
import type { SmtpReply } from '../../core/smtp-reply.ts';

export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';
export type NotifyEvent = 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface MailParams {
  /** SIZE=n: the client's estimate of the message size in octets, or null when not given. */
  size: number | null;
  body: BodyType | null;
  smtputf8: boolean;
  /** RET: return the full message or only its headers in a failure DSN. */
  ret: 'FULL' | 'HDRS' | null;
  /** ENVID, xtext-decoded. */
  envid: string | null;
}

export interface RcptParams {
  /** NOTIFY: 'NEVER', the events asked for, or null when not given (RFC 3461 §4.1). */
  notify: 'NEVER' | readonly NotifyEvent[] | null;
  /** ORCPT: the original recipient, address decoded from xtext (RFC 3461 §4.2). */
  orcpt: { addrType: string; address: string } | null;
}

export const emptyMailParams = (): MailParams => ({ size: null, body: null, smtputf8: false, ret: null, envid: null });
export const emptyRcptParams = (): RcptParams => ({ notify: null, orcpt: null });

export type ParamsResult<T> = { ok: true; params: T } | { ok: false; reply: SmtpReply };

export const ParamReply = {
  Unrecognised: (keyword: string): SmtpReply => reply(555, '5.5.4', `unsupported parameter ${keyword}`),
  Bad: (text: string): SmtpReply => reply(501, '5.5.4', text),
} as const;

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** RFC 5321 §4.1.2 esmtp-value, widened to UTF-8 by RFC 6531 §3.3. */
const VALUE = /^[\x21-\x3c\x3e-\x7e\u{a0}-\u{10ffff}]+$/u;
/** RFC 3461 §4.4: ENVID at most 100 characters; §4.2: ORCPT at most 500. */
const MAX_ENVID = 100;
const MAX_ORCPT = 500;

interface RawParam {
  keyword: string;
  value: string | null;
}

/** Splits `KEY=value KEY2` into keyword/value pairs; null on a syntax error. */
function splitParams(text: string): RawParam[] | { error: string } {
  const out: RawParam[] = [];
  for (const token of text.split(' ')) {
    if (token === '') continue;
    const eq = token.indexOf('=');
    const keyword = eq < 0 ? token : token.slice(0, eq);
    const value = eq < 0 ? null : token.slice(eq + 1);
    if (!KEYWORD.test(keyword)) return { error: `bad parameter ${JSON.stringify(token)}` };
    if (value !== null && !VALUE.test(value)) return { error: `bad value for ${keyword.toUpperCase()}` };
    out.push({ keyword: keyword.toUpperCase(), value });
  }
  return out;
}

/** MAIL FROM parameters. */
export function parseMailParams(text: string): ParamsResult<MailParams> {
  const raw = splitParams(text);
  if (!Array.isArray(raw)) return { ok: false, reply: ParamReply.Bad(raw.error) };
  const params = emptyMailParams();
  const seen = new Set<string>();
  for (const { keyword, value } of raw) {
    if (seen.has(keyword)) return { ok: false, reply: ParamReply.Bad(`${keyword} given twice`) };
    seen.add(keyword);
    switch (keyword) {
      case 'SIZE':
        // RFC 1870 §3: 1*20DIGIT.
        if (value === null || !/^\d{1,20}$/.test(value)) return { ok: false, reply: ParamReply.Bad('SIZE needs a number') };
        params.size = Number(value);
        break;
      case 'BODY': {
        const body = value?.toUpperCase();
        if (body !== '7BIT' && body !== '8BITMIME' && body !== 'BINARYMIME') {
          return { ok: false, reply: ParamReply.Bad('BODY must be 7BIT, 8BITMIME or BINARYMIME') };
        }
        params.body = body;
        break;
      }
      case 'SMTPUTF8':
        if (value !== null) return { ok: false, reply: ParamReply.Bad('SMTPUTF8 takes no value') };
        params.smtputf8 = true;
        break;
      case 'RET': {
        const ret = value?.toUpperCase();
        if (ret !== 'FULL' && ret !== 'HDRS') return { ok: false, reply: ParamReply.Bad('RET must be FULL or HDRS') };
        params.ret = ret;
        break;
      }
      case 'ENVID': {
        if (value === null || value.length > MAX_ENVID) return { ok: false, reply: ParamReply.Bad('bad ENVID') };
        const envid = decodeXtext(value);
        // RFC 3461 §4.4: printable US-ASCII.
        if (envid === null || !/^[\x20-\x7e]+$/.test(envid)) return { ok: false, reply: ParamReply.Bad('bad ENVID') };
        params.envid = envid;
        break;
      }
      default:
        return { ok: false, reply: ParamReply.Unrecognised(keyword) };
    }
  }
  return { ok: true, params };
}

/** RCPT TO parameters. */
export function parseRcptParams(text: string): ParamsResult<RcptParams> {
  const raw = splitParams(text);
  if (!Array.isArray(raw)) return { ok: false, reply: ParamReply.Bad(raw.error) };
  const params = emptyRcptParams();
  const seen = new Set<string>();
  for (const { keyword, value } of raw) {
    if (seen.has(keyword)) return { ok: false, reply: ParamReply.Bad(`${keyword} given twice`) };
    seen.add(keyword);
    switch (keyword) {
      case 'NOTIFY': {
        const notify = parseNotify(value);
        if (notify === null) return { ok: false, reply: ParamReply.Bad('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY') };
        params.notify = notify;
        break;
      }
      case 'ORCPT': {
        const orcpt = value === null ? null : parseOrcpt(value);
        if (orcpt === null) return { ok: false, reply: ParamReply.Bad('bad ORCPT') };
        params.orcpt = orcpt;
        break;
      }
      default:
        return { ok: false, reply: ParamReply.Unrecognised(keyword) };
    }
  }
  return { ok: true, params };
}

function parseNotify(value: string | null): RcptParams['notify'] {
  if (value === null) return null;
  const items = value.toUpperCase().split(',');
  if (items.length === 1 && items[0] === 'NEVER') return 'NEVER';
  const events: NotifyEvent[] = [];
  for (const item of items) {
    if (item !== 'SUCCESS' && item !== 'FAILURE' && item !== 'DELAY') return null;
    if (events.includes(item)) return null;
    events.push(item);
  }
  return events;
}

function parseOrcpt(value: string): RcptParams['orcpt'] {
  if (value.length > MAX_ORCPT) return null;
  const semi = value.indexOf(';');
  if (semi <= 0) return null;
  const addrType = value.slice(0, semi);
  // RFC 3461 §4.2: addr-type is an RFC 822 atom.
  if (!/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(addrType)) return null;
  let address = decodeXtext(value.slice(semi + 1));
  if (address === null || address === '') return null;
  // RFC 6533 §3: the utf-8 address type escapes non-ASCII as \x{HEX}.
  if (addrType.toLowerCase() === 'utf-8') {
    address = decodeUnitext(address);
    if (address === null) return null;
  }
  return { addrType, address };
}

/** RFC 3461 §4: "+" and two upper-case hex digits stand for one octet; other octets are 33-126
 *  except "+" and "=". Null when `text` is not xtext. Lower-case hex is accepted too. */
export function decodeXtext(text: string): string | null {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
      continue;
    }
    if (c >= 0x80) {
      // RFC 6533 §3 utf-8-addr-unitext carries UTF-8 as is.
      out += text[i];
      continue;
    }
    if (c < 33 || c > 126 || c === 0x3d) return null;
    out += text[i];
  }
  return out;
}

/** Encodes `text` as xtext: everything outside 33-126, and "+" and "=", as "+HH". */
export function encodeXtext(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    if (byte >= 33 && byte <= 126 && byte !== 0x2b && byte !== 0x3d) out += String.fromCharCode(byte);
    else out += `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decodeUnitext(text: string): string | null {
  let bad = false;
  const out = text.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (_, hex: string) => {
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      bad = true;
      return '';
    }
    return String.fromCodePoint(cp);
  });
  return bad ? null : out;
}
