/**
 * POP3 responses (RFC 1939 §3): a status line "+OK" or "-ERR", optionally with a response code in
 * brackets (RFC 2449 §8, RFC 3206), and for multi-line responses the lines that follow,
 * byte-stuffed, ended by a line holding a single ".". Texts given here are ours, never the
 * client's, but are still kept to one line so a mistake cannot forge a response.
 */

/** RFC 2449 §8.1 IN-USE and LOGIN-DELAY, RFC 3206 §4-§5 SYS/TEMP, SYS/PERM and AUTH. */
export type RespCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** "+OK text" CRLF. */
export function ok(text = ''): string {
  return text === '' ? '+OK\r\n' : `+OK ${oneLine(text)}\r\n`;
}

/** "-ERR [CODE] text" CRLF. */
export function err(text: string, code?: RespCode): string {
  const body = code === undefined ? oneLine(text) : `[${code}] ${oneLine(text)}`;
  return `-ERR ${body}\r\n`;
}

/** RFC 5034 §4: a server challenge; PLAIN has an empty one, which is "+ " and nothing more. */
export function continuation(challengeBase64 = ''): string {
  return `+ ${challengeBase64}\r\n`;
}

/** "+OK text", then each line byte-stuffed (RFC 1939 §3), then ".". For short textual lists. */
export function multiline(text: string, lines: readonly string[]): string {
  let out = ok(text);
  for (const line of lines) {
    const l = oneLine(line);
    out += l.startsWith('.') ? `.${l}\r\n` : `${l}\r\n`;
  }
  return `${out}.\r\n`;
}
