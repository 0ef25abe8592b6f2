/**
 * From a TlsSource to what node:tls needs. A SecureContext costs a key parse, so each listener keeps
 * one per material object and builds a new one only when a reload hands out a new object.
 */
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { TlsMaterial, TlsSource } from './types.ts';

/** A function that returns the SecureContext for the source's current material, cached by identity. */
export function secureContextFor(source: TlsSource): () => SecureContext {
  let material: TlsMaterial | null = null;
  let context: SecureContext | null = null;
  return () => {
    const now = source.current();
    if (context === null || now !== material) {
      context = createSecureContext({ key: now.key, cert: now.cert });
      material = now;
    }
    return context;
  };
}

/** Whether `value` is a TlsSource rather than fixed material. */
export function isTlsSource(value: TlsSource | TlsMaterial): value is TlsSource {
  return typeof (value as Partial<TlsSource>).current === 'function';
}
