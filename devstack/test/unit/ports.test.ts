import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DevstackError } from '../../src/errors.ts';
import { choosePort } from '../../src/ports.ts';

describe('choosing ports', () => {
  it('names a fixed port that is already in use, and what wanted it', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const error = await choosePort(port, 'gateway').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DevstackError);
      expect((error as Error).message).toContain(`Port ${port}/tcp (gateway) is already in use`);
    } finally {
      holder.close();
    }
  });

  it('picks distinct free ports when none is requested', async () => {
    const a = await choosePort(undefined, 'a');
    const b = await choosePort(0, 'b', 'udp');
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });
});
