/**
 * The real SMTP probe: one session through the SMTP client that delivery uses (`connectSmtp`, with
 * opportunistic STARTTLS), so the check sees a host exactly as our own deliveries would: greeting,
 * EHLO, whether STARTTLS worked; for a backup MX also MAIL FROM:<> and RCPT for a made-up recipient
 * through `verify()`, which never sends DATA. When STARTTLS was offered, a second, short
 * conversation reads the certificate (certificate-probe.ts).
 */
import { errorText } from '../core/errors.ts';
import type { SmtpCapabilities } from '../smtp/proto/reply.ts';
import { connectSmtp, isSmtpClientError } from '../smtp/client/index.ts';
import type { SmtpConnection } from '../smtp/client/index.ts';
import { probeCertificate } from './certificate-probe.ts';
import type { RcptFacts, SmtpProbeRequest, SmtpProbeResult, SmtpProber } from './types.ts';

export function createSmtpProber(): SmtpProber {
  return { probe: probeSmtp };
}

export async function probeSmtp(request: SmtpProbeRequest): Promise<SmtpProbeResult> {
  const t = request.timeoutMs;
  const started = performance.now();
  let connection: SmtpConnection;
  try {
    connection = await connectSmtp({
      address: request.address,
      port: request.port,
      serverName: request.host,
      helo: request.helo,
      tls: 'opportunistic',
      timeouts: { connect: t, greeting: t, ehlo: t, mail: t, rcpt: t, data: t, dataBlock: t, endOfData: t },
    });
  } catch (err) {
    const ms = Math.round(performance.now() - started);
    if (isSmtpClientError(err)) return { kind: 'failed', stage: err.stage, reason: err.message, reply: err.reply ?? null, ms };
    return { kind: 'failed', stage: 'connect', reason: errorText(err), reply: null, ms };
  }
  const openMs = Math.round(performance.now() - started);
  let rcpt: RcptFacts | null = null;
  try {
    if (request.rcpt !== null) {
      const asked = performance.now();
      try {
        const [reply] = await connection.verify('', [request.rcpt]);
        rcpt = reply === undefined ? { kind: 'error', recipient: request.rcpt, reason: 'no reply' } : { kind: 'reply', recipient: request.rcpt, reply, ms: Math.round(performance.now() - asked) };
      } catch (err) {
        rcpt = { kind: 'error', recipient: request.rcpt, reason: errorText(err) };
      }
    }
  } finally {
    await connection.close();
  }
  // After TLS the EHLO no longer lists STARTTLS; a session that used or tried TLS was offered it.
  const startTlsOffered = connection.tls || connection.tlsFailure !== null || connection.capabilities.startTls;
  const certificate = startTlsOffered ? await probeCertificate({ address: request.address, port: request.port, host: request.host, helo: request.helo, timeoutMs: t }) : null;
  return {
    kind: 'open',
    greeting: connection.greeting,
    esmtp: connection.esmtp,
    extensions: extensionNames(connection.capabilities, startTlsOffered),
    startTlsOffered,
    tls: connection.tls,
    tlsFailure: connection.tlsFailure,
    openMs,
    certificate,
    rcpt,
  };
}

function extensionNames(c: SmtpCapabilities, startTls: boolean): string[] {
  const out: string[] = [];
  if (startTls) out.push('STARTTLS');
  if (c.pipelining) out.push('PIPELINING');
  if (c.size !== null) out.push(c.size > 0 ? `SIZE ${c.size}` : 'SIZE');
  if (c.eightBitMime) out.push('8BITMIME');
  if (c.smtpUtf8) out.push('SMTPUTF8');
  if (c.enhancedStatusCodes) out.push('ENHANCEDSTATUSCODES');
  if (c.chunking) out.push('CHUNKING');
  if (c.dsn) out.push('DSN');
  if (c.auth.length > 0) out.push(`AUTH ${c.auth.join(' ')}`);
  return out;
}
