// How this node's table travels (the seed's "changes spread by gossip"): one push-pull exchange
// with a random live peer per round, a change pushed at once to SPREAD_FANOUT random peers (and
// passed on the same way by each that learns it), and join seeds asked while no member is known.
// What an answer may change is Membership's to decide (merge). Sans-IO: the injected clock,
// random and transport.
import type { Clock, Timer } from '../env/clock.ts';
import type { Random } from '../env/random.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import type { MemberRecord } from './table.ts';

/**
 * Members (or join seeds) asked for their table at start, at once: one answer is enough to
 * serve, a few cover a peer that is down, and a large cluster is not sent a table by every node
 * that restarts. The others are reached by the gossip rounds.
 */
export const STARTUP_EXCHANGES_MAX = 3;
/**
 * Peers a change is pushed to at once, at random; each node that learns a versioned change from
 * it passes it on the same way (rumour mongering), so a change reaches n nodes in about log4(n)
 * hops with about 4n exchanges of the table, not n^2 (a ring change made every node announce its
 * transfer to every other: 123 MB of gossip at 100 nodes in the simulator).
 */
export const SPREAD_FANOUT = 4;
/** Pseudo node id prefix for a join address whose node id is not known yet. */
export const SEED_PREFIX = 'seed:';

export interface GossipDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly gossipIntervalMs: number;
  /** An exchange waits twice this for its answer. */
  readonly pingTimeoutMs: number;
  /** Our table, as sent. */
  readonly table: () => MemberRecord[];
  /** Peers to gossip with now (live ones, or every member until a table was heard). */
  readonly targets: () => NodeId[];
  /** Merges an answer: `from` a member, or undefined for a join seed. */
  readonly merge: (records: readonly MemberRecord[], from: NodeId | undefined) => void;
  readonly isMember: (id: NodeId) => boolean;
  readonly stopped: () => boolean;
}

export class Gossip {
  private seeds: string[] = [];
  /** When askForNews last gossiped. */
  private lastNewsAskMs: number | undefined;
  /** A gossip of our table to SPREAD_FANOUT peers is due (coalesced: see spreadSoon). */
  private spreadTimer: Timer | undefined;
  rounds = 0;

  constructor(private readonly deps: GossipDeps) {}

  /** Addresses (host:port) to pull the table from when this node knows no cluster yet. */
  joinVia(seeds: readonly string[]): void {
    this.seeds = [...seeds];
  }

  /** Asks up to STARTUP_EXCHANGES_MAX of `members` (at random), or else join seeds, for their table. */
  startup(members: readonly NodeId[]): void {
    const others = [...members];
    for (let i = 0; i < STARTUP_EXCHANGES_MAX && others.length > 0; i++) void this.exchange(others.splice(this.deps.random.nextInt(others.length), 1)[0]!);
    if (members.length === 0 && this.seeds.length > 0) for (const seed of this.seeds.slice(0, STARTUP_EXCHANGES_MAX)) void this.exchange(SEED_PREFIX + seed);
  }

  /** One round: an exchange with a random target, or a join seed while there is none. */
  round(): void {
    const targets = this.deps.targets();
    if (targets.length === 0 && this.seeds.length > 0) {
      const seed = this.seeds[this.deps.random.nextInt(this.seeds.length)]!;
      void this.exchange(SEED_PREFIX + seed);
    } else if (targets.length > 0) {
      void this.exchange(targets[this.deps.random.nextInt(targets.length)]!);
    }
    this.rounds++;
  }

  /** Sends our table to SPREAD_FANOUT live peers at once: changes should not wait for rounds. */
  spreadNow(): void {
    const targets = this.deps.targets();
    for (let i = 0; i < SPREAD_FANOUT && targets.length > 0; i++) void this.exchange(targets.splice(this.deps.random.nextInt(targets.length), 1)[0]!);
  }

  /** spreadNow on the next tick; calls before then share that one spread. */
  spreadSoon(): void {
    if (this.spreadTimer !== undefined || this.deps.stopped()) return;
    this.spreadTimer = this.deps.clock.setTimer(0, () => {
      this.spreadTimer = undefined;
      if (!this.deps.stopped()) this.spreadNow();
    });
  }

  /**
   * A member treats us as something our table does not say (it sent us data while we hold
   * ourselves removed): gossip soon, at most once per gossip interval.
   */
  askForNews(): void {
    const nowMs = this.deps.clock.nowMs();
    if (this.lastNewsAskMs !== undefined && nowMs - this.lastNewsAskMs < this.deps.gossipIntervalMs) return;
    this.lastNewsAskMs = nowMs;
    this.spreadSoon();
  }

  stop(): void {
    this.spreadTimer?.cancel();
    this.spreadTimer = undefined;
  }

  /**
   * One push-pull exchange with `to`. Its answer is merged like its gossip would be (only a
   * member's; a join seed's too, since an operator named it), so a removed peer's table never
   * rewrites ours.
   */
  private async exchange(to: NodeId): Promise<void> {
    let reply: PeerReply;
    try {
      reply = await this.deps.transport.request(to, { kind: 'gossip', records: this.deps.table() }, this.deps.pingTimeoutMs * 2);
    } catch {
      return; // a lost exchange is repaired by the next round
    }
    if (reply.kind !== 'gossip_ok' || this.deps.stopped()) return;
    if (to.startsWith(SEED_PREFIX)) this.deps.merge(reply.records, undefined);
    else if (this.deps.isMember(to)) this.deps.merge(reply.records, to);
  }
}
