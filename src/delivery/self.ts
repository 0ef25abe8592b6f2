/**
 * Who "we" are in a domain's MX list (RFC 5321 §5.1): our hostname, and every address we accept
 * mail on or send from. A wildcard listen address stands for every address of the machine, so it is
 * expanded to them; leaving it out would make a backup MX fail to recognise itself and forward mail
 * to itself or to its peers at the same preference.
 */
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/schema.ts';

export interface SelfIdentity {
  hostnames: string[];
  addresses: string[];
}

export function machineAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(a.address);
  }
  return out;
}

export function selfIdentity(config: Config, machine: () => string[] = machineAddresses): SelfIdentity {
  const addresses = new Set<string>();
  for (const hp of config.smtp.listen) {
    if (hp.host === '0.0.0.0' || hp.host === '::') {
      for (const a of machine()) addresses.add(a);
    } else {
      addresses.add(hp.host);
    }
  }
  if (config.smtp.sourceAddress !== null) addresses.add(config.smtp.sourceAddress);
  return { hostnames: [config.hostname], addresses: [...addresses] };
}
