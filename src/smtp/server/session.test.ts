import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLogger } from '../../core/logger.ts';
import { reply, SmtpReplyError } from '../../core/smtp-reply.ts';
import { recordingHooks, transcript } from '../../../test/helpers/smtp-transcript.ts';
import type { Transcript } from '../../../test/helpers/smtp-transcript.ts';

const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

async function ready(options: Parameters<typeof transcript>[0] = {}): Promise<Transcript> {
  const s = await transcript(options);
  await s.send(options.mode === 'lmtp' ? 'LHLO client.test' : 'EHLO client.test', '250');
  return s;
}

async function sendMessage(s: Transcript, body: string, expect = '250 2.0.0'): Promise<string> {
  await s.send('MAIL FROM:<alice@sender.test>', '250 2.1.0');
  await s.send('RCPT TO:<bob@mx.test>', '250 2.1.5');
  await s.send('DATA', '354');
  return s.send(`${body}\r\n.`, expect);
}

describe('SMTP session: greeting and EHLO', () => {
  it('greets with 220 hostname ESMTP Postern', async () => {
    const s = await transcript({ hostname: 'mx1.example.test' });
    assert.equal(s.output, '220 mx1.example.test ESMTP Postern\r\n');
  });

  it('advertises the extensions in EHLO, without STARTTLS when no TLS is configured', async () => {
    const s = await transcript({ limits: { maxMessageSize: 1234 } });
    const r = await s.send('EHLO client.test', '250-mx.test');
    assert.equal(
      r,
      '250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1234\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 DSN\r\n',
    );
  });

  it('advertises STARTTLS when TLS is configured', async () => {
    const s = await transcript({ tlsAvailable: true });
    const r = await s.send('EHLO client.test', '250-');
    assert.match(r, /250-STARTTLS\r\n/);
  });

  it('answers HELO with a plain 250 and no extensions', async () => {
    const s = await transcript();
    assert.equal(await s.send('HELO client.test'), '250 mx.test\r\n');
  });

  it('refuses ESMTP parameters after HELO with 555 5.5.4', async () => {
    const s = await transcript();
    await s.send('HELO client.test', '250');
    await s.send('MAIL FROM:<a@b.test> SIZE=10', '555 5.5.4');
    await s.send('MAIL FROM:<a@b.test>', '250 2.1.0');
  });

  it('refuses EHLO without a name with 501 5.5.4', async () => {
    const s = await transcript();
    await s.send('EHLO', '501 5.5.4');
  });
});

describe('SMTP session: command order (503 5.5.1)', () => {
  it('refuses MAIL before EHLO or HELO', async () => {
    const s = await transcript();
    await s.send('MAIL FROM:<a@b.test>', '503 5.5.1');
  });

  it('refuses RCPT before MAIL', async () => {
    const s = await ready();
    await s.send('RCPT TO:<bob@mx.test>', '503 5.5.1');
  });

  it('refuses DATA before RCPT', async () => {
    const s = await ready();
    await s.send('DATA', '503 5.5.1');
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('DATA', '503 5.5.1');
  });

  it('refuses a nested MAIL', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('MAIL FROM:<c@d.test>', '503 5.5.1');
  });

  it('answers DATA with 554 5.5.1 when every recipient was refused', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<unknown1@mx.test>', '550 5.1.1');
    await s.send('DATA', '554 5.5.1');
  });

  it('clears the transaction on RSET', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RSET', '250 2.0.0');
    await s.send('RCPT TO:<bob@mx.test>', '503 5.5.1');
    await s.send('MAIL FROM:<a@b.test>', '250');
  });

  it('clears the transaction on a new EHLO', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('EHLO again.test', '250');
    await s.send('RCPT TO:<bob@mx.test>', '503 5.5.1');
  });
});

