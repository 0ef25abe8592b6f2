/**
 * A message, to a mail server, is a header section and a body separated by the first empty line
 * (RFC 5322). The server reads little of it: it counts the `Received:` fields each hop puts on top
 * (too many is a loop), adds its own trace fields in front (`Received:`, and at final delivery
 * `Return-Path:` and `Delivered-To:`), notices 8-bit bytes that a next hop must agree to carry, and
 * otherwise passes the bytes on untouched. When mail cannot be delivered, or is late, it writes a
 * message of its own back to the sender: a delivery status notification (RFC 3464), which carries
 * a report programs can read and the original message or its header.
 *
 * Everything here is pure: bytes and values in, bytes and values out; nothing throws on odd input.
 */
export {
  countReceived,
  foldHeaderField,
  has8bit,
  headerValue,
  headerValues,
  parseHeaderFields,
  prependHeaderFields,
  sameFieldName,
  splitMessage,
  unfoldHeader,
  type FoldOptions,
  type HeaderField,
  type SplitMessage,
} from './headers.ts';
export { formatRfc5322Date, receivedHeader, receivedProtocol, ReceivedProtocols, type ReceivedOptions, type ReceivedProtocol } from './received.ts';
export {
  createQueueIdGenerator,
  isQueueId,
  newMessageId,
  newQueueId,
  queueIdTime,
  type MessageIdOptions,
  type QueueIdOptions,
  type RandomBytes,
} from './message-id.ts';
export {
  buildDsn,
  decodeXtext,
  dsnKind,
  DsnActions,
  encodeXtext,
  isNullSender,
  mayNotifySender,
  notifyEventFor,
  shouldNotify,
  type DsnAction,
  type DsnEnvelope,
  type DsnKind,
  type DsnOptions,
  type DsnRecipient,
  type NotifyEvent,
} from './dsn.ts';
