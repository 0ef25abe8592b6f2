/**
 * TLS for every listener. Mail clients and servers alike expect encryption: between MTAs it is
 * opportunistic (RFC 3207, RFC 7435), so a self-signed certificate still keeps mail off the wire in
 * clear text; users' clients (submission, IMAP, POP3) want a certificate they can trust, and get the
 * administrator's `[tls] cert` and `key`, reloaded on SIGHUP without a restart. Plain listeners offer
 * STARTTLS or STLS; implicit-TLS ones (RFC 8314: 465, 993, 995) speak TLS from the first byte. All of
 * them read the current certificate through one `TlsSource`, so a reload reaches every listener.
 */
export { fixedTlsSource, type TlsMaterial, type TlsSource } from './types.ts';
export { createTlsSource, type ReloadableTlsSource, type TlsReloadResult, type TlsSourceOptions } from './source.ts';
export { isTlsSource, secureContextFor } from './context.ts';
export { reloadOnSignal } from './reload-signal.ts';
export { certificatePaths, ensureSelfSignedCertificate, type SelfSignedCertificate } from './self-signed.ts';
