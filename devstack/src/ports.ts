import dgram from 'node:dgram';
import net from 'node:net';
import { DevstackError } from './errors.ts';

const HOST = '127.0.0.1';

/**
 * A TCP port that is free right now on 127.0.0.1. Several stacks run at once on one machine (tests, npm start,
 * other engineers), so no part of the stack uses a fixed port unless the caller asks for one.
 */
export async function findFreeTcpPort(host = HOST): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A UDP port that is free right now on all interfaces (livekit-server's UDP mux binds 0.0.0.0). */
export async function findFreeUdpPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind({ port: 0, exclusive: true }, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

async function tcpPortIsFree(port: number, host: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function udpPortIsFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind({ port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/**
 * Resolves a requested port: 0/undefined → a free one; a fixed port → checked first, so "address in use" is
 * reported with the port and what wanted it instead of as a child process's cryptic exit.
 */
export async function choosePort(
  requested: number | undefined,
  purpose: string,
  protocol: 'tcp' | 'udp' = 'tcp',
  // livekit-server binds its RTC ports on every interface, so check those there.
  host = HOST,
): Promise<number> {
  if (!requested) return protocol === 'tcp' ? await findFreeTcpPort(host) : await findFreeUdpPort();
  const free = protocol === 'tcp' ? await tcpPortIsFree(requested, host) : await udpPortIsFree(requested);
  if (!free) {
    throw new DevstackError(
      `Port ${requested}/${protocol} (${purpose}) is already in use on ${host}. ` +
        'Stop whatever holds it or choose another port (0 picks a free one).',
    );
  }
  return requested;
}
