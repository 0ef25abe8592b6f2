/**
 * A primary MX node is not an open relay, from any client address, loopback included, and no line
 * ending trick smuggles a second message past it. Each row is one SMTP dialogue over a real socket
 * against a whole node (router, store, queue), not a fake.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtpClient, sendPlain } from './helpers/smtp-socket-client.ts';
import { eventually, inboxSubjects, startNode, SMTP_PORT, type LabNode } from './helpers/lab.ts';

process.env['POSTERN_LOOPBACK_ONLY'] = '1';
const HOST = '127.0.66.1';

describe('open relay and smuggling, against a whole node', () => {
  let node: LabNode;
  before(async () => {
    node = await startNode({ hostname: 'mx.domain.test', address: HOST, domains: [['domain.test', 'primary']], accounts: ['user@domain.test'] }, '127.0.0.1:53');
  });
  after(async () => {
    await node?.postern.stop();
  });

  const rows: Array<[string, string, string]> = [
    ['another domain', 'someone@other.test', '550 5.7.1'],
    ['another domain in capitals', 'USER@OTHER.TEST', '550 5.7.1'],
    ['another domain with a trailing dot', 'user@other.test.', '550 5.7.1'],
    ['the percent hack', 'user%other.test@domain.test', '550 5.7.1'],
    ['a source route to another domain', '@domain.test:user@other.test', '550 5.7.1'],
    ['a UUCP bang path', 'other.test!user@domain.test', '550 5.7.1'],
    ['a quoted local part with an @', '"user@other.test"@domain.test', '550 5.7.1'],
    ['an unknown user of our domain', 'nobody@domain.test', '550 5.1.1'],
    ['our user', 'user@domain.test', '250 '],
    ['our user in another case, with a trailing dot', 'User@Domain.Test.', '250 '],
  ];
  for (const from of ['127.0.0.1', '127.0.66.9']) {
    for (const [what, rcpt, want] of rows) {
      it(`answers ${want.trim()} to RCPT <${rcpt}> (${what}) from ${from}`, async () => {
        const c = await RawSmtpClient.connect(HOST, SMTP_PORT, from);
        try {
          await c.reply('220');
          await c.send('EHLO client.test', '250');
          await c.send('MAIL FROM:<a@sender.test>', '250');
          await c.send(`RCPT TO:<${rcpt}>`, want);
        } finally {
          c.close();
        }
      });
    }
  }

  const smuggling: Array<[string, string]> = [
    ['\\n.\\n', '\n.\n'],
    ['\\n.\\r\\n', '\n.\r\n'],
    ['\\r.\\r', '\r.\r'],
    ['\\r\\n.\\n', '\r\n.\n'],
  ];
  for (const [name, seq] of smuggling) {
    it(`never delivers a message smuggled behind ${name}`, async () => {
      const c = await RawSmtpClient.connect(HOST, SMTP_PORT);
      try {
        await c.reply('220');
        await c.send('EHLO client.test', '250');
        await c.send('MAIL FROM:<a@sender.test>', '250');
        await c.send('RCPT TO:<user@domain.test>', '250');
        await c.send('DATA', '354');
        c.write(`Subject: outer ${name}\r\n\r\nbody${seq}MAIL FROM:<evil@sender.test>\r\nRCPT TO:<user@domain.test>\r\nDATA\r\nSubject: smuggled ${name}\r\n\r\nevil\r\n.\r\n`);
        await c.reply('550 5.6.0');
        await c.send('QUIT', '221');
      } finally {
        c.close();
      }
    });
  }

  it('delivered none of the refused or smuggled messages, and still takes a good one', async () => {
    await sendPlain(HOST, SMTP_PORT, { from: 'a@sender.test', to: 'user@domain.test', message: 'Subject: good\r\n\r\nfine\r\n' });
    const subjects = await eventually(async () => {
      const s = await inboxSubjects(node, 'user@domain.test');
      return s.includes('good') ? s : null;
    }, 10_000, 'the good message');
    assert.deepEqual(subjects, ['good']);
  });
});
