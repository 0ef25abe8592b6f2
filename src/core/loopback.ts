/**
 * The loopback guard. Tests and `npm start` must never send a packet off the machine: with
 * POSTERN_LOOPBACK_ONLY=1 in the environment every outbound destination (DNS server, SMTP host) is
 * checked here first, and anything outside 127.0.0.0/8 and ::1 is refused with an error that says
 * where we were about to go, instead of being sent.
 */
import { isIP } from 'node:net';
import { ErrorCode, PosternError } from './errors.ts';

export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address.startsWith('127.');
  if (family === 6) {
    const a = address.toLowerCase();
    if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
    // IPv4-mapped loopback (::ffff:127.x.y.z)
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    return mapped !== null && mapped[1] !== undefined && mapped[1].startsWith('127.');
  }
  return false;
}

/** Read at call time, not import time, so a test can switch it on and off. */
export function loopbackOnly(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['POSTERN_LOOPBACK_ONLY'];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * Throws POSTERN_LOOPBACK_ONLY when the guard is on and `address` is not loopback.
 * `purpose` names what the connection was for ("DNS query to", "SMTP connection to").
 */
export function assertDestinationAllowed(address: string, purpose: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!loopbackOnly(env) || isLoopbackAddress(address)) return;
  throw new PosternError(
    ErrorCode.LoopbackOnly,
    `${purpose} ${address} refused: POSTERN_LOOPBACK_ONLY=1 allows only 127.0.0.0/8 and ::1 ` +
      `(point dns.resolvers at a Postern DNS server on loopback, or unset POSTERN_LOOPBACK_ONLY)`,
  );
}
