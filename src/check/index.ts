/**
 * The domain health check: what a newcomer runs to learn whether mail for a domain can arrive, and
 * safely. It reads the domain's MX records the way a sender would (preference groups, null MX, the
 * implicit MX, aliases and bare addresses where host names belong), talks to every address of every
 * MX host (greeting, EHLO, STARTTLS and the certificate, reverse DNS against the greeting), asks
 * each backup MX whether it would take mail for a recipient nobody has (a backup that says yes
 * becomes a backscatter source and the spammers' way round the primaries' checks), and reads the
 * SPF and DMARC records. Each finding gets a verdict (ok, warn, fail) and, unless ok, what to
 * change.
 *
 * The network is behind two injected parts, a resolver and an SMTP prober: `gatherFacts` collects
 * plain facts through them, and `judge` turns facts into rows without any I/O.
 */
export { probeCertificate, type CertificateProbeOptions } from './certificate-probe.ts';
export { assessDmarc, isDmarcRecord, type DmarcAssessment, type DmarcFinding, type DmarcPolicy } from './dmarc.ts';
export { checkDomain, gatherFacts, reverseName, type CheckOptions } from './gather.ts';
export { judge, worst, type JudgeOptions } from './judge.ts';
export { formatReport, reportJson } from './render.ts';
export { createSmtpProber, probeSmtp } from './smtp-probe.ts';
export { assessSpf, isSpfRecord, type SpfAssessment, type SpfFinding, type SpfQualifier, type SpfTerm } from './spf.ts';
export type {
  AddressFacts,
  CertificateFacts,
  CertificateInfo,
  CheckFacts,
  CheckId,
  CheckReport,
  CheckRow,
  HostFacts,
  PtrFacts,
  RcptFacts,
  SmtpProbeRequest,
  SmtpProbeResult,
  SmtpProber,
  TxtFacts,
  Verdict,
} from './types.ts';
