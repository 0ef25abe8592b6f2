import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import type { RecordType } from 'dns-packet';
import fc from 'fast-check';
import { answer, buildZoneSet, respond } from './authority.ts';
import type { AnswerOptions, ZoneSet } from './authority.ts';
import { isPosternError, ErrorCode } from '../core/errors.ts';
import type { RData } from './zone/types.ts';
import {
  A,
  AAAA,
  CAA,
  CNAME,
  MX,
  NS,
  PTR,
  SRV,
  TXT,
  apex,
  decodeReply,
  makeZone,
  malformedPackets,
  query,
} from '../../test/helpers/dns-zones.ts';
import type { QueryOptions, QueryType, Reply } from '../../test/helpers/dns-zones.ts';

const planespotting = makeZone('planespotting.test', [
  ...apex(2026112901, 300, 3600),
  ['@', A('127.50.0.1')],
  ['@', MX(10, 'mail')],
  ['@', TXT('v=spf1 mx -all')],
  ['mail', A('127.50.0.1')],
  ['mail', AAAA('::1')],
  ['bill', A('127.50.0.11')],
  ['bill', MX(10, 'smtp1.mailhost.test.')],
  // andy exists only as the parent of mail.andy: an empty non-terminal
  ['mail.andy', A('127.50.0.12')],
  ['terry', A('127.50.0.13')],
  ['www', CNAME('@')],
  ['c1', CNAME('c2')],
  ['c2', CNAME('terry')],
  ['loop1', CNAME('loop2')],
  ['loop2', CNAME('loop1')],
  ['out', CNAME('www.example.org.')],
  ['dangling', CNAME('nosuch')],
  ['cross', CNAME('smtp1.mailhost.test.')],
  ['_imap._tcp', SRV(0, 1, 143, 'mail')],
  ['@', CAA(0, 'issue', 'ca.test')],
  ['1.0.50.127.in-addr', PTR('mail')],
  ['*.wild', A('127.50.0.99')],
  ['sub', NS('ns.sub')],
  ['ns.sub', A('127.50.0.53')],
  ['dup', A('127.50.0.7')],
  ['dup', A('127.50.0.7')],
]);

const mailhost = makeZone('mailhost.test', [...apex(), ['smtp1', A('127.40.0.1')], ['smtp1', AAAA('::1')]]);

const deep = makeZone('deep.planespotting.test', [...apex(7, 60, 30), ['x', A('127.50.1.1')]]);

const ZONES = buildZoneSet([planespotting, mailhost, deep]);

const UDP: AnswerOptions = { transport: 'udp', clientAddress: '127.0.0.1', transferAllow: [] };
const TCP: AnswerOptions = { transport: 'tcp', clientAddress: '127.0.0.1', transferAllow: [] };

function ask(name: string, type: QueryType, options: QueryOptions = {}, how: AnswerOptions = UDP, zones: ZoneSet = ZONES): Reply {
  const replies = answer(query(name, type, options), zones, how);
  assert.equal(replies.length, 1, 'one reply message');
  return decodeReply(replies[0] ?? Buffer.alloc(0));
}

/** The question section of a message: from the header to the end of the first question. */
function questionBytes(message: Uint8Array): Buffer {
  const b = Buffer.from(message);
  let at = 12;
  while ((b[at] ?? 0) !== 0) at += (b[at] ?? 0) + 1;
  return b.subarray(12, at + 5);
}

/**
 * The owner names of a reply's answer records, in wire format, as they are on the wire. Our replies
 * carry no compression pointers, so a pointer here fails the test.
 */
function answerOwners(message: Uint8Array): Buffer[] {
  const b = Buffer.from(message);
  const nameEnd = (at: number): number => {
    while ((b[at] ?? 0) !== 0) {
      assert.equal((b[at] ?? 0) & 0xc0, 0, 'no compression pointers');
      at += (b[at] ?? 0) + 1;
    }
    return at + 1;
  };
  let at = nameEnd(12) + 4;
  const owners: Buffer[] = [];
  for (let i = 0; i < b.readUInt16BE(6); i++) {
    const end = nameEnd(at);
    owners.push(b.subarray(at, end));
    at = end + 10 + b.readUInt16BE(end + 8);
  }
  return owners;
}

/** A query for a name given as raw labels, which dns-packet could not write. */
function rawQuery(labels: readonly Uint8Array[], qtype: number, id = 4242): Buffer {
  const name = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]), Buffer.from([0])]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(1, 4);
  return Buffer.concat([head, name, tail]);
}

const SOA_LINE = 'planespotting.test 300 SOA ns1.planespotting.test hostmaster.planespotting.test 2026112901';

