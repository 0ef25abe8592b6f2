import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { buildZoneSet } from './authority.ts';
import type { ZoneSet } from './authority.ts';
import { bindError, onDatagram, rateLimitedWarn, startDnsServer } from './server.ts';
import type { DatagramIo, DnsServer, DnsServerOptions } from './server.ts';
import { ErrorCode, isPosternError } from '../core/errors.ts';
import type { HostPort } from '../core/host-port.ts';
import { memoryLogger, silentLogger } from '../core/logger.ts';
import { A, AAAA, MX, TXT, apex, decodeReply, frame, makeZone, malformedPackets, query, seededBytes } from '../../test/helpers/dns-zones.ts';
import type { Reply } from '../../test/helpers/dns-zones.ts';
import { TcpDnsConnection, sendFromPortZero, tcpExchange, udpExchange } from '../../test/helpers/dns-client.ts';
import { expectedRRsets, loadScenarios, normalizeLine } from '../../test/helpers/dns-scenarios.ts';

const big = Array.from({ length: 40 }, (_, i) => ['big', TXT(`record ${String(i).padStart(2, '0')} ${'z'.repeat(40)}`)] as const);
const medium = Array.from({ length: 12 }, (_, i) => ['medium', A(`127.0.9.${i}`)] as const);

const ZONES = buildZoneSet([
  makeZone('domain.test', [
    ...apex(),
    ['@', MX(10, 'mail1')],
    ['@', MX(20, 'mail2')],
    ['mail1', A('127.0.1.1')],
    ['mail2', A('127.0.1.2')],
    ['mail2', AAAA('::1')],
    ['sub.deep', A('127.0.1.3')],
    ...big,
    ...medium,
  ]),
]);

function v(serial: number): ZoneSet {
  return buildZoneSet([makeZone('swap.test', [...apex(serial), ['@', MX(10, `mx${serial}`)], [`mx${serial}`, A(`127.0.2.${serial}`)]])]);
}

