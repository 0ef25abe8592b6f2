/**
 * The envelope commands as the client writes them: MAIL FROM and RCPT TO with the ESMTP parameters
 * the server offered and the message needs (SIZE RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, the DSN
 * ones RFC 3461). Pure.
 */
import type { SmtpCapabilities } from '../proto/reply.ts';
import type { OutboundMessage, OutboundRecipient } from './types.ts';

/**
 * RFC 3461 §4: printable ASCII except "+" and "=" stands for itself; every other byte (of the
 * UTF-8 form) is "+" and two upper-case hex digits.
 */
export function xtext(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    out += byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** An address we must not put between angle brackets: it would end the command or the path early. */
export function unsafeAddress(address: string): boolean {
  return /[\x00-\x1f\x7f<>]/.test(address);
}

export function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

export interface MailParams {
  /** The message size (RFC 1870 count), sent when the server offers SIZE. */
  size: number;
  eightBit: boolean;
  smtpUtf8: boolean;
}

export function mailCommand(message: OutboundMessage, caps: SmtpCapabilities, params: MailParams): string {
  let line = `MAIL FROM:<${message.sender}>`;
  if (caps.size !== null) line += ` SIZE=${params.size}`;
  // RFC 6152: without 8BITMIME offered we send the bytes anyway, as every MTA does; most servers
  // take them, and the alternative (converting MIME parts to 7 bit) rewrites a signed message.
  if (params.eightBit && caps.eightBitMime) line += ' BODY=8BITMIME';
  if (params.smtpUtf8 && caps.smtpUtf8) line += ' SMTPUTF8';
  if (caps.dsn) {
    if (message.ret !== undefined) line += ` RET=${message.ret}`;
    if (message.envid !== undefined) line += ` ENVID=${xtext(message.envid)}`;
  }
  return `${line}\r\n`;
}

export function rcptCommand(recipient: OutboundRecipient, caps: SmtpCapabilities): string {
  let line = `RCPT TO:<${recipient.address}>`;
  if (caps.dsn) {
    if (recipient.notify !== undefined && recipient.notify.length > 0) line += ` NOTIFY=${recipient.notify.join(',')}`;
    if (recipient.orcpt !== undefined) line += ` ORCPT=${recipient.orcpt.type};${xtext(recipient.orcpt.address)}`;
  }
  return `${line}\r\n`;
}
