/**
 * Moved to `src/tls/self-signed.ts`, where every listener (SMTP, submission, IMAP, POP3) finds it;
 * this re-export keeps existing importers working until they import from `src/tls/` directly.
 */
export { certificatePaths, ensureSelfSignedCertificate, type SelfSignedCertificate } from '../../tls/self-signed.ts';