const LOCAL: HostPort = { host: '127.0.0.1', port: 0 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A server on its own loopback address with TCP limits from `limits`, closed after `body`. */
async function withServer(host: string, limits: Partial<DnsServerOptions>, body: (at: HostPort, server: DnsServer) => Promise<void>): Promise<void> {
  const server = await startDnsServer({ listen: [{ host, port: 0 }], zones: ZONES, transferAllow: [], logger: silentLogger, ...limits });
  try {
    await body(server.addresses[0] ?? LOCAL, server);
  } finally {
    await server.close();
  }
}

/** A connection from `from` that has asked one query and read its answer, so the server sees it idle. */
async function answeredConnection(at: HostPort, from: string): Promise<TcpDnsConnection> {
  const connection = await TcpDnsConnection.open(at, 1000, from);
  connection.write(frame(query('mail1.domain.test', 'A')));
  const [reply] = await connection.read(1);
  assert.ok(reply, `a connection from ${from} is answered`);
  return connection;
}

/** True when a fresh query on `connection` is answered. */
async function stillServed(connection: TcpDnsConnection): Promise<boolean> {
  connection.write(frame(query('mail2.domain.test', 'A')));
  return (await connection.read(1, 1000)).length === 1;
}

async function udp(server: DnsServer, bytes: Uint8Array, timeoutMs = 1000): Promise<Reply | null> {
  const reply = await udpExchange(server.addresses[0] ?? LOCAL, bytes, timeoutMs);
  return reply === null ? null : decodeReply(reply);
}

async function tcp(server: DnsServer, bytes: Uint8Array, replies = 1): Promise<Reply[]> {
  return (await tcpExchange(server.addresses[0] ?? LOCAL, frame(bytes), replies)).map(decodeReply);
}

describe('startDnsServer over real sockets', () => {
  let server: DnsServer;
  const log = memoryLogger();

  before(async () => {
    server = await startDnsServer({ listen: [LOCAL], zones: ZONES, transferAllow: ['127.0.0.1'], logger: log });
  });
  after(() => server.close());

  it('reports the port it bound in place of port 0', () => {
    assert.equal(server.addresses.length, 1);
    assert.equal(server.addresses[0]?.host, '127.0.0.1');
    assert.ok((server.addresses[0]?.port ?? 0) > 0);
  });

  it('answers MX over UDP with the addresses of the hosts in the additional section', async () => {
    const r = await udp(server, query('domain.test', 'MX'));
    assert.ok(r);
    assert.equal(r.aa, true);
    assert.deepEqual(r.answer, ['domain.test 300 MX 10 mail1.domain.test', 'domain.test 300 MX 20 mail2.domain.test']);
    assert.deepEqual(r.additional, ['mail1.domain.test 300 A 127.0.1.1', 'mail2.domain.test 300 A 127.0.1.2', 'mail2.domain.test 300 AAAA ::1']);
  });

  it('answers A over TCP on the same port', async () => {
    const [r] = await tcp(server, query('mail1.domain.test', 'A'));
    assert.deepEqual(r?.answer, ['mail1.domain.test 300 A 127.0.1.1']);
  });

  it('answers NXDOMAIN and NODATA with the SOA in authority', async () => {
    const soa = 'domain.test 300 SOA ns1.domain.test hostmaster.domain.test 2026112901';
    const nx = await udp(server, query('nosuch.domain.test', 'A'));
    assert.equal(nx?.rcode, 'NXDOMAIN');
    assert.deepEqual(nx?.authority, [soa]);
    const nodata = await udp(server, query('mail1.domain.test', 'MX'));
    assert.equal(nodata?.rcode, 'NOERROR');
    assert.deepEqual(nodata?.answer, []);
    assert.deepEqual(nodata?.authority, [soa]);
    const ent = await udp(server, query('deep.domain.test', 'A'));
    assert.equal(ent?.rcode, 'NOERROR');
  });

  it('refuses names outside its zones, with RA clear', async () => {
    const r = await udp(server, query('www.example.org', 'A', { rd: true }));
    assert.equal(r?.rcode, 'REFUSED');
    assert.equal(r?.packet.flag_ra, false);
  });

  it('sets TC over UDP and gives the whole answer over TCP', async () => {
    const truncated = await udp(server, query('big.domain.test', 'TXT'));
    assert.equal(truncated?.tc, true);
    assert.deepEqual(truncated?.answer, []);
    const [whole] = await tcp(server, query('big.domain.test', 'TXT'));
    assert.equal(whole?.tc, false);
    assert.equal(whole?.answer.length, 40);
  });

  it('honours the EDNS payload size the client announces', async () => {
    // 12 A records: about 380 bytes without compression; more than 512 with the big TXT set.
    const plain = await udp(server, query('medium.domain.test', 'A'));
    assert.equal(plain?.tc, false);
    const raw600 = await udpExchange(server.addresses[0] ?? LOCAL, query('big.domain.test', 'TXT', { edns: { payload: 600 } }));
    assert.ok(raw600 && raw600.length <= 600);
    assert.equal(decodeReply(raw600).tc, true);
    const raw4096 = await udpExchange(server.addresses[0] ?? LOCAL, query('big.domain.test', 'TXT', { edns: { payload: 4096 } }));
    assert.ok(raw4096 && raw4096.length <= 1232, 'capped at 1232 bytes');
    const r = decodeReply(raw4096);
    assert.equal(r.tc, true, '40 records of 50 bytes do not fit in 1232 either');
    assert.equal(r.opt?.udpPayloadSize, 1232);
  });

  it('answers two queries pipelined on one TCP connection, in order', async () => {
    const connection = await TcpDnsConnection.open(server.addresses[0] ?? LOCAL);
    try {
      connection.write(frame(query('mail1.domain.test', 'A', { id: 1 }), query('mail2.domain.test', 'A', { id: 2 })));
      const replies = (await connection.read(2)).map(decodeReply);
      assert.deepEqual(
        replies.map((r) => [r.packet.id, r.answer[0]]),
        [
          [1, 'mail1.domain.test 300 A 127.0.1.1'],
          [2, 'mail2.domain.test 300 A 127.0.1.2'],
        ],
      );
    } finally {
      connection.close();
    }
  });

  it('reassembles a TCP query that arrives a few bytes at a time', async () => {
    const connection = await TcpDnsConnection.open(server.addresses[0] ?? LOCAL);
    try {
      const bytes = frame(query('mail2.domain.test', 'AAAA', { id: 9 }));
      for (let i = 0; i < bytes.length; i += 3) {
        connection.write(bytes.subarray(i, i + 3));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const [reply] = await connection.read(1);
      assert.ok(reply);
      assert.deepEqual(decodeReply(reply).answer, ['mail2.domain.test 300 AAAA ::1']);
    } finally {
      connection.close();
    }
  });

  it('sends a zone transfer over TCP to an allowed client and refuses it over UDP', async () => {
    const replies = await tcp(server, query('domain.test', 'AXFR'), 1);
    assert.equal(replies[0]?.rcode, 'NOERROR');
    assert.match(replies[0]?.answer[0] ?? '', / SOA /);
    assert.match(replies[0]?.answer.at(-1) ?? '', / SOA /);
    assert.equal((await udp(server, query('domain.test', 'AXFR')))?.rcode, 'REFUSED');
  });

  for (const [what, bytes, want] of malformedPackets()) {
    it(`${want === 'drop' ? 'ignores' : 'answers FORMERR to'} ${what} over UDP, and keeps answering`, async () => {
      const reply = await udpExchange(server.addresses[0] ?? LOCAL, bytes, want === 'drop' ? 150 : 1000);
      if (want === 'drop') assert.equal(reply, null);
      else assert.equal(reply === null ? -1 : (reply[3] ?? 0) & 0xf, 1);
      const after = await udp(server, query('mail1.domain.test', 'A'));
      assert.deepEqual(after?.answer, ['mail1.domain.test 300 A 127.0.1.1']);
    });
  }

  it('answers FORMERR to malformed messages over TCP, closes on unanswerable ones, and keeps serving', async () => {
    for (const [what, bytes, want] of malformedPackets()) {
      const connection = await TcpDnsConnection.open(server.addresses[0] ?? LOCAL);
      try {
        connection.write(frame(bytes));
        const replies = await connection.read(1, 1000);
        if (want === 'drop') {
          assert.deepEqual(replies, [], what);
          assert.equal(await connection.waitClosed(1000), true, `${what}: closed`);
        } else {
          assert.equal((replies[0]?.[3] ?? 0) & 0xf, 1, `${what}: FORMERR`);
          // The connection is still good for a proper query.
          connection.write(frame(query('mail1.domain.test', 'A')));
          const [next] = await connection.read(1);
          assert.ok(next, `${what}: answered after`);
          assert.equal(decodeReply(next).rcode, 'NOERROR');
        }
      } finally {
        connection.close();
      }
    }
  });

  it('survives a stream of random bytes over TCP and a burst of random datagrams', async () => {
    const at = server.addresses[0] ?? LOCAL;
    for (let seed = 1; seed <= 20; seed++) {
      const connection = await TcpDnsConnection.open(at);
      // A plausible length prefix, then noise: the server answers FORMERR, drops, or hangs up.
      connection.write(Buffer.concat([Buffer.from([0, 40]), seededBytes(seed, 40), seededBytes(seed + 100, 300)]));
      await connection.read(10, 100);
      connection.close();
    }
    const sender = createSocket('udp4');
    for (let seed = 1; seed <= 200; seed++) sender.send(seededBytes(seed, 12 + (seed % 80)), at.port, at.host);
    await new Promise((resolve) => setTimeout(resolve, 50));
    sender.close();
    const [r] = await tcp(server, query('mail1.domain.test', 'A'));
    assert.deepEqual(r?.answer, ['mail1.domain.test 300 A 127.0.1.1']);
    assert.equal((await udp(server, query('mail2.domain.test', 'A')))?.rcode, 'NOERROR');
  });

  it('closes a TCP connection that announces a message longer than it accepts', async () => {
    const connection = await TcpDnsConnection.open(server.addresses[0] ?? LOCAL);
    try {
      connection.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
      assert.equal(await connection.waitClosed(1000), true);
    } finally {
      connection.close();
    }
    const [r] = await tcp(server, query('mail1.domain.test', 'A'));
    assert.equal(r?.rcode, 'NOERROR');
  });

  it('logs each query at debug level with its name, type and outcome', async () => {
    await udp(server, query('Logged.domain.test', 'TXT'));
    const entry = log.entries.find((e) => e.level === 'debug' && (e.obj as { qname?: string }).qname === 'logged.domain.test');
    assert.ok(entry, 'a debug entry for the query');
    const { proto, qtype, rcode } = entry.obj as Record<string, unknown>;
    assert.deepEqual({ proto, qtype, rcode }, { proto: 'udp', qtype: 'TXT', rcode: 'NXDOMAIN' });
  });
});

describe('startDnsServer: limits on TCP clients', () => {
  it('closes a TCP connection that stays idle past the timeout', async () => {
    const server = await startDnsServer({ listen: [LOCAL], zones: ZONES, transferAllow: [], logger: silentLogger, tcpIdleTimeoutMs: 150 });
    try {
      const connection = await TcpDnsConnection.open(server.addresses[0] ?? LOCAL);
      const started = Date.now();
      assert.equal(await connection.waitClosed(2000), true);
      assert.ok(Date.now() - started >= 100, 'not before the timeout');
      connection.close();
    } finally {
      await server.close();
    }
  });

  it('closes a connection whose message trickles in past its deadline, though octets keep coming (RFC 7766 §6.2.2)', async () => {
    await withServer('127.0.53.11', { tcpMessageTimeoutMs: 300, tcpIdleTimeoutMs: 5000 }, async (at) => {
      const connection = await TcpDnsConnection.open(at);
      const started = Date.now();
      connection.write(Buffer.from([0, 50]));
      const trickle = setInterval(() => connection.write(Buffer.from([0x41])), 40);
      try {
        assert.equal(await connection.waitClosed(2000), true, 'closed at the message deadline');
        assert.ok(Date.now() - started >= 250, 'not before the deadline');
      } finally {
        clearInterval(trickle);
        connection.close();
      }
    });
  });

  it('closes a busy connection at its maximum lifetime', async () => {
    await withServer('127.0.53.12', { tcpMaxLifetimeMs: 400, tcpIdleTimeoutMs: 5000 }, async (at) => {
      const connection = await TcpDnsConnection.open(at);
      const started = Date.now();
      let answered = 0;
      try {
        while (!connection.closed && Date.now() - started < 2000) {
          connection.write(frame(query('mail1.domain.test', 'A', { id: answered })));
          answered += (await connection.read(1, 200)).length;
          await sleep(30);
        }
        assert.equal(connection.closed, true, 'closed however busy');
        assert.ok(Date.now() - started >= 350, 'not before its lifetime');
        assert.ok(answered >= 3, `served until then (${answered} answers)`);
      } finally {
        connection.close();
      }
    });
  });

  it('holds one client address to its cap, closing that client\'s longest idle connection for its newest', async () => {
    await withServer('127.0.53.13', { maxTcpConnectionsPerClient: 3 }, async (at) => {
      const mine: TcpDnsConnection[] = [];
      const other = await answeredConnection(at, '127.0.73.2');
      try {
        for (let i = 0; i < 5; i++) mine.push(await answeredConnection(at, '127.0.73.1'));
        for (const [i, c] of mine.entries()) {
          if (i < 2) assert.equal(await c.waitClosed(1000), true, `connection ${i + 1} of 5 closed`);
          else assert.equal(await stillServed(c), true, `connection ${i + 1} of 5 still served`);
        }
        assert.equal(await stillServed(other), true, 'another client keeps its connection');
      } finally {
        for (const c of [...mine, other]) c.close();
      }
    });
  });

  it('at the global cap closes the longest idle connection rather than refusing the newcomer', async () => {
    await withServer('127.0.53.14', { maxTcpConnections: 2, tcpMessageTimeoutMs: 5000 }, async (at) => {
      // A message in progress since before the idle one was answered: idle goes first all the same.
      const slow = await TcpDnsConnection.open(at, 1000, '127.0.74.1');
      slow.write(Buffer.from([0, 40, 1, 2]));
      await sleep(50);
      const idle = await answeredConnection(at, '127.0.74.2');
      const newcomer = await answeredConnection(at, '127.0.74.3');
      try {
        assert.equal(await idle.waitClosed(1000), true, 'the idle connection made room');
        assert.equal(slow.closed, false, 'the connection with a message in progress stays');
        assert.equal(await stillServed(newcomer), true);
      } finally {
        for (const c of [slow, idle, newcomer]) c.close();
      }
    });
  });

  it('at the global cap, with nothing idle, closes the connection whose message has waited longest', async () => {
    await withServer('127.0.53.15', { maxTcpConnections: 2, tcpMessageTimeoutMs: 5000 }, async (at) => {
      const slowest = await TcpDnsConnection.open(at, 1000, '127.0.75.1');
      slowest.write(Buffer.from([0, 40, 1]));
      await sleep(50);
      const slow = await TcpDnsConnection.open(at, 1000, '127.0.75.2');
      slow.write(Buffer.from([0, 40, 1]));
      await sleep(50);
      const newcomer = await answeredConnection(at, '127.0.75.3');
      try {
        assert.equal(await slowest.waitClosed(1000), true, 'the slowest made room');
        assert.equal(slow.closed, false);
        assert.equal(await stillServed(newcomer), true);
      } finally {
        for (const c of [slowest, slow, newcomer]) c.close();
      }
    });
  });

  it('keeps answering TCP queries while many addresses hold connections with messages that never complete', async () => {
    // A bounded slowloris: 6 addresses × 6 connections against a cap of 24, each announcing 100
    // octets and sending one every 100 ms, reconnecting whenever the server closes it.
    const limits = { maxTcpConnections: 24, maxTcpConnectionsPerClient: 6, tcpMessageTimeoutMs: 400, tcpIdleTimeoutMs: 1000, tcpMaxLifetimeMs: 3000 };
    await withServer('127.0.53.16', limits, async (at) => {
      const attackers = new Set<Socket>();
      let stopped = false;
      const attack = (from: string): void => {
        if (stopped) return;
        const socket = connect({ host: at.host, port: at.port, localAddress: from });
        attackers.add(socket);
        socket.on('error', () => {});
        socket.on('connect', () => socket.write(Buffer.from([0, 100])));
        socket.on('close', () => {
          attackers.delete(socket);
          if (!stopped) setTimeout(() => attack(from), 50);
        });
      };
      const trickle = setInterval(() => {
        for (const socket of attackers) if (socket.writable) socket.write(Buffer.from([0x41]));
      }, 100);
      for (let a = 1; a <= 6; a++) for (let i = 0; i < 6; i++) attack(`127.0.76.${a}`);
      try {
        await sleep(300);
        for (let round = 0; round < 4; round++) {
          const connection = await TcpDnsConnection.open(at, 1000, '127.0.77.1');
          try {
            connection.write(frame(query('mail1.domain.test', 'A', { id: round })));
            const [reply] = await connection.read(1, 1000);
            assert.ok(reply, `query ${round + 1} answered during the attack`);
            assert.deepEqual(decodeReply(reply).answer, ['mail1.domain.test 300 A 127.0.1.1']);
          } finally {
            connection.close();
          }
          await sleep(150);
        }
      } finally {
        stopped = true;
        clearInterval(trickle);
        for (const socket of attackers) socket.destroy();
      }
    });
  });

  it('logs its warnings about misbehaving clients at a limited rate', async () => {
    const log = memoryLogger();
    const server = await startDnsServer({ listen: [{ host: '127.0.53.17', port: 0 }], zones: ZONES, transferAllow: [], logger: log, maxTcpConnections: 2 });
    const at = server.addresses[0] ?? LOCAL;
    const opened: TcpDnsConnection[] = [];
    const warnings = (): string[] => log.entries.filter((e) => e.level === 'warn').map((e) => e.msg ?? '');
    try {
      for (let i = 0; i < 10; i++) {
        const c = await TcpDnsConnection.open(at);
        c.write(Buffer.from([0xff, 0xff]));
        assert.equal(await c.waitClosed(1000), true, 'an oversized message closes the connection');
        c.close();
      }
      assert.equal(warnings().length, 1, `10 oversized messages: one line (${JSON.stringify(warnings())})`);
      for (let i = 0; i < 12; i++) opened.push(await answeredConnection(at, '127.0.78.1'));
      assert.equal(warnings().length, 2, `and 10 connections closed at the cap: one more (${JSON.stringify(warnings())})`);
    } finally {
      for (const c of opened) c.close();
      await server.close();
    }
  });

  it('counts suppressed warnings into the next one it logs', () => {
    const log = memoryLogger();
    let t = 0;
    const warn = rateLimitedWarn(log, 1000, () => t);
    for (let i = 0; i < 5; i++) warn('kind', { i }, 'a warning');
    warn('other', {}, 'another');
    t = 1000;
    warn('kind', { i: 5 }, 'a warning');
    assert.deepEqual(
      log.entries.map((e) => e.obj),
      [{ i: 0 }, {}, { i: 5, suppressed: 4 }],
    );
  });
});

describe('startDnsServer: datagrams that cannot be answered', () => {
  it('drops a datagram from source port 0 and keeps answering', async (t) => {
    const log = memoryLogger();
    const server = await startDnsServer({ listen: [{ host: '127.0.53.18', port: 0 }], zones: ZONES, transferAllow: [], logger: log });
    try {
      const at = server.addresses[0] ?? LOCAL;
      const sent = sendFromPortZero(at, query('mail1.domain.test', 'A'));
      if (!sent.sent) {
        t.skip(`cannot send from port 0: ${sent.reason}`);
        return;
      }
      for (let i = 0; i < 20 && !log.entries.some((e) => /port 0/.test(e.msg ?? '')); i++) await sleep(25);
      assert.ok(log.entries.some((e) => /port 0/.test(e.msg ?? '')), 'the datagram arrived and was dropped');
      const after = await udp(server, query('mail1.domain.test', 'A'));
      assert.deepEqual(after?.answer, ['mail1.domain.test 300 A 127.0.1.1']);
    } finally {
      await server.close();
    }
  });

  function fakeIo(overrides: Partial<DatagramIo> = {}): DatagramIo & { asked: number; sent: number; warned: string[] } {
    const io = {
      asked: 0,
      sent: 0,
      warned: [] as string[],
      answer: (request: Buffer): Buffer[] => {
        io.asked++;
        return [request];
      },
      send: (): void => {
        io.sent++;
      },
      warn: (kind: string): void => {
        io.warned.push(kind);
      },
      ...overrides,
    };
    return io;
  }

  it('neither answers nor sends to a datagram from source port 0', () => {
    const io = fakeIo();
    onDatagram(query('mail1.domain.test', 'A'), { address: '127.0.0.1', port: 0 }, io);
    assert.deepEqual([io.asked, io.sent], [0, 0]);
    onDatagram(query('mail1.domain.test', 'A'), { address: '127.0.0.1', port: 53000 }, io);
    assert.deepEqual([io.asked, io.sent], [1, 1]);
  });

  const throwing: Array<[string, Partial<DatagramIo>]> = [
    ['a send that throws at once (as dgram does for a bad port)', { send: () => { throw new RangeError('ERR_SOCKET_BAD_PORT'); } }],
    ['an answer that throws', { answer: () => { throw new Error('bug'); } }],
    ['a warning that throws', { answer: () => { throw new Error('bug'); }, warn: () => { throw new Error('logger down'); } }],
  ];
  for (const [what, overrides] of throwing) {
    it(`does not let ${what} out of the datagram handler`, () => {
      assert.doesNotThrow(() => onDatagram(query('mail1.domain.test', 'A'), { address: '127.0.0.1', port: 53000 }, fakeIo(overrides)));
    });
  }
});

describe('startDnsServer: zones, addresses and errors', () => {
  it('swaps zones atomically while queries are in flight: each reply is wholly one version, and both are seen', async () => {
    const server = await startDnsServer({ listen: [LOCAL], zones: v(1), transferAllow: [], logger: silentLogger });
    try {
      const replies: Reply[] = [];
      let current = 1;
      for (let round = 0; round < 10; round++) {
        const batch = Array.from({ length: 8 }, (_, i) => udp(server, query('swap.test', 'MX', { id: round * 8 + i })));
        // Swap as soon as the first of the batch is answered, while the rest are on their way.
        const first = await batch[0];
        current = 3 - current;
        server.setZones(v(current));
        for (const r of [first, ...(await Promise.all(batch.slice(1)))]) {
          assert.ok(r, 'every query answered');
          replies.push(r);
        }
      }
      const seen = new Map<number, number>();
      for (const r of replies) {
        const serial = Number(/ MX 10 mx(\d)\./.exec(r.answer[0] ?? '')?.[1]);
        assert.deepEqual(r.answer, [`swap.test 300 MX 10 mx${serial}.swap.test`], 'one MX, from one version');
        assert.deepEqual(r.additional, [`mx${serial}.swap.test 300 A 127.0.2.${serial}`], 'its address from the same version');
        seen.set(serial, (seen.get(serial) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), [1, 2], 'both versions answered');
      const last = await udp(server, query('swap.test', 'SOA'));
      assert.match(last?.answer[0] ?? '', new RegExp(` ${current}$`), 'the last version set is the one served');
    } finally {
      await server.close();
    }
  });

  it('listens on several addresses, IPv6 included, UDP and TCP on each', async () => {
    const server = await startDnsServer({
      listen: [LOCAL, { host: '127.0.53.2', port: 0 }, { host: '::1', port: 0 }],
      zones: ZONES,
      transferAllow: [],
      logger: silentLogger,
    });
    try {
      assert.deepEqual(
        server.addresses.map((a) => a.host),
        ['127.0.0.1', '127.0.53.2', '::1'],
      );
      for (const at of server.addresses) {
        const u = await udpExchange(at, query('mail1.domain.test', 'A'));
        assert.ok(u, `UDP on ${at.host}`);
        assert.equal(decodeReply(u).answer.length, 1);
        const [t] = await tcpExchange(at, frame(query('mail1.domain.test', 'A')));
        assert.ok(t, `TCP on ${at.host}`);
      }
    } finally {
      await server.close();
    }
  });

  it('binds a fixed port with UDP and TCP together', async () => {
    // Find a port free for both protocols, then ask for it explicitly.
    const probe = await startDnsServer({ listen: [{ host: '127.0.53.3', port: 0 }], zones: ZONES, transferAllow: [], logger: silentLogger });
    const port = probe.addresses[0]?.port ?? 0;
    await probe.close();
    const server = await startDnsServer({ listen: [{ host: '127.0.53.3', port }], zones: ZONES, transferAllow: [], logger: silentLogger });
    try {
      assert.equal(server.addresses[0]?.port, port);
      assert.ok(await udpExchange({ host: '127.0.53.3', port }, query('domain.test', 'SOA')));
    } finally {
      await server.close();
    }
  });

  it('stops answering and frees its port when closed', async () => {
    const server = await startDnsServer({ listen: [{ host: '127.0.53.4', port: 0 }], zones: ZONES, transferAllow: [], logger: silentLogger });
    const at = server.addresses[0] ?? LOCAL;
    await server.close();
    await server.close(); // twice is harmless
    assert.equal(await udpExchange(at, query('domain.test', 'SOA'), 150), null);
    const again = await startDnsServer({ listen: [at], zones: ZONES, transferAllow: [], logger: silentLogger });
    await again.close();
  });

  it('fails with a config error naming the address when the port is taken', async () => {
    const blocker = createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.53.5', () => resolve()));
    const port = blocker.address().port;
    try {
      await assert.rejects(
        startDnsServer({ listen: [{ host: '127.0.53.5', port }], zones: ZONES, transferAllow: [], logger: silentLogger }),
        (err: unknown) =>
          isPosternError(err, ErrorCode.Config) && err.message.includes(`127.0.53.5:${port} (UDP)`) && /another server/.test(err.message),
      );
    } finally {
      blocker.close();
    }
  });

  it('fails with a config error when TCP on the port is taken, and leaves nothing bound', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.53.6', () => resolve()));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await assert.rejects(
        startDnsServer({ listen: [{ host: '127.0.53.6', port }], zones: ZONES, transferAllow: [], logger: silentLogger }),
        (err: unknown) => isPosternError(err, ErrorCode.Config) && err.message.includes('(TCP)'),
      );
      // The UDP socket opened first was closed again: the port is free for UDP.
      const udpProbe = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udpProbe.once('error', reject);
        udpProbe.bind(port, '127.0.53.6', () => resolve());
      });
      udpProbe.close();
    } finally {
      blocker.close();
    }
  });

  it('fails with a config error for an address this machine does not have', async () => {
    await assert.rejects(
      startDnsServer({ listen: [{ host: '192.0.2.1', port: 0 }], zones: ZONES, transferAllow: [], logger: silentLogger }),
      (err: unknown) => isPosternError(err, ErrorCode.Config) && /not an address of this machine/.test(err.message),
    );
  });

  it('explains how to bind a port below 1024', () => {
    const denied = Object.assign(new Error('bind EACCES'), { code: 'EACCES' });
    const err = bindError(denied, { host: '127.0.0.1', port: 53 }, 'UDP');
    assert.equal(err.code, ErrorCode.Config);
    assert.match(err.message, /127\.0\.0\.1:53 \(UDP\)/);
    assert.match(err.message, /root|CAP_NET_BIND_SERVICE/);
  });
});

