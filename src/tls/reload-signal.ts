/**
 * SIGHUP reloads the certificate, as administrators expect of a daemon after renewing it (certbot's
 * deploy hook, for one). Only the composition root calls this; nothing here runs at import.
 */
import type { Logger } from '../core/logger.ts';
import type { ReloadableTlsSource } from './source.ts';

/** Reloads `source` on each `signal`; returns the function that stops listening. */
export function reloadOnSignal(source: ReloadableTlsSource, logger: Logger, signal: NodeJS.Signals = 'SIGHUP'): () => void {
  const onSignal = (): void => {
    void source.reload().then((r) => {
      if (r.ok) logger.info({ event: 'tls.reloaded', fingerprint: r.fingerprint, signal }, 'TLS certificate reloaded');
      else logger.error({ event: 'tls.reload_failed', error: r.error, signal }, 'TLS reload failed: still serving the previous certificate');
    });
  };
  process.on(signal, onSignal);
  return () => {
    process.off(signal, onSignal);
  };
}
