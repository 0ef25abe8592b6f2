/**
 * "ip:port" endpoints as written in the config and on the command line: "127.0.0.1:5353",
 * "[::1]:5353", and, where a default port applies, a bare "127.0.0.1" or "::1".
 */
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export type HostPortResult = { ok: true; value: HostPort } | { ok: false; reason: string };

export function parseHostPort(text: string, defaultPort?: number): HostPortResult {
  const s = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (isIP(s) === 6) {
    host = s;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon >= 0) {
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
    } else {
      host = s;
    }
  }
  if (isIP(host) === 0) {
    return { ok: false, reason: `"${text}" is not an IP address and port (write 127.0.0.1:5353 or [::1]:5353)` };
  }
  if (portText === undefined) {
    if (defaultPort === undefined) return { ok: false, reason: `"${text}" needs a port` };
    return { ok: true, value: { host, port: defaultPort } };
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    return { ok: false, reason: `"${text}": port must be a number from 0 to 65535` };
  }
  return { ok: true, value: { host, port: Number(portText) } };
}

export function formatHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
