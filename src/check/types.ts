/**
 * The check's vocabulary: the facts gathered from DNS and SMTP (plain data, so the verdicts can be
 * worked out and tested without a network), the probe the gathering goes through, and the rows of
 * the report.
 */
import type { SmtpReply } from '../core/smtp-reply.ts';
import type { MxPlan } from '../dns/mx.ts';

export type Verdict = 'ok' | 'warn' | 'fail';

/** Stable names of the rows, for scripts and tests. */
export type CheckId =
  | 'mx.records'
  | 'mx.group'
  | 'mx.host'
  | 'smtp.connect'
  | 'smtp.tls'
  | 'smtp.ptr'
  | 'backup.rcpt'
  | 'spf'
  | 'dmarc';

export interface CheckRow {
  check: CheckId;
  /** The heading the row is shown under: "MX", "smtp1.example.com [192.0.2.1]:25", "SPF and DMARC". */
  section: string;
  /** What the row is about: the domain, "preference 10", a host, an address. */
  subject: string;
  verdict: Verdict;
  /** What was found, in one line. */
  finding: string;
  /** What to change; null when nothing needs to. */
  fix: string | null;
}

export interface CheckReport {
  domain: string;
  port: number;
  /** The worst verdict of all rows. */
  verdict: Verdict;
  rows: CheckRow[];
}

/** TXT records at a name, each one's strings joined. */
export type TxtFacts = { kind: 'records'; texts: string[] } | { kind: 'none' } | { kind: 'temporary'; reason: string };

/** What the address's PTR records say, and whether each name points back at the address. */
export type PtrFacts =
  | { kind: 'none' }
  | { kind: 'temporary'; reason: string }
  | { kind: 'names'; names: Array<{ name: string; addresses: string[]; problem: string | null }> };

export interface CertificateInfo {
  /** DNS names of subjectAltName, else the subject's CN. */
  names: string[];
  issuer: string;
  validFrom: string;
  validTo: string;
  selfSigned: boolean;
  /** Verified against Node's CA store. */
  trusted: boolean;
  /** Why not trusted (an OpenSSL code such as DEPTH_ZERO_SELF_SIGNED_CERT), or null. */
  trustError: string | null;
  /** The certificate covers the MX host name (RFC 6125 rules, as tls.checkServerIdentity applies them). */
  nameMatches: boolean;
  /** TLS version, e.g. TLSv1.3. */
  protocol: string | null;
  handshakeMs: number;
}

export type CertificateFacts = { kind: 'certificate'; certificate: CertificateInfo } | { kind: 'failed'; reason: string };

export interface SmtpProbeRequest {
  /** The MX host name: SNI, and the name the certificate should cover. */
  host: string;
  address: string;
  port: number;
  /** Our name for EHLO. */
  helo: string;
  /** For each step: connect, greeting, EHLO, STARTTLS, each reply. */
  timeoutMs: number;
  /** Ask RCPT for this made-up recipient with MAIL FROM:<> (never DATA); null: do not. */
  rcpt: string | null;
}

export type RcptFacts = { kind: 'reply'; recipient: string; reply: SmtpReply; ms: number } | { kind: 'error'; recipient: string; reason: string };

export type SmtpProbeResult =
  | {
      kind: 'failed';
      /** Where it broke: connect, greeting, ehlo, helo, starttls, tls. */
      stage: string;
      reason: string;
      /** The server's reply that refused us, when there was one. */
      reply: SmtpReply | null;
      ms: number;
    }
  | {
      kind: 'open';
      greeting: SmtpReply;
      /** It answered EHLO (false: only HELO). */
      esmtp: boolean;
      /** EHLO keywords as offered (after STARTTLS when TLS was used). */
      extensions: string[];
      startTlsOffered: boolean;
      tls: boolean;
      /** Why TLS was not used although offered, or null. */
      tlsFailure: string | null;
      /** Connect, greeting, EHLO and STARTTLS with its handshake, together. */
      openMs: number;
      /** Null when STARTTLS was not offered. */
      certificate: CertificateFacts | null;
      rcpt: RcptFacts | null;
    };

/** How the check talks SMTP; tests may give a fake. */
export interface SmtpProber {
  probe(request: SmtpProbeRequest): Promise<SmtpProbeResult>;
}

export interface AddressFacts {
  address: string;
  ptr: PtrFacts;
  smtp: SmtpProbeResult;
}

export interface HostFacts {
  host: string;
  preference: number;
  /** Less preferred than the most preferred hosts: a backup MX. */
  backup: boolean;
  addresses: AddressFacts[];
}

export interface CheckFacts {
  domain: string;
  port: number;
  plan: MxPlan;
  /** The plan's targets, by preference then name, with what was found at each address. */
  hosts: HostFacts[];
  spf: TxtFacts;
  dmarc: TxtFacts;
}