describe('answer: the header', () => {
  it('sets AA, clears RA and copies the ID and RD from the query', () => {
    for (const rd of [true, false]) {
      const r = ask('mail.planespotting.test', 'A', { id: 777, rd });
      assert.equal(r.packet.id, 777);
      assert.equal(r.aa, true);
      assert.equal(r.packet.flag_ra, false);
      assert.equal(r.packet.flag_rd, rd);
      assert.equal(r.packet.flag_qr, true);
    }
  });

  it('copies the CD bit and leaves AD clear', () => {
    const r = ask('mail.planespotting.test', 'A', { cd: true });
    assert.equal(r.packet.flag_cd, true);
    assert.equal(r.packet.flag_ad, false);
  });

  it('echoes the question byte for byte and writes the answer owner as asked', () => {
    const q = query('MaIl.PlaneSpotting.TEST', 'A');
    const [reply] = answer(q, ZONES, UDP);
    assert.ok(reply);
    assert.deepEqual(questionBytes(reply), questionBytes(q));
    const r = decodeReply(reply);
    assert.deepEqual(r.answer, ['MaIl.PlaneSpotting.TEST 300 A 127.50.0.1']);
  });
});

describe('answer: records of every supported type', () => {
  const cases: Array<[string, RecordType, string[]]> = [
    ['mail.planespotting.test', 'A', ['mail.planespotting.test 300 A 127.50.0.1']],
    ['mail.planespotting.test', 'AAAA', ['mail.planespotting.test 300 AAAA ::1']],
    ['planespotting.test', 'MX', ['planespotting.test 300 MX 10 mail.planespotting.test']],
    ['www.planespotting.test', 'CNAME', ['www.planespotting.test 300 CNAME planespotting.test']],
    ['planespotting.test', 'NS', ['planespotting.test 300 NS ns1.planespotting.test']],
    ['planespotting.test', 'SOA', ['planespotting.test 3600 SOA ns1.planespotting.test hostmaster.planespotting.test 2026112901']],
    ['planespotting.test', 'TXT', ['planespotting.test 300 TXT "v=spf1 mx -all"']],
    ['1.0.50.127.in-addr.planespotting.test', 'PTR', ['1.0.50.127.in-addr.planespotting.test 300 PTR mail.planespotting.test']],
    ['_imap._tcp.planespotting.test', 'SRV', ['_imap._tcp.planespotting.test 300 SRV 0 1 143 mail.planespotting.test']],
    ['planespotting.test', 'CAA', ['planespotting.test 300 CAA 0 issue "ca.test"']],
    ['dup.planespotting.test', 'A', ['dup.planespotting.test 300 A 127.50.0.7']],
  ];
  for (const [name, type, want] of cases) {
    it(`answers ${type} for ${name} authoritatively`, () => {
      const r = ask(name, type);
      assert.equal(r.rcode, 'NOERROR');
      assert.equal(r.aa, true);
      assert.deepEqual(r.answer, want);
      assert.deepEqual(r.authority, [], 'no authority section on positive answers');
    });
  }
});

describe('answer: the additional section', () => {
  const cases: Array<[string, RecordType, string[]]> = [
    ['planespotting.test', 'MX', ['mail.planespotting.test 300 A 127.50.0.1', 'mail.planespotting.test 300 AAAA ::1']],
    ['bill.planespotting.test', 'MX', ['smtp1.mailhost.test 300 A 127.40.0.1', 'smtp1.mailhost.test 300 AAAA ::1']],
    ['planespotting.test', 'NS', ['ns1.planespotting.test 300 A 127.0.0.53']],
    ['_imap._tcp.planespotting.test', 'SRV', ['mail.planespotting.test 300 A 127.50.0.1', 'mail.planespotting.test 300 AAAA ::1']],
    ['mail.planespotting.test', 'A', []],
  ];
  for (const [name, type, want] of cases) {
    it(`carries the addresses of the targets of ${name} ${type} that we serve`, () => {
      assert.deepEqual(ask(name, type).additional, want);
    });
  }

  it('leaves out addresses of targets in zones we do not serve', () => {
    const zones = buildZoneSet([makeZone('solo.test', [...apex(), ['@', MX(10, 'mx.elsewhere.test.')]])]);
    const r = ask('solo.test', 'MX', {}, UDP, zones);
    assert.deepEqual(r.answer, ['solo.test 300 MX 10 mx.elsewhere.test']);
    assert.deepEqual(r.additional, []);
  });
});

describe('answer: ANY (RFC 8482)', () => {
  it('answers one RRset, the MX first, for a name with several', () => {
    const r = ask('planespotting.test', 'ANY');
    assert.deepEqual(r.answer, ['planespotting.test 300 MX 10 mail.planespotting.test']);
  });

  it('answers the A RRset for a name without MX', () => {
    assert.deepEqual(ask('terry.planespotting.test', 'ANY').answer, ['terry.planespotting.test 300 A 127.50.0.13']);
  });

  it('answers only the CNAME at an alias, without following it', () => {
    assert.deepEqual(ask('c1.planespotting.test', 'ANY').answer, ['c1.planespotting.test 300 CNAME c2.planespotting.test']);
  });

  it('answers NXDOMAIN for a name that does not exist', () => {
    assert.equal(ask('nosuch.planespotting.test', 'ANY').rcode, 'NXDOMAIN');
  });
});

