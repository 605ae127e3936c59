// `dynakv shell`: an interactive terminal for operators who keep one open: put/get/delete,
// members (add/remove/log), ring and status against one node, with line history (readline).
// Works on a pipe too (no TTY), which is how its test drives it.
import { createInterface } from 'node:readline';
import type { DynakvClient } from '../client/http-client.ts';
import { runDelete, runGet, runPut, runRing } from './kv-commands.ts';
import { runMembers, runMembersAdd, runMembersLog, runMembersRemove } from './member-commands.ts';
import { terminalSafe } from './terminal-text.ts';

const HELP = `commands:
  put KEY VALUE [CONTEXT]     write a value (with the context of a read to replace it)
  get KEY                     read a value, its siblings and context
  delete KEY [CONTEXT]        delete a key
  members                     the membership table
  members log                 the history of membership changes
  members add ID PEER [HTTP]  add a started node to the ring
  members remove ID           take a node out of the ring
  ring                        ring positions, home ranges and replica sets
  status                      this node's key count and transfer state
  help                        this text
  exit                        leave the shell`;

export async function runShell(client: DynakvClient): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, historySize: 1000, prompt: 'dynakv> ', terminal: process.stdin.isTTY });
  const out = { log: (line: string) => console.log(line) };
  console.log(`dynakv shell on ${client.baseUrl}; type help`);
  rl.prompt();
  for await (const line of rl) {
    const words = line.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length > 0) {
      if (words[0] === 'exit' || words[0] === 'quit') break;
      try {
        await runLine(client, words, out);
      } catch (err) {
        console.log(`error: ${terminalSafe((err as Error).message)}`);
      }
    }
    rl.prompt();
  }
  rl.close();
  process.exitCode = 0;
}

async function runLine(client: DynakvClient, words: string[], out: { log(line: string): void }): Promise<void> {
  const [command, a, b, c] = words;
  const need = (value: string | undefined, what: string): string => {
    if (value === undefined) throw new Error(`${command} needs ${what}; type help`);
    return value;
  };
  switch (command) {
    case 'help':
      return out.log(HELP);
    case 'put':
      return runPut(client, need(a, 'a key'), need(b, 'a value'), c !== undefined ? { context: c } : {}, out);
    case 'get':
      return runGet(client, need(a, 'a key'), {}, out);
    case 'delete':
      return runDelete(client, need(a, 'a key'), b !== undefined ? { context: b } : {}, out);
    case 'members':
      if (a === undefined) return runMembers(client, out);
      if (a === 'log') return runMembersLog(client, out);
      if (a === 'add') return runMembersAdd(client, need(b, 'an id'), { peer: need(c, 'a peer address'), ...(words[4] !== undefined ? { http: words[4] } : {}), wait: false }, out);
      if (a === 'remove') return runMembersRemove(client, need(b, 'an id'), { wait: false }, out);
      throw new Error(`unknown: members ${a}; type help`);
    case 'ring':
      return runRing(client, out);
    case 'status':
      return out.log(JSON.stringify(await client.stats(), null, 2));
    default:
      throw new Error(`unknown command ${command}; type help`);
  }
}
