// A free TCP port on loopback, as the OS hands one out: for nodes started on ports nobody fixed
// (tests, bench, chaos in loopback mode). The port is free when this returns, not reserved: a
// caller that starts a node on it races other processes, which on one test machine is rare.
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        fail(new Error('assertion: a TCP server listening has an address with a port'));
        return;
      }
      server.close(() => done(address.port));
    });
  });
}