describe('answer: CNAME', () => {
  const cases: Array<[string, string, string[], string]> = [
    [
      'follows a chain to the target records',
      'c1.planespotting.test',
      [
        'c1.planespotting.test 300 CNAME c2.planespotting.test',
        'c2.planespotting.test 300 CNAME terry.planespotting.test',
        'terry.planespotting.test 300 A 127.50.0.13',
      ],
      'NOERROR',
    ],
    [
      'follows an alias into another of our zones',
      'cross.planespotting.test',
      ['cross.planespotting.test 300 CNAME smtp1.mailhost.test', 'smtp1.mailhost.test 300 A 127.40.0.1'],
      'NOERROR',
    ],
    [
      'stops a loop after each alias once',
      'loop1.planespotting.test',
      ['loop1.planespotting.test 300 CNAME loop2.planespotting.test', 'loop2.planespotting.test 300 CNAME loop1.planespotting.test'],
      'NOERROR',
    ],
    ['stops at the last CNAME when the chain leaves our zones', 'out.planespotting.test', ['out.planespotting.test 300 CNAME www.example.org'], 'NOERROR'],
    ['answers NXDOMAIN when the target does not exist (RFC 6604)', 'dangling.planespotting.test', ['dangling.planespotting.test 300 CNAME nosuch.planespotting.test'], 'NXDOMAIN'],
  ];
  for (const [what, name, want, rcode] of cases) {
    it(what, () => {
      const r = ask(name, 'A');
      assert.deepEqual(r.answer, want);
      assert.equal(r.rcode, rcode);
      assert.equal(r.aa, true);
    });
  }

  it('adds the SOA of the zone where a chain ends without data', () => {
    assert.deepEqual(ask('dangling.planespotting.test', 'A').authority, [SOA_LINE]);
    assert.deepEqual(ask('www.planespotting.test', 'SRV').answer, ['www.planespotting.test 300 CNAME planespotting.test']);
    assert.deepEqual(ask('www.planespotting.test', 'SRV').authority, [SOA_LINE]);
  });

  it('gives the addresses of MX targets found at the end of a chain', () => {
    const r = ask('www.planespotting.test', 'MX');
    assert.deepEqual(r.answer, ['www.planespotting.test 300 CNAME planespotting.test', 'planespotting.test 300 MX 10 mail.planespotting.test']);
    assert.deepEqual(r.additional, ['mail.planespotting.test 300 A 127.50.0.1', 'mail.planespotting.test 300 AAAA ::1']);
  });

  it('stops a chain longer than eight links', () => {
    const links = Array.from({ length: 12 }, (_, i) => [`l${i}`, CNAME(`l${i + 1}`)] as const);
    const zones = buildZoneSet([makeZone('chain.test', [...apex(), ...links, ['l12', A('127.0.0.9')]])]);
    const r = ask('l0.chain.test', 'A', {}, TCP, zones);
    assert.equal(r.answer.length, 8);
    assert.ok(r.answer.every((line) => line.includes(' CNAME ')));
  });
});

describe('answer: names and types that are not there (RFC 2308)', () => {
  const cases: Array<[string, string, RecordType, string, string[]]> = [
    ['NXDOMAIN for a name that does not exist', 'nosuch.planespotting.test', 'A', 'NXDOMAIN', [SOA_LINE]],
    ['NXDOMAIN below a name that exists', 'x.terry.planespotting.test', 'A', 'NXDOMAIN', [SOA_LINE]],
    ['NODATA for an empty non-terminal', 'andy.planespotting.test', 'A', 'NOERROR', [SOA_LINE]],
    ['NODATA for an empty non-terminal asked for MX', 'in-addr.planespotting.test', 'MX', 'NOERROR', [SOA_LINE]],
    ['NODATA for a name without that type', 'terry.planespotting.test', 'MX', 'NOERROR', [SOA_LINE]],
    ['NODATA for a type we never hold', 'terry.planespotting.test', 'HINFO', 'NOERROR', [SOA_LINE]],
    [
      'the SOA of the deepest zone',
      'nosuch.deep.planespotting.test',
      'A',
      'NXDOMAIN',
      ['deep.planespotting.test 30 SOA ns1.deep.planespotting.test hostmaster.deep.planespotting.test 7'],
    ],
  ];
  for (const [what, name, type, rcode, authority] of cases) {
    it(`answers ${what}, with the SOA in authority`, () => {
      const r = ask(name, type);
      assert.equal(r.rcode, rcode);
      assert.equal(r.aa, true);
      assert.deepEqual(r.answer, []);
      assert.deepEqual(r.authority, authority);
    });
  }

  it('gives the negative SOA the lesser of its TTL and its MINIMUM', () => {
    for (const [soaTtl, minimum, want] of [
      [3600, 300, 300],
      [600, 900, 600],
      [120, 120, 120],
    ] as const) {
      const zones = buildZoneSet([makeZone('neg.test', apex(1, minimum, soaTtl))]);
      const soa = ask('nosuch.neg.test', 'A', {}, UDP, zones).packet.authorities?.[0];
      assert.equal(soa?.type === 'SOA' ? soa.ttl : null, want, `SOA TTL ${soaTtl}, MINIMUM ${minimum}`);
    }
  });
});