describe('SMTP session: other commands', () => {
  it('answers VRFY with 252 2.5.2 and never reveals an account', async () => {
    const s = await ready();
    await s.send('VRFY bob', '252 2.5.2');
    await s.send('VRFY unknown', '252 2.5.2');
  });

  it('answers HELP with 214 and NOOP with 250', async () => {
    const s = await transcript();
    await s.send('HELP', '214');
    await s.send('NOOP', '250 2.0.0');
  });

  it('answers QUIT with 221 and closes', async () => {
    const s = await ready();
    await s.send('QUIT', '221 2.0.0');
    await s.waitClosed();
  });

  it('answers AUTH with 502 5.5.1 and never logs the credentials', async () => {
    const logger = memoryLogger();
    const s = await ready({ logger });
    await s.send('AUTH PLAIN AGFsaWNlAHNlY3JldA==', '502 5.5.1');
    assert.ok(!JSON.stringify(logger.entries).includes('AGFsaWNlAHNlY3JldA'));
    assert.ok(logger.entries.some((e) => JSON.stringify(e.obj).includes('AUTH PLAIN ***')));
  });

  it('answers an unknown command with 500 5.5.2', async () => {
    const s = await transcript();
    await s.send('EXPN staff', '500 5.5.2');
  });

  it('closes with 421 4.7.0 after maxErrors protocol errors', async () => {
    const s = await transcript({ limits: { maxErrors: 3 } });
    await s.send('FOO', '500 5.5.2');
    await s.send('BAR', '500 5.5.2');
    assert.equal(await s.send('BAZ', '500 5.5.2'), '500 5.5.2 command not recognised\r\n');
    await s.reply('421 4.7.0');
    await s.waitClosed();
  });

  it('does not count refused recipients as protocol errors', async () => {
    const s = await ready({ limits: { maxErrors: 2 } });
    await s.send('MAIL FROM:<a@b.test>', '250');
    for (let i = 0; i < 5; i++) await s.send(`RCPT TO:<unknown${i}@mx.test>`, '550 5.1.1');
    await s.send('NOOP', '250');
  });

  it('answers a line that is too long with 500 5.5.6 and stays in step', async () => {
    const s = await ready({ limits: { maxLineLength: 100 } });
    await s.send(`NOOP ${'x'.repeat(200)}`, '500 5.5.6');
    await s.send('NOOP', '250');
  });

  it('refuses a command line ended by a bare LF', async () => {
    const s = await ready();
    s.write('NOOP\n');
    await s.reply('500 5.5.2');
  });
});

describe('SMTP session: recipients', () => {
  it('answers 452 4.5.3 past maxRecipients and still delivers to the accepted ones', async () => {
    const s = await ready({ limits: { maxRecipients: 2 } });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<r1@mx.test>', '250');
    await s.send('RCPT TO:<r2@mx.test>', '250');
    await s.send('RCPT TO:<r3@mx.test>', '452 4.5.3');
    await s.send('DATA', '354');
    await s.send('x\r\n.', '250');
    assert.deepEqual(s.delivered[0]?.message.transaction.recipients.map((r) => r.mailbox.local), ['r1', 'r2']);
  });

  it('passes the hook refusal on as the reply', async () => {
    const hooks = recordingHooks({
      async checkRecipient() {
        throw new SmtpReplyError(reply(451, '4.4.3', 'primary unreachable'));
      },
    });
    const s = await ready({ hooks });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<x@backup.test>', '451 4.4.3 primary unreachable');
  });

  it('answers 451 4.3.0 when a hook fails unexpectedly, and logs it', async () => {
    const logger = memoryLogger();
    const hooks = recordingHooks({
      async checkRecipient() {
        throw new Error('database on fire');
      },
    });
    const s = await ready({ hooks, logger });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<x@mx.test>', '451 4.3.0');
    assert.ok(logger.entries.some((e) => e.level === 'error' && JSON.stringify(e.obj).includes('database on fire')));
  });

  it('lets the sender hook refuse MAIL', async () => {
    const hooks = recordingHooks({
      async checkSender() {
        throw new SmtpReplyError(reply(550, '5.7.1', 'no'));
      },
    });
    const s = await ready({ hooks });
    await s.send('MAIL FROM:<a@b.test>', '550 5.7.1');
    await s.send('RCPT TO:<x@mx.test>', '503 5.5.1');
  });

  it('accepts a UTF-8 recipient only when MAIL carried SMTPUTF8', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<jöran@mx.test>', '553 5.6.7');
    await s.send('RSET', '250');
    await s.send('MAIL FROM:<a@b.test> SMTPUTF8', '250');
    await s.send('RCPT TO:<jöran@mx.test>', '250');
  });

  it('keeps the DSN parameters for the hooks', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test> RET=HDRS ENVID=abc+2B1', '250');
    await s.send('RCPT TO:<bob@mx.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob+40mx.test', '250');
    await s.send('DATA', '354');
    await s.send('x\r\n.', '250');
    const tx = s.delivered[0]?.message.transaction;
    assert.equal(tx?.mailParams.ret, 'HDRS');
    assert.equal(tx?.mailParams.envid, 'abc+1');
    assert.deepEqual(tx?.recipients[0]?.params, { notify: ['FAILURE', 'DELAY'], orcpt: { addrType: 'rfc822', address: 'bob@mx.test' } });
  });
});

