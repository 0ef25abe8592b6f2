import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { availableScenarios, keepText, listText } from './runner.ts';
import { datacenters, vps } from './scenarios.ts';

const SCENARIOS = resolve(import.meta.dirname, '../../scenarios');

describe('the scenario list', () => {
  it('names every scenario folder with its tutorial section', () => {
    const text = listText(availableScenarios(SCENARIOS));
    for (const name of ['1-priority', '2-datacenters', '3-hosted', '4-subdomains', '5-vps', '6-edge']) assert.match(text, new RegExp(`^  ${name} +\\S`, 'm'));
  });

  it('offers only scenarios whose folder exists', () => {
    assert.deepEqual(availableScenarios('/nonexistent'), []);
  });
});

describe('what --keep prints', () => {
  const o = { port: 2740, dir: '/tmp/lab', password: 'pw', postern: 'npx postern' };

  it('gives dig, swaks and the operator commands for 2-datacenters, and no IMAP (it has none)', () => {
    const text = keepText(datacenters(), o);
    assert.match(text, /dig @127\.0\.0\.53 -p 2740 domain\.test MX \+norecurse/);
    assert.match(text, /swaks --server 127\.20\.20\.1:2740 --from alice@sender\.test --to user@domain\.test/);
    assert.match(text, /swaks --server 127\.0\.9\.1:2741 --tls-on-connect --auth PLAIN --auth-user alice@sender\.test --auth-password pw/);
    assert.match(text, /npx postern queue list --config \/tmp\/lab\/sender\/postern\.toml/);
    assert.doesNotMatch(text, /imap:/);
    assert.match(text, /Ctrl-C stops every host/);
  });

  it('gives curl over IMAP (STARTTLS) and the moved DNS port for 5-vps', () => {
    const text = keepText(vps(), o);
    assert.match(text, /dig @127\.60\.0\.1 -p 2744 domain\.test MX/);
    assert.match(text, /curl -k --ssl-reqd --user 'user@domain\.test:pw' 'imap:\/\/127\.60\.0\.1:2742\/INBOX;UID=1'/);
  });
});
