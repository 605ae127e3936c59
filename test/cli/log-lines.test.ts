// Shows how `dynakv cluster start` turns a node's pino JSON lines into short terminal lines:
// time, node, level and message first, then the other fields as key=value (quoted when they
// need it, errors by their message); anything that is not a JSON object passes through whole;
// control characters from peers never reach the terminal raw (finding 9 of issue 13).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { formatLogLine, forwardedLine } from '../../src/cli/log-lines.ts';
import { formatTable } from '../../src/cli/table.ts';

/** What a real pino logger of a node writes for `fields` and `msg`. */
function pinoLine(level: 'info' | 'warn', fields: object, msg: string): string {
  let line = '';
  const logger = pino({ base: { node: 'n3' }, timestamp: () => ',"time":1700000000123' }, { write: (s: string) => (line = s.trim()) });
  logger[level](fields, msg);
  return line;
}

describe('formatLogLine', () => {
  it('puts time, node, level and message first, fields after', () => {
    const line = pinoLine('info', { member: 'n5', change: 'down', version: 2, by: 'n3' }, 'membership change');
    assert.equal(formatLogLine(line, 'n3', false), '22:13:20.123 n3 INFO  membership change member=n5 change=down version=2 by=n3');
  });

  it('quotes values with spaces, shows errors by message, colours the level only for a terminal', () => {
    const line = pinoLine('warn', { reason: 'connection closed by peer', err: new Error('boom'), targets: ['n1', 'n2'] }, 'peer trouble');
    assert.equal(formatLogLine(line, 'n3', false), '22:13:20.123 n3 WARN  peer trouble reason="connection closed by peer" err="boom" targets=["n1","n2"]');
    assert.match(formatLogLine(line, 'n3', true), /\u001b\[33mWARN \u001b\[0m/);
  });

  it('passes other lines through, naming the node', () => {
    assert.equal(formatLogLine('Segmentation fault', 'n2', false), 'n2 Segmentation fault');
    assert.equal(formatLogLine('[1,2]', 'n2', false), 'n2 [1,2]');
  });
});

// Finding 9 of issue 13: a member id, a gossiped address or any other peer-supplied string
// reached the operator's terminal raw, so an id holding ESC sequences could recolour, move the
// cursor or rewrite the screen. Every control character (C0, DEL, C1) and the bidirectional
// overrides of "Trojan Source" must come out as visible \uXXXX escapes; only the colour codes
// the formatter adds itself may remain.
describe('formatLogLine with hostile strings', () => {
  const HOSTILE = 'n9\u001b[2J\u001b]0;pwned\u0007\r\u009b31m\u007f\u202eevil';
  const ESCAPED = 'n9\\u001b[2J\\u001b]0;pwned\\u0007\\u000d\\u009b31m\\u007f\\u202eevil';

  it('escapes control characters in the node, message, fields and keys', () => {
    const line = JSON.stringify({ level: 30, time: 1700000000123, node: HOSTILE, msg: `hello ${HOSTILE}`, member: HOSTILE, [HOSTILE]: 1 });
    const out = formatLogLine(line, 'n3', false);
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    assert.ok(out.includes(ESCAPED), out);
  });

  it('escapes them in a line that is not JSON, and leaves only its own colours with colour on', () => {
    assert.equal(formatLogLine(`crash ${HOSTILE}`, 'n2', false), `n2 crash ${ESCAPED}`);
    const coloured = formatLogLine(JSON.stringify({ level: 40, msg: HOSTILE }), 'n2', true);
    assert.deepEqual(coloured.match(/\u001b\[[0-9;]*m/g), ['\u001b[33m', '\u001b[0m']);
    assert.equal(coloured.replace(/\u001b\[[0-9;]*m/g, '').match(/[\u0000-\u001f\u007f-\u009f]/), null);
  });

  it('escapes them in the JSON lines passed on unchanged, which stay valid JSON', () => {
    const line = JSON.stringify({ level: 30, msg: 'x', member: HOSTILE });
    const out = forwardedLine(line, 'n3', { pretty: false, colour: false });
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    assert.equal((JSON.parse(out) as { member: string }).member, HOSTILE);
  });
});

describe('formatTable with hostile cells', () => {
  it('escapes control characters in cells and pads by the escaped width', () => {
    const out = formatTable(['id', 'peer'], [['n1\u001b[31m', '127.0.0.1:1'], ['n2', 'evil\u202e:2']]);
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    const lines = out.split('\n');
    assert.equal(lines[2], 'n1\\u001b[31m  127.0.0.1:1');
    assert.equal(lines[3], 'n2            evil\\u202e:2');
  });
});