describe('answer: which zone, and names that are not ours', () => {
  it('chooses the zone with the longest matching origin', () => {
    const r = ask('x.deep.planespotting.test', 'A');
    assert.deepEqual(r.answer, ['x.deep.planespotting.test 300 A 127.50.1.1']);
  });

  const refused: Array<[string, RecordType]> = [
    ['www.example.org', 'A'],
    ['test', 'NS'],
    ['.', 'NS'],
    ['planespotting.test.example', 'A'],
    ['xplanespotting.test', 'A'],
  ];
  for (const [name, type] of refused) {
    it(`refuses ${name} ${type}, which is outside every zone`, () => {
      const r = ask(name, type, { rd: true });
      assert.equal(r.rcode, 'REFUSED');
      assert.equal(r.aa, false);
      assert.equal(r.packet.flag_ra, false);
      assert.deepEqual([...r.answer, ...r.authority, ...r.additional], []);
    });
  }

  it('refers a name below a delegation, without AA, with the glue', () => {
    const r = ask('host.sub.planespotting.test', 'A');
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.aa, false);
    assert.deepEqual(r.answer, []);
    assert.deepEqual(r.authority, ['sub.planespotting.test 300 NS ns.sub.planespotting.test']);
    assert.deepEqual(r.additional, ['ns.sub.planespotting.test 300 A 127.50.0.53']);
  });

  it('answers names under a wildcard with the name as asked (RFC 4592)', () => {
    const r = ask('Anything.wild.planespotting.test', 'A');
    assert.deepEqual(r.answer, ['Anything.wild.planespotting.test 300 A 127.50.0.99']);
    assert.equal(ask('anything.wild.planespotting.test', 'MX').rcode, 'NOERROR');
    assert.equal(ask('wild.planespotting.test', 'A').rcode, 'NOERROR', 'wild itself is an empty non-terminal');
  });

  const octets: Array<readonly [string, Uint8Array]> = [
    ['a dot', Buffer.from('x.y')],
    ['a backslash', Buffer.from('A\\B')],
    ['a space', Buffer.from('a b')],
    ['UTF-8 octets', Buffer.from([0xc3, 0xa9])],
    ['a NUL and a DEL', Buffer.from([0x00, 0x7f])],
    ['upper-case letters', Buffer.from('MiXeD')],
  ];
  for (const [what, label] of octets) {
    it(`writes the owner of a wildcard answer byte for byte as asked, with ${what} in a label`, () => {
      const labels = [label, ...['wild', 'planespotting', 'test'].map((l) => Buffer.from(l))];
      const q = rawQuery(labels, 1);
      const [reply] = answer(q, ZONES, UDP);
      assert.ok(reply);
      const asked = questionBytes(q).subarray(0, -4);
      assert.deepEqual(questionBytes(reply), questionBytes(q));
      assert.deepEqual(answerOwners(reply), [asked]);
      assert.equal(decodeReply(reply).answer.length, 1);
    });
  }

  it('writes every owner of a CNAME chain from a wildcard, the first as asked and the rest as in the zone', () => {
    const zones = buildZoneSet([makeZone('alias.test', [...apex(), ['*', CNAME('target')], ['target', A('127.0.0.8')], ['target', A('127.0.0.9')]])]);
    const q = rawQuery([Buffer.from('a.b'), Buffer.from('alias'), Buffer.from('test')], 1);
    const [reply] = answer(q, zones, UDP);
    assert.ok(reply);
    const target = Buffer.from([6, ...Buffer.from('target'), 5, ...Buffer.from('alias'), 4, ...Buffer.from('test'), 0]);
    assert.deepEqual(answerOwners(reply), [questionBytes(q).subarray(0, -4), target, target]);
  });

  it('writes owners of zone names that carry escaped dots as one label', () => {
    const zones = buildZoneSet([makeZone('esc.test', [...apex(), ['a\\.b', A('127.0.0.2')], ['a\\.b', MX(10, 'mail')], ['mail', A('127.0.0.3')]])]);
    const q = rawQuery([Buffer.from('A.B'), Buffer.from('esc'), Buffer.from('test')], 15);
    const [reply] = answer(q, zones, UDP);
    assert.ok(reply);
    assert.deepEqual(answerOwners(reply), [questionBytes(q).subarray(0, -4)]);
    assert.deepEqual(decodeReply(reply).additional, ['mail.esc.test 300 A 127.0.0.3']);
  });

  it('refuses classes other than IN', () => {
    assert.equal(ask('planespotting.test', 'TXT', { class: 'CH' }).rcode, 'REFUSED');
    assert.equal(ask('planespotting.test', 'A', { class: 'ANY' }).rcode, 'NOERROR');
  });
});

describe('answer: EDNS0 (RFC 6891)', () => {
  it('echoes an OPT record when the query has one, and none when not', () => {
    const r = ask('mail.planespotting.test', 'A', { edns: { payload: 4096 } });
    assert.deepEqual(r.opt, { udpPayloadSize: 1232, ednsVersion: 0, flag_do: false });
    assert.equal(ask('mail.planespotting.test', 'A').opt, null);
  });

  it('copies the DO bit', () => {
    assert.equal(ask('mail.planespotting.test', 'A', { edns: { dnssecOk: true } }).opt?.flag_do, true);
  });

  it('answers BADVERS to an EDNS version above 0, with an OPT of version 0', () => {
    const r = ask('mail.planespotting.test', 'A', { edns: { version: 1 } });
    assert.equal(r.fullRcode, 16);
    assert.equal(r.opt?.ednsVersion, 0);
    assert.deepEqual(r.answer, []);
  });

  it('keeps the OPT record in error replies', () => {
    assert.notEqual(ask('www.example.org', 'A', { edns: {} }).opt, null);
  });
});