describe('SMTP session: DATA', () => {
  it('delivers the message with our Received header prepended and answers 250 after deliver resolves', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const base = recordingHooks();
    const hooks = recordingHooks({
      async deliver(m, info) {
        await gate;
        return base.deliver(m, info);
      },
    });
    const s = await ready({ hooks, now: () => Date.UTC(2026, 10, 29, 12, 34, 56) });
    await s.send('MAIL FROM:<alice@sender.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    await s.send('DATA', '354');
    s.write('Subject: hi\r\n\r\n..dotted\r\n.\r\n');
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(!s.output.includes('queued as'), '250 must wait for the commit');
    release();
    await s.reply('250 2.0.0 queued as ID1');
    assert.equal(
      dec(base.delivered[0]?.message.data ?? new Uint8Array()),
      'Received: from client.test (unknown [127.0.0.9]) by mx.test with ESMTP id ID1\r\n' +
        ' for <bob@mx.test>; Sun, 29 Nov 2026 12:34:56 +0000\r\n' +
        'Subject: hi\r\n\r\n.dotted\r\n',
    );
    assert.equal(base.delivered[0]?.message.id, 'ID1');
    assert.equal(base.delivered[0]?.session.helo, 'client.test');
  });

  it('leaves out "for" when there are several recipients, and says SMTP after HELO', async () => {
    const s = await transcript();
    await s.send('HELO old.client', '250');
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<r1@mx.test>', '250');
    await s.send('RCPT TO:<r2@mx.test>', '250');
    await s.send('DATA', '354');
    await s.send('x\r\n.', '250');
    const text = dec(s.delivered[0]?.message.data ?? new Uint8Array());
    assert.match(text, /^Received: from old\.client \(unknown \[127\.0\.0\.9\]\) by mx\.test with SMTP id ID1;\r\n .+ \+0000\r\nx\r\n$/);
  });

  it('refuses a message with a bare LF with 550 5.6.0 after reading to the end, and delivers nothing', async () => {
    const s = await ready();
    await sendMessage(s, 'a\nb', '550 5.6.0');
    assert.equal(s.delivered.length, 0);
    await s.send('MAIL FROM:<a@b.test>', '250');
  });

  it('refuses a message over the size limit with 552 5.3.4', async () => {
    const s = await ready({ limits: { maxMessageSize: 10 } });
    await sendMessage(s, 'x'.repeat(50), '552 5.3.4');
    assert.equal(s.delivered.length, 0);
  });

  it('refuses MAIL with a SIZE over the limit with 552 5.3.4', async () => {
    const s = await ready({ limits: { maxMessageSize: 10 } });
    await s.send('MAIL FROM:<a@b.test> SIZE=11', '552 5.3.4');
    await s.send('MAIL FROM:<a@b.test> SIZE=10', '250');
  });

  it('refuses a message with more than 50 Received headers with 554 5.4.6, and accepts 50', async () => {
    const s = await ready();
    await sendMessage(s, 'Received: x\r\n'.repeat(51) + '\r\nbody', '554 5.4.6');
    await sendMessage(s, 'received : x\r\n'.repeat(50) + '\r\nbody', '250');
    await sendMessage(s, 'Subject: x\r\n\r\n' + 'Received: in the body\r\n'.repeat(60), '250');
    assert.equal(s.delivered.length, 2);
  });

  it('answers with the SmtpReplyError deliver throws', async () => {
    const hooks = recordingHooks({
      async deliver() {
        throw new SmtpReplyError(reply(452, '4.3.1', 'queue full'));
      },
    });
    const s = await ready({ hooks });
    await sendMessage(s, 'x', '452 4.3.1 queue full');
  });

  it('answers 451 4.3.0 and logs when deliver fails unexpectedly', async () => {
    const logger = memoryLogger();
    const hooks = recordingHooks({
      async deliver() {
        throw new Error('disk gone');
      },
    });
    const s = await ready({ hooks, logger });
    await sendMessage(s, 'x', '451 4.3.0');
    assert.ok(logger.entries.some((e) => e.level === 'error' && JSON.stringify(e.obj).includes('disk gone')));
    await s.send('MAIL FROM:<a@b.test>', '250');
  });

  it('reads what follows DATA as the message, never as commands', async () => {
    const s = await ready();
    const replies = await s.pipeline(['MAIL FROM:<a@b.test>', 'RCPT TO:<bob@mx.test>', 'DATA']);
    assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['250', '250', '354']);
    s.write('RSET\r\nQUIT\r\n.\r\nNOOP\r\n');
    await s.reply('250 2.0.0 queued');
    await s.reply('250 2.0.0');
    assert.match(dec(s.delivered[0]?.message.data ?? new Uint8Array()), /\+0000\r\nRSET\r\nQUIT\r\n$/);
  });

  it('refuses BODY=BINARYMIME, which is not offered', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test> BODY=BINARYMIME', '555 5.5.4');
  });
});

