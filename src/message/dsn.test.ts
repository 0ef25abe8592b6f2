import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildDsn, decodeXtext, dsnKind, encodeXtext, isNullSender, mayNotifySender, notifyEventFor, shouldNotify } from './dsn.ts';
import type { DsnOptions, DsnRecipient } from './dsn.ts';
import { headerValue, parseHeaderFields, splitMessage } from './headers.ts';
import type { HeaderField } from './headers.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
// latin1 keeps one character per byte, so offsets and 8-bit bytes survive the round trip.
const bytesToLatin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const latin1ToBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

const original = enc(
  'Received: from a.test by b.test; Tue, 1 Dec 2026 09:00:00 +0000\r\n' +
    'From: Alice <alice@sender.test>\r\n' +
    'To: bob@example.test\r\n' +
    'Subject: lunch?\r\n' +
    'Message-ID: <orig-1@sender.test>\r\n' +
    '\r\n' +
    'Shall we?\r\n',
);

const arrival = new Date(Date.UTC(2026, 11, 1, 9, 0, 0));
const now = new Date(Date.UTC(2026, 11, 1, 13, 0, 0));

const bounced: DsnRecipient = {
  finalRecipient: 'bob@example.test',
  originalRecipient: 'rfc822;Bob+2Bx@example.test',
  action: 'failed',
  status: '5.1.1',
  remoteMta: 'mx1.example.test',
  diagnosticCode: '550 5.1.1 <bob@example.test>: no such user here',
  lastAttemptDate: new Date(Date.UTC(2026, 11, 1, 9, 0, 5)),
};

const delayed: DsnRecipient = {
  finalRecipient: 'carol@slow.test',
  action: 'delayed',
  status: '4.4.1',
  lastAttemptDate: new Date(Date.UTC(2026, 11, 1, 12, 55, 0)),
  willRetryUntil: new Date(Date.UTC(2026, 11, 6, 9, 0, 0)),
};

function options(more: Partial<DsnOptions> = {}): DsnOptions {
  return {
    original,
    envelope: { sender: 'alice@sender.test', envid: 'QQ+2B1' },
    reportingMta: 'mx.postern.test',
    arrivalDate: arrival,
    recipients: [bounced],
    date: now,
    ...more,
  };
}

interface Part {
  fields: HeaderField[];
  body: Uint8Array;
}

/** The top-level fields and the parts of a multipart message, split on its boundary by hand. */
function parseMultipart(message: Uint8Array): { fields: HeaderField[]; boundary: string; parts: Part[]; epilogue: string } {
  const { header, body } = splitMessage(message);
  const fields = parseHeaderFields(header);
  const boundary = /boundary="([^"]+)"/.exec(headerValue(fields, 'Content-Type') ?? '')?.[1];
  assert.ok(boundary !== undefined, 'no boundary');
  const segments = `\r\n${bytesToLatin1(body)}`.split(`\r\n--${boundary}`);
  const last = segments.pop() ?? '';
  assert.ok(last.startsWith('--'), 'no close delimiter');
  const parts = segments.slice(1).map((s) => {
    assert.ok(s.startsWith('\r\n'), 'delimiter line not ended by CRLF');
    const partBytes = latin1ToBytes(s.slice(2));
    const split = splitMessage(partBytes);
    return { fields: parseHeaderFields(split.header), body: split.body };
  });
  return { fields, boundary, parts, epilogue: last.slice(2) };
}

/** The blocks of a message/delivery-status body, each as name (lower case) -> unfolded value. */
function statusBlocks(body: Uint8Array): Record<string, string>[] {
  return new TextDecoder()
    .decode(body)
    .split(/\r\n\r\n/)
    .filter((b) => b.trim() !== '')
    .map((b) => Object.fromEntries(parseHeaderFields(`${b}\r\n`).map((f) => [f.name.toLowerCase(), f.value])));
}

const python = spawnSync('python3', ['-c', 'print(1)'], { encoding: 'utf8' }).status === 0;

