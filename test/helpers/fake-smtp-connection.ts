/**
 * An outbound SMTP connection with no socket behind it, for tests of what hands connections out
 * (the connection pool, cluster limits, the MX walk): open until closed, and `send` only when the
 * test gives one.
 */
import type { SmtpConnection } from '../../src/smtp/client/index.ts';

export type FakeSmtpConnection = SmtpConnection & { closed: boolean };

export function fakeSmtpConnection(options: { send?: SmtpConnection['send']; onClose?: () => void } = {}): FakeSmtpConnection {
  const c: FakeSmtpConnection = {
    closed: false,
    capabilities: {} as SmtpConnection['capabilities'],
    tls: false,
    tlsFailure: null,
    greeting: { code: 220, enhanced: null, lines: ['hi'] },
    esmtp: true,
    get open() {
      return !c.closed;
    },
    send: options.send ?? (() => Promise.reject(new Error('unused'))),
    verify: () => Promise.reject(new Error('unused')),
    close: async () => {
      if (!c.closed) options.onClose?.();
      c.closed = true;
    },
  };
  return c;
}
