// Runs the shared Storage contract (storage-contract.ts) against MemoryStorage. Memory keeps nothing
// across close, so the reopen case is not part of its contract; reopen hands back an empty store.
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { storageContract } from './storage-contract.ts';

storageContract(
  'MemoryStorage',
  async () => {
    const storage = new MemoryStorage();
    return {
      storage,
      reopen: async () => new MemoryStorage(),
      cleanup: () => storage.close(),
    };
  },
  { persistent: false },
);
