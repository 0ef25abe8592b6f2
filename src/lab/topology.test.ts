import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { loadConfig } from '../config/load.ts';
import { labScenarios } from './scenarios.ts';
import { hostConfig, servicePort, type HostSpec } from './topology.ts';

const smtpHost: HostSpec = { name: 'smtp1', hostname: 'smtp1.domain.test', address: '127.20.20.1', role: 'primary', services: ['smtp'], domains: [['domain.test', 'primary']] };

describe('hostConfig', () => {
  it('listens on the host address and the topology port, and resolves through the scenario DNS only', () => {
    const c = hostConfig(smtpHost, { port: 2700, resolver: '127.0.0.53:2700', zonesDir: '/z' });
    assert.deepEqual((c['smtp'] as Record<string, unknown>)['listen'], ['127.20.20.1:2700']);
    assert.equal((c['smtp'] as Record<string, unknown>)['outbound_port'], 2700);
    assert.equal((c['smtp'] as Record<string, unknown>)['source_address'], '127.20.20.1');
    assert.deepEqual((c['dns'] as Record<string, unknown>)['resolvers'], ['127.0.0.53:2700']);
    assert.equal((c['dns'] as Record<string, unknown>)['listen'], undefined, 'no DNS server on a mail host');
    assert.deepEqual(c['domain'], [{ name: 'domain.test', role: 'primary' }]);
  });

  it('names the backup recipients file only for a host that has one', () => {
    const backup = hostConfig({ ...smtpHost, domains: [['domain.test', 'backup']], backupRecipients: ['user@domain.test'] }, { port: 2700, resolver: '127.0.0.53:2700', zonesDir: '/z' });
    assert.equal((backup['backup'] as Record<string, unknown>)['recipients'], 'backup-recipients.txt');
    assert.equal((hostConfig(smtpHost, { port: 2700, resolver: 'x', zonesDir: '/z' })['backup'] as Record<string, unknown>)['recipients'], undefined);
  });

  it('writes a config the schema accepts, for every host of every scenario', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-lab-config-'));
    try {
      for (const script of labScenarios()) {
        for (const h of script.hosts) {
          const path = join(dir, `${script.name}-${h.name}.toml`);
          writeFileSync(path, stringify(hostConfig(h, { port: 2710, resolver: '127.0.0.53:2710', zonesDir: dir })));
          const config = loadConfig(path);
          assert.equal(config.hostname, h.hostname);
          assert.equal(config.smtp.outboundPort, 2710);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('servicePort', () => {
  it('puts SMTP and a DNS-only host on the port, the access services after it', () => {
    assert.deepEqual(['smtp', 'submission', 'imap', 'pop3'].map((s) => servicePort(s as 'smtp', 2700)), [2700, 2701, 2702, 2703]);
    assert.equal(servicePort('dns', 2700, { services: ['dns'] }), 2700);
  });

  it('moves DNS off the SMTP port on a host that runs both (both listen on TCP)', () => {
    assert.equal(servicePort('dns', 2700, { services: ['dns', 'smtp'] }), 2704);
  });
});
