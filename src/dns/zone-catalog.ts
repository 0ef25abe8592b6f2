/**
 * Which zones the server publishes after a (re)load. A zone file with errors must not take its zone
 * off the air: on reload the previous good version of that zone stays published and the error is
 * reported, so an admin's typo on a live server costs nothing but a log line.
 */
import { basename } from 'node:path';
import type { Zone } from './zone/types.ts';

export interface LoadedZones {
  zones: Zone[];
  failures: Array<{ file: string; error: string }>;
}

export interface CatalogUpdate {
  zones: Zone[];
  /** Files that failed to load and whose previous version is still published. */
  kept: Array<{ file: string; origin: string; error: string }>;
  /** Files that failed to load with no previous version: their zone is not published. */
  missing: Array<{ file: string; error: string }>;
}

export function updateCatalog(previous: readonly Zone[], loaded: LoadedZones): CatalogUpdate {
  const zones = [...loaded.zones];
  const kept: CatalogUpdate['kept'] = [];
  const missing: CatalogUpdate['missing'] = [];
  for (const failure of loaded.failures) {
    const old = previous.find((z) => basename(z.file) === basename(failure.file));
    if (old !== undefined && !zones.some((z) => z.origin === old.origin)) {
      zones.push(old);
      kept.push({ file: failure.file, origin: old.origin, error: failure.error });
    } else {
      missing.push(failure);
    }
  }
  zones.sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
  return { zones, kept, missing };
}
