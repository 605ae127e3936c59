// The client-facing front the simulator's workload talks to: get returns siblings and an opaque
// context string, put takes one back. When DynakvNode has its own front (`node.get`, `node.put`
// with verified context strings) it is used as is; until then this adapter builds the same
// contract from the coordinator and the HTTP layer's checks (key rule, value size, context
// decoding), so the workload and its expectations do not change when the node's front lands.
import { ApiError } from '../src/api/error-status.ts';
import type { DynakvNode } from '../src/node/node.ts';
import { isValidKey, KEY_BYTES_MAX } from '../src/protocol/messages.ts';
import { decodeContext, encodeContext } from '../src/version/context.ts';
import { joinClocks, type Sibling } from '../src/version/siblings.ts';

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

/** The node's own front, once it has one (issue 13). */
interface NodeFront {
  get(key: string, r?: number): Promise<FrontRead>;
  put(request: FrontWrite): Promise<string>;
}

function nodeFront(node: DynakvNode): NodeFront | undefined {
  const candidate = node as unknown as Partial<NodeFront>;
  return typeof candidate.get === 'function' && typeof candidate.put === 'function' ? (candidate as NodeFront) : undefined;
}

/** Which front the workload uses: the node's own, or this adapter over the coordinator. */
export function frontKind(node: DynakvNode): 'node' | 'adapter' {
  return nodeFront(node) === undefined ? 'adapter' : 'node';
}

export async function frontGet(node: DynakvNode, key: string, r?: number): Promise<FrontRead> {
  const own = nodeFront(node);
  if (own !== undefined) return own.get(key, r);
  if (!isValidKey(key)) throw new ApiError('KEY_INVALID', `key must be 1..${KEY_BYTES_MAX} UTF-8 bytes`);
  const { siblings } = await node.coordinator.get(key, r);
  return { siblings, context: encodeContext(joinClocks(siblings)) };
}

export async function frontPut(node: DynakvNode, request: FrontWrite): Promise<string> {
  const own = nodeFront(node);
  if (own !== undefined) return own.put(request);
  if (!isValidKey(request.key)) throw new ApiError('KEY_INVALID', `key must be 1..${KEY_BYTES_MAX} UTF-8 bytes`);
  if (request.value !== null && request.value.length > node.config.valueBytesMax) {
    throw new ApiError('VALUE_TOO_LARGE', `value is larger than ${node.config.valueBytesMax} bytes`);
  }
  const context = decodeContext(request.context);
  const clock = await node.coordinator.put({
    key: request.key,
    value: request.value,
    contentType: request.contentType,
    context,
    ...(request.w !== undefined ? { w: request.w } : {}),
  });
  return encodeContext(clock);
}
