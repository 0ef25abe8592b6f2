/**
 * Why a connection could not carry mail. The MX walk reads `temporary` to decide whether to try the
 * next address (connection refused, a timeout, a 4xx greeting, TLS that was required and failed)
 * and the stable `code` to count and log failures by kind; tests assert on the code.
 */
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { replyText } from '../../core/smtp-reply.ts';
import type { ClientStage } from './types.ts';

export const SmtpClientErrorCode = {
  /** The TCP connection could not be made (refused, unreachable, reset). */
  Connect: 'POSTERN_SMTP_CONNECT',
  /** Nothing (or not enough) came back in time. */
  Timeout: 'POSTERN_SMTP_TIMEOUT',
  /** The server refused us with a reply: greeting, EHLO/HELO, STARTTLS, RSET. */
  Refused: 'POSTERN_SMTP_REFUSED',
  /** TLS could not be set up when it was required. */
  Tls: 'POSTERN_SMTP_TLS',
  /** The server sent something that is not an SMTP reply. */
  Protocol: 'POSTERN_SMTP_PROTOCOL',
  /** The connection closed under us, or was used after close(). */
  Closed: 'POSTERN_SMTP_CLOSED',
} as const;

export type SmtpClientErrorCode = (typeof SmtpClientErrorCode)[keyof typeof SmtpClientErrorCode];

export class SmtpClientError extends Error {
  readonly code: SmtpClientErrorCode;
  readonly stage: ClientStage;
  /** Worth trying again later or elsewhere; false only when the server refused us with a 5xx. */
  readonly temporary: boolean;
  readonly reply: SmtpReply | undefined;

  constructor(options: {
    code: SmtpClientErrorCode;
    stage: ClientStage;
    message: string;
    temporary?: boolean;
    reply?: SmtpReply;
    cause?: unknown;
  }) {
    const text = options.reply === undefined ? options.message : `${options.message}: ${replyText(options.reply)}`;
    super(text, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SmtpClientError';
    this.code = options.code;
    this.stage = options.stage;
    this.reply = options.reply;
    this.temporary = options.temporary ?? (options.reply === undefined || options.reply.code < 500);
  }
}

export function isSmtpClientError(err: unknown, code?: SmtpClientErrorCode): err is SmtpClientError {
  return err instanceof SmtpClientError && (code === undefined || err.code === code);
}
