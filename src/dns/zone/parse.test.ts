import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isIPv4, isIPv6, parseDuration, parseName, parseZone } from './parse.ts';
import type { ParseOptions } from './parse.ts';
import type { RData } from './types.ts';
import { formatProblem } from './types.ts';

const FILE = 'domain.test.zone';

function parse(text: string, options: Partial<ParseOptions> = {}) {
  return parseZone(text, { file: FILE, origin: 'domain.test', ...options });
}

/** The records of a text that must parse cleanly, as [name, ttl, data]. */
function records(text: string, options: Partial<ParseOptions> = {}): Array<[string, number, RData]> {
  const { zone, problems } = parse(text, options);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.ok(zone !== null);
  return zone.records.map((r) => [r.name, r.ttl, r.data]);
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const L63 = 'l'.repeat(63);
const a = (address: string): RData => ({ type: 'A', address });

describe('parseZone reads RFC 1035 master files', () => {
  const cases: Array<[string, string, Array<[string, number, RData]>]> = [
    ['appends the origin to a relative owner', '$TTL 60\nwww A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['takes an absolute owner as it is', '$TTL 60\nwww.domain.test. A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads @ as the origin', '$TTL 60\n@ A 127.0.0.1', [['domain.test', 60, a('127.0.0.1')]]],
    ['lower-cases names', '$TTL 60\nWWW.Domain.TEST. A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    [
      'makes $ORIGIN the base of the relative names after it',
      '$TTL 60\n$ORIGIN sub.domain.test.\nwww A 127.0.0.1\n@ A 127.0.0.2',
      [
        ['www.sub.domain.test', 60, a('127.0.0.1')],
        ['sub.domain.test', 60, a('127.0.0.2')],
      ],
    ],
    ['reads a relative $ORIGIN against the current one', '$TTL 60\n$ORIGIN sub\n@ A 127.0.0.1', [['sub.domain.test', 60, a('127.0.0.1')]]],
    [
      'gives a line that starts with a blank the previous owner',
      '$TTL 60\nwww A 127.0.0.1\n  A 127.0.0.2\n\tA 127.0.0.3',
      [
        ['www.domain.test', 60, a('127.0.0.1')],
        ['www.domain.test', 60, a('127.0.0.2')],
        ['www.domain.test', 60, a('127.0.0.3')],
      ],
    ],
    ['reads TTL before class', 'www 60 IN A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads class before TTL', 'www IN 60 A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads a record with neither TTL nor class', '$TTL 60\nwww A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads class and type in any case', 'www 60 in a 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads TTL units like BIND', 'a 1h30m A 127.0.0.1', [['a.domain.test', 5400, a('127.0.0.1')]]],
    ['reads upper-case TTL units', 'a 1W30M A 127.0.0.1', [['a.domain.test', 606600, a('127.0.0.1')]]],
    ['reads $TTL with units', '$TTL 2d\na A 127.0.0.1', [['a.domain.test', 172800, a('127.0.0.1')]]],
    [
      'uses $TTL for records without a TTL, even after one with its own',
      '$TTL 100\na 5 A 127.0.0.1\nb A 127.0.0.2',
      [
        ['a.domain.test', 5, a('127.0.0.1')],
        ['b.domain.test', 100, a('127.0.0.2')],
      ],
    ],
    [
      'uses the previous record TTL when there is no $TTL (RFC 1035)',
      'a 45 A 127.0.0.1\nb A 127.0.0.2',
      [
        ['a.domain.test', 45, a('127.0.0.1')],
        ['b.domain.test', 45, a('127.0.0.2')],
      ],
    ],
    [
      'gives a first SOA without a TTL its minimum, and the records after it too',
      '@ SOA ns1 host 1 2 3 4 99\nns1 A 127.0.0.1',
      [
        ['domain.test', 99, { type: 'SOA', mname: 'ns1.domain.test', rname: 'host.domain.test', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 99 }],
        ['ns1.domain.test', 99, a('127.0.0.1')],
      ],
    ],
    [
      'joins lines inside parentheses and skips comments in them',
      '$TTL 60\n@ IN SOA ns1.domain.test. hostmaster.domain.test. ( ; opens here\n  2026112901 ; serial\n  2h 1h\n  2w 5m ) ; closes',
      [
        [
          'domain.test',
          60,
          { type: 'SOA', mname: 'ns1.domain.test', rname: 'hostmaster.domain.test', serial: 2026112901, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300 },
        ],
      ],
    ],
    ['accepts nested parentheses', '$TTL 60\nt TXT ( "a" ( "b" ) )', [['t.domain.test', 60, { type: 'TXT', strings: [bytes('a'), bytes('b')] }]]],
    ['skips comments and blank lines', '; a comment\n\n   ; indented comment\n$TTL 60 ; why\nwww A 127.0.0.1 ; the web', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads CRLF line ends', '$TTL 60\r\nwww A 127.0.0.1\r\n  A 127.0.0.2\r\n', [['www.domain.test', 60, a('127.0.0.1')], ['www.domain.test', 60, a('127.0.0.2')]]],
    ['ignores a byte-order mark at the start', '\uFEFF$TTL 60\nwww A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads a file without a final newline', '$TTL 60\nwww A 127.0.0.1', [['www.domain.test', 60, a('127.0.0.1')]]],
    ['reads a null MX (RFC 7505) with the root as exchange', '$TTL 60\n@ MX 0 .', [['domain.test', 60, { type: 'MX', preference: 0, exchange: '.' }]]],
    ['reads MX with a relative host', '$TTL 60\n@ MX 10 mail', [['domain.test', 60, { type: 'MX', preference: 10, exchange: 'mail.domain.test' }]]],
    ['reads MX with an absolute host elsewhere', '$TTL 60\n@ MX 65535 smtp1.mailhost.test.', [['domain.test', 60, { type: 'MX', preference: 65535, exchange: 'smtp1.mailhost.test' }]]],
    ['reads AAAA and lower-cases it', '$TTL 60\nh AAAA 2001:DB8::1', [['h.domain.test', 60, { type: 'AAAA', address: '2001:db8::1' }]]],
    ['reads AAAA with an IPv4 tail', '$TTL 60\nh AAAA ::ffff:127.0.0.1', [['h.domain.test', 60, { type: 'AAAA', address: '::ffff:127.0.0.1' }]]],
    ['reads CNAME', '$TTL 60\nwww CNAME @', [['www.domain.test', 60, { type: 'CNAME', target: 'domain.test' }]]],
    ['reads NS', '$TTL 60\n@ NS ns1', [['domain.test', 60, { type: 'NS', host: 'ns1.domain.test' }]]],
    ['reads PTR', '$TTL 60\n1 PTR localhost.', [['1.domain.test', 60, { type: 'PTR', host: 'localhost' }]]],
    [
      'reads SRV',
      '$TTL 60\n_submission._tcp SRV 0 1 587 mail',
      [['_submission._tcp.domain.test', 60, { type: 'SRV', priority: 0, weight: 1, port: 587, target: 'mail.domain.test' }]],
    ],
    ['reads CAA with a quoted value', '$TTL 60\n@ CAA 128 issue "ca.example.net; account=1"', [['domain.test', 60, { type: 'CAA', flags: 128, tag: 'issue', value: 'ca.example.net; account=1' }]]],
    ['reads CAA with an unquoted value', '$TTL 60\n@ CAA 0 iodef mailto:x@domain.test', [['domain.test', 60, { type: 'CAA', flags: 0, tag: 'iodef', value: 'mailto:x@domain.test' }]]],
    [
      'reads several TXT strings, quoted and not, with escapes',
      '$TTL 60\nt TXT "a \\"b\\"; c" plain \\065\\066 "" "\\\\"',
      [['t.domain.test', 60, { type: 'TXT', strings: [bytes('a "b"; c'), bytes('plain'), bytes('AB'), bytes(''), bytes('\\')] }]],
    ],
    ['keeps any octet of a TXT \\DDD escape', '$TTL 60\nt TXT "\\000\\255"', [['t.domain.test', 60, { type: 'TXT', strings: [Uint8Array.from([0, 255])] }]]],
    ['stores TXT text as UTF-8', '$TTL 60\nt TXT "café"', [['t.domain.test', 60, { type: 'TXT', strings: [bytes('café')] }]]],
    ['takes a TXT string of 255 octets', `$TTL 60\nt TXT "${'x'.repeat(255)}"`, [['t.domain.test', 60, { type: 'TXT', strings: [bytes('x'.repeat(255))] }]]],
    ['decodes a \\DDD escape in a name', '$TTL 60\n\\065bc A 127.0.0.1', [['abc.domain.test', 60, a('127.0.0.1')]]],
    ['reads a wildcard owner', '$TTL 60\n*.wild A 127.0.0.1', [['*.wild.domain.test', 60, a('127.0.0.1')]]],
    ['takes a name of 255 octets', `$TTL 60\nwww CNAME ${L63}.${L63}.${L63}.${'l'.repeat(61)}.`, [['www.domain.test', 60, { type: 'CNAME', target: `${L63}.${L63}.${L63}.${'l'.repeat(61)}` }]]],
    ['takes a label of 63 octets', `$TTL 60\n${'l'.repeat(63)} A 127.0.0.1`, [[`${'l'.repeat(63)}.domain.test`, 60, a('127.0.0.1')]]],
  ];
  for (const [title, text, want] of cases) {
    it(title, () => assert.deepEqual(records(text), want));
  }

  it('resolves $INCLUDE relative to the including file, with its own origin, and restores the origin after', () => {
    const files: Record<string, string> = {
      'zones/inc/hosts.inc': 'h1 A 127.0.0.1\n$ORIGIN other.domain.test.\nh2 A 127.0.0.2',
    };
    const read: string[] = [];
    const { zone, problems } = parse('$TTL 60\n$INCLUDE inc/hosts.inc sub\nafter A 127.0.0.3\n', {
      file: 'zones/domain.test.zone',
      readFile: (p) => {
        read.push(p);
        const text = files[p];
        if (text === undefined) throw new Error(`ENOENT ${p}`);
        return text;
      },
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(read, ['zones/inc/hosts.inc']);
    assert.deepEqual(
      zone?.records.map((r) => [r.name, `${r.source.file}:${r.source.line}`]),
      [
        ['h1.sub.domain.test', 'zones/inc/hosts.inc:1'],
        ['h2.other.domain.test', 'zones/inc/hosts.inc:3'],
        ['after.domain.test', 'zones/domain.test.zone:3'],
      ],
    );
  });

  it('records where each record was written and keeps the zone apex', () => {
    const { zone } = parse('$TTL 60\n$ORIGIN elsewhere.test.\n\nwww A 127.0.0.1');
    assert.equal(zone?.origin, 'domain.test');
    assert.equal(zone?.file, FILE);
    assert.deepEqual(zone?.records[0]?.source, { file: FILE, line: 4 });
  });
});

describe('parseZone reports mistakes with file:line and what was expected', () => {
  const f = (line: number, message: string) => `${FILE}:${line}: ${message}`;
  const cases: Array<[string, string, string]> = [
    ['a TTL with a bad unit', 'www 300x IN A 127.0.0.1', f(1, '"300x" is not a TTL (a number of seconds, or units like 1h30m)')],
    ['a TTL ending in a bare number after units', 'www 1h30 IN A 127.0.0.1', f(1, '"1h30" is not a TTL (a number of seconds, or units like 1h30m)')],
    ['a $TTL that is not one', '$TTL soon', f(1, '"soon" is not a TTL (a number of seconds, or units like 1h30m)')],
    ['a $TTL without a value', '$TTL', f(1, '$TTL needs one TTL (a number of seconds, or units like 1h30m)')],
    ['a TTL past 2^31-1', 'www 2147483648 A 127.0.0.1', f(1, 'TTL 2147483648 is more than 2147483647 seconds (RFC 2181 §8)')],
    ['an escaped dot inside a label, which cannot go on the wire', '$TTL 60\na\\.b A 127.0.0.1', f(2, '"a\\.b" has a dot, blank or control character inside a label; such names cannot be served')],
    ['a blank inside a label', '$TTL 60\nwww CNAME a\\032b', f(2, '"a\\032b" has a dot, blank or control character inside a label; such names cannot be served')],
    ['an IPv4 octet past 255', '$TTL 60\nwww A 127.0.0.300', f(2, '"127.0.0.300" is not an IPv4 address')],
    ['an IPv4 octet with a leading zero', '$TTL 60\nwww A 127.0.0.01', f(2, '"127.0.0.01" is not an IPv4 address')],
    ['an IPv4 address with three parts', '$TTL 60\nwww A 127.0.1', f(2, '"127.0.1" is not an IPv4 address')],
    ['an A record without an address', '$TTL 60\nwww A', f(2, 'A needs an IPv4 address')],
    ['an IPv6 address with nine groups', '$TTL 60\nh AAAA 1:2:3:4:5:6:7:8:9', f(2, '"1:2:3:4:5:6:7:8:9" is not an IPv6 address')],
    ['an IPv6 address with two ::', '$TTL 60\nh AAAA 1::2::3', f(2, '"1::2::3" is not an IPv6 address')],
    ['an IPv6 address with a zone index', '$TTL 60\nh AAAA fe80::1%eth0', f(2, '"fe80::1%eth0" is not an IPv6 address')],
    ['an IPv4 address in AAAA', '$TTL 60\nh AAAA 127.0.0.1', f(2, '"127.0.0.1" is not an IPv6 address')],
    ['an MX without a host', '$TTL 60\n@ MX 10', f(2, 'MX needs a preference and a host')],
    ['an MX with a field too many', '$TTL 60\n@ MX 10 mail extra', f(2, 'MX needs a preference and a host (unexpected "extra" after them)')],
    ['an MX preference past 65535', '$TTL 60\n@ MX 65536 mail', f(2, '"65536" is not an MX preference (a number from 0 to 65535)')],
    ['an MX preference that is a word', '$TTL 60\n@ MX ten mail', f(2, '"ten" is not an MX preference (a number from 0 to 65535)')],
    ['an SRV port past 65535', '$TTL 60\n_s._tcp SRV 0 0 65536 h', f(2, '"65536" is not a port (a number from 0 to 65535)')],
    ['an SRV without a target', '$TTL 60\n_s._tcp SRV 0 0 25', f(2, 'SRV needs a priority, a weight, a port and a target')],
    ['a SOA with a missing field', '$TTL 60\n@ SOA ns1 host 1 2 3 4', f(2, 'SOA needs a primary server, a mailbox and five numbers (serial refresh retry expire minimum)')],
    ['a SOA serial past 2^32-1', '$TTL 60\n@ SOA ns1 host 4294967296 2 3 4 5', f(2, '"4294967296" is not a SOA serial (a number from 0 to 4294967295)')],
    ['a SOA timer that is not a time', '$TTL 60\n@ SOA ns1 host 1 (\n 2 3x 4 5 )', f(3, '"3x" is not a SOA retry time (a number of seconds, or units like 1h30m, at most 4294967295)')],
    ['a CAA tag with a hyphen', '$TTL 60\n@ CAA 0 is-sue "x"', f(2, '"is-sue" is not a CAA tag (letters and digits only, RFC 8659 §4.1)')],
    ['CAA flags past 255', '$TTL 60\n@ CAA 256 issue "x"', f(2, '"256" is not CAA flags (a number from 0 to 255)')],
    ['a TXT string of 256 octets', `$TTL 60\nt TXT "${'x'.repeat(256)}"`, f(2, 'a TXT string is 256 octets long; at most 255 fit in one (RFC 1035 §3.3): split it into several quoted strings')],
    ['a TXT without strings', '$TTL 60\nt TXT', f(2, 'TXT needs at least one string')],
    ['a \\DDD escape past 255', '$TTL 60\nt TXT "\\256"', f(2, '"\\256" is not an octet (\\DDD must be 255 or less)')],
    ['a \\D escape with too few digits', '$TTL 60\nt TXT "\\12x"', f(2, '"\\12x": \\ before a digit needs three digits (\\DDD)')],
    ['a label of 64 octets', `$TTL 60\n${'l'.repeat(64)} A 127.0.0.1`, f(2, `"${'l'.repeat(64)}" has a label of 64 octets; at most 63 fit (RFC 1035 §2.3.4)`)],
    ['a name of 256 octets', `$TTL 60\nwww CNAME ${L63}.${L63}.${L63}.${'l'.repeat(62)}.`, f(2, `"${L63}.${L63}.${L63}.${'l'.repeat(62)}." makes a name of 256 octets; at most 255 fit (RFC 1035 §2.3.4)`)],
    ['a name with an empty label', '$TTL 60\na..b A 127.0.0.1', f(2, '"a..b" has an empty label (two dots in a row, or a leading dot)')],
    ['a class other than IN', '$TTL 60\nwww CH A 127.0.0.1', f(2, 'class CH is not supported: only IN')],
    ['an unknown type', '$TTL 60\nwww FOO 1', f(2, '"FOO" is not a supported record type (supported: A, AAAA, MX, CNAME, NS, SOA, TXT, PTR, SRV, CAA)')],
    ['a known but unsupported type', '$TTL 60\nwww HINFO a b', f(2, '"HINFO" is not a supported record type (supported: A, AAAA, MX, CNAME, NS, SOA, TXT, PTR, SRV, CAA)')],
    ['a record without a type', '$TTL 60\nwww 60 IN', f(2, 'a record needs a type (one of A, AAAA, MX, CNAME, NS, SOA, TXT, PTR, SRV, CAA)')],
    ['a parenthesis left open', '$TTL 60\n\n\n@ SOA ns1 host ( 1 2 3 4 5\nwww A 127.0.0.1', f(4, 'unterminated parenthesis opened on line 4')],
    ['a parenthesis closed without being opened', '$TTL 60\nwww A 127.0.0.1 )', f(2, '")" without a matching "("')],
    ['a quote left open', '$TTL 60\nt TXT "abc', f(2, 'unterminated quoted string (a " is missing before the end of the line)')],
    ['a backslash at the end of a line', '$TTL 60\nt TXT abc\\\nx A 127.0.0.1', f(2, 'a backslash at the end of a line escapes nothing')],
    ['a first line that starts with a blank', '$TTL 60\n  A 127.0.0.1', f(2, 'this line starts with a blank, so it takes the owner of the previous record, but there is none')],
    ['a first record without any TTL', 'www A 127.0.0.1', f(1, 'no TTL for this record: give it one, or put a $TTL line before it')],
    ['$INCLUDE without a way to read files', '$INCLUDE other.zone', f(1, '$INCLUDE is not allowed here')],
    ['an unknown directive', '$FOO bar', f(1, 'unknown directive $FOO (expected $ORIGIN, $TTL or $INCLUDE)')],
    ['$GENERATE', '$GENERATE 1-10 h$ A 127.0.0.$', f(1, '$GENERATE is not supported (only $ORIGIN, $TTL and $INCLUDE)')],
    ['an indented directive', '$TTL 60\nwww A 127.0.0.1\n  $TTL 30', f(3, '$TTL must start at the beginning of a line')],
    ['$ORIGIN without a name', '$ORIGIN', f(1, '$ORIGIN needs one domain name')],
    ['a quoted owner', '$TTL 60\n"www" A 127.0.0.1', f(2, 'expected an owner name, not the quoted string "www"')],
    ['a quoted MX preference', '$TTL 60\n@ MX "10" mail', f(2, 'expected an MX preference, not the quoted string "10"')],
  ];
  for (const [title, text, want] of cases) {
    it(`rejects ${title}`, () => {
      const { zone, problems } = parse(text);
      assert.deepEqual(problems.map(formatProblem), [want]);
      assert.equal(zone, null);
    });
  }

  it('goes on after a mistake and reports every one', () => {
    const { zone, problems } = parse('$TTL 60\na A 127.0.0.300\nb A 127.0.0.1\nc MX 10\nd A 1.2.3.4.5');
    assert.equal(zone, null);
    assert.deepEqual(
      problems.map((p) => p.line),
      [2, 4, 5],
    );
  });

  it('reports a mistake in an $INCLUDEd file with that file and its line', () => {
    const { problems } = parse('$TTL 60\n$INCLUDE part.inc\n', {
      file: 'zones/domain.test.zone',
      readFile: () => '\nok A 127.0.0.1\nbad A 999.0.0.1\n',
    });
    assert.deepEqual(problems.map(formatProblem), ['zones/part.inc:3: "999.0.0.1" is not an IPv4 address']);
  });

  it('reports an $INCLUDE file that cannot be read', () => {
    const { problems } = parse('$TTL 60\n$INCLUDE gone.inc\n', {
      readFile: () => {
        throw new Error('ENOENT: no such file');
      },
    });
    assert.deepEqual(problems.map(formatProblem), [`${FILE}:2: cannot read $INCLUDE file "gone.inc": ENOENT: no such file`]);
  });

  it('refuses an $INCLUDE loop instead of recursing', () => {
    const { problems } = parse('$TTL 60\n$INCLUDE b.inc\n', {
      file: 'a.zone',
      readFile: (p) => (p === 'b.inc' ? '$INCLUDE a.zone\n' : '$INCLUDE b.inc\n'),
    });
    assert.deepEqual(problems.map(formatProblem), ['b.inc:1: $INCLUDE "a.zone" would loop: a.zone is already being read']);
  });

  it('does not repeat an owner mistake for the lines that borrow that owner', () => {
    const { problems } = parse('$TTL 60\na..b A 127.0.0.1\n  A 127.0.0.2\n  MX 10 mail');
    assert.equal(problems.length, 1);
  });
});

describe('parseZone never throws', () => {
  const pieces = [
    '$ORIGIN', '$TTL', '$INCLUDE', '@', '.', 'IN', 'CH', 'A', 'AAAA', 'MX', 'SOA', 'TXT', 'CAA', 'SRV', 'CNAME', 'NS', 'PTR',
    '(', ')', '"', '\\', '\\0', '\\256', ';', ' ', '\t', '\n', '\r\n', '300', '1h', '0', '65536', '127.0.0.1', '::1', 'www',
    'a.b.', '..', '*', 'é', '\u0000',
  ];
  const zoneLike = fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 4 })), { maxLength: 60 }).map((p) => p.join(''));
  const readFile = (p: string): string => {
    if (p.endsWith('.missing')) throw new Error('no such file');
    return '$INCLUDE x.zone\nwww A 127.0.0.1';
  };

  it('on zone-like token soup, and returns a zone exactly when there are no problems', () => {
    fc.assert(
      fc.property(zoneLike, (text) => {
        const lines = text.split('\n').length;
        const { zone, problems } = parseZone(text, { file: 'f.zone', origin: 'domain.test', readFile });
        assert.equal(zone === null, problems.length > 0);
        for (const p of problems) {
          if (p.file === 'f.zone') assert.ok(p.line >= 1 && p.line <= lines, formatProblem(p));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const { zone, problems } = parseZone(text, { file: 'f.zone', origin: 'domain.test' });
        assert.equal(zone === null, problems.length > 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseZone reads back what a master file says', () => {
  // Written the way a zone file would write them, then parsed: the records must come back as generated.
  const label = fc.stringMatching(/^[a-z0-9_]([a-z0-9-]{0,20}[a-z0-9])?$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
  const octet = fc.integer({ min: 0, max: 255 });
  const record = fc.oneof(
    fc.record({ owner: name, ttl: fc.integer({ min: 0, max: 2 ** 31 - 1 }), data: fc.tuple(octet, octet, octet, octet).map(([w, x, y, z]): RData => a(`${w}.${x}.${y}.${z}`)) }),
    fc.record({
      owner: name,
      ttl: fc.integer({ min: 0, max: 86400 }),
      data: fc.record({ preference: fc.integer({ min: 0, max: 65535 }), host: name }).map(({ preference, host }): RData => ({ type: 'MX', preference, exchange: `${host}.domain.test` })),
    }),
    fc.record({
      owner: name,
      ttl: fc.integer({ min: 0, max: 86400 }),
      data: fc.array(fc.uint8Array({ maxLength: 255 }), { minLength: 1, maxLength: 3 }).map((strings): RData => ({ type: 'TXT', strings })),
    }),
  );
  const written = (data: RData): string => {
    switch (data.type) {
      case 'A':
        return `A ${data.address}`;
      case 'MX':
        return `MX ${data.preference} ${data.exchange.replace(/\.domain\.test$/, '')}`;
      case 'TXT':
        return `TXT ${data.strings.map((s) => `"${[...s].map((b) => `\\${String(b).padStart(3, '0')}`).join('')}"`).join(' ')}`;
      default:
        throw new Error(`not generated: ${data.type}`);
    }
  };

  it('for A, MX and TXT records with any bytes', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), (rs) => {
        const text = rs.map((r) => `${r.owner} ${r.ttl} IN ${written(r.data)}`).join('\n');
        assert.deepEqual(
          records(text),
          rs.map((r) => [`${r.owner}.domain.test`, r.ttl, r.data]),
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe('the field readers', () => {
  const durations: Array<[string, number | null]> = [
    ['0', 0],
    ['300', 300],
    ['1h', 3600],
    ['1h30m', 5400],
    ['2d', 172800],
    ['1w30m', 606600],
    ['1W2D3H4M5S', 788645],
    ['1h30', null],
    ['h', null],
    ['', null],
    ['-1', null],
    ['1.5h', null],
  ];
  for (const [text, want] of durations) {
    it(`reads the duration "${text}" as ${want}`, () => assert.equal(parseDuration(text), want));
  }

  const v4: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['256.0.0.1', false],
    ['1.2.3', false],
    ['1.2.3.4.5', false],
    ['01.2.3.4', false],
    ['1.2.3.4 ', false],
    ['a.b.c.d', false],
  ];
  for (const [text, want] of v4) it(`${want ? 'accepts' : 'rejects'} "${text}" as IPv4`, () => assert.equal(isIPv4(text), want));

  const v6: Array<[string, boolean]> = [
    ['::', true],
    ['::1', true],
    ['2001:db8::1', true],
    ['1:2:3:4:5:6:7:8', true],
    ['1:2:3:4:5:6:7::', true],
    ['::ffff:1.2.3.4', true],
    ['1:2:3:4:5:6:1.2.3.4', true],
    ['1:2:3:4:5:6:7', false],
    ['1:2:3:4:5:6:7:8:9', false],
    ['1::2::3', false],
    [':::', false],
    ['12345::', false],
    ['1.2.3.4::', false],
    ['g::1', false],
    ['fe80::1%eth0', false],
  ];
  for (const [text, want] of v6) it(`${want ? 'accepts' : 'rejects'} "${text}" as IPv6`, () => assert.equal(isIPv6(text), want));

  const names: Array<[string, string, string]> = [
    ['www', 'domain.test', 'www.domain.test'],
    ['www.', 'domain.test', 'www'],
    ['@', 'domain.test', 'domain.test'],
    ['.', 'domain.test', '.'],
    ['host', '.', 'host'],
    ['A\\.B', 'domain.test', 'a\\.b.domain.test'],
    ['\\032x', 'domain.test', '\\032x.domain.test'],
    ['\\(x\\)', 'domain.test', '\\(x\\).domain.test'],
    ['\\200', 'domain.test', '\\200.domain.test'],
  ];
  for (const [raw, origin, want] of names) {
    it(`reads the name "${raw}" under "${origin}" as "${want}"`, () => assert.deepEqual(parseName(raw, origin), { name: want }));
  }
});
