/**
 * BIND's named-checkzone as a second opinion on our zone parser and checks: over every scenario
 * zone and every fixture, it and we must agree on accept or reject, and where both accept, read the
 * same records. Skipped, with the reason printed, where named-checkzone is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { isPosternError } from '../src/core/errors.ts';
import { loadZoneFile } from '../src/dns/zone/load.ts';
import type { RData, Zone } from '../src/dns/zone/types.ts';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'zones');

const which = spawnSync('which', ['named-checkzone'], { encoding: 'utf8' });
const BIN = which.status === 0 ? which.stdout.trim() : null;
const skip = BIN === null ? 'named-checkzone not installed: apt-get install bind9-utils' : false;

/*
 * The options, chosen to match what our parser and checks decide:
 * - `-i local`: integrity checks only for names inside the zone. The default, `full`, also resolves
 *   out-of-zone MX, NS and SRV hosts through the system resolver, which nothing here may reach (and
 *   a verdict should not depend on the network). With `local`, an MX host without an address and an
 *   MX naming a CNAME are warnings, not errors (found by running it on scenarios/6-edge, which has
 *   both on purpose), as with us. One BIND rule we do not share: an in-zone NS host of the apex
 *   without an address makes it refuse the zone, even with `-i none`; no fixture has that.
 * - `-k warn -m warn -M warn -n warn -S warn`: host-name syntax, MX or NS naming an address, MX or
 *   SRV naming a CNAME are advice (for `postern check`), not reasons to refuse a zone. These are
 *   named-checkzone's defaults, written out so that a change of defaults cannot change a verdict.
 * - run in the zone's folder: BIND reads a relative `$INCLUDE` from its working directory, we from
 *   the including file's folder; the same file for includes that sit next to the zone.
 */
const OPTIONS = ['-i', 'local', '-k', 'warn', '-m', 'warn', '-M', 'warn', '-n', 'warn', '-S', 'warn'];

function bind(file: string, dump: boolean): { ok: boolean; stdout: string; output: string } {
  const origin = basename(file).replace(/\.zone$/, '');
  const args = [...OPTIONS, ...(dump ? ['-D', '-s', 'full'] : []), origin, basename(file)];
  const r = spawnSync(BIN ?? 'named-checkzone', args, { cwd: dirname(file), encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) throw r.error;
  return { ok: r.status === 0, stdout: r.stdout, output: `named-checkzone ${args.join(' ')}\n${r.stdout}${r.stderr}` };
}

function ours(file: string): { zone: Zone | null; error: string } {
  try {
    return { zone: loadZoneFile(file), error: '' };
  } catch (err) {
    if (!isPosternError(err)) throw err;
    return { zone: null, error: err.message };
  }
}

// Our records in BIND's presentation form, to compare with `named-checkzone -D -s full`.
const fqdn = (name: string): string => (name === '.' ? '.' : `${name}.`);
const ipv6 = (address: string): string => new URL(`http://[${address}]/`).hostname.slice(1, -1);
const quoted = (bytes: Uint8Array): string =>
  `"${[...bytes].map((b) => (b === 0x22 || b === 0x5c ? `\\${String.fromCharCode(b)}` : b < 0x20 || b > 0x7e ? `\\${String(b).padStart(3, '0')}` : String.fromCharCode(b))).join('')}"`;

function rdata(d: RData): string {
  switch (d.type) {
    case 'A':
      return d.address;
    case 'AAAA':
      return ipv6(d.address);
    case 'MX':
      return `${d.preference} ${fqdn(d.exchange)}`;
    case 'CNAME':
      return fqdn(d.target);
    case 'NS':
    case 'PTR':
      return fqdn(d.host);
    case 'SOA':
      return `${fqdn(d.mname)} ${fqdn(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'TXT':
      return d.strings.map(quoted).join(' ');
    case 'SRV':
      return `${d.priority} ${d.weight} ${d.port} ${fqdn(d.target)}`;
    case 'CAA':
      return `${d.flags} ${d.tag} ${quoted(new TextEncoder().encode(d.value))}`;
  }
}

function bindRecords(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';'))
    .map((l) => {
      const m = /^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$/.exec(l);
      assert.ok(m !== null, `unexpected named-checkzone line: ${l}`);
      const [, name, ttl, type, data] = m;
      return `${name} ${ttl} ${type} ${type === 'AAAA' ? ipv6(data?.trim() ?? '') : data?.trim()}`;
    })
    .sort();
}

const zoneFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.zone')).sort().map((n) => join(dir, n));
const scenarioZones = readdirSync(join(ROOT, 'scenarios'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => zoneFiles(join(ROOT, 'scenarios', d.name)));
const goodZones = [...scenarioZones, ...zoneFiles(join(FIXTURES, 'good'))];
const badZones = zoneFiles(join(FIXTURES, 'bad'));
const shortName = (file: string): string => file.slice(ROOT.length + 1);

describe('named-checkzone and Postern agree', () => {
  it('has zones to compare', () => assert.ok(goodZones.length >= 10 && badZones.length >= 10));

  for (const file of goodZones) {
    it(`both accept ${shortName(file)} and read the same records`, { skip }, () => {
      const us = ours(file);
      assert.equal(us.error, '');
      const them = bind(file, true);
      assert.ok(them.ok, them.output);
      const mine = (us.zone?.records ?? []).map((r) => `${fqdn(r.name)} ${r.ttl} ${r.data.type} ${rdata(r.data)}`).sort();
      assert.deepEqual(mine, bindRecords(them.stdout));
    });
  }

  for (const file of badZones) {
    const text = readFileSync(file, 'utf8');
    // A fixture BIND loads anyway says why on a "; named-checkzone accepts: …" line: there we
    // check that it still does, so the documented difference stays true.
    const divergence = /^; named-checkzone accepts: (.+)$/m.exec(text)?.[1];
    const title = divergence === undefined ? `both reject ${shortName(file)}` : `only we reject ${shortName(file)}: ${divergence}`;
    it(title, { skip }, () => {
      assert.notEqual(ours(file).error, '', 'Postern accepted it');
      const them = bind(file, false);
      assert.equal(them.ok, divergence !== undefined, them.output);
    });
  }
});