describe('answer: what fits over UDP', () => {
  // 14 TXT records of about 67 bytes each on the wire: about 950 bytes of answer.
  const txts = Array.from({ length: 14 }, (_, i) => ['big', TXT(`record ${String(i).padStart(2, '0')} ${'x'.repeat(30)}`)] as const);
  // Many MX hosts: the MX records fit in 512 bytes, their addresses do not.
  const mxs = Array.from({ length: 8 }, (_, i) => ['many', MX(10, `mx${i}`)] as const);
  const hosts = Array.from({ length: 8 }, (_, i) => [[`mx${i}`, A(`127.0.3.${i}`)] as const, [`mx${i}`, AAAA(`::1`)] as const]).flat();
  const zones = buildZoneSet([makeZone('size.test', [...apex(), ...txts, ...mxs, ...hosts])]);

  const cases: Array<[string, QueryOptions, AnswerOptions, boolean]> = [
    ['sets TC and empties the sections over UDP without EDNS (512 bytes)', {}, UDP, true],
    ['sets TC when the client announces 600 bytes', { edns: { payload: 600 } }, UDP, true],
    ['treats an announced size below 512 as 512', { edns: { payload: 100 } }, UDP, true],
    ['fits within 1232 bytes when the client announces more', { edns: { payload: 4096 } }, UDP, false],
    ['sends everything over TCP', {}, TCP, false],
  ];
  for (const [what, q, how, truncated] of cases) {
    it(what, () => {
      const [message] = answer(query('big.size.test', 'TXT', q), zones, how);
      assert.ok(message);
      const r = decodeReply(message);
      assert.equal(r.tc, truncated);
      assert.equal(r.answer.length, truncated ? 0 : 14);
      assert.equal(r.packet.questions?.[0]?.name, 'big.size.test', 'the question is kept');
      const limit = how.transport === 'tcp' ? 65535 : Math.max(512, Math.min(q.edns?.payload ?? 512, 1232));
      assert.ok(message.length <= limit, `${message.length} bytes within ${limit}`);
      if (q.edns !== undefined) assert.notEqual(r.opt, null, 'the OPT record survives truncation');
    });
  }

  // RFC 9471: glue for name servers inside the delegated zone is required; without it the referral
  // is useless, so a reply that cannot hold it is truncated.
  const inDomain = Array.from({ length: 8 }, (_, i) => ['child', NS(`ns${i}.child`)] as const);
  const inDomainGlue = Array.from({ length: 8 }, (_, i) => [[`ns${i}.child`, A(`127.0.4.${i}`)] as const, [`ns${i}.child`, AAAA('::1')] as const]).flat();
  const sibling = Array.from({ length: 8 }, (_, i) => ['other', NS(`mx${i}`)] as const);
  const referrals = buildZoneSet([makeZone('size.test', [...apex(), ...inDomain, ...inDomainGlue, ...sibling, ...hosts])]);

  it('sets TC on a referral whose in-domain glue does not fit (RFC 9471 §3.1)', () => {
    const udp = ask('www.child.size.test', 'A', {}, UDP, referrals);
    assert.equal(udp.tc, true);
    assert.equal(udp.aa, false);
    const tcp = ask('www.child.size.test', 'A', {}, TCP, referrals);
    assert.equal(tcp.tc, false);
    assert.equal(tcp.authority.length, 8);
    assert.equal(tcp.additional.length, 16);
  });

  it('gives a referral with its in-domain glue whole when the client announces room for it', () => {
    const r = ask('www.child.size.test', 'A', { edns: { payload: 1232 } }, UDP, referrals);
    assert.equal(r.tc, false);
    assert.equal(r.authority.length, 8);
    assert.equal(r.additional.length, 16);
  });

  it('drops glue of name servers outside the delegated zone without setting TC', () => {
    const r = ask('www.other.size.test', 'A', {}, UDP, referrals);
    assert.equal(r.tc, false);
    assert.equal(r.authority.length, 8);
    assert.deepEqual(r.additional, []);
  });

  it('drops the additional section before it sets TC (RFC 2181 §9)', () => {
    const udp = ask('many.size.test', 'MX', {}, UDP, zones);
    assert.equal(udp.tc, false);
    assert.equal(udp.answer.length, 8);
    assert.deepEqual(udp.additional, []);
    const tcp = ask('many.size.test', 'MX', {}, TCP, zones);
    assert.equal(tcp.additional.length, 16);
  });
});