describe('SMTP session: pipelining (RFC 2920)', () => {
  it('answers a pipelined group in order, in one write', async () => {
    const s = await ready();
    const before = s.output.length;
    const replies = await s.pipeline(['MAIL FROM:<a@b.test>', 'RCPT TO:<unknown@mx.test>', 'RCPT TO:<bob@mx.test>', 'NOOP']);
    assert.deepEqual(replies.map((r) => r.slice(0, 9)), ['250 2.1.0', '550 5.1.1', '250 2.1.5', '250 2.0.0']);
    assert.equal(s.output.length - before, replies.join('').length);
  });
});

describe('SMTP session: BDAT (RFC 3030)', () => {
  it('joins chunks and delivers at LAST', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    s.write('BDAT 12\r\nSubject: ');
    await new Promise((r) => setTimeout(r, 10));
    assert.ok(!s.output.includes('octets'), 'no reply before the chunk is complete');
    s.write('x\r\nBDAT 3 LAST\r\n\r\nb');
    await s.reply('250 2.0.0 12 octets');
    await s.reply('250 2.0.0 queued');
    assert.match(dec(s.delivered[0]?.message.data ?? new Uint8Array()), /\+0000\r\nSubject: x\r\n\r\nb$/);
  });

  it('consumes and refuses a chunk sent without a transaction', async () => {
    const s = await ready();
    s.write('BDAT 6 LAST\r\nNOOP\r\n');
    await s.reply('503 5.5.1');
    await s.send('NOOP', '250');
    assert.equal(s.delivered.length, 0);
  });

  it('refuses DATA after BDAT in one transaction', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    s.write('BDAT 3\r\nab\n');
    await s.reply('550 5.6.0');
    s.write('BDAT 2 LAST\r\nxx');
    await s.reply('503 5.5.1');
  });

  it('refuses chunks past the size limit with 552 5.3.4', async () => {
    const s = await ready({ limits: { maxMessageSize: 5 } });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    s.write('BDAT 4\r\nab\r\n');
    await s.reply('250');
    s.write('BDAT 4 LAST\r\nab\r\n');
    await s.reply('552 5.3.4');
    assert.equal(s.delivered.length, 0);
  });

  it('refuses DATA after BDAT chunks', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    s.write('BDAT 2\r\nab');
    await s.reply('250');
    await s.send('DATA', '503 5.5.1');
  });
});

