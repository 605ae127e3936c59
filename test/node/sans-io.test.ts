// The sans-IO rule, checked: the core (ring, versioning, coordination, membership, failure
// detection, hand-off, anti-entropy, peer messages) and the DynamoDB API's layer read time,
// randomness, storage and the network only through injected interfaces (src/env/), which is
// what lets the simulator run the real code. No wall clock, timer, global randomness, file,
// socket or process clock in their sources; a planted one is caught.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');
const CORE = ['ring', 'version', 'replication', 'membership', 'handoff', 'antientropy', 'protocol', 'dynamo'];
const FORBIDDEN: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  { name: 'Date.now()', pattern: /\bDate\.now\s*\(/ },
  { name: 'new Date()', pattern: /\bnew Date\s*\(/ },
  { name: 'a timer', pattern: /\b(?:setTimeout|setInterval|setImmediate)\s*\(/ },
  { name: 'Math.random()', pattern: /\bMath\.random\s*\(/ },
  { name: 'a process clock', pattern: /\b(?:performance\.now|process\.hrtime)\b/ },
  { name: 'files, sockets or processes', pattern: /from\s+['"]node:(?:fs|fs\/promises|net|http|https|tls|dgram|child_process|worker_threads)['"]/ },
];

/** The forbidden uses in `source`, comments left out. */
function violationsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return FORBIDDEN.filter((f) => f.pattern.test(code)).map((f) => f.name);
}

describe('the core is sans-IO', () => {
  it('no core module reads a clock, sets a timer, draws global randomness or touches files or sockets', () => {
    const found: string[] = [];
    let files = 0;
    for (const folder of CORE) {
      for (const file of readdirSync(join(SRC, folder), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
        files++;
        for (const v of violationsOf(readFileSync(join(SRC, folder, file), 'utf8'))) found.push(`src/${folder}/${file}: ${v}`);
      }
    }
    assert.ok(files > 50, `the scan read only ${files} files`);
    assert.deepEqual(found, []);
  });

  it('the check catches each planted use, and ignores comments', () => {
    for (const planted of ['const t = Date.now();', 'setTimeout(() => 1, 5);', 'const r = Math.random();', "import { readFileSync } from 'node:fs';", 'const x = performance.now();', 'new Date()']) {
      assert.equal(violationsOf(`export const a = 1;\n${planted}\n`).length, 1, planted);
    }
    assert.deepEqual(violationsOf('// Date.now() is not used here\n/* setTimeout( */\nexport const a = 1;\n'), []);
  });
});
