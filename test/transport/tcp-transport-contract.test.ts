// Runs the shared Transport contract (transport-contract.ts) against TcpTransport on 127.0.0.1,
// twice: with mutual TLS, as production runs the peer port (certificates for a, b and c from one
// cluster CA, made once by src/security/certs.ts in a temporary directory), and in --insecure
// plain TCP. Each case gets its own address book and transports on free ports, all closed after.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { NodeId } from '../../src/env/transport.ts';
import { createCa, createNodeCert, loadNodeCerts } from '../../src/security/certs.ts';
import { TcpTransport, type PeerTls } from '../../src/transport/tcp-transport.ts';
import { contractNodeIds, parseContractReply, parseContractRequest, transportContract, type ContractNetwork, type ContractNetworkOptions, type ContractReply, type ContractRequest } from './transport-contract.ts';
import { RecordingLog } from './wait-for.ts';

const host = '127.0.0.1';
let certsRoot: string | undefined;
const peerTls = new Map<NodeId, PeerTls>();

before(async () => {
  certsRoot = mkdtempSync(join(tmpdir(), 'dynakv-transport-contract-'));
  const caKey = join(certsRoot, 'ca', 'ca.key');
  await createCa({ certsDir: join(certsRoot, 'ca') });
  for (const id of contractNodeIds) {
    await createNodeCert({ id, certsDir: join(certsRoot, id), caKey });
    const { ca, cert, key } = loadNodeCerts(join(certsRoot, id));
    peerTls.set(id, { ca, cert, key });
  }
});
after(() => {
  if (certsRoot !== undefined) rmSync(certsRoot, { recursive: true, force: true });
});

function tcpNetwork(secure: boolean): (options: ContractNetworkOptions) => Promise<ContractNetwork> {
  return async (options) => {
    const addressBook = new Map<NodeId, { host: string; port: number }>();
    const transports: Array<TcpTransport<ContractRequest, ContractReply>> = [];
    return {
      async start(id) {
        const tls = secure ? peerTls.get(id) : undefined;
        if (secure && tls === undefined) throw new Error(`no certificate made for ${id}`);
        const transport = new TcpTransport<ContractRequest, ContractReply>({
          self: id,
          cluster: 'contract',
          listenHost: host,
          listenPort: 0,
          resolve: (peer) => addressBook.get(peer),
          parseRequest: parseContractRequest,
          parseReply: parseContractReply,
          log: new RecordingLog(),
          // Short, so that a test waiting out a reconnect backoff stays short.
          reconnectBackoffMs: { initial: 10, max: 50 },
          ...(options.inFlightMax === undefined ? {} : { inFlightMax: options.inFlightMax }),
          ...(options.frameBytesMax === undefined ? {} : { frameBytesMax: options.frameBytesMax }),
          ...(tls === undefined ? {} : { tls }),
        });
        transports.push(transport);
        await transport.listen();
        addressBook.set(id, { host, port: transport.port });
        return transport;
      },
      run: (work) => work,
      pause: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      async cleanup() {
        await Promise.all(transports.map((transport) => transport.close()));
      },
    };
  };
}

transportContract('TcpTransport, mutual TLS', tcpNetwork(true));
transportContract('TcpTransport, --insecure', tcpNetwork(false));
