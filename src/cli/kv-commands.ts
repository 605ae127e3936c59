// `dynakv put|get|delete|ring`: one request to one node, printed for a terminal.
import { DynakvClient } from '../client/http-client.ts';
import { formatTable } from './table.ts';
import { terminalSafe, terminalSafeText } from './terminal-text.ts';

export interface Out {
  log(line: string): void;
}

export async function runPut(client: DynakvClient, key: string, value: string, opts: { context?: string; contentType?: string; w?: string }, out: Out) {
  const context = await client.put(key, value, {
    contentType: opts.contentType ?? 'text/plain; charset=utf-8',
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    ...(opts.w !== undefined ? { w: parseQuorum(opts.w, '--w') } : {}),
  });
  out.log(`ok\ncontext: ${terminalSafe(context)}`);
}

export async function runGet(client: DynakvClient, key: string, opts: { r?: string }, out: Out) {
  const result = await client.get(key, opts.r !== undefined ? { r: parseQuorum(opts.r, '--r') } : {});
  if (!result.found) {
    out.log(result.context ? `not found (deleted)\ncontext: ${terminalSafe(result.context)}` : 'not found');
    process.exitCode = 1;
    return;
  }
  if (result.siblings.length === 1) {
    out.log(show(result.siblings[0]!.value, result.siblings[0]!.contentType));
  } else {
    out.log(`${result.siblings.length} siblings (concurrent writes; write back with the context to resolve them):`);
    result.siblings.forEach((s, i) => out.log(`  [${i + 1}] ${show(s.value, s.contentType)}  (${terminalSafe(s.contentType)})`));
  }
  out.log(`context: ${terminalSafe(result.context)}`);
}

export async function runDelete(client: DynakvClient, key: string, opts: { context?: string; w?: string }, out: Out) {
  await client.delete(key, {
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    ...(opts.w !== undefined ? { w: parseQuorum(opts.w, '--w') } : {}),
  });
  out.log('deleted');
}

export async function runRing(client: DynakvClient, out: Out) {
  const ring = await client.ring();
  out.log(
    formatTable(
      ['node', 'position', 'home range start', 'replicas'],
      ring.nodes.map((n) => [n.id, n.position, n.range.start + (n.range.wraps ? ' (wraps)' : ''), n.replicas.join(' ')]),
    ),
  );
  // N comes from the node like every cell above: escaped, whatever it holds.
  out.log(`N=${terminalSafe(String(ring.n))}`);
}

/** A --w or --r value: a whole number (the node checks it against N). */
export function parseQuorum(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${flag} must be a whole number`);
  return Number(text);
}

function show(value: Buffer, contentType: string): string {
  const textual = contentType.startsWith('text/') || contentType.includes('json') || contentType.includes('charset');
  // A stored value is anyone's text: it may not drive the terminal (newlines and tabs stay).
  return textual ? terminalSafeText(value.toString('utf8')) : `<${value.length} bytes, base64 ${value.toString('base64')}>`;
}
