import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Authenticator } from '../../auth/types.ts';
import { silentLogger } from '../../core/logger.ts';
import { openSqliteStore } from '../../store/sqlite/open.ts';
import type { Store } from '../../store/types.ts';
import { toBuffer, type Chunk } from '../proto/format.ts';
import { ImapSession, type SessionIo } from './session.ts';
import { resolveImapLimits, type ImapLimits } from './types.ts';

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const USER = 'bob@example.test';

const fakeAuth: Authenticator = {
  async authenticate({ username, password }) {
    if (username.toLowerCase() === USER && password === 'secret') return { ok: true, address: USER };
    return { ok: false, locked: password === 'locked' };
  },
};

/** One in-process session: send lines, read what came back up to the tagged reply. */
class Transcript {
  out = '';
  closed = false;
  session: ImapSession;
  tls = 0;
  #waiters: Array<() => void> = [];

  constructor(store: Store, options: { secure?: boolean; insecure?: boolean; limits?: Partial<ImapLimits> } = {}) {
    const io: SessionIo = {
      write: (chunks: readonly Chunk[]) => {
        this.out += toBuffer(chunks).toString('utf8');
        for (const w of this.#waiters.splice(0)) w();
      },
      drain: async () => undefined,
      close: () => {
        this.closed = true;
        for (const w of this.#waiters.splice(0)) w();
      },
      startTls: async () => {
        this.tls++;
      },
      pause() {},
      resume() {},
    };
    this.session = new ImapSession(
      {
        id: 't',
        hostname: 'mx.example.test',
        store,
        authenticator: fakeAuth,
        remoteAddress: '127.0.0.1',
        secure: options.secure ?? true,
        tlsAvailable: true,
        allowInsecureAuth: options.insecure ?? false,
        limits: resolveImapLimits({ pollIntervalMs: 100, ...options.limits }),
        logger: silentLogger,
        now: () => T0,
      },
      io,
    );
    this.session.start();
  }

  /** Waits until `pattern` appears in the output after `from`; returns the text from there. */
  async until(pattern: RegExp, from = 0, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = this.out.slice(from);
      if (pattern.test(text)) return text;
      if (this.closed || Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; got:\n${text}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Sends raw text (CRLF added per line) and returns everything up to the tagged reply of `tag`. */
  async cmd(line: string, tag = line.split(' ')[0] as string): Promise<string> {
    const from = this.out.length;
    this.session.receive(Buffer.from(`${line}\r\n`));
    const esc = tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return this.until(new RegExp(`(^|\\r\\n)${esc} (OK|NO|BAD)[^\\r\\n]*\\r\\n`), from);
  }

  async login(): Promise<void> {
    assert.match(await this.cmd('l1 LOGIN bob@example.test secret'), /l1 OK/);
  }
}

const msg = (subject: string, body = 'hello\r\n', extra = ''): Uint8Array =>
  Buffer.from(`From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nDate: Thu, 15 Jan 2026 10:00:00 +0000\r\nMessage-ID: <${subject}@example.test>\r\n${extra}\r\n${body}`);

describe('IMAP session', () => {
  let store: Store;
  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
  });
  after(async () => {
    await store.close();
  });
  // Each test empties bob's account so tests do not see each other's mail.
  async function fresh(...subjects: string[]): Promise<void> {
    await store.deleteAccount(USER);
    await store.createAccount({ address: USER, now: T0 });
    for (const sub of subjects) await store.append({ address: USER, data: msg(sub), internalDate: T0 });
  }

  it('greets with capabilities and logs in', async () => {
    await fresh('one');
    const t = new Transcript(store);
    await t.until(/^\* OK \[CAPABILITY IMAP4rev1 AUTH=PLAIN .*IDLE/);
    await t.login();
    const sel = await t.cmd('s1 SELECT INBOX');
    assert.match(sel, /\* 1 EXISTS\r\n\* 1 RECENT\r\n/);
    assert.match(sel, /s1 OK \[READ-WRITE\]/);
    const f = await t.cmd('f1 FETCH 1 (UID FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.match(f, /\* 1 FETCH \(UID 1 FLAGS \(\\Recent\) ENVELOPE \("Thu, 15 Jan 2026 10:00:00 \+0000" "one" \(\("Alice" NIL "alice" "example.test"\)\)/);
    assert.match(f, /BODYSTRUCTURE \("TEXT" "PLAIN" \("CHARSET" "us-ascii"\) NIL NIL "7BIT" 7 1 NIL NIL NIL NIL\)/);
    assert.match(f, /BODY\[HEADER.FIELDS \(SUBJECT\)\] \{16\}\r\nSubject: one\r\n\r\n\)/);
  });

  it('refuses LOGIN before TLS with LOGINDISABLED, and allows it after STARTTLS, dropping pipelined input', async () => {
    await fresh();
    const t = new Transcript(store, { secure: false });
    await t.until(/STARTTLS LOGINDISABLED/);
    assert.match(await t.cmd('a LOGIN bob@example.test secret'), /a NO \[PRIVACYREQUIRED\]/);
    assert.match(await t.cmd('b AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLnRlc3QAc2VjcmV0'), /b NO \[PRIVACYREQUIRED\]/);
    const from = t.out.length;
    t.session.receive(Buffer.from('c STARTTLS\r\nd NOOP\r\n'));
    await t.until(/c OK/, from);
    await new Promise((r) => setTimeout(r, 50));
    assert.doesNotMatch(t.out.slice(from), /^d /m, 'the pipelined NOOP is not answered');
    assert.equal(t.tls, 1);
    const caps = await t.cmd('e CAPABILITY');
    assert.match(caps, /AUTH=PLAIN/);
    assert.doesNotMatch(caps, /STARTTLS|LOGINDISABLED/);
    assert.match(await t.cmd('f STARTTLS'), /f BAD/);
    await t.login();
  });

  it('says the same for a wrong password and an unknown user, UNAVAILABLE when locked, and BYE after too many', async () => {
    await fresh();
    const t = new Transcript(store, { limits: { maxAuthFailures: 3 } });
    assert.match(await t.cmd('a LOGIN bob@example.test wrong'), /a NO \[AUTHENTICATIONFAILED\] Invalid credentials/);
    assert.match(await t.cmd('b LOGIN nobody@example.test wrong'), /b NO \[AUTHENTICATIONFAILED\] Invalid credentials/);
    const from = t.out.length;
    t.session.receive(Buffer.from('c LOGIN bob@example.test locked\r\n'));
    assert.match(await t.until(/BYE/, from), /c NO \[UNAVAILABLE\][^\r]*\r\n\* BYE/);
    assert.equal(t.closed, true);
  });

  it('authenticates with AUTHENTICATE PLAIN after a continuation, and cancels on "*"', async () => {
    await fresh();
    const t = new Transcript(store);
    let from = t.out.length;
    t.session.receive(Buffer.from('a AUTHENTICATE PLAIN\r\n'));
    await t.until(/^\+ \r\n/m, from);
    t.session.receive(Buffer.from('*\r\n'));
    await t.until(/a BAD/, from);
    from = t.out.length;
    t.session.receive(Buffer.from('b AUTHENTICATE PLAIN\r\n'));
    await t.until(/^\+ \r\n/m, from);
    t.session.receive(Buffer.from(`${Buffer.from('\0bob@example.test\0secret').toString('base64')}\r\n`));
    assert.match(await t.until(/b (OK|NO)/, from), /b OK/);
  });

  it('answers BAD with a reason for unknown commands, bad syntax and the wrong state, and BYE after too many', async () => {
    await fresh();
    const t = new Transcript(store, { limits: { maxErrors: 4 } });
    assert.match(await t.cmd('a FROB'), /a BAD unknown command FROB/);
    assert.match(await t.cmd('b SELECT INBOX'), /b BAD SELECT needs LOGIN first/);
    assert.match(await t.cmd('c LOGIN "unterminated'), /c BAD unterminated quoted string/);
    const from = t.out.length;
    t.session.receive(Buffer.from('+ NOOP\r\n'));
    assert.match(await t.until(/BYE/, from), /\* BAD a command starts with a tag\r\n\* BYE Too many errors/);
  });

  it('refuses a line over the limit and a literal over the limit, and goes on reading', async () => {
    await fresh();
    const t = new Transcript(store, { limits: { maxLineLength: 200, maxLiteralSize: 100 } });
    await t.login();
    assert.match(await t.cmd(`a NOOP ${'x'.repeat(300)}`), /a BAD \[TOOBIG\] line too long/);
    assert.match(await t.cmd('b APPEND INBOX {500}'), /b BAD \[TOOBIG\] literal of 500 octets/);
    const from = t.out.length;
    t.session.receive(Buffer.from('c APPEND INBOX {500+}\r\n'));
    assert.match(await t.until(/BYE/, from), /\* BYE \[TOOBIG\]/);
  });

  it('appends with a synchronising literal after "+", and with LITERAL+ at once, answering APPENDUID', async () => {
    await fresh();
    const t = new Transcript(store);
    await t.login();
    const body = 'Subject: x\r\n\r\nhi\r\n';
    let from = t.out.length;
    t.session.receive(Buffer.from(`a APPEND INBOX (\\Seen) " 5-Jan-2026 10:00:00 +0100" {${body.length}}\r\n`));
    await t.until(/^\+ /m, from);
    t.session.receive(Buffer.from(`${body}\r\n`));
    const mb = await store.getMailbox({ address: USER });
    assert.match(await t.until(/a OK/, from), new RegExp(`a OK \\[APPENDUID ${mb?.uidValidity} 1\\]`));
    from = t.out.length;
    t.session.receive(Buffer.from(`b APPEND Sent {${body.length}+}\r\n${body}\r\n`));
    assert.match(await t.until(/b OK/, from), /b OK \[APPENDUID \d+ 1\]/);
    assert.doesNotMatch(t.out.slice(from), /^\+ /m);
    const [m] = (await store.listMessages({ address: USER })) ?? [];
    assert.deepEqual([m?.flags, m?.internalDate], [['\\Seen'], Date.UTC(2026, 0, 5, 9)]);
    assert.match(await t.cmd('c APPEND Nowhere {1+}\r\nx'), /c NO \[TRYCREATE\]/);
  });

  it('sends EXPUNGE in descending order and renumbers what follows', async () => {
    await fresh('1', '2', '3', '4', '5');
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    await t.cmd('b STORE 2,4 +FLAGS.SILENT (\\Deleted)');
    assert.match(await t.cmd('c EXPUNGE'), /^\* 4 EXPUNGE\r\n\* 2 EXPUNGE\r\nc OK/);
    assert.match(await t.cmd('d FETCH 3 (UID)'), /\* 3 FETCH \(UID 5\)/);
    assert.match(await t.cmd('e FETCH 4 (UID)'), /e BAD Invalid message sequence number/);
    await t.cmd('f UID STORE 1,3 +FLAGS (\\Deleted)');
    assert.match(await t.cmd('g UID EXPUNGE 3'), /^\* 2 EXPUNGE\r\ng OK/);
  });

  it('tells a second session of flag changes, new mail and expunges, holding EXPUNGE back during FETCH', async () => {
    await fresh('1', '2', '3');
    const a = new Transcript(store);
    const b = new Transcript(store);
    await a.login();
    await b.login();
    assert.match(await a.cmd('a1 SELECT INBOX'), /\* 3 RECENT/);
    assert.match(await b.cmd('b1 SELECT INBOX'), /\* 0 RECENT/, 'the first session to select got \\Recent');
    await a.cmd('a2 STORE 1 +FLAGS (\\Flagged)');
    assert.match(await b.cmd('b2 NOOP'), /\* 1 FETCH \(FLAGS \(\\Flagged\) UID 1\)/);
    await a.cmd('a3 STORE 2 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('a4 EXPUNGE');
    await store.append({ address: USER, data: msg('4'), internalDate: T0 });
    const fetched = await b.cmd('b3 FETCH 1:* (UID)');
    assert.doesNotMatch(fetched, /EXPUNGE/, 'no EXPUNGE during FETCH');
    assert.match(fetched, /\* 4 EXISTS/);
    assert.match(await b.cmd('b4 NOOP'), /^\* 2 EXPUNGE\r\nb4 OK/);
    assert.match(await b.cmd('b5 FETCH 3 (UID)'), /\* 3 FETCH \(UID 4\)/);
  });

  it('hears a delivery during IDLE within a second, and ends IDLE on DONE', async () => {
    await fresh('1');
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    const from = t.out.length;
    t.session.receive(Buffer.from('b IDLE\r\n'));
    await t.until(/^\+ /m, from);
    const started = Date.now();
    await store.append({ address: USER, data: msg('2'), internalDate: T0 });
    await t.until(/\* 2 EXISTS\r\n\* 2 RECENT/, from, 2000);
    assert.ok(Date.now() - started < 1000, `heard after ${Date.now() - started} ms`);
    t.session.receive(Buffer.from('DONE\r\n'));
    await t.until(/b OK IDLE terminated/, from);
  });

  it('notices during IDLE changes it was not told of, by polling the store', async () => {
    await fresh('1');
    // A store whose notices never arrive: as when another process writes the database.
    const deaf: Store = Object.create(store, { watchMailboxes: { value: () => () => undefined } }) as Store;
    const t = new Transcript(deaf, { limits: { pollIntervalMs: 200 } });
    await t.login();
    await t.cmd('a SELECT INBOX');
    const from = t.out.length;
    t.session.receive(Buffer.from('b IDLE\r\n'));
    await t.until(/^\+ /m, from);
    await store.setFlags({ address: USER, uids: [1], operation: 'add', flags: ['\\Answered'] });
    await t.until(/\* 1 FETCH \(FLAGS \(\\Answered \\Recent\) UID 1\)/, from, 3000);
  });

  it('copies with COPYUID and moves with an untagged COPYUID before the EXPUNGEs', async () => {
    await fresh('1', '2', '3');
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    const v = (await store.getMailbox({ address: USER, mailbox: 'Archive' }))?.uidValidity;
    assert.match(await t.cmd('b COPY 1:2 Archive'), new RegExp(`b OK \\[COPYUID ${v} 1:2 1:2\\] COPY completed`));
    assert.match(await t.cmd('c UID MOVE 2:3 Archive'), new RegExp(`^\\* OK \\[COPYUID ${v} 2:3 3:4\\] Moved\\r\\n\\* 3 EXPUNGE\\r\\n\\* 2 EXPUNGE\\r\\nc OK`));
    assert.match(await t.cmd('d COPY 1 Nowhere'), /d NO \[TRYCREATE\]/);
    assert.equal(await store.countMessages({ address: USER, mailbox: 'Archive' }), 4);
  });

  it('stores flags with +FLAGS, -FLAGS, FLAGS and .SILENT', async () => {
    await fresh('1', '2');
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    assert.match(await t.cmd('b STORE 1:2 +FLAGS (\\Seen $Work)'), /\* 1 FETCH \(FLAGS \(\\Seen \$Work \\Recent\)\)\r\n\* 2 FETCH/);
    assert.match(await t.cmd('c UID STORE 2 -FLAGS ($Work)'), /\* 2 FETCH \(FLAGS \(\\Seen \\Recent\) UID 2\)/);
    assert.match(await t.cmd('d STORE 1 FLAGS.SILENT (\\Draft)'), /^d OK/);
    assert.match(await t.cmd('e FETCH 1 FLAGS'), /\* 1 FETCH \(FLAGS \(\\Draft \\Recent\)\)/);
  });

  it('EXAMINE is read-only: no STORE, no \\Seen from a body fetch, no \\Recent taken', async () => {
    await fresh('1');
    const t = new Transcript(store);
    await t.login();
    assert.match(await t.cmd('a EXAMINE INBOX'), /\* 1 RECENT[\s\S]*a OK \[READ-ONLY\]/);
    assert.match(await t.cmd('b STORE 1 +FLAGS (\\Seen)'), /b NO \[READ-ONLY\]/);
    assert.doesNotMatch(await t.cmd('c FETCH 1 BODY[TEXT]'), /Seen/);
    assert.equal((await store.getMailboxStatus({ address: USER }))?.recent, 1);
    assert.match(await t.cmd('d SELECT INBOX'), /\* 1 RECENT/);
  });

  it('fetches sections of a multipart message, partial ranges, and sets \\Seen on a non-PEEK fetch', async () => {
    await fresh();
    const mp =
      'From: a@example.test\r\nSubject: mp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n--XX\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Disposition: attachment; filename="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--XX--\r\n';
    await store.append({ address: USER, data: Buffer.from(mp), internalDate: T0 });
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    const bs = await t.cmd('b FETCH 1 BODYSTRUCTURE');
    assert.match(
      bs,
      /BODYSTRUCTURE \(\("TEXT" "PLAIN" \("CHARSET" "utf-8"\) NIL NIL "7BIT" 10 1 NIL NIL NIL NIL\)\("APPLICATION" "PDF" \("NAME" "a.pdf"\) NIL NIL "BASE64" 4 NIL \("ATTACHMENT" \("FILENAME" "a.pdf"\)\) NIL NIL\) "MIXED" \("BOUNDARY" "XX"\) NIL NIL NIL\)/,
    );
    assert.match(await t.cmd('c FETCH 1 BODY.PEEK[1]'), /BODY\[1\] \{10\}\r\nfirst part\)/);
    assert.match(await t.cmd('d FETCH 1 BODY.PEEK[2.MIME]'), /BODY\[2.MIME\] \{\d+\}\r\nContent-Type: application\/pdf/);
    assert.match(await t.cmd('e FETCH 1 BODY.PEEK[1]<2.3>'), /BODY\[1\]<2> \{3\}\r\nrst\)/);
    const seen = await t.cmd('f FETCH 1 BODY[2]');
    assert.match(seen, /BODY\[2\] \{4\}\r\nAAAA FLAGS \(\\Seen \\Recent\)\)/);
  });

  it('searches with flags, headers, sizes, sequence and UID sets, OR and NOT', async () => {
    await fresh('alpha', 'beta', 'gamma');
    await store.setFlags({ address: USER, uids: [2], operation: 'add', flags: ['\\Seen'] });
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    assert.match(await t.cmd('b SEARCH SEEN'), /\* SEARCH 2\r\n/);
    assert.match(await t.cmd('c SEARCH OR SUBJECT alpha SUBJECT gamma'), /\* SEARCH 1 3\r\n/);
    assert.match(await t.cmd('d SEARCH NOT 2:* UNSEEN'), /\* SEARCH 1\r\n/);
    assert.match(await t.cmd('e UID SEARCH UID 2:* FROM alice'), /\* SEARCH 2 3\r\n/);
    assert.match(await t.cmd('f SEARCH CHARSET UTF-8 (LARGER 10 SMALLER 100000) HEADER Message-ID beta'), /\* SEARCH 2\r\n/);
    assert.match(await t.cmd('g SEARCH CHARSET KOI8-R ALL'), /g NO \[BADCHARSET/);
    assert.match(await t.cmd('h SEARCH FROB'), /h BAD unknown search key FROB/);
  });

  it('searches by header, sent date and body over more messages than one read group, matching a search message by message', async () => {
    await fresh();
    // 450 messages of 20 KiB: more than one group of READ_BATCH messages and of READ_BATCH_BYTES.
    const pad = 'x'.repeat(20 * 1024);
    for (let i = 1; i <= 450; i++) {
      const day = i % 3 === 0 ? 'Fri, 16 Jan 2026 10:00:00 +0000' : 'Thu, 15 Jan 2026 10:00:00 +0000';
      const from = i % 7 === 0 ? 'Seven <seven@example.test>' : 'Other <other@example.test>';
      const body = i % 11 === 0 ? `${pad}\r\nthe Needle is here\r\n` : `${pad}\r\nnothing\r\n`;
      await store.append({ address: USER, data: Buffer.from(`From: ${from}\r\nSubject: s${i}\r\n folded Tail${i}\r\nDate: ${day}\r\n\r\n${body}`), internalDate: T0 });
    }
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    const list = (reply: string): number[] => (/\* SEARCH([ \d]*)\r\n/.exec(reply)?.[1] ?? '').trim().split(' ').filter((x) => x !== '').map(Number);
    const upTo = (f: (i: number) => boolean): number[] => Array.from({ length: 450 }, (_, i) => i + 1).filter(f);
    assert.deepEqual(list(await t.cmd('b SEARCH FROM SEVEN')), upTo((i) => i % 7 === 0));
    assert.deepEqual(list(await t.cmd('c SEARCH SUBJECT "s4 folded tail4"')), [4]);
    assert.deepEqual(list(await t.cmd('d SEARCH SENTON 16-Jan-2026 NOT FROM seven')), upTo((i) => i % 3 === 0 && i % 7 !== 0));
    assert.deepEqual(list(await t.cmd('e SEARCH BODY needle')), upTo((i) => i % 11 === 0));
    assert.deepEqual(list(await t.cmd('f UID SEARCH OR TEXT "needle is" FROM seven')), upTo((i) => i % 11 === 0 || i % 7 === 0));
    assert.deepEqual(list(await t.cmd('g SEARCH TEXT "tail450"')), [450], 'TEXT reads the header too');
    assert.deepEqual(list(await t.cmd('h SEARCH BODY tail450')), []);
    const fetched = await t.cmd('i FETCH 1:450 (BODY.PEEK[])');
    assert.equal((fetched.match(/^\* \d+ FETCH \(BODY\[\] \{\d+\}/gm) ?? []).length, 450);
    assert.match(fetched, /\* 450 FETCH \(BODY\[\] \{\d+\}\r\nFrom: Other[^]*Tail450[^]*nothing\r\n\)\r\ni OK/);
  });

  it('lists with SPECIAL-USE and CHILDREN attributes, creates parents, renames, deletes and subscribes', async () => {
    await fresh();
    const t = new Transcript(store);
    await t.login();
    assert.match(await t.cmd('a CREATE Projects/2026/Q1'), /a OK/);
    assert.match(await t.cmd('b CREATE Projects'), /b NO \[ALREADYEXISTS\]/);
    const all = await t.cmd('c LIST "" "*"');
    assert.match(all, /^\* LIST \(\\HasNoChildren\) "\/" "INBOX"\r\n/);
    assert.match(all, /\* LIST \(\\HasNoChildren \\Sent\) "\/" "Sent"/);
    assert.match(all, /\* LIST \(\\HasChildren\) "\/" "Projects"/);
    assert.match(await t.cmd('d LIST "" "Projects/%"'), /^\* LIST \(\\HasChildren\) "\/" "Projects\/2026"\r\nd OK/);
    assert.match(await t.cmd('e LIST "" ""'), /\* LIST \(\\Noselect\) "\/" ""/);
    assert.match(await t.cmd('f RENAME Projects Work'), /f OK/);
    assert.match(await t.cmd('g LIST "" Work/*'), /"Work\/2026"[\s\S]*"Work\/2026\/Q1"/);
    assert.match(await t.cmd('h DELETE Work'), /h OK/);
    assert.match(await t.cmd('i LIST "" %'), /\* LIST \(\\Noselect \\HasChildren\) "\/" "Work"/);
    assert.match(await t.cmd('j DELETE INBOX'), /j NO/);
    assert.match(await t.cmd('k SUBSCRIBE Work/2026'), /k OK/);
    assert.match(await t.cmd('l LSUB "" "*"'), /\* LSUB \(\) "\/" "Work\/2026"/);
    assert.match(await t.cmd('m LIST (SPECIAL-USE) "" "*"'), /^(\* LIST \([^)]*\\(Sent|Drafts|Trash|Junk|Archive)\) [^\r]*\r\n){5}m OK/);
    assert.match(await t.cmd('n STATUS INBOX (MESSAGES UIDNEXT UNSEEN RECENT)'), /\* STATUS "INBOX" \(MESSAGES 0 UIDNEXT 1 UNSEEN 0 RECENT 0\)/);
    assert.match(await t.cmd('o NAMESPACE'), /\* NAMESPACE \(\("" "\/"\)\) NIL NIL/);
    assert.match(await t.cmd('p ID ("name" "test")'), /\* ID \("name" "Postern"/);
    assert.match(await t.cmd('q ENABLE CONDSTORE'), /\* ENABLED\r\nq OK/);
  });

  it('makes commands over the per-second limit wait rather than refusing them', async () => {
    await fresh();
    const t = new Transcript(store, { limits: { maxCommandsPerSecond: 5 } });
    const started = Date.now();
    const from = t.out.length;
    t.session.receive(Buffer.from(Array.from({ length: 8 }, (_, i) => `n${i} NOOP\r\n`).join('')));
    await t.until(/n7 OK/, from, 5000);
    assert.equal((t.out.slice(from).match(/ OK NOOP/g) ?? []).length, 8);
    assert.ok(Date.now() - started >= 300, 'the last three waited for the next second');
  });

  it('does not count stored APPENDs against the per-second limit, but does count refused ones', async () => {
    await fresh();
    const t = new Transcript(store, { limits: { maxCommandsPerSecond: 5 } });
    await t.login();
    const started = Date.now();
    const from = t.out.length;
    const append = (tag: string, box: string) => `${tag} APPEND ${box} {12+}\r\nSubject: x\r\n\r\n`;
    t.session.receive(Buffer.from(Array.from({ length: 12 }, (_, i) => append(`p${i}`, 'INBOX')).join('')));
    await t.until(/p11 OK/, from, 5000);
    assert.equal((t.out.slice(from).match(/ OK \[APPENDUID/g) ?? []).length, 12);
    assert.ok(Date.now() - started < 900, 'twelve stored APPENDs did not wait for the next second');
    const refused = t.out.length;
    t.session.receive(Buffer.from(Array.from({ length: 8 }, (_, i) => append(`q${i}`, 'Nope')).join('')));
    await t.until(/q7 NO/, refused, 5000);
    assert.ok(Date.now() - started >= 300, 'APPENDs refused without a write were held to the limit');
  });

  it('closes the mailbox with CLOSE (expunging) and UNSELECT (not)', async () => {
    await fresh('1', '2');
    await store.setFlags({ address: USER, uids: [1, 2], operation: 'add', flags: ['\\Deleted'] });
    const t = new Transcript(store);
    await t.login();
    await t.cmd('a SELECT INBOX');
    assert.match(await t.cmd('b UNSELECT'), /^b OK/);
    assert.equal(await store.countMessages({ address: USER }), 2);
    await t.cmd('c SELECT INBOX');
    assert.match(await t.cmd('d CLOSE'), /^d OK/);
    assert.equal(await store.countMessages({ address: USER }), 0);
    assert.match(await t.cmd('e FETCH 1 FLAGS'), /e BAD FETCH needs a selected mailbox/);
    assert.match(await t.cmd('f LOGOUT'), /\* BYE[\s\S]*f OK/);
    assert.equal(t.closed, true);
  });
});
