// Helpers shared by the DynamoDB request tests: refusal checks and output comparison.
import assert from 'node:assert/strict';
import { DynamoError } from '../../src/dynamo/errors.ts';

/** `f` throws a DynamoError of `type`, with exactly `message` (a string) or one matching it. */
export function refused(f: () => unknown, type: DynamoError['type'], message?: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, `expected a DynamoError, got ${String(e)}`);
    assert.equal(e.type, type, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

/** Outputs use null-prototype maps (so any attribute name is a plain key); compare them as JSON. */
export const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x));
