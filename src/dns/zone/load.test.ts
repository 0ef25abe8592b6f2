import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCode, isPosternError } from '../../core/errors.ts';
import { loadZoneFile, loadZonesDir, originFromFileName } from './load.ts';
import type { Zone } from './types.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SCENARIOS = join(ROOT, 'scenarios');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'zones');

const zoneFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.zone')).sort().map((n) => join(dir, n));
const scenarioZones = readdirSync(SCENARIOS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => zoneFiles(join(SCENARIOS, d.name)));

const mx = (zone: Zone, name: string): Array<[number, string]> =>
  zone.records.flatMap((r) => (r.name === name && r.data.type === 'MX' ? [[r.data.preference, r.data.exchange] as [number, string]] : []));
const addresses = (zone: Zone, name: string): string[] =>
  zone.records.flatMap((r) => (r.name === name && (r.data.type === 'A' || r.data.type === 'AAAA') ? [r.data.address] : []));

/** The error a call throws, which must be a PosternError(Zone). */
function zoneError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    assert.ok(isPosternError(err, ErrorCode.Zone), `expected a PosternError(${ErrorCode.Zone}), got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected it to throw');
}

describe('originFromFileName', () => {
  const cases: Array<[string, string | null]> = [
    ['domain.test.zone', 'domain.test'],
    ['/etc/postern/zones/Domain.TEST.zone', 'domain.test'],
    ['0.0.127.in-addr.arpa.zone', '0.0.127.in-addr.arpa'],
    ['_tcp.domain.test.zone', '_tcp.domain.test'],
    ['domain.test.ZONE', 'domain.test'],
    ['domain.test', null],
    ['domain.test.zone.bak', null],
    ['.zone', null],
    ['domain..test.zone', null],
    ['domain.test..zone', null],
    ['bad name.zone', null],
  ];
  for (const [path, want] of cases) it(`names the zone of "${path}" ${want ?? 'null'}`, () => assert.equal(originFromFileName(path), want));
});

describe('the scenario zones', () => {
  it('are all here', () => assert.ok(scenarioZones.length >= 9, `${scenarioZones.length} zone files under ${SCENARIOS}`));

  for (const file of scenarioZones) {
    it(`load without a problem: ${file.slice(SCENARIOS.length + 1)}`, () => {
      const zone = loadZoneFile(file);
      assert.equal(zone.origin, basename(file, '.zone'));
      assert.equal(zone.file, file);
      assert.ok(zone.records.length >= 3);
    });
  }

  it('give domain.test in 2-datacenters four MX: smtp1 and smtp2 at 10, smtp3 and otherdomain smtp4 at 20', () => {
    const zone = loadZoneFile(join(SCENARIOS, '2-datacenters', 'domain.test.zone'));
    assert.deepEqual(mx(zone, 'domain.test'), [
      [10, 'smtp1.domain.test'],
      [10, 'smtp2.domain.test'],
      [20, 'smtp3.domain.test'],
      [20, 'smtp4.otherdomain.test'],
    ]);
    assert.deepEqual(addresses(zone, 'smtp1.domain.test'), ['127.20.20.1']);
    assert.ok(zone.records.every((r) => r.ttl === 300));
  });

  it('give 1-priority mail1 at 10 and mail2 at 20', () => {
    const zone = loadZoneFile(join(SCENARIOS, '1-priority', 'domain.test.zone'));
    assert.deepEqual(mx(zone, 'domain.test'), [
      [10, 'mail1.domain.test'],
      [20, 'mail2.domain.test'],
    ]);
  });

  it('give 4-subdomains an MX for andy under its own name and none for terry', () => {
    const zone = loadZoneFile(join(SCENARIOS, '4-subdomains', 'planespotting.test.zone'));
    assert.deepEqual(mx(zone, 'andy.planespotting.test'), [[10, 'mail.andy.planespotting.test']]);
    assert.deepEqual(addresses(zone, 'mail.andy.planespotting.test'), ['127.50.0.12']);
    assert.deepEqual(mx(zone, 'terry.planespotting.test'), []);
    assert.deepEqual(addresses(zone, 'terry.planespotting.test'), ['127.50.0.13']);
  });

  it('give edge.test a null MX, an MX to a host without address and one to a CNAME', () => {
    const zone = loadZoneFile(join(SCENARIOS, '6-edge', 'edge.test.zone'));
    assert.deepEqual(mx(zone, 'nullmx.edge.test'), [[0, '.']]);
    assert.deepEqual(mx(zone, 'skip.edge.test'), [
      [10, 'ghost.edge.test'],
      [20, 'real.edge.test'],
    ]);
    assert.ok(zone.records.some((r) => r.name === 'mx-alias.edge.test' && r.data.type === 'CNAME' && r.data.target === 'real.edge.test'));
  });

  it('load as a folder, sorted by file name', () => {
    const { zones, failures } = loadZonesDir(join(SCENARIOS, '2-datacenters'));
    assert.deepEqual(failures, []);
    assert.deepEqual(
      zones.map((z) => z.origin),
      ['domain.test', 'otherdomain.test'],
    );
  });
});

describe('the fixture zones', () => {
  for (const file of zoneFiles(join(FIXTURES, 'good'))) {
    it(`load the good one ${basename(file)}`, () => assert.ok(loadZoneFile(file).records.length > 0));
  }

  it('read an $INCLUDEd file next to the zone, recording where its records came from', () => {
    const zone = loadZoneFile(join(FIXTURES, 'good', 'example.test.zone'));
    const host1 = zone.records.find((r) => r.name === 'host1.example.test');
    assert.deepEqual(host1?.source, { file: join(FIXTURES, 'good', 'hosts.inc'), line: 2 });
    assert.ok(zone.records.some((r) => r.name === 'after.example.test'));
  });

  for (const file of zoneFiles(join(FIXTURES, 'bad'))) {
    const expect = /^; expect: (.+)$/m.exec(readFileSync(file, 'utf8'))?.[1];
    it(`reject the bad one ${basename(file)} with /${expect}/`, () => {
      assert.ok(expect !== undefined, `${file} has no "; expect: <regex>" line`);
      const message = zoneError(() => loadZoneFile(file));
      const lines = message.split('\n');
      assert.equal(lines.length, 1, `exactly one problem expected:\n${message}`);
      assert.ok(lines[0]?.startsWith(`${file}:`), message);
      assert.match(lines[0]?.replace(/^.*?:\d+: /, '') ?? '', new RegExp(expect));
    });
  }
});

describe('loadZoneFile and loadZonesDir on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-zones-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const good = (origin: string): string =>
    `$ORIGIN ${origin}.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 127.0.0.53\n`;

  it('lists every problem of a file, one file:line: message per line', () => {
    const file = write('many.test.zone', '$TTL 300\nwww A 127.0.0.300\nwww MX 10\n');
    assert.equal(
      zoneError(() => loadZoneFile(file)),
      [`${file}:2: "127.0.0.300" is not an IPv4 address`, `${file}:3: MX needs a preference and a host`].join('\n'),
    );
  });

  it('lists every check problem too', () => {
    const file = write('checks.test.zone', '$TTL 300\n@ NS ns1\nwww CNAME ns1\nwww A 127.0.0.1\n');
    assert.equal(
      zoneError(() => loadZoneFile(file)),
      [
        `${file}:1: the zone checks.test has no SOA record (it needs exactly one, at checks.test)`,
        `${file}:3: www.checks.test has a CNAME and other data (A on line 4); a CNAME must be the only record at its name (RFC 1034 §3.6.2)`,
      ].join('\n'),
    );
  });

  it('refuses a file that is not named <origin>.zone', () => {
    const file = write('zonefile.txt', good('x.test'));
    assert.match(zoneError(() => loadZoneFile(file)), /zonefile\.txt: a zone file is named after its zone, like domain\.test\.zone/);
  });

  it('names a file it cannot read', () => {
    const file = join(dir, 'absent.test.zone');
    assert.match(zoneError(() => loadZoneFile(file)), new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}: cannot read the zone file: ENOENT`));
  });

  it('loads a folder file by file: the good zones, and a failure for each broken or duplicate file', () => {
    const folder = join(dir, 'zones');
    mkdirSync(folder);
    mkdirSync(join(folder, 'sub.zone'));
    writeFileSync(join(folder, 'b.test.zone'), good('b.test'));
    writeFileSync(join(folder, 'a.test.zone'), good('a.test'));
    writeFileSync(join(folder, 'A.TEST.zone'), good('a.test'));
    writeFileSync(join(folder, 'broken.test.zone'), '$TTL 300\nwww A 1.2.3\n');
    writeFileSync(join(folder, 'notes.txt'), 'not a zone');
    const { zones, failures } = loadZonesDir(folder);
    assert.deepEqual(
      zones.map((z) => [z.origin, basename(z.file)]),
      [
        ['a.test', 'A.TEST.zone'],
        ['b.test', 'b.test.zone'],
      ],
    );
    assert.deepEqual(failures, [
      { file: join(folder, 'a.test.zone'), error: `${join(folder, 'a.test.zone')}: the zone a.test is already loaded from ${join(folder, 'A.TEST.zone')}` },
      { file: join(folder, 'broken.test.zone'), error: `${join(folder, 'broken.test.zone')}:2: "1.2.3" is not an IPv4 address` },
    ]);
  });

  it('reports every bad fixture as a failure and loads none of them', () => {
    const { zones, failures } = loadZonesDir(join(FIXTURES, 'bad'));
    assert.deepEqual(zones, []);
    assert.equal(failures.length, zoneFiles(join(FIXTURES, 'bad')).length);
  });

  it('throws, naming it, for a folder that does not exist', () => {
    const missing = join(dir, 'no-such-folder');
    assert.equal(zoneError(() => loadZonesDir(missing)), `the zones folder ${missing} does not exist`);
  });

  it('throws for a path that is a file, not a folder', () => {
    const file = write('plain.txt', '');
    assert.equal(zoneError(() => loadZonesDir(file)), `the zones folder ${file} is not a folder`);
  });
});
