// `dynakv members [log|add|remove]`: the membership table and its history, and the operator's
// add/remove, which then follows the data transfer with a progress bar until every node has
// placed its keys for the new ring.
import type { MembersView } from '../api/views.ts';
import type { DynakvClient } from '../client/http-client.ts';
import type { Out } from './kv-commands.ts';
import { formatTable } from './table.ts';

const PROGRESS_POLL_MS = 250;
const TRANSFER_WAIT_MS = 15 * 60_000;

export async function runMembers(client: DynakvClient, out: Out): Promise<void> {
  const view = await client.members();
  const now = Date.now();
  out.log(
    formatTable(
      ['id', 'status', 'peer', 'http', 'last heard', 'epoch', 'version', 'transfer'],
      view.members.map((m) => [
        m.id + (m.id === view.self ? ' *' : ''),
        m.status,
        m.peer,
        m.http || '-',
        m.lastHeardMs === null ? 'never' : `${Math.max(0, Math.round((now - m.lastHeardMs) / 100) / 10)}s ago`,
        String(m.epoch),
        String(m.version),
        m.handingOff ? 'handing off' : m.receiving ? 'receiving' : '-',
      ]),
    ),
  );
}

export async function runMembersLog(client: DynakvClient, out: Out): Promise<void> {
  const view = await client.members();
  out.log(
    formatTable(
      ['time', 'node', 'change', 'epoch', 'version', 'by'],
      view.log.map((e) => [new Date(e.atMs).toISOString(), e.node, e.change, String(e.epoch), String(e.version), e.by]),
    ),
  );
}

export async function runMembersAdd(client: DynakvClient, id: string, opts: { peer: string; http?: string; wait: boolean }, out: Out): Promise<void> {
  await client.addMember(id, opts.peer, opts.http ?? '');
  out.log(`added ${id} (peer ${opts.peer}); the ring change spreads by gossip and data moves to it`);
  if (opts.wait) await followTransfer(client, out);
}

export async function runMembersRemove(client: DynakvClient, id: string, opts: { wait: boolean }, out: Out): Promise<void> {
  await client.removeMember(id);
  out.log(`removed ${id}; its keys move to their new replicas`);
  if (opts.wait) await followTransfer(client, out);
}

/** Polls until no node reports a transfer, drawing one progress line. */
async function followTransfer(client: DynakvClient, out: Out): Promise<void> {
  const started = Date.now();
  // Give gossip a moment to carry the change to every node before judging "done".
  let quietPolls = 0;
  let view: MembersView | undefined;
  while (Date.now() - started < TRANSFER_WAIT_MS) {
    await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
    view = await client.members();
    const moving = movingMembers(view);
    if (process.stdout.isTTY) process.stdout.write(`\r${progressLine(view)}   `);
    quietPolls = moving.length === 0 ? quietPolls + 1 : 0;
    if (quietPolls >= 8) break;
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  out.log(quietPolls >= 8 ? `transfer complete in ${((Date.now() - started) / 1000).toFixed(1)}s` : 'still moving data; check `dynakv members`');
  if (view !== undefined) await runMembers(client, out);
}

function movingMembers(view: MembersView): MembersView['members'] {
  return view.members.filter((m) => m.transfer !== null && m.transfer !== undefined && m.status !== 'down');
}

/** A count from a node's answer: a whole number 0..2^53, anything else counts as 0 (never printed raw). */
function count(x: unknown): number {
  return Number.isSafeInteger(x) && (x as number) >= 0 ? (x as number) : 0;
}

/** The progress line of a transfer, from a members view: numbers only, whatever the node sent. */
export function progressLine(view: MembersView): string {
  const moving = movingMembers(view);
  const total = moving.reduce((s, m) => s + count(m.transfer?.keysTotal), 0);
  const done = moving.reduce((s, m) => s + Math.min(count(m.transfer?.keysDone), count(m.transfer?.keysTotal)), 0);
  return `${bar(total === 0 ? 1 : done / total)} ${done}/${total} keys checked, ${moving.length} node(s) moving data`;
}

function bar(fraction: number): string {
  const width = 30;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)}%`;
}
