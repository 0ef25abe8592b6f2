/**
 * One mail transaction on an open connection: MAIL, a RCPT per recipient, then the message by DATA
 * or BDAT, and a reply for each recipient at the end. With PIPELINING (RFC 2920) MAIL, every RCPT
 * and DATA go out in one write and the replies are read in order; without it each command waits
 * for its reply. A reply of 421 means the server is closing: whatever was not yet answered takes
 * that reply, and the connection is not used again.
 *
 * What the server refuses is a result, not an error: a refused recipient, a refused MAIL or DATA.
 * Only a broken conversation (timeout, closed connection, garbled reply) rejects, and then nothing
 * is known about the message: the caller retries it (delivery is at-least-once).
 */
import { isAscii as bufferIsAscii } from 'node:buffer';
import type { SmtpReply } from '../../core/smtp-reply.ts';
import { reply } from '../../core/smtp-reply.ts';
import { canonicalLineEnds, dotStuff } from '../proto/dot-stuff.ts';
import type { SmtpCapabilities } from '../proto/reply.ts';
import type { ReplyChannel } from './channel.ts';
import { isAscii, mailCommand, rcptCommand, unsafeAddress } from './params.ts';
import type { ClientStage, ClientTimeouts, OutboundMessage, RecipientResult, TransactionResult } from './types.ts';

export interface TransactionContext {
  channel: ReplyChannel;
  capabilities: SmtpCapabilities;
  timeouts: ClientTimeouts;
  lmtp: boolean;
  bdatChunkSize: number;
}

export interface TransactionOutcome {
  result: TransactionResult;
  /** The server's transaction state is empty again (a message was answered, or nothing was begun). */
  clean: boolean;
  /** The server said 421: it is closing the connection. */
  closing: boolean;
  /** Bytes of message data written. */
  bytes: number;
  bareLineFeeds: number;
}

const isPositive = (r: SmtpReply): boolean => r.code >= 200 && r.code < 300;

/** Reads replies in order, standing in the 421 for everything after it (the server has gone). */
class Replies {
  readonly #ctx: TransactionContext;
  closing: SmtpReply | null = null;

  constructor(ctx: TransactionContext) {
    this.#ctx = ctx;
  }

  async next(stage: ClientStage, timeoutMs: number): Promise<SmtpReply> {
    if (this.closing !== null) return this.closing;
    const r = await this.#ctx.channel.read(stage, timeoutMs);
    if (r.code === 421) this.closing = r;
    return r;
  }
}

