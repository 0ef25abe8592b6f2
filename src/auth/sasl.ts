/**
 * SASL mechanisms' wire formats, pure. PLAIN (RFC 4616) is one base64 string of
 * "authzid NUL authcid NUL password"; LOGIN (draft-murchison-sasl-login) asks for the user name
 * and the password in two base64 steps. Both are only ever offered over TLS.
 */

export type PlainResult = { ok: true; authzid: string; username: string; password: string } | { ok: false; reason: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes base64 strictly: null for anything that is not. */
export function decodeBase64(text: string): Uint8Array | null {
  const t = text.trim();
  if (t.length % 4 !== 0 || !BASE64.test(t)) return null;
  return new Uint8Array(Buffer.from(t, 'base64'));
}

export function encodeBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** RFC 4616 §2. */
export function decodePlain(response: string): PlainResult {
  const bytes = decodeBase64(response);
  if (bytes === null) return { ok: false, reason: 'not base64' };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'not UTF-8' };
  }
  const parts = text.split('\u0000');
  if (parts.length !== 3) return { ok: false, reason: 'PLAIN needs authzid NUL authcid NUL password' };
  const [authzid = '', username = '', password = ''] = parts;
  if (username === '' || password === '') return { ok: false, reason: 'empty user name or password' };
  return { ok: true, authzid, username, password };
}

/** One step of LOGIN: the decoded text, or null. */
export function decodeLoginStep(response: string): string | null {
  const bytes = decodeBase64(response);
  if (bytes === null) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}
