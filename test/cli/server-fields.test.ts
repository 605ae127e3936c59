// Shows that what the CLI prints from a node's answers cannot drive the operator's terminal
// (finding 10 of the attack review of issue 13): `dynakv ring` prints N escaped, and the transfer
// progress line counts only whole numbers, whatever a (hostile or broken) node answers; and that
// the id rule refuses names that are special to JavaScript objects or to paths (`__proto__`,
// `constructor`, `prototype`, `.`, `..`), so the admin route answers 400 for them.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { MembersView } from '../../src/api/views.ts';
import { DynakvClient } from '../../src/client/http-client.ts';
import { runRing } from '../../src/cli/kv-commands.ts';
import { progressLine } from '../../src/cli/member-commands.ts';
import { isNodeId, NODE_ID_PATTERN } from '../../src/protocol/ids.ts';
import { startOneNode, type OneNode } from '../security/one-node.ts';

const ESC = '\u001b';

describe('server-supplied fields the CLI prints', () => {
  let server: Server | undefined;
  let url = '';
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/cluster/ring') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ n: `${ESC}[2J${ESC}]0;pwned\u0007`, nodes: [{ id: 'n1', position: '0', range: { start: '0', wraps: false }, replicas: ['n1'] }] }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server?.close());

  it('dynakv ring escapes N', async () => {
    const lines: string[] = [];
    const client = new DynakvClient(url);
    await runRing(client, { log: (l) => lines.push(l) });
    client.close();
    const text = lines.join('\n');
    assert.ok(!text.includes(ESC) && !text.includes('\u0007'), JSON.stringify(text));
    assert.match(text, /N=\\u001b\[2J/);
  });

  it('the transfer progress line counts only whole numbers', () => {
    const hostile = {
      self: 'n1',
      log: [],
      members: [
        { id: 'n1', status: 'up', transfer: { keysTotal: `${ESC}[2J7`, keysDone: `${ESC}[31m3`, targets: [] } },
        { id: 'n2', status: 'up', transfer: { keysTotal: 10, keysDone: 4, targets: [] } },
        { id: 'n3', status: 'up', transfer: { keysTotal: 1e300, keysDone: -5, targets: [] } },
      ],
    } as unknown as MembersView;
    const line = progressLine(hostile);
    assert.ok(!line.includes(ESC), JSON.stringify(line));
    assert.match(line, /\b4\/10 keys checked, 3 node\(s\) moving data/);
  });
});

describe('the id rule and names special to objects and paths', () => {
  let node: OneNode | undefined;
  before(async () => {
    node = await startOneNode('reserved-ids');
  });
  after(async () => {
    await node?.stop();
  });

  it('refuses __proto__, constructor, prototype, . and .. as ids', () => {
    for (const id of ['__proto__', 'constructor', 'prototype', '.', '..']) {
      assert.equal(isNodeId(id), false, id);
      assert.equal(NODE_ID_PATTERN.test(id), false, id);
    }
    for (const id of ['n1', '_proto_', '__proto__x', 'my.constructor', '...', 'a..b']) assert.equal(isNodeId(id), true, id);
  });

  it('the admin route answers 400 for a reserved id and adds nothing', async () => {
    for (const id of ['__proto__', 'constructor']) {
      const res = await fetch(`${node!.url}/cluster/members`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-dynakv-request': 'test' },
        body: JSON.stringify({ id, peer: '127.0.0.1:1' }),
      });
      assert.equal(res.status, 400, id);
    }
    const members = (await (await fetch(`${node!.url}/cluster/members`)).json()) as MembersView;
    assert.deepEqual(members.members.map((m) => m.id), ['s1']);
  });
});
