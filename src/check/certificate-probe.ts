/**
 * The MX host's certificate. The SMTP client does not show the peer certificate (opportunistic TLS
 * never looks at it), so this is a conversation of its own: greeting, EHLO, STARTTLS (RFC 3207),
 * the handshake with verification off (we want to see the certificate, not refuse it), then what
 * the certificate says: its names, issuer, dates, whether Node's CA store trusts it and whether it
 * covers the MX host name. Every step waits at most `timeoutMs`; the probe never rejects.
 */
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { errorText } from '../core/errors.ts';
import { assertDestinationAllowed } from '../core/loopback.ts';
import type { SmtpReply } from '../core/smtp-reply.ts';
import { replyText } from '../core/smtp-reply.ts';
import { parseEhloCapabilities, parseReply } from '../smtp/proto/reply.ts';
import type { CertificateFacts, CertificateInfo } from './types.ts';

export interface CertificateProbeOptions {
  address: string;
  port: number;
  /** The MX host name: SNI, and the name the certificate should cover. */
  host: string;
  helo: string;
  timeoutMs: number;
}

/** OpenSSL's verdicts that mean "signed by itself". */
const SELF_SIGNED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);

export async function probeCertificate(options: CertificateProbeOptions): Promise<CertificateFacts> {
  let socket: Socket | null = null;
  try {
    assertDestinationAllowed(options.address, 'SMTP connection to');
    socket = await connectTcp(options.address, options.port, options.timeoutMs);
    const replies = new ReplyReader(socket);
    const greeting = await replies.next(options.timeoutMs, 'greeting');
    if (greeting.code !== 220) return failed(`greeting ${replyText(greeting)}`);
    socket.write(`EHLO ${options.helo}\r\n`);
    const ehlo = await replies.next(options.timeoutMs, 'EHLO');
    if (ehlo.code !== 250) return failed(`EHLO ${replyText(ehlo)}`);
    if (!parseEhloCapabilities(ehlo).startTls) return failed('STARTTLS not offered');
    socket.write('STARTTLS\r\n');
    const go = await replies.next(options.timeoutMs, 'STARTTLS');
    if (go.code !== 220) return failed(`STARTTLS ${replyText(go)}`);
    // RFC 3207 §5: anything sent after the 220 and before the handshake is an injection attempt.
    if (!replies.detach()) return failed('the server sent data after its 220 to STARTTLS, before the handshake');
    const started = performance.now();
    const secure = await handshake(socket, isIP(options.host) === 0 ? options.host : undefined, options.timeoutMs);
    socket = secure;
    const handshakeMs = Math.round(performance.now() - started);
    const info = describe(secure, options.host, handshakeMs);
    secure.end('QUIT\r\n');
    return info === null ? failed('the server sent no certificate') : { kind: 'certificate', certificate: info };
  } catch (err) {
    return failed(errorText(err));
  } finally {
    const s = socket;
    // Give the QUIT a moment to leave, then make sure nothing lingers.
    if (s !== null) setTimeout(() => s.destroy(), 200).unref();
  }
}

function failed(reason: string): CertificateFacts {
  return { kind: 'failed', reason };
}

function describe(secure: TLSSocket, host: string, handshakeMs: number): CertificateInfo | null {
  const cert: PeerCertificate = secure.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return null;
  const trustError = secure.authorizationError === null || secure.authorizationError === undefined ? null : String(secure.authorizationError);
  const altNames = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const cn = cert.subject?.CN;
  const names = altNames.length > 0 ? altNames : typeof cn === 'string' ? [cn] : [];
  const issuer = typeof cert.issuer?.CN === 'string' ? cert.issuer.CN : typeof cert.issuer?.O === 'string' ? cert.issuer.O : 'unknown';
  return {
    names,
    issuer,
    validFrom: new Date(cert.valid_from).toISOString(),
    validTo: new Date(cert.valid_to).toISOString(),
    // OpenSSL names only its first complaint (an expired self-signed certificate says "expired"), so
    // look for ourselves too: a certificate that is its own issuer.
    selfSigned: (trustError !== null && SELF_SIGNED.has(trustError)) || signedByItself(cert.raw),
    trusted: secure.authorized,
    trustError,
    // RFC 6125 as Node applies it: undefined means the name is covered.
    nameMatches: checkServerIdentity(host, cert) === undefined,
    protocol: secure.getProtocol(),
    handshakeMs,
  };
}

function signedByItself(raw: Buffer): boolean {
  try {
    const x = new X509Certificate(raw);
    // Not checkIssued: it also wants a CA key usage, which leaf certificates signed by themselves lack.
    return x.subject === x.issuer && x.verify(x.publicKey);
  } catch {
    return false;
  }
}

function connectTcp(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.on('error', () => {});
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`cannot connect: ${err.message}`));
    };
    socket.once('error', onError);
  });
}

function handshake(socket: Socket, servername: string | undefined, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ socket, servername, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new Error(`TLS handshake not done within ${timeoutMs} ms`));
    }, timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.on('error', () => {});
      resolve(secure);
    });
    secure.once('error', (err) => {
      clearTimeout(timer);
      secure.destroy();
      reject(new Error(`TLS handshake failed: ${err.message}`));
    });
  });
}

/** Replies off a plain socket, one at a time, parsed by the SMTP client's own parser. */
class ReplyReader {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  #closed = false;
  readonly #onData = (chunk: Buffer): void => {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    this.#wake?.();
  };
  readonly #onClose = (): void => {
    this.#closed = true;
    this.#wake?.();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
  }

  async next(timeoutMs: number, what: string): Promise<SmtpReply> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const got = parseReply(this.#buffer);
      if (got.kind === 'reply') {
        this.#buffer = this.#buffer.subarray(got.consumed);
        return got.reply;
      }
      if (got.kind === 'error') throw new Error(`bad reply to ${what}: ${got.detail}`);
      if (this.#closed) throw new Error(`connection closed before the reply to ${what}`);
      const left = until - performance.now();
      if (left <= 0) throw new Error(`no reply to ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** Hands the socket over (to TLS): nothing more is read here. False when unread bytes remain. */
  detach(): boolean {
    this.#socket.off('data', this.#onData);
    this.#socket.off('close', this.#onClose);
    return this.#buffer.length === 0;
  }
}