describe('SMTP session: STARTTLS (RFC 3207)', () => {
  it('answers 502 5.5.1 when TLS is not configured', async () => {
    const s = await ready();
    await s.send('STARTTLS', '502 5.5.1');
  });

  it('discards commands pipelined after STARTTLS and requires a new EHLO', async () => {
    const s = await ready({ tlsAvailable: true });
    s.write('STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@mx.test>\r\n');
    await s.reply('220 2.0.0');
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.tlsStarted, 1);
    await s.send('MAIL FROM:<a@b.test>', '503 5.5.1');
    const ehlo = await s.send('EHLO client.test', '250-');
    assert.ok(!ehlo.includes('STARTTLS'));
    await s.send('STARTTLS', '503 5.5.1');
    await sendMessage(s, 'x');
    assert.match(dec(s.delivered[0]?.message.data ?? new Uint8Array()), /with ESMTPS id/);
    assert.equal(s.delivered[0]?.session.tls, true);
  });

  it('closes the connection when the handshake fails', async () => {
    const s = await ready({ tlsAvailable: true, tlsFails: true });
    await s.send('STARTTLS', '220');
    await s.waitClosed();
  });
});

describe('SMTP session: timeouts', () => {
  it('closes an idle session with 421 4.4.2', async () => {
    const s = await transcript({ limits: { idleTimeoutMs: 30 } });
    await s.reply('421 4.4.2');
    await s.waitClosed();
  });

  it('closes a session whose DATA stalls with 421 4.4.2', async () => {
    const s = await ready({ limits: { dataTimeoutMs: 30, idleTimeoutMs: 10_000 } });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    await s.send('DATA', '354');
    s.write('partial');
    await s.reply('421 4.4.2');
    await s.waitClosed();
  });

  it('closes a client sending DATA below the minimum rate with 421 4.4.2', async () => {
    const s = await ready({ limits: { minDataRate: 1_000_000, minDataRateGraceMs: 40, dataTimeoutMs: 10_000 } });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    await s.send('DATA', '354');
    const timer = setInterval(() => s.write('x'), 5);
    try {
      await s.reply('421 4.4.2');
      await s.waitClosed();
    } finally {
      clearInterval(timer);
    }
    assert.equal(s.delivered.length, 0);
  });
});

describe('SMTP session: graceful shutdown', () => {
  it('answers 421 at once to a session waiting for a command', async () => {
    const s = await ready();
    s.session.shutdown();
    await s.reply('421 4.3.0');
    await s.waitClosed();
  });

  it('lets a message in progress finish, then answers 421', async () => {
    const s = await ready();
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<bob@mx.test>', '250');
    await s.send('DATA', '354');
    s.session.shutdown();
    await s.send('x\r\n.', '250 2.0.0');
    await s.reply('421 4.3.0');
    await s.waitClosed();
    assert.equal(s.delivered.length, 1);
  });
});

describe('LMTP session (RFC 2033)', () => {
  it('greets as LMTP and wants LHLO, not EHLO or HELO', async () => {
    const s = await transcript({ mode: 'lmtp' });
    assert.match(s.output, /^220 mx\.test LMTP/);
    await s.send('EHLO x.test', '500 5.5.1');
    await s.send('HELO x.test', '500 5.5.1');
    await s.send('MAIL FROM:<a@b.test>', '503 5.5.1');
    await s.send('LHLO x.test', '250-');
  });

  it('answers once per recipient after DATA, with the replies deliver returns', async () => {
    const hooks = recordingHooks({
      async deliver() {
        return [reply(250, '2.1.5', 'delivered'), reply(452, '4.2.2', 'mailbox full')];
      },
    });
    const s = await ready({ mode: 'lmtp', hooks });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<r1@mx.test>', '250');
    await s.send('RCPT TO:<unknown@mx.test>', '550');
    await s.send('RCPT TO:<r2@mx.test>', '250');
    await s.send('DATA', '354');
    await s.send('x\r\n.', '250 2.1.5 delivered');
    await s.reply('452 4.2.2 mailbox full');
    await s.send('NOOP', '250');
  });

  it('repeats a refusal for every recipient', async () => {
    const s = await ready({ mode: 'lmtp' });
    await s.send('MAIL FROM:<a@b.test>', '250');
    await s.send('RCPT TO:<r1@mx.test>', '250');
    await s.send('RCPT TO:<r2@mx.test>', '250');
    await s.send('DATA', '354');
    await s.send('a\nb\r\n.', '550 5.6.0');
    await s.reply('550 5.6.0');
    await s.send('NOOP', '250');
  });

  it('stamps Received with LMTP', async () => {
    const s = await ready({ mode: 'lmtp' });
    await sendMessage(s, 'x');
    assert.match(dec(s.delivered[0]?.message.data ?? new Uint8Array()), /with LMTP id/);
  });
});