describe('answer: zone transfers', () => {
  const allowed: AnswerOptions = { transport: 'tcp', clientAddress: '127.0.0.9', transferAllow: ['127.0.0.9'] };

  function transfer(name: string, type: 'AXFR' | 'IXFR', how: AnswerOptions, options: QueryOptions = {}, zones: ZoneSet = ZONES): Reply[] {
    return answer(query(name, type, options), zones, how).map(decodeReply);
  }

  const refusals: Array<[string, AnswerOptions]> = [
    ['over UDP, even from an allowed client', { ...allowed, transport: 'udp' }],
    ['over TCP from a client not in transferAllow', { ...allowed, clientAddress: '127.0.0.10' }],
    ['when transferAllow is empty', { ...allowed, transferAllow: [] }],
  ];
  for (const [what, how] of refusals) {
    for (const type of ['AXFR', 'IXFR'] as const) {
      it(`refuses ${type} ${what}`, () => {
        const replies = transfer('mailhost.test', type, how);
        assert.equal(replies.length, 1);
        assert.equal(replies[0]?.rcode, 'REFUSED');
        assert.deepEqual(replies[0]?.answer, []);
      });
    }
  }

  it('sends SOA, every record, SOA to an allowed client over TCP', () => {
    const replies = transfer('mailhost.test', 'AXFR', allowed);
    assert.equal(replies.length, 1);
    const soa = 'mailhost.test 3600 SOA ns1.mailhost.test hostmaster.mailhost.test 2026112901';
    assert.deepEqual(replies[0]?.answer, [
      soa,
      'mailhost.test 300 NS ns1.mailhost.test',
      'ns1.mailhost.test 300 A 127.0.0.53',
      'smtp1.mailhost.test 300 A 127.40.0.1',
      'smtp1.mailhost.test 300 AAAA ::1',
      soa,
    ]);
    assert.equal(replies[0]?.aa, true);
  });

  it('recognises an allowed client behind an IPv4-mapped IPv6 address', () => {
    const replies = transfer('mailhost.test', 'AXFR', { ...allowed, clientAddress: '::ffff:127.0.0.9' });
    assert.equal(replies[0]?.rcode, 'NOERROR');
  });

  it('answers NOTAUTH to a transfer of a name that is not one of our zone apexes', () => {
    assert.equal(transfer('smtp1.mailhost.test', 'AXFR', allowed)[0]?.rcode, 'NOTAUTH');
    assert.equal(transfer('example.org', 'AXFR', allowed)[0]?.rcode, 'NOTAUTH');
  });

  it('splits a large zone over several messages, each within the TCP limit', () => {
    const many = Array.from({ length: 3000 }, (_, i) => [`h${i}`, TXT(`host number ${i} ${'y'.repeat(40)}`)] as const);
    const zones = buildZoneSet([makeZone('large.test', [...apex(), ...many])]);
    const raw = answer(query('large.test', 'AXFR'), zones, allowed);
    assert.ok(raw.length > 1, `${raw.length} messages`);
    for (const m of raw) assert.ok(m.length <= 65535);
    const replies = raw.map(decodeReply);
    const all = replies.flatMap((r) => r.answer);
    assert.equal(all.length, 3000 + 2 + 2, 'SOA, NS, ns1 A, the 3000 records, SOA');
    assert.match(all[0] ?? '', / SOA /);
    assert.match(all.at(-1) ?? '', / SOA /);
    assert.ok(replies.every((r) => r.packet.id === 4242));
    assert.equal(replies[0]?.packet.questions?.length, 1);
  });

  it('answers IXFR from a client at our serial with the SOA alone (RFC 1995 §2)', () => {
    const replies = transfer('mailhost.test', 'IXFR', allowed, { ixfrSerial: 2026112901 });
    assert.equal(replies.length, 1);
    assert.equal(replies[0]?.answer.length, 1);
    assert.match(replies[0]?.answer[0] ?? '', / SOA /);
  });

  it('answers IXFR from an older serial with the whole zone, as AXFR does', () => {
    const replies = transfer('mailhost.test', 'IXFR', allowed, { ixfrSerial: 2026112800 });
    assert.equal(replies[0]?.answer.length, 6);
  });
});

/** A query with its opcode or qtype replaced by one dns-packet has no name for. */
function patched(base: Buffer, change: { opcode?: number; qtype?: number }): Buffer {
  const b = Buffer.from(base);
  if (change.opcode !== undefined) b.writeUInt16BE((b.readUInt16BE(2) & ~0x7800) | (change.opcode << 11), 2);
  if (change.qtype !== undefined) b.writeUInt16BE(change.qtype, b.length - 4);
  return b;
}

describe('answer: what we do not implement', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['answers NOTIMP to an inverse query (opcode 1)', patched(query('planespotting.test', 'A'), { opcode: 1 }), 'NOTIMP'],
    ['answers NOTIMP to a STATUS request (opcode 2)', patched(query('planespotting.test', 'A'), { opcode: 2 }), 'NOTIMP'],
    ['answers NOTIMP to a NOTIFY (opcode 4)', patched(query('planespotting.test', 'SOA'), { opcode: 4 }), 'NOTIMP'],
    ['answers NOTIMP to an UPDATE (opcode 5)', patched(query('planespotting.test', 'SOA'), { opcode: 5 }), 'NOTIMP'],
    ['answers NOTIMP to a MAILB query', patched(query('planespotting.test', 'A'), { qtype: 253 }), 'NOTIMP'],
    ['answers FORMERR to a query for type OPT', patched(query('planespotting.test', 'A'), { qtype: 41 }), 'FORMERR'],
  ];
  for (const [what, message, rcode] of cases) {
    it(what, () => {
      const replies = answer(message, ZONES, UDP);
      assert.equal(replies.length, 1);
      const r = decodeReply(replies[0] ?? Buffer.alloc(0));
      assert.equal(r.rcode, rcode);
      assert.equal(r.packet.id, message.readUInt16BE(0));
      assert.equal(r.answer.length, 0);
    });
  }

  it('keeps the opcode of the request in the NOTIMP reply', () => {
    const [reply] = answer(patched(query('planespotting.test', 'SOA'), { opcode: 4 }), ZONES, UDP);
    assert.equal(((reply?.readUInt16BE(2) ?? 0) >> 11) & 0xf, 4);
  });
});

