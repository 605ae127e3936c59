// Shows how `dynakv cluster start` turns a node's pino JSON lines into short terminal lines:
// time, node, level and message first, then the other fields as key=value (quoted when they
// need it, errors by their message); anything that is not a JSON object passes through whole.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { formatLogLine } from '../../src/cli/log-lines.ts';

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
