import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/**
 * A certificate for the stand-ins that must speak TLS (the Realtime API: the `openai` package's realtime client
 * always connects with wss). Made at start for the stand-ins' host, valid for a day, self-signed; clients trust it
 * explicitly (`ca`, or NODE_EXTRA_CA_CERTS=`certFile` for a child process). Nothing else trusts it.
 */
export interface StandinTls {
  key: string;
  cert: string;
  /** The certificate as a PEM file (for NODE_EXTRA_CA_CERTS); removed by stop(). */
  certFile: string;
  stop(): Promise<void>;
}

export async function standinTls(host: string): Promise<StandinTls> {
  const isIp = /^[\d.]+$|:/.test(host);
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          isIp ? { type: 7, ip: host } : { type: 2, value: host },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  const dir = await mkdtemp(join(tmpdir(), 'voicecall-standin-tls-'));
  const certFile = join(dir, 'standin-ca.pem');
  await writeFile(certFile, pems.cert);
  return {
    key: pems.private,
    cert: pems.cert,
    certFile,
    stop: () => rm(dir, { recursive: true, force: true }),
  };
}
