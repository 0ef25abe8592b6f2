import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { pickPort } from './ports.ts';

describe('pickPort', () => {
  it('picks a port of the range free on every address, leaving room for the services after it', async () => {
    const port = await pickPort({ addresses: ['127.0.8.1', '127.0.8.2'], udpAddresses: ['127.0.8.1'], first: 2700, last: 2799 });
    assert.ok(port !== null && port >= 2700 && port <= 2795, String(port));
  });

  it('skips a port some address already uses', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.8.3', () => r()));
    const taken = (busy.address() as { port: number }).port;
    try {
      // A range where only the taken port could start: nothing fits.
      assert.equal(await pickPort({ addresses: ['127.0.8.3'], udpAddresses: [], first: taken, last: taken + 4 }), null);
      const p = await pickPort({ addresses: ['127.0.8.3'], udpAddresses: [], first: taken - 5, last: taken + 4 });
      assert.ok(p === null || p + 4 < taken, String(p));
    } finally {
      busy.close();
    }
  });
});
