// The front door from a DynamoDB request to a typed operation: DynamoOperation, one
// discriminated union over every operation dynakv implements, and parseOperation(name, body),
// which hands the body to the parser of that operation's role (table-, item-, query- and
// batch-requests.ts). Pure: the result holds no raw JSON the executor must re-check, except what
// needs the table's schema (checkKey, checkItemKeys, checkQuery, checkScan, checkBatch*).
import type { JsonObject, OperationName } from './protocol.ts';
import { parseBatchGetItem, parseBatchWriteItem, type BatchGetItemOperation, type BatchWriteItemOperation } from './batch-requests.ts';
import {
  parseDeleteItem, parseGetItem, parsePutItem, parseUpdateItem, type DeleteItemOperation, type GetItemOperation, type PutItemOperation,
  type UpdateItemOperation,
} from './item-requests.ts';
import { parseQuery, parseScan, type QueryOperation, type ScanOperation } from './query-requests.ts';
import {
  parseCreateTable, parseDeleteTable, parseDescribeTable, parseListTables, type CreateTableOperation, type DeleteTableOperation,
  type DescribeTableOperation, type ListTablesOperation,
} from './table-requests.ts';

export type DynamoOperation =
  | CreateTableOperation
  | DescribeTableOperation
  | DeleteTableOperation
  | ListTablesOperation
  | PutItemOperation
  | GetItemOperation
  | DeleteItemOperation
  | UpdateItemOperation
  | QueryOperation
  | ScanOperation
  | BatchWriteItemOperation
  | BatchGetItemOperation;

export type OperationKind = DynamoOperation['kind'];

/**
 * Parses the body of a request for operation `name` (parseTarget's answer; parseBody's object).
 * Every refusal is a DynamoError with DynamoDB's type and, where known, its message. Unknown
 * members are ignored, as DynamoDB's deserialiser ignores them; legacy members and features
 * dynakv lacks (indexes, streams, ...) are refused by name.
 */
export function parseOperation(name: OperationName, body: JsonObject): DynamoOperation {
  switch (name) {
    case 'CreateTable': return parseCreateTable(body);
    case 'DescribeTable': return parseDescribeTable(body);
    case 'DeleteTable': return parseDeleteTable(body);
    case 'ListTables': return parseListTables(body);
    case 'PutItem': return parsePutItem(body);
    case 'GetItem': return parseGetItem(body);
    case 'DeleteItem': return parseDeleteItem(body);
    case 'UpdateItem': return parseUpdateItem(body);
    case 'Query': return parseQuery(body);
    case 'Scan': return parseScan(body);
    case 'BatchWriteItem': return parseBatchWriteItem(body);
    case 'BatchGetItem': return parseBatchGetItem(body);
  }
}
