// Runs the shared Transport contract (transport-contract.ts) against the simulator's network
// (sim/sim-network.ts) on virtual time: every wait drives the seeded scheduler, so each case is
// deterministic (seed 1). Run with authentication on (only a, b and c hold certificates, as the
// simulator's mutual TLS) and off.
import { Scheduler } from '../../sim/scheduler.ts';
import { SeededRandom } from '../../sim/seeded-random.ts';
import { SimNetwork } from '../../sim/sim-network.ts';
import type { Transport } from '../../src/env/transport.ts';
import { contractNodeIds, parseContractReply, parseContractRequest, transportContract, type ContractNetwork, type ContractNetworkOptions, type ContractReply, type ContractRequest } from './transport-contract.ts';

const seed = 1;

function simNetwork(authenticated: boolean): (options: ContractNetworkOptions) => Promise<ContractNetwork> {
  return async (options) => {
    const scheduler = new Scheduler();
    const network = new SimNetwork<ContractRequest, ContractReply>(scheduler, new SeededRandom(seed), parseContractRequest, parseContractReply, {
      delayMinMs: 1,
      delayMaxMs: 5,
      ...options,
    });
    if (authenticated) network.certified = new Set(contractNodeIds);
    const transports: Array<Transport<ContractRequest, ContractReply>> = [];
    return {
      async start(id) {
        const transport = network.transportFor(id);
        transports.push(transport);
        return transport;
      },
      run: (work) => scheduler.complete(work),
      pause: (ms) => scheduler.runUntil(scheduler.nowMs + ms),
      async cleanup() {
        for (const transport of transports) await transport.close();
      },
    };
  };
}

transportContract(`SimNetwork (seed ${seed}), authenticated`, simNetwork(true));
transportContract(`SimNetwork (seed ${seed}), no authentication`, simNetwork(false));
