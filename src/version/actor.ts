// Actor ids: who issued a dot. An actor is one incarnation of a node, `<node id>#<epoch>`, the
// epoch created when the node first started on its disk (src/replication/dot-counter.ts), so a
// node that lost its disk is a new actor. Records written before epochs existed name a plain
// node id; both forms are valid. Pure; the rule every door checks actor ids by.
import { assert } from '../env/assert.ts';
import type { NodeId } from '../env/transport.ts';
import { isNodeId } from '../protocol/ids.ts';

/** Separates a node id from its epoch in an actor id; node ids never contain it. */
export const ACTOR_SEPARATOR = '#';
/** Epochs are 10 base-36 characters (about 51 random bits): two incarnations of one id never collide in practice. */
export const EPOCH_CHARS = 10;
export const EPOCH_PATTERN = /^[0-9a-z]{10}$/;

/** The actor id of an incarnation: `<node id>#<epoch>`. */
export function actorId(node: NodeId, epoch: string): string {
  assert(isNodeId(node) && EPOCH_PATTERN.test(epoch), () => `bad actor parts ${JSON.stringify(node)} ${JSON.stringify(epoch)}`);
  return `${node}${ACTOR_SEPARATOR}${epoch}`;
}

/** The node id an actor id belongs to (the id itself for actors written before epochs existed). */
export function nodeOfActor(actor: string): NodeId {
  const at = actor.indexOf(ACTOR_SEPARATOR);
  return at < 0 ? actor : actor.slice(0, at);
}

/** A node id, or a node id and an epoch: what a dot or a clock entry may name. */
export function isActorId(x: unknown): x is string {
  if (typeof x !== 'string') return false;
  const at = x.indexOf(ACTOR_SEPARATOR);
  return at < 0 ? isNodeId(x) : isNodeId(x.slice(0, at)) && EPOCH_PATTERN.test(x.slice(at + 1));
}
