// What the error table promises the HTTP front: each type has DynamoDB's status and namespaced
// wire name, and a DynamoError renders the body DynamoDB sends.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conditionalCheckFailed, DynamoError, isDynamoError, statusOf, validationError, wireTypeOf, type DynamoErrorType } from '../../src/dynamo/errors.ts';

describe('DynamoError', () => {
  it('carries type, status and the wire name DynamoDB uses', () => {
    const e = validationError('bad');
    assert.equal(e.type, 'ValidationException');
    assert.equal(e.status, 400);
    assert.equal(e.message, 'bad');
    assert.deepEqual(e.toWireBody(), { __type: 'com.amazon.coral.validate#ValidationException', message: 'bad' });
    assert.ok(e instanceof Error);
    assert.ok(isDynamoError(e));
    assert.equal(isDynamoError(new Error('x')), false);
  });

  it('maps every type to its namespace and status', () => {
    const expected: [DynamoErrorType, string, number][] = [
      ['ConditionalCheckFailedException', 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', 400],
      ['ResourceNotFoundException', 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', 400],
      ['ResourceInUseException', 'com.amazonaws.dynamodb.v20120810#ResourceInUseException', 400],
      ['SerializationException', 'com.amazon.coral.service#SerializationException', 400],
      ['UnknownOperationException', 'com.amazon.coral.service#UnknownOperationException', 400],
      ['ItemCollectionSizeLimitExceededException', 'com.amazonaws.dynamodb.v20120810#ItemCollectionSizeLimitExceededException', 400],
      ['ProvisionedThroughputExceededException', 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', 400],
      ['InternalServerError', 'com.amazonaws.dynamodb.v20120810#InternalServerError', 500],
    ];
    for (const [type, wire, status] of expected) {
      assert.equal(wireTypeOf(type), wire);
      assert.equal(statusOf(type), status);
      const e = new DynamoError(type, 'm');
      assert.equal(e.wireType, wire);
      assert.equal(e.status, status);
      assert.equal(wire.split('#')[1], type, 'SDKs take the part after # as the error code');
    }
  });

  it('gives a failed condition DynamoDB\'s fixed message', () => {
    const e = conditionalCheckFailed();
    assert.equal(e.type, 'ConditionalCheckFailedException');
    assert.equal(e.message, 'The conditional request failed');
  });
});