// A parser that loops on a bad pointer hangs: the timeout turns that into a failure.
describe('answer: malformed requests', { timeout: 20_000 }, () => {
  for (const [what, bytes, want] of malformedPackets()) {
    it(`${want === 'drop' ? 'drops' : 'answers FORMERR to'} ${what}`, () => {
      const replies = answer(bytes, ZONES, UDP);
      if (want === 'drop') {
        assert.deepEqual(replies, []);
        return;
      }
      assert.equal(replies.length, 1);
      const reply = replies[0] ?? Buffer.alloc(0);
      assert.equal(reply.readUInt16BE(0), bytes.readUInt16BE(0), 'the ID is copied');
      assert.equal(reply[3]! & 0xf, 1, 'RCODE is FORMERR');
      assert.equal(reply[2]! & 0x80, 0x80, 'QR is set');
      assert.doesNotThrow(() => dnsPacket.decode(reply));
    });
  }

  it('says why a request was malformed, for the log', () => {
    const [, bytes] = malformedPackets().find(([what]) => what.includes('pointer to itself')) ?? [];
    assert.ok(bytes);
    const { summary } = respond(bytes, ZONES, UDP);
    assert.equal(summary.rcode, 'FORMERR');
    assert.match(summary.problem ?? '', /pointer/);
  });

  it('never throws, and any reply carries the request ID and fits in 512 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        const replies = answer(bytes, ZONES, UDP);
        assert.ok(replies.length <= 1);
        for (const reply of replies) {
          assert.equal(reply.readUInt16BE(0), ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0));
          assert.ok(reply.length <= 512);
          assert.ok((reply[2] ?? 0) & 0x80);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on well-formed headers followed by anything', () => {
    const head = query('planespotting.test', 'MX').subarray(0, 12);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (tail) => {
        const replies = answer(Buffer.concat([head, tail]), ZONES, TCP);
        assert.ok(replies.length <= 1);
      }),
      { numRuns: 3000 },
    );
  });

  describe('properties over arbitrary bytes and mutated valid queries', () => {
    const sized = makeZone('size.test', [
      ...apex(),
      ...Array.from({ length: 30 }, (_, i) => ['big', TXT(`record ${i} ${'y'.repeat(40)}`)] as const),
      ...Array.from({ length: 8 }, (_, i) => [[`ns${i}.child`, A(`127.0.4.${i}`)] as const, ['child', NS(`ns${i}.child`)] as const]).flat(),
      ['*.any', MX(10, 'big')],
    ]);
    const zones = buildZoneSet([planespotting, mailhost, deep, sized]);
    // Every owner, and the parents of wildcards, so that a random first label lands on one.
    const names = zones.zones
      .flatMap((z) => z.records.map((r) => r.name.replace(/^\*\./, '')))
      .filter((n, i, all) => all.indexOf(n) === i);
    const label = fc.uint8Array({ minLength: 1, maxLength: 12 });

    /** A well-formed query written octet by octet, so labels may hold any octet. */
    const validQuery = fc
      .record({
        id: fc.integer({ min: 0, max: 0xffff }),
        flags: fc.constantFrom(0, 0x0100, 0x0110, 0x0100 | 0x0020),
        prefix: fc.option(label),
        name: fc.constantFrom(...names),
        qtype: fc.constantFrom(1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 99, 251, 252, 253, 255, 257, 65535),
        qclass: fc.constantFrom(1, 1, 1, 3, 255),
        edns: fc.option(fc.record({ payload: fc.integer({ min: 0, max: 0xffff }), version: fc.constantFrom(0, 0, 1), dnssecOk: fc.boolean() })),
      })
      .map((q) => {
        const labels = [...(q.prefix === null ? [] : [q.prefix]), ...q.name.split('.').map((l) => Buffer.from(l))];
        const bytes = rawQuery(labels, q.qtype, q.id);
        bytes.writeUInt16BE(q.flags, 2);
        bytes.writeUInt16BE(q.qclass, bytes.length - 2);
        if (q.edns === null) return { bytes, payload: null };
        bytes.writeUInt16BE(1, 10);
        const opt = Buffer.from([0, 0, 41, 0, 0, 0, q.edns.version, q.edns.dnssecOk ? 0x80 : 0, 0, 0, 0]);
        opt.writeUInt16BE(q.edns.payload, 3);
        return { bytes: Buffer.concat([bytes, opt]), payload: q.edns.payload };
      });

    /** The same, then a few octets overwritten, the end cut off or garbage appended. */
    const mutatedQuery = fc
      .tuple(
        validQuery,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat()),
        fc.uint8Array({ maxLength: 6 }),
      )
      .map(([q, writes, cut, tail]) => {
        let b = Buffer.from(q.bytes);
        for (const [at, byte] of writes) b[at % b.length] = byte;
        if (cut !== null) b = b.subarray(0, cut % (b.length + 1));
        return { bytes: Buffer.concat([b, tail]), payload: 'unknown' as const };
      });

    const request = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((b) => ({ bytes: Buffer.from(b), payload: 'unknown' as const })),
      validQuery,
      mutatedQuery,
    );
    const transport = fc.constantFrom<AnswerOptions>(UDP, { ...TCP, transferAllow: ['127.0.0.1'] });

    /** The EDNS payload a request announces, when dns-packet can read it; null without an OPT. */
    function announced(bytes: Buffer): number | 'unknown' | null {
      try {
        const opt = (dnsPacket.decode(bytes).additionals ?? []).find((a) => a.type === 'OPT');
        return opt !== undefined && opt.type === 'OPT' ? opt.udpPayloadSize : null;
      } catch {
        return 'unknown';
      }
    }

    it('never throws; every reply keeps the ID, is a response dns-packet reads, and fits the transport', () => {
      fc.assert(
        fc.property(request, transport, ({ bytes, payload }, how) => {
          const { replies, summary } = respond(bytes, zones, how);
          assert.doesNotMatch(summary.problem ?? '', /^internal/);
          if (how.transport === 'udp') assert.ok(replies.length <= 1);
          const size = payload === 'unknown' ? announced(bytes) : payload;
          for (const reply of replies) {
            assert.equal(reply.readUInt16BE(0), bytes.length >= 2 ? bytes.readUInt16BE(0) : -1);
            assert.ok((reply[2] ?? 0) & 0x80, 'QR set');
            const decoded = dnsPacket.decode(reply);
            const hasOpt = (decoded.additionals ?? []).some((a) => a.type === 'OPT');
            // RFC 6891 §6.2.5: without EDNS 512 octets; with it what the client announced, at least 512, at most our 1232.
            const limit =
              how.transport === 'tcp' ? 65535 : !hasOpt ? 512 : typeof size === 'number' ? Math.max(512, Math.min(size, 1232)) : 1232;
            assert.ok(reply.length <= limit, `${reply.length} octets within ${limit}`);
          }
        }),
        { numRuns: 4000 },
      );
    });

    it('owns every answer at the question name by the name exactly as asked, whatever its octets', () => {
      fc.assert(
        fc.property(validQuery, ({ bytes }) => {
          const [reply] = answer(bytes, zones, TCP);
          assert.ok(reply);
          // The first answer record, when there is one, is the asked name's (a record or a CNAME).
          const [first] = answerOwners(reply);
          if (first !== undefined) assert.deepEqual(first, questionBytes(bytes).subarray(0, -4));
        }),
        { numRuns: 2000 },
      );
    });
  });

  it('answers SERVFAIL rather than throwing when a record cannot be written', () => {
    // What a buggy parser could hand us: an MX without an exchange.
    const broken = { type: 'MX', preference: 10 } as unknown as RData;
    const zones = buildZoneSet([{ origin: 'broken.test', file: 'broken.test.zone', records: [...makeZone('broken.test', apex()).records, { name: 'bad.broken.test', ttl: 1, class: 'IN', data: broken, source: { file: 'x', line: 1 } }] }]);
    const r = ask('bad.broken.test', 'MX', {}, UDP, zones);
    assert.equal(r.rcode, 'SERVFAIL');
    assert.deepEqual(r.answer, []);
    assert.equal(r.packet.id, 4242);
  });
});

