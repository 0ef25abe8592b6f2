/**
 * `postern check-zone FILE…`: parse and check zone files the way the server will load them, so an
 * admin can test an edit before sending SIGHUP. Like named-checkzone, but with our rules and messages.
 */
import { basename } from 'node:path';
import { errorText } from '../core/errors.ts';
import { loadZoneFile } from '../dns/zone/load.ts';
import type { Io } from './io.ts';

export function checkZoneCommand(files: string[], io: Io): number {
  let failed = 0;
  for (const file of files) {
    try {
      const zone = loadZoneFile(file);
      const types = new Map<string, number>();
      for (const r of zone.records) types.set(r.data.type, (types.get(r.data.type) ?? 0) + 1);
      const summary = [...types].map(([t, n]) => `${n} ${t}`).join(', ');
      io.stdout.write(`ok    ${basename(file)}: zone ${zone.origin}, ${zone.records.length} records (${summary})\n`);
    } catch (err) {
      failed++;
      io.stdout.write(`FAIL  ${basename(file)}\n${errorText(err).replace(/^/gm, '      ')}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}