export async function runTransaction(ctx: TransactionContext, message: OutboundMessage): Promise<TransactionOutcome> {
  const caps = ctx.capabilities;
  const local = (r: SmtpReply): TransactionOutcome => ({
    result: { recipients: message.recipients.map((x) => ({ address: x.address, reply: r, stage: 'mail' })), transactionReply: r, stage: 'mail', local: true },
    clean: true,
    closing: false,
    bytes: 0,
    bareLineFeeds: 0,
  });

  if (unsafeAddress(message.sender)) return local(reply(553, '5.1.7', 'sender address contains characters that cannot be sent'));
  const utf8 = message.smtpUtf8 === true || !isAscii(message.sender) || message.recipients.some((r) => !isAscii(r.address));
  // RFC 6531 §3.2: a message that needs SMTPUTF8 cannot go to a server that lacks it.
  if (utf8 && !caps.smtpUtf8) return local(reply(550, '5.6.7', 'the message needs SMTPUTF8 and the server does not offer it'));
  const prepared = caps.chunking ? canonicalLineEnds(message.data) : dotStuff(message.data);
  // RFC 1870 §6.1: a message over the advertised fixed limit would be refused for good; do not send it.
  if (caps.size !== null && caps.size > 0 && prepared.messageSize > caps.size) {
    return local(reply(552, '5.3.4', `message size ${prepared.messageSize} exceeds the server's limit of ${caps.size}`));
  }
  const eightBit = message.eightBit ?? !bufferIsAscii(message.data);

  // Recipients we cannot write are refused here, and never sent.
  const results: Array<RecipientResult | null> = message.recipients.map((r) =>
    unsafeAddress(r.address) ? { address: r.address, reply: reply(553, '5.1.3', 'recipient address contains characters that cannot be sent'), stage: 'rcpt' } : null,
  );
  const toSend = message.recipients.filter((_, i) => results[i] === null);
  if (toSend.length === 0) return { result: { recipients: results.filter((r) => r !== null) }, clean: true, closing: false, bytes: 0, bareLineFeeds: 0 };

  const replies = new Replies(ctx);
  const t = ctx.timeouts;
  const mail = mailCommand(message, caps, { size: prepared.messageSize, eightBit, smtpUtf8: utf8 });
  const rcpts = toSend.map((r) => rcptCommand(r, caps));
  const useData = !caps.chunking;

  // The envelope: pipelined (with DATA when that is how the message goes) or step by step.
  let mailReply: SmtpReply;
  const rcptReplies: SmtpReply[] = [];
  let dataReply: SmtpReply | null = null;
  if (caps.pipelining) {
    ctx.channel.writeCommands('mail', mail + rcpts.join('') + (useData ? 'DATA\r\n' : ''));
    mailReply = await replies.next('mail', t.mail);
    for (let i = 0; i < rcpts.length; i++) rcptReplies.push(await replies.next('rcpt', t.rcpt));
    if (useData) dataReply = await replies.next('data', t.data);
  } else {
    ctx.channel.writeCommands('mail', mail);
    mailReply = await replies.next('mail', t.mail);
    if (isPositive(mailReply)) {
      for (const line of rcpts) {
        if (replies.closing === null) ctx.channel.writeCommands('rcpt', line);
        rcptReplies.push(await replies.next('rcpt', t.rcpt));
      }
    }
  }

  // The RCPT replies, in order, for the recipients that were sent.
  const accepted: number[] = [];
  if (isPositive(mailReply)) {
    let k = 0;
    for (let i = 0; i < results.length; i++) {
      if (results[i] !== null) continue;
      const r = rcptReplies[k++] ?? mailReply;
      if (isPositive(r)) accepted.push(i);
      else results[i] = { address: addressAt(message, i), reply: r, stage: 'rcpt' };
    }
  }

  /** Every recipient not yet decided takes `fill`; `failed` is the transaction's failure, if any. */
  const finish = (fill: SmtpReply, failed: { reply: SmtpReply; stage: ClientStage } | null, clean: boolean, bytes = 0): TransactionOutcome => {
    const stage = failed?.stage === 'mail' ? ('mail' as const) : ('data' as const);
    const result: TransactionResult = { recipients: results.map((r, i) => r ?? { address: addressAt(message, i), reply: fill, stage }) };
    if (failed !== null) {
      result.transactionReply = failed.reply;
      result.stage = failed.stage;
    }
    return { result, clean, closing: replies.closing !== null, bytes, bareLineFeeds: prepared.bareLineFeeds };
  };

  if (!isPositive(mailReply) || accepted.length === 0) {
    // RFC 2920 §3.1: DATA was sent in the same group and the server said 354 anyway: it now reads
    // a message, so end it at once with an empty one (the server must refuse it: no recipients).
    if (dataReply !== null && dataReply.code === 354) {
      ctx.channel.writeCommands('end-of-data', '.\r\n');
      await replies.next('end-of-data', t.endOfData);
    }
    if (!isPositive(mailReply)) return finish(mailReply, { reply: mailReply, stage: 'mail' }, false);
    return finish(mailReply, null, false);
  }

  if (useData) {
    if (dataReply === null) {
      ctx.channel.writeCommands('data', 'DATA\r\n');
      dataReply = await replies.next('data', t.data);
    }
    if (dataReply.code !== 354) return finish(dataReply, { reply: dataReply, stage: 'data' }, false);
    await ctx.channel.writeData('data', prepared.data, t.dataBlock);
    return endOfMessage('end-of-data', prepared.data.length);
  }

  // RFC 3030: BDAT chunks, the last one marked LAST; an empty message is "BDAT 0 LAST".
  const data = prepared.data;
  const size = Math.max(1, ctx.bdatChunkSize);
  for (let at = 0; ; at += size) {
    const chunk = data.subarray(at, at + size);
    const last = at + size >= data.length;
    ctx.channel.writeCommands('bdat', `BDAT ${chunk.length}${last ? ' LAST' : ''}\r\n`);
    await ctx.channel.writeData('bdat', chunk, t.dataBlock);
    if (last) return endOfMessage('bdat', data.length);
    const r = await replies.next('bdat', t.data);
    // RFC 3030 §2: after a refused chunk, send no more of them; the transaction has failed.
    if (!isPositive(r)) return finish(r, { reply: r, stage: 'bdat' }, false, at + chunk.length);
  }

  /** The reply after the last byte: one for the transaction, or in LMTP one per accepted recipient (RFC 2033 §4.2). */
  async function endOfMessage(stage: 'end-of-data' | 'bdat', bytes: number): Promise<TransactionOutcome> {
    if (!ctx.lmtp) {
      const r = await replies.next(stage, t.endOfData);
      return finish(r, isPositive(r) ? null : { reply: r, stage }, true, bytes);
    }
    for (const i of accepted) {
      results[i] = { address: addressAt(message, i), reply: await replies.next(stage, t.endOfData), stage: 'data' };
    }
    return finish(reply(554, '5.0.0', 'no reply'), null, true, bytes);
  }
}

function addressAt(message: OutboundMessage, i: number): string {
  return message.recipients[i]?.address ?? '';
}
