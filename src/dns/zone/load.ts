/**
 * The I/O edge of the zone folder: reads zone files from disk, names each zone after its file
 * (`domain.test.zone` is the zone domain.test), parses and checks it. A file with any problem is
 * refused whole, with every problem listed; a folder of zones loads file by file, so one broken
 * file does not keep the others off the air.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { domainNameProblem, normalizeDomain } from '../../core/domain-name.ts';
import { ErrorCode, PosternError, errorText } from '../../core/errors.ts';
import { checkZone } from './check.ts';
import { parseZone } from './parse.ts';
import type { Zone } from './types.ts';
import { formatProblem } from './types.ts';

const SUFFIX = '.zone';

/** "domain.test.zone" -> "domain.test"; null when the file is not named `<origin>.zone`. */
export function originFromFileName(path: string): string | null {
  const name = basename(path);
  if (!name.toLowerCase().endsWith(SUFFIX)) return null;
  const stem = name.slice(0, -SUFFIX.length);
  if (stem === '' || stem.endsWith('.') || domainNameProblem(stem) !== null) return null;
  return normalizeDomain(stem);
}

const readText = (path: string): string => readFileSync(path, 'utf8');

/**
 * Parses and checks one zone file. Throws PosternError(Zone) whose message lists every problem,
 * one `file:line: message` per line.
 */
export function loadZoneFile(path: string): Zone {
  const origin = originFromFileName(path);
  if (origin === null) {
    throw new PosternError(ErrorCode.Zone, `${path}: a zone file is named after its zone, like domain.test.zone`);
  }
  let text: string;
  try {
    text = readText(path);
  } catch (err) {
    throw new PosternError(ErrorCode.Zone, `${path}: cannot read the zone file: ${errorText(err)}`, { cause: err });
  }
  const { zone, problems } = parseZone(text, { file: path, origin, readFile: readText });
  const all = zone === null ? problems : checkZone(zone);
  if (zone === null || all.length > 0) {
    throw new PosternError(ErrorCode.Zone, all.map(formatProblem).join('\n'));
  }
  return zone;
}

/**
 * Every `*.zone` file in `dir` (not recursive), in order of file name. A file that fails is a
 * failure and the others still load; a missing or unreadable folder throws PosternError(Zone).
 */
export function loadZonesDir(dir: string): { zones: Zone[]; failures: Array<{ file: string; error: string }> } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be read: ${errorText(err)}`;
    throw new PosternError(ErrorCode.Zone, `the zones folder ${dir} ${why}`, { cause: err });
  }
  const zones: Zone[] = [];
  const failures: Array<{ file: string; error: string }> = [];
  const byOrigin = new Map<string, string>();
  for (const name of names.filter((n) => n.toLowerCase().endsWith(SUFFIX)).sort()) {
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const zone = loadZoneFile(file);
      const earlier = byOrigin.get(zone.origin);
      if (earlier !== undefined) {
        failures.push({ file, error: `${file}: the zone ${zone.origin} is already loaded from ${earlier}` });
        continue;
      }
      byOrigin.set(zone.origin, file);
      zones.push(zone);
    } catch (err) {
      failures.push({ file, error: errorText(err) });
    }
  }
  return { zones, failures };
}
