/**
 * One port number for the whole topology: every host listens on its own 127.x address and the same
 * port, as the scenarios' MX records expect (one SMTP port for all). A port is usable when every
 * address can bind it over TCP and the DNS address over UDP too.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** The range the lab picks from: clear of the development ports (2525, 5353, …) and of tests' port 0. */
export const LAB_PORTS = { first: 2700, last: 2799 } as const;

function tcpFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function udpFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

export interface PickPortOptions {
  addresses: readonly string[];
  /** Addresses that also need the port over UDP (the DNS server's). */
  udpAddresses: readonly string[];
  first?: number;
  last?: number;
}

/** The first port of the range free on every address; null when none is. */
export async function pickPort(o: PickPortOptions): Promise<number | null> {
  const first = o.first ?? LAB_PORTS.first;
  const last = (o.last ?? LAB_PORTS.last) - 4;
  // Start at a random place in the range, so two labs started together rarely race for one port.
  const span = last - first + 1;
  const offset = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = first + ((offset + i) % span);
    let free = true;
    // The port and the next four: SMTP and DNS on the port, then submission, IMAP, POP3, and DNS
    // on a host that also runs SMTP (topology.ts, servicePort).
    for (const a of o.addresses) for (let k = 0; k < 5 && free; k++) if (!(await tcpFree(a, port + k))) free = false;
    for (const a of o.udpAddresses) for (const k of [0, 4]) if (free && !(await udpFree(a, port + k))) free = false;
    if (free) return port;
  }
  return null;
}