describe('buildZoneSet', () => {
  it('refuses a second zone with the same origin, whatever its case', () => {
    const again = makeZone('MailHost.test', apex(), 'other/mailhost.test.zone');
    assert.throws(
      () => buildZoneSet([mailhost, again]),
      (err: unknown) => isPosternError(err, ErrorCode.Zone) && /already loaded from mailhost\.test\.zone/.test(err.message),
    );
  });

  it('refuses a zone without an SOA at its apex', () => {
    const noSoa = makeZone('nosoa.test', [['@', NS('ns1')]]);
    assert.throws(() => buildZoneSet([noSoa]), (err: unknown) => isPosternError(err, ErrorCode.Zone) && /no SOA/.test(err.message));
  });

  it('keeps the zones it was given', () => {
    assert.deepEqual(
      ZONES.zones.map((z) => z.origin),
      ['planespotting.test', 'mailhost.test', 'deep.planespotting.test'],
    );
  });

  it('does not serve records outside the origin', () => {
    const zones = buildZoneSet([makeZone('in.test', [...apex(), ['stray.other.test.', A('127.0.0.1')]])]);
    assert.equal(ask('stray.other.test', 'A', {}, UDP, zones).rcode, 'REFUSED');
  });

  it('serves a zone whose names carry escapes', () => {
    const zones = buildZoneSet([makeZone('esc.test', [...apex(), ['\\065b', A('127.0.0.2')]])]);
    assert.deepEqual(ask('AB.esc.test', 'A', {}, UDP, zones).answer, ['AB.esc.test 300 A 127.0.0.2']);
  });
});
