// The client-facing front the simulator's workload talks to: DynakvNode's own get/put (siblings
// and an opaque, authenticated context string), behind the same boundary checks the HTTP layer
// makes before it calls them (src/api/kv-routes.ts: the key rule and the value size), so the
// workload sees the errors a client of the API would: KEY_INVALID, VALUE_TOO_LARGE, BAD_CONTEXT.
// Partitioned keys (U+0000 prefix, ring.ts placementText) are the DynamoDB front's, which calls
// the node directly with its own key rules (src/dynamo/item-keys.ts); they pass here too.
import { ApiError } from '../src/api/error-status.ts';
import type { DynakvNode } from '../src/node/node.ts';
import { clientKeyProblem, isValidKey } from '../src/protocol/messages.ts';
import { placementText } from '../src/ring/ring.ts';
import type { Sibling } from '../src/version/siblings.ts';

export interface FrontRead {
  readonly siblings: readonly Sibling[];
  readonly context: string;
}

export interface FrontWrite {
  readonly key: string;
  readonly value: Uint8Array | null;
  readonly contentType: string;
  readonly context: string;
  readonly w?: number;
}

function checkKey(key: string): void {
  if (placementText(key) !== key && isValidKey(key)) return;
  const problem = clientKeyProblem(key);
  if (problem !== undefined) throw new ApiError('KEY_INVALID', problem);
}

export async function frontGet(node: DynakvNode, key: string, r?: number): Promise<FrontRead> {
  checkKey(key);
  return node.get(key, r);
}

export async function frontPut(node: DynakvNode, request: FrontWrite): Promise<string> {
  checkKey(request.key);
  if (request.value !== null && request.value.length > node.config.valueBytesMax) {
    throw new ApiError('VALUE_TOO_LARGE', `value is larger than ${node.config.valueBytesMax} bytes`);
  }
  return node.put(request);
}
