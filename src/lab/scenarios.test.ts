import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { datacenters, labScenarios } from './scenarios.ts';

const SCENARIOS = resolve(import.meta.dirname, '../../scenarios');
const folders = readdirSync(SCENARIOS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

describe('the scenario scripts', () => {
  it('has one script for every folder of scenarios/, in folder order', () => {
    assert.deepEqual(labScenarios().map((s) => s.name), folders);
  });

  for (const script of labScenarios()) {
    describe(script.name, () => {
      it('names its DNS and sender hosts among its hosts, each name once', () => {
        const names = script.hosts.map((h) => h.name);
        assert.equal(new Set(names).size, names.length);
        assert.ok(names.includes(script.dnsHost));
        assert.ok(names.includes(script.senderHost));
        assert.ok(script.hosts.find((h) => h.name === script.dnsHost)?.services.includes('dns'));
        assert.ok(script.hosts.find((h) => h.name === script.senderHost)?.services.includes('submission'));
      });

      it('gives every host its own address', () => {
        const addresses = script.hosts.map((h) => h.address);
        assert.equal(new Set(addresses).size, addresses.length);
        for (const a of addresses) assert.match(a, /^127\.\d+\.\d+\.\d+$/);
      });

      it('runs each mail host at an address the scenario\'s zones publish', () => {
        const zones = readdirSync(join(SCENARIOS, script.name)).map((f) => readFileSync(join(SCENARIOS, script.name, f), 'utf8')).join('\n');
        for (const h of script.hosts.filter((x) => x.name !== script.senderHost && x.services.includes('smtp'))) {
          assert.ok(zones.includes(h.address), `${h.name} at ${h.address}`);
        }
      });

      it('has steps, each with a title and what is expected', () => {
        assert.ok(script.steps.length >= 2);
        for (const s of script.steps) {
          assert.notEqual(s.title, '');
          assert.notEqual(s.expected, '');
        }
      });
    });
  }

  it('expects 250 of 250 delivered in 2-datacenters, or the total of the counts given', () => {
    assert.equal(datacenters().steps.at(-1)?.expected, '250 of 250 delivered, 0 lost, 0 duplicated');
    assert.equal(datacenters({ load: 20, held: 5 }).steps.at(-1)?.expected, '25 of 25 delivered, 0 lost, 0 duplicated');
  });
});
