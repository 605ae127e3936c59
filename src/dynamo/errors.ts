// The errors of the DynamoDB-compatible API: one class, DynamoError, carrying DynamoDB's short
// `__type` name, its HTTP status and the namespaced wire name that DynamoDB's own responses carry.
// Every pure dynamo module reports an operating error (a malformed request, a failed condition)
// by throwing one of these; the HTTP front maps it to a response with `toWireBody()` and
// `status`, and never needs another table. Broken invariants are assertions, not DynamoErrors.

/** The error types the API answers with (DynamoDB's `__type` after the `#`). */
export type DynamoErrorType =
  | 'ValidationException'
  | 'ConditionalCheckFailedException'
  | 'ResourceNotFoundException'
  | 'ResourceInUseException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'ItemCollectionSizeLimitExceededException'
  | 'ProvisionedThroughputExceededException'
  | 'InternalServerError';

/** HTTP statuses DynamoDB uses for errors: client faults are 400, server faults 500. */
export type DynamoErrorStatus = 400 | 500;

interface ErrorSpec {
  readonly namespace: string;
  readonly status: DynamoErrorStatus;
}

const DYNAMODB_NAMESPACE = 'com.amazonaws.dynamodb.v20120810';
const CORAL_SERVICE_NAMESPACE = 'com.amazon.coral.service';
// Real DynamoDB answers validation failures as `com.amazon.coral.validate#ValidationException`
// (captured responses from live regions, and DynamoDB Local, agree), not under the dynamodb
// namespace. SDKs read only the part after '#', so either parses; we send what DynamoDB sends.
const CORAL_VALIDATE_NAMESPACE = 'com.amazon.coral.validate';

/** Per type: the namespace of its wire name and its HTTP status, in one table. */
const ERROR_SPECS: { readonly [T in DynamoErrorType]: ErrorSpec } = {
  ValidationException: { namespace: CORAL_VALIDATE_NAMESPACE, status: 400 },
  ConditionalCheckFailedException: { namespace: DYNAMODB_NAMESPACE, status: 400 },
  ResourceNotFoundException: { namespace: DYNAMODB_NAMESPACE, status: 400 },
  ResourceInUseException: { namespace: DYNAMODB_NAMESPACE, status: 400 },
  SerializationException: { namespace: CORAL_SERVICE_NAMESPACE, status: 400 },
  UnknownOperationException: { namespace: CORAL_SERVICE_NAMESPACE, status: 400 },
  ItemCollectionSizeLimitExceededException: { namespace: DYNAMODB_NAMESPACE, status: 400 },
  ProvisionedThroughputExceededException: { namespace: DYNAMODB_NAMESPACE, status: 400 },
  InternalServerError: { namespace: DYNAMODB_NAMESPACE, status: 500 },
};

/** The JSON body DynamoDB sends with an error. */
export interface DynamoErrorBody {
  readonly __type: string;
  readonly message: string;
}

export class DynamoError extends Error {
  readonly type: DynamoErrorType;
  readonly status: DynamoErrorStatus;
  /** The item a failed condition was checked against, in wire form (ReturnValuesOnConditionCheckFailure ALL_OLD). */
  item?: { readonly [name: string]: unknown };

  constructor(type: DynamoErrorType, message: string) {
    super(message);
    this.name = 'DynamoError';
    this.type = type;
    this.status = ERROR_SPECS[type].status;
  }

  /** The namespaced name DynamoDB puts in `__type`, e.g. `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`. */
  get wireType(): string {
    return wireTypeOf(this.type);
  }

  /** The response body for this error. */
  toWireBody(): DynamoErrorBody {
    return { __type: this.wireType, message: this.message };
  }
}

/** The namespaced wire name of an error type. */
export function wireTypeOf(type: DynamoErrorType): string {
  return `${ERROR_SPECS[type].namespace}#${type}`;
}

/** The HTTP status of an error type. */
export function statusOf(type: DynamoErrorType): DynamoErrorStatus {
  return ERROR_SPECS[type].status;
}

/** Shorthand for the most common error: a request DynamoDB would refuse as invalid. */
export function validationError(message: string): DynamoError {
  return new DynamoError('ValidationException', message);
}

/** Shorthand for a JSON shape DynamoDB's deserialiser would refuse (a number where a string belongs, ...). */
export function serializationError(message: string): DynamoError {
  return new DynamoError('SerializationException', message);
}

/** The error a failed ConditionExpression answers with; DynamoDB's message is fixed. */
export function conditionalCheckFailed(item?: { readonly [name: string]: unknown }): DynamoError {
  const error = new DynamoError('ConditionalCheckFailedException', 'The conditional request failed');
  if (item !== undefined) error.item = item;
  return error;
}

/** Whether `x` is a DynamoError (for the HTTP front's catch). */
export function isDynamoError(x: unknown): x is DynamoError {
  return x instanceof DynamoError;
}