describe('startDnsServer: every scenario zone, loaded from scenarios/', () => {
  for (const scenario of loadScenarios()) {
    describe(scenario.name, () => {
      let server: DnsServer;
      const expected = expectedRRsets(scenario.zones);
      before(async () => {
        server = await startDnsServer({ listen: [LOCAL], zones: buildZoneSet(scenario.zones), transferAllow: [], logger: silentLogger });
      });
      after(() => server.close());

      it('answers every RRset of its zones as written, over UDP and TCP', async () => {
        assert.ok(expected.size >= 3, 'the scenario has records to ask for');
        for (const [owner, byType] of expected) {
          for (const [type, lines] of byType) {
            const q = query(owner, type as 'A');
            for (const r of [await udp(server, q), (await tcp(server, q))[0]]) {
              assert.ok(r, `${owner} ${type} answered`);
              assert.equal(r.aa, true);
              assert.deepEqual(r.answer.map(normalizeLine).sort(), [...lines].sort(), `${owner} ${type}`);
            }
          }
        }
      });

      it('carries the addresses of MX targets we serve in the additional section', async () => {
        for (const [owner, byType] of expected) {
          const mx = byType.get('MX');
          if (mx === undefined) continue;
          const want = mx
            .map((line) => line.split(' ').at(-1) ?? '')
            .flatMap((target) => [...(expected.get(target)?.get('A') ?? []), ...(expected.get(target)?.get('AAAA') ?? [])]);
          const r = await udp(server, query(owner, 'MX'));
          assert.deepEqual(r?.additional.map(normalizeLine).sort(), want.sort(), `${owner} MX additional`);
        }
      });

      it('answers NXDOMAIN, NODATA and REFUSED', async () => {
        for (const zone of scenario.zones) {
          const nx = await udp(server, query(`nosuch.${zone.origin}`, 'MX'));
          assert.equal(nx?.rcode, 'NXDOMAIN');
          assert.deepEqual(nx?.authority.map(normalizeLine), expected.get(zone.origin)?.get('SOA'));
          const nodata = await udp(server, query(`ns1.${zone.origin}`, 'MX'));
          assert.equal(nodata?.rcode, 'NOERROR');
          assert.deepEqual(nodata?.answer, []);
          assert.equal(nodata?.authority.length, 1);
        }
        assert.equal((await udp(server, query('www.example.org', 'MX')))?.rcode, 'REFUSED');
      });
    });
  }
});
