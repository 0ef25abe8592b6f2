/**
 * TLS material as the servers see it: a source that always has the current key and certificate,
 * so a SIGHUP that reloads them reaches every listener without a restart. Servers build a
 * SecureContext from `current()` (cache it by object identity: a reload gives a new object).
 */

export interface TlsMaterial {
  /** PEM. */
  key: string;
  /** PEM: the certificate, then its chain. */
  cert: string;
}

export interface TlsSource {
  current(): TlsMaterial;
}

/** A source that never changes: tests, and servers given fixed material. */
export function fixedTlsSource(material: TlsMaterial): TlsSource {
  return { current: () => material };
}
