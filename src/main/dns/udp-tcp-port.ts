// One port for a UDP socket and a TCP server, as DNS wants (RFC 1035 4.2: the same port on
// both transports). With port 0 the kernel picks a free UDP port, but nothing reserves the
// same number for TCP: another process may hold it. Then both are closed and a new port is
// tried, a bounded number of times. A fixed port is tried once, and a failure leaves no
// socket open (an open UDP socket would keep the process alive).

import type dgram from 'node:dgram';
import type net from 'node:net';

/** How often port 0 is retried when the kernel's UDP port is taken on TCP. */
export const EPHEMERAL_PORT_ATTEMPTS = 8;

function bindUdp(udp: dgram.Socket, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ port, address: host }, () => {
      udp.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(tcp: net.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ port, host }, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
}

const closeUdp = (udp: dgram.Socket): Promise<void> => new Promise((resolve) => udp.close(() => resolve()));

/**
 * Binds a UDP socket from `makeUdp` and listens with a TCP server from `makeTcp` on the same
 * port; resolves with both and the port. Throws the last error when it cannot.
 */
export async function bindUdpAndTcp(
  port: number,
  host: string | undefined,
  makeUdp: () => dgram.Socket,
  makeTcp: () => net.Server,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  const attempts = port === 0 ? EPHEMERAL_PORT_ATTEMPTS : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const udp = makeUdp();
    await bindUdp(udp, port, host);
    const bound = udp.address().port;
    const tcp = makeTcp();
    try {
      await listenTcp(tcp, bound, host);
      return { udp, tcp, port: bound };
    } catch (err) {
      lastError = err;
      await closeUdp(udp);
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
    }
  }
  throw lastError;
}