// Python's email package reads the DSN independently of our parser: the structure it sees, as JSON.
const PY_SCRIPT = `
import email, json, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
out = {"defects": [type(d).__name__ for d in m.defects], "type": m.get_content_type(),
       "report_type": m.get_param("report-type"), "multipart": m.is_multipart(), "parts": []}
for p in m.get_payload():
    part = {"type": p.get_content_type(), "defects": [type(d).__name__ for d in p.defects]}
    if p.get_content_type() == "message/delivery-status":
        part["blocks"] = [dict((k.lower(), v) for k, v in b.items()) for b in p.get_payload()]
    elif p.get_content_type() == "message/rfc822":
        inner = p.get_payload()[0]
        part["subject"] = str(inner["Subject"])
        part["body"] = inner.get_payload(decode=True).decode("utf-8", "replace")
    else:
        part["text"] = p.get_payload(decode=True).decode("utf-8", "replace")
    out["parts"].append(part)
print(json.dumps(out))
`;

interface PyView {
  defects: string[];
  type: string;
  report_type: string;
  multipart: boolean;
  parts: { type: string; defects: string[]; blocks?: Record<string, string>[]; subject?: string; body?: string; text?: string }[];
}

function pythonView(dsn: Uint8Array): PyView {
  const r = spawnSync('python3', ['-c', PY_SCRIPT], { input: dsn, encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as PyView;
}

describe('buildDsn', () => {
  it('addresses a bounce from MAILER-DAEMON to the envelope sender, marked auto-replied', () => {
    const { fields } = parseMultipart(buildDsn(options()));
    assert.equal(headerValue(fields, 'From'), 'Mail Delivery System <MAILER-DAEMON@mx.postern.test>');
    assert.equal(headerValue(fields, 'To'), '<alice@sender.test>');
    assert.equal(headerValue(fields, 'Subject'), 'Undelivered Mail Returned to Sender');
    assert.equal(headerValue(fields, 'Auto-Submitted'), 'auto-replied');
    assert.equal(headerValue(fields, 'Date'), 'Tue, 1 Dec 2026 13:00:00 +0000');
    assert.match(headerValue(fields, 'Message-ID') ?? '', /^<[0-9a-z.]+@mx\.postern\.test>$/);
    assert.equal(headerValue(fields, 'MIME-Version'), '1.0');
    assert.match(headerValue(fields, 'Content-Type') ?? '', /^multipart\/report; report-type=delivery-status; boundary="/);
    assert.equal(headerValue(fields, 'Content-Transfer-Encoding'), undefined);
  });

  it('has three parts: the explanation, the delivery status and the original message', () => {
    const { parts } = parseMultipart(buildDsn(options()));
    assert.deepEqual(
      parts.map((p) => headerValue(p.fields, 'Content-Type')),
      ['text/plain; charset=utf-8', 'message/delivery-status', 'message/rfc822'],
    );
  });

  it('names each recipient and the reason in the text part', () => {
    const { parts } = parseMultipart(buildDsn(options({ recipients: [bounced, delayed], queueId: '01abc' })));
    const text = new TextDecoder().decode(parts[0]?.body);
    assert.match(text, /could not be delivered/);
    assert.match(text, /queue id 01abc/);
    assert.match(text, /<bob@example\.test>: delivery failed \(5\.1\.1\)\r\n {4}mx1\.example\.test said: 550 5\.1\.1 <bob@example\.test>: no such user here/);
    assert.match(text, /<carol@slow\.test>: delivery delayed \(4\.4\.1\)/);
    assert.match(text, /keep trying until Sun, 6 Dec 2026 09:00:00 \+0000/);
  });

  it('writes the per-message and per-recipient fields of RFC 3464', () => {
    const { parts } = parseMultipart(buildDsn(options()));
    assert.deepEqual(statusBlocks(parts[1]?.body ?? new Uint8Array()), [
      { 'reporting-mta': 'dns; mx.postern.test', 'original-envelope-id': 'QQ+1', 'arrival-date': 'Tue, 1 Dec 2026 09:00:00 +0000' },
      {
        'original-recipient': 'rfc822; Bob+x@example.test',
        'final-recipient': 'rfc822; bob@example.test',
        action: 'failed',
        status: '5.1.1',
        'remote-mta': 'dns; mx1.example.test',
        'diagnostic-code': 'smtp; 550 5.1.1 <bob@example.test>: no such user here',
        'last-attempt-date': 'Tue, 1 Dec 2026 09:00:05 +0000',
      },
    ]);
  });

  it('writes a delay notice with Will-Retry-Until and leaves out what was not given', () => {
    const dsn = buildDsn(options({ recipients: [delayed], envelope: { sender: 'alice@sender.test' } }));
    const { fields, parts } = parseMultipart(dsn);
    assert.equal(headerValue(fields, 'Subject'), 'Delivery Status Notification (Delay)');
    assert.deepEqual(statusBlocks(parts[1]?.body ?? new Uint8Array()), [
      { 'reporting-mta': 'dns; mx.postern.test', 'arrival-date': 'Tue, 1 Dec 2026 09:00:00 +0000' },
      {
        'final-recipient': 'rfc822; carol@slow.test',
        action: 'delayed',
        status: '4.4.1',
        'last-attempt-date': 'Tue, 1 Dec 2026 12:55:00 +0000',
        'will-retry-until': 'Sun, 6 Dec 2026 09:00:00 +0000',
      },
    ]);
    assert.match(new TextDecoder().decode(parts[0]?.body), /has not been delivered yet/);
  });

  it('reports a failure when some recipients failed and others are delayed, one block each', () => {
    const { fields, parts } = parseMultipart(buildDsn(options({ recipients: [delayed, bounced] })));
    assert.equal(headerValue(fields, 'Subject'), 'Undelivered Mail Returned to Sender');
    assert.deepEqual(
      statusBlocks(parts[1]?.body ?? new Uint8Array()).slice(1).map((b) => [b['final-recipient'], b.action]),
      [
        ['rfc822; carol@slow.test', 'delayed'],
        ['rfc822; bob@example.test', 'failed'],
      ],
    );
  });

  it('writes a success report for delivered recipients', () => {
    const { fields } = parseMultipart(buildDsn(options({ recipients: [{ finalRecipient: 'bob@example.test', action: 'delivered', status: '2.0.0' }] })));
    assert.equal(headerValue(fields, 'Subject'), 'Delivery Status Notification (Success)');
  });

  it('returns the original byte for byte with RET=FULL', () => {
    const { parts } = parseMultipart(buildDsn(options()));
    assert.deepEqual(parts[2]?.body, original);
    assert.equal(headerValue(parts[2]?.fields ?? [], 'Content-Transfer-Encoding'), '7bit');
  });

  it('returns the original header only with RET=HDRS, as text/rfc822-headers', () => {
    const { parts } = parseMultipart(buildDsn(options({ envelope: { sender: 'alice@sender.test', ret: 'HDRS' } })));
    assert.equal(headerValue(parts[2]?.fields ?? [], 'Content-Type'), 'text/rfc822-headers');
    const returned = new TextDecoder().decode(parts[2]?.body);
    assert.equal(returned, new TextDecoder().decode(splitMessage(original).header));
    assert.doesNotMatch(returned, /Shall we/);
    assert.match(new TextDecoder().decode(parts[0]?.body), /Its header is attached below/);
  });

  it('returns the header only when the original is larger than the limit, and says why', () => {
    const { parts } = parseMultipart(buildDsn(options({ maxOriginalBytes: 100 })));
    assert.equal(headerValue(parts[2]?.fields ?? [], 'Content-Type'), 'text/rfc822-headers');
    assert.match(new TextDecoder().decode(parts[0]?.body), /too large to return whole/);
    const { parts: whole } = parseMultipart(buildDsn(options({ maxOriginalBytes: original.length })));
    assert.equal(headerValue(whole[2]?.fields ?? [], 'Content-Type'), 'message/rfc822');
  });

  it('keeps an 8-bit original intact and marks it and the whole report 8bit', () => {
    const eight = new Uint8Array([...enc('Subject: caf'), 0xc3, 0xa9, ...enc('\r\n\r\nna'), 0xc3, 0xaf, 0xff, ...enc('ve\r\n')]);
    const dsn = buildDsn(options({ original: eight }));
    const { fields, parts } = parseMultipart(dsn);
    assert.equal(headerValue(fields, 'Content-Transfer-Encoding'), '8bit');
    assert.equal(headerValue(parts[2]?.fields ?? [], 'Content-Transfer-Encoding'), '8bit');
    assert.deepEqual(parts[2]?.body, eight);
  });

  it('puts the closing delimiter on a line of its own after an original without a final CRLF', () => {
    const { parts, epilogue } = parseMultipart(buildDsn(options({ original: enc('Subject: x\r\n\r\nno newline') })));
    assert.equal(new TextDecoder().decode(parts[2]?.body), 'Subject: x\r\n\r\nno newline');
    assert.equal(epilogue, '\r\n');
  });

  it('picks another boundary when the original contains the one asked for', () => {
    const trap = enc('Subject: x\r\n\r\n--fixed-boundary\r\nnot a part\r\n');
    const { boundary, parts } = parseMultipart(buildDsn(options({ original: trap, boundary: 'fixed-boundary' })));
    assert.notEqual(boundary, 'fixed-boundary');
    assert.equal(parts.length, 3);
    assert.deepEqual(parts[2]?.body, trap);
  });

  it('uses the boundary asked for when it is free', () => {
    assert.equal(parseMultipart(buildDsn(options({ boundary: 'b1' }))).boundary, 'b1');
  });

  it('sends a failed bounce to the postmaster when asked', () => {
    const { fields } = parseMultipart(buildDsn(options({ to: 'postmaster@mx.postern.test', envelope: { sender: '' } })));
    assert.equal(headerValue(fields, 'To'), '<postmaster@mx.postern.test>');
  });

  it('keeps line breaks in a diagnostic from starting fields of their own', () => {
    const { parts } = parseMultipart(buildDsn(options({ recipients: [{ ...bounced, diagnosticCode: '550 no\r\nAction: delivered' }] })));
    const blocks = statusBlocks(parts[1]?.body ?? new Uint8Array());
    assert.equal(blocks[1]?.action, 'failed');
    assert.equal(blocks[1]?.['diagnostic-code'], 'smtp; 550 no Action: delivered');
  });

  it('uses only CRLF line endings', () => {
    const text = bytesToLatin1(buildDsn(options({ recipients: [bounced, delayed] })));
    assert.doesNotMatch(text, /\r(?!\n)|(?<!\r)\n/);
  });

  describe('read by Python\'s email package', { skip: python ? false : 'python3 is not installed' }, () => {
    const cases: [what: string, more: Partial<DsnOptions>, third: string][] = [
      ['a bounce with RET=FULL', {}, 'message/rfc822'],
      ['a delay notice with RET=HDRS', { recipients: [delayed], envelope: { sender: 'a@b.test', ret: 'HDRS' } }, 'text/rfc822-headers'],
      ['a bounce of an original over the size limit', { maxOriginalBytes: 10 }, 'text/rfc822-headers'],
      ['a bounce of an 8-bit original', { original: enc('Subject: caf\u00e9\r\n\r\nna\u00efve\r\n') }, 'message/rfc822'],
      ['a report for several recipients', { recipients: [bounced, delayed, { finalRecipient: 'd@x.test', action: 'delivered', status: '2.0.0' }] }, 'message/rfc822'],
    ];
    for (const [what, more, third] of cases) {
      it(`sees ${what} as a well-formed multipart/report of three parts`, () => {
        const o = options(more);
        const view = pythonView(buildDsn(o));
        assert.deepEqual(view.defects, []);
        assert.equal(view.type, 'multipart/report');
        assert.equal(view.report_type, 'delivery-status');
        assert.equal(view.multipart, true);
        assert.deepEqual(
          view.parts.map((p) => p.type),
          ['text/plain', 'message/delivery-status', third],
        );
        for (const p of view.parts) assert.deepEqual(p.defects, []);
        const blocks = view.parts[1]?.blocks ?? [];
        assert.equal(blocks.length, 1 + o.recipients.length);
        assert.equal(blocks[0]?.['reporting-mta'], 'dns; mx.postern.test');
        assert.deepEqual(
          blocks.slice(1).map((b) => [b['final-recipient'], b.action, b.status]),
          o.recipients.map((r) => [`rfc822; ${r.finalRecipient}`, r.action, r.status]),
        );
      });
    }

    it('finds the original message inside with its subject and body', () => {
      const view = pythonView(buildDsn(options({ original: enc('Subject: caf\u00e9\r\n\r\nna\u00efve\r\n') })));
      assert.equal(view.parts[2]?.body, 'na\u00efve\r\n');
    });
  });
});

describe('dsnKind', () => {
  const cases: [actions: DsnRecipient['action'][], want: string][] = [
    [['failed'], 'failure'],
    [['delayed', 'failed'], 'failure'],
    [['delayed', 'delivered'], 'delay'],
    [['delivered', 'relayed', 'expanded'], 'success'],
  ];
  for (const [actions, want] of cases) it(`calls ${actions.join(', ')} a ${want} notice`, () => assert.equal(dsnKind(actions.map((action) => ({ action }))), want));
});

describe('shouldNotify', () => {
  const cases: [notify: string[] | undefined, event: 'failure' | 'delay' | 'success', want: boolean][] = [
    [undefined, 'failure', true],
    [undefined, 'delay', true],
    [undefined, 'success', false],
    [[], 'failure', true],
    [['NEVER'], 'failure', false],
    [['NEVER'], 'delay', false],
    [['SUCCESS'], 'success', true],
    [['SUCCESS'], 'failure', false],
    [['success', 'failure'], 'failure', true],
    [['SUCCESS,DELAY'], 'delay', true],
    [['FAILURE'], 'delay', false],
  ];
  for (const [notify, event, want] of cases) {
    it(`${want ? 'notifies' : 'does not notify'} of ${event} with NOTIFY=${notify === undefined ? '(absent)' : notify.join(',')}`, () => assert.equal(shouldNotify(notify, event), want));
  }
});

describe('notifyEventFor', () => {
  const cases: [DsnRecipient['action'], string][] = [
    ['failed', 'failure'],
    ['delayed', 'delay'],
    ['delivered', 'success'],
    ['relayed', 'success'],
    ['expanded', 'success'],
  ];
  for (const [action, event] of cases) it(`reports ${action} as ${event}`, () => assert.equal(notifyEventFor(action), event));
});

describe('mayNotifySender', () => {
  const cases: [sender: string, want: boolean][] = [
    ['', false],
    ['<>', false],
    [' <> ', false],
    ['alice@sender.test', true],
    ['<alice@sender.test>', true],
    ['MAILER-DAEMON@other.test', true],
  ];
  for (const [sender, want] of cases) {
    it(`${want ? 'allows' : 'never sends'} a DSN to ${JSON.stringify(sender)}`, () => {
      assert.equal(mayNotifySender(sender), want);
      assert.equal(isNullSender(sender), !want);
    });
  }
});

describe('xtext', () => {
  const cases: [decoded: string, encoded: string][] = [
    ['plain', 'plain'],
    ['a+b=c', 'a+2Bb+3Dc'],
    ['sp ace', 'sp+20ace'],
    ['caf\u00e9', 'caf+C3+A9'],
  ];
  for (const [decoded, encoded] of cases) {
    it(`encodes ${JSON.stringify(decoded)} as ${encoded} and back`, () => {
      assert.equal(encodeXtext(decoded), encoded);
      assert.equal(decodeXtext(encoded), decoded);
    });
  }

  it('keeps a malformed escape as written', () => assert.equal(decodeXtext('a+zz+4'), 'a+zz+4'));
  it('turns a decoded control character into "?"', () => assert.equal(decodeXtext('a+0D+0Ab'), 'a??b'));

  it('round-trips any text without control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)), (s) => {
        const e = encodeXtext(s);
        assert.match(e, /^[\x21-\x7e]*$/);
        assert.equal(decodeXtext(e), s);
      }),
      { numRuns: 500 },
    );
  });
});
