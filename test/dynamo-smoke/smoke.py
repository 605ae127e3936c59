#!/usr/bin/env python3
"""DynamoDB smoke test of a running dynakv cluster with boto3 (issue 16).

One table with a hash and a range key, through boto3's low-level client: CreateTable,
DescribeTable, ListTables, PutItem (plain and conditional), GetItem (ConsistentRead), Query (a
sort-key range, both directions, paged), Scan (paged), UpdateItem, DeleteItem, DeleteTable, and
the errors a client must see (ResourceNotFoundException, ConditionalCheckFailedException,
ValidationException, a wrong signature). Writes go to the first endpoint and consistent reads
to the last one, so with several endpoints the items cross nodes. Every result is asserted; the
first failure is printed with the step it happened in, the table is deleted and the script
exits 1.

    smoke.py --endpoint https://127.0.0.1:7001 [--endpoint https://127.0.0.1:7003] \\
             --ca-bundle data/certs/ca.crt [--credentials data/certs/client.admin.aws-credentials]

Without --endpoint or --ca-bundle it reads DYNAKV_ENDPOINT (space-separated) and AWS_CA_BUNDLE.
Credentials come from --credentials, else the usual AWS chain (AWS_SHARED_CREDENTIALS_FILE, ...).
Run by test/dynamo-smoke/run.sh; works with Debian 12's python3-boto3 (1.26) and newer.
"""

import argparse
import os
import sys
import time
import uuid
from decimal import Decimal


class SmokeFailure(Exception):
    pass


STEP = ["start"]
# (client, table) while the smoke table exists: a failed run deletes it on the way out.
CREATED = []


def step(name):
    STEP[0] = name
    print(f"  - {name}", flush=True)


def check(condition, message):
    if not condition:
        raise SmokeFailure(message)


def equal(got, expected, what):
    check(got == expected, f"{what}: expected {expected!r}, got {got!r}")


def expect_error(code, call, *args, **kwargs):
    """Runs call(...), which must fail with a ClientError of `code`; returns the error."""
    from botocore.exceptions import ClientError

    try:
        result = call(*args, **kwargs)
    except ClientError as err:
        got = err.response.get("Error", {}).get("Code")
        check(got == code, f"expected {code}, got {got}: {err}")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        equal(status, 400, f"HTTP status of {code}")
        return err
    raise SmokeFailure(f"expected {code}, but the call succeeded: {result!r}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="DynamoDB smoke test of a dynakv cluster (boto3)")
    parser.add_argument("--endpoint", action="append", help="a node's URL (repeatable; writes go to the first, consistent reads to the last)")
    parser.add_argument("--ca-bundle", help="the cluster CA (DIR/certs/ca.crt); default $AWS_CA_BUNDLE")
    parser.add_argument("--credentials", help="an AWS shared credentials file (DIR/certs/client.admin.aws-credentials)")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "dynakv"))
    parser.add_argument("--table", default=f"smoke-boto3-{uuid.uuid4().hex[:8]}", help="table to create (must not exist)")
    args = parser.parse_args(argv)
    if not args.endpoint:
        args.endpoint = os.environ.get("DYNAKV_ENDPOINT", "").split()
    if not args.endpoint:
        parser.error("no endpoint: pass --endpoint URL or set DYNAKV_ENDPOINT")
    args.ca_bundle = args.ca_bundle or os.environ.get("AWS_CA_BUNDLE")
    if args.endpoint[0].startswith("https:") and not args.ca_bundle:
        parser.error("an https endpoint needs --ca-bundle (the cluster's ca.crt) or AWS_CA_BUNDLE")
    return args


def clients(args):
    import boto3
    from botocore.config import Config

    if args.credentials:
        # Read at session creation: only this file, no profile from elsewhere.
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = args.credentials
        os.environ.pop("AWS_ACCESS_KEY_ID", None)
        os.environ.pop("AWS_SECRET_ACCESS_KEY", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
    session = boto3.session.Session(region_name=args.region)
    config = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    make = lambda url: session.client("dynamodb", endpoint_url=url, verify=args.ca_bundle or True, config=config)
    return make(args.endpoint[0]), make(args.endpoint[-1])


def run(args):
    import boto3
    import botocore

    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}; writes via {args.endpoint[0]}, reads via {args.endpoint[-1]}")
    writer, reader = clients(args)
    table = args.table
    missing = f"{table}-missing"

    step(f"CreateTable {table} (pk S HASH, sk N RANGE, PAY_PER_REQUEST)")
    created = writer.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]
    CREATED.append((writer, table))
    equal(created["TableName"], table, "CreateTable TableName")
    check(created["TableStatus"] in ("CREATING", "ACTIVE"), f"CreateTable TableStatus: {created['TableStatus']}")

    step("CreateTable again: ResourceInUseException")
    expect_error(
        "ResourceInUseException", writer.create_table, TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
    )

    step("waiter table_exists, then DescribeTable on the other node")
    reader.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    described = reader.describe_table(TableName=table)["Table"]
    equal(described["TableName"], table, "DescribeTable TableName")
    equal(described["TableStatus"], "ACTIVE", "DescribeTable TableStatus")
    equal(described["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}], "DescribeTable KeySchema")
    equal(
        sorted(described["AttributeDefinitions"], key=lambda d: d["AttributeName"]),
        [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        "DescribeTable AttributeDefinitions",
    )
    equal(described.get("BillingModeSummary", {}).get("BillingMode"), "PAY_PER_REQUEST", "DescribeTable BillingMode")
    check(table in described["TableArn"], f"DescribeTable TableArn names the table: {described['TableArn']}")

    step("ListTables (and its paginator, one name a page)")
    names = reader.list_tables()["TableNames"]
    check(table in names, f"ListTables: {table} not in {names}")
    paged = [n for page in reader.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 1}) for n in page["TableNames"]]
    equal(paged, names, "ListTables paged one by one")

    blob = bytes(range(256))
    first = {
        "pk": {"S": "user#1"}, "sk": {"N": "1"},
        "title": {"S": "first ünïcode ✓"}, "count": {"N": "10"}, "ratio": {"N": "-0.125"},
        "active": {"BOOL": True}, "nothing": {"NULL": True}, "data": {"B": blob},
        "tags": {"SS": ["a", "b"]}, "scores": {"NS": ["1", "2.5"]},
        "list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": False}}}]},
        "map": {"M": {"name": {"S": "m"}, "inner": {"L": []}}},
    }

    step("PutItem user#1/1 with attribute_not_exists(pk) (every attribute type)")
    out = writer.put_item(TableName=table, Item=first, ConditionExpression="attribute_not_exists(pk)")
    check("Attributes" not in out, f"PutItem without ReturnValues returned Attributes: {out.get('Attributes')}")

    step("PutItem user#1/2..5 and user#2/1..3")
    for sk in range(2, 6):
        writer.put_item(TableName=table, Item={"pk": {"S": "user#1"}, "sk": {"N": str(sk)}, "title": {"S": f"item {sk}"}})
    for sk in range(1, 4):
        writer.put_item(TableName=table, Item={"pk": {"S": "user#2"}, "sk": {"N": str(sk)}, "title": {"S": f"other {sk}"}})

    step("GetItem user#1/1, ConsistentRead, from the other node: the item exactly")
    got = reader.get_item(TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}}, ConsistentRead=True)
    check("Item" in got, f"GetItem found no item: {got}")
    item = got["Item"]
    equal(item["data"]["B"], blob, "binary attribute")
    equal(sorted(item["tags"]["SS"]), ["a", "b"], "string set")
    equal(sorted(Decimal(n) for n in item["scores"]["NS"]), [Decimal(1), Decimal("2.5")], "number set")
    for name in ("pk", "sk", "title", "count", "ratio", "active", "nothing", "list", "map"):
        equal(item.get(name), first[name], f"attribute {name}")
    equal(sorted(item), sorted(first), "attribute names")

    step("GetItem with a ProjectionExpression")
    got = reader.get_item(
        TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}}, ConsistentRead=True,
        ProjectionExpression="title, #m.#n, list[2]", ExpressionAttributeNames={"#m": "map", "#n": "name"},
    )["Item"]
    equal(got, {"title": first["title"], "map": {"M": {"name": {"S": "m"}}}, "list": {"L": [{"M": {"deep": {"BOOL": False}}}]}}, "projected item")

    step("GetItem of a missing key: no Item")
    got = reader.get_item(TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "99"}}, ConsistentRead=True)
    check("Item" not in got, f"GetItem of a missing key returned {got.get('Item')}")

    step("Query pk = user#1 AND sk BETWEEN 2 AND 4, ascending")
    between = {
        "TableName": table, "ConsistentRead": True,
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {":p": {"S": "user#1"}, ":lo": {"N": "2"}, ":hi": {"N": "4"}},
    }
    out = reader.query(**between)
    equal([i["sk"]["N"] for i in out["Items"]], ["2", "3", "4"], "Query sort keys")
    equal(out["Count"], 3, "Query Count")
    equal(out["ScannedCount"], 3, "Query ScannedCount")
    check("LastEvaluatedKey" not in out, f"Query returned a LastEvaluatedKey: {out.get('LastEvaluatedKey')}")

    step("Query the same range descending (ScanIndexForward false)")
    out = reader.query(ScanIndexForward=False, **between)
    equal([i["sk"]["N"] for i in out["Items"]], ["4", "3", "2"], "Query descending sort keys")

    step("Query sk > 1 paged with Limit 2 (LastEvaluatedKey / ExclusiveStartKey)")
    pages = list(reader.get_paginator("query").paginate(
        TableName=table, ConsistentRead=True, KeyConditionExpression="pk = :p AND sk > :one",
        ExpressionAttributeValues={":p": {"S": "user#1"}, ":one": {"N": "1"}}, PaginationConfig={"PageSize": 2},
    ))
    equal([[i["sk"]["N"] for i in p["Items"]] for p in pages][:2], [["2", "3"], ["4", "5"]], "Query pages")
    equal([i["sk"]["N"] for p in pages for i in p["Items"]], ["2", "3", "4", "5"], "Query paged sort keys")
    equal(pages[0].get("LastEvaluatedKey"), {"pk": {"S": "user#1"}, "sk": {"N": "3"}}, "Query first page LastEvaluatedKey")

    step("Query with a FilterExpression and Select COUNT")
    out = reader.query(
        TableName=table, ConsistentRead=True, KeyConditionExpression="pk = :p", FilterExpression="begins_with(title, :t)",
        ExpressionAttributeValues={":p": {"S": "user#1"}, ":t": {"S": "item"}}, Select="COUNT",
    )
    equal((out["Count"], out["ScannedCount"]), (4, 5), "Query (Count, ScannedCount) with a filter")
    check("Items" not in out, "Select COUNT returned Items")

    step("Scan the table, paged with Limit 3")
    pages = list(reader.get_paginator("scan").paginate(TableName=table, ConsistentRead=True, PaginationConfig={"PageSize": 3}))
    keys = sorted((i["pk"]["S"], int(i["sk"]["N"])) for p in pages for i in p["Items"])
    equal(keys, [("user#1", n) for n in range(1, 6)] + [("user#2", n) for n in range(1, 4)], "Scan keys")
    check(len(pages) >= 3, f"Scan with Limit 3 over 8 items gave {len(pages)} pages")
    check(all(len(p["Items"]) <= 3 for p in pages), "a Scan page holds more than Limit items")

    step("Scan with a FilterExpression")
    out = reader.scan(TableName=table, ConsistentRead=True, FilterExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "user#2"}})
    equal(sorted(int(i["sk"]["N"]) for i in out["Items"]), [1, 2, 3], "filtered Scan sort keys")
    equal(out["ScannedCount"], 8, "filtered Scan ScannedCount")

    step("UpdateItem user#1/1: SET, ADD, REMOVE, list_append, ReturnValues ALL_NEW")
    out = writer.update_item(
        TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}},
        UpdateExpression="SET title = :t, #l = list_append(#l, :more), newattr = if_not_exists(newattr, :zero) ADD #c :inc, tags :tag REMOVE nothing, ratio",
        ConditionExpression="#c = :ten",
        ExpressionAttributeNames={"#c": "count", "#l": "list"},
        ExpressionAttributeValues={
            ":t": {"S": "updated"}, ":more": {"L": [{"S": "y"}]}, ":zero": {"N": "0"},
            ":inc": {"N": "5"}, ":tag": {"SS": ["c"]}, ":ten": {"N": "10"},
        },
        ReturnValues="ALL_NEW",
    )
    new = out["Attributes"]
    equal(new["title"], {"S": "updated"}, "updated title")
    equal(new["count"], {"N": "15"}, "count after ADD 5")
    equal(new["newattr"], {"N": "0"}, "if_not_exists")
    equal(sorted(new["tags"]["SS"]), ["a", "b", "c"], "tags after ADD")
    equal(new["list"]["L"][-1], {"S": "y"}, "list_append")
    check("nothing" not in new and "ratio" not in new, f"REMOVEd attributes still there: {sorted(new)}")

    step("UpdateItem ReturnValues UPDATED_OLD")
    out = writer.update_item(
        TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}}, UpdateExpression="SET title = :t",
        ExpressionAttributeValues={":t": {"S": "again"}}, ReturnValues="UPDATED_OLD",
    )
    equal(out.get("Attributes"), {"title": {"S": "updated"}}, "UPDATED_OLD")

    step("GetItem after the updates (ConsistentRead, other node)")
    item = reader.get_item(TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}}, ConsistentRead=True)["Item"]
    equal((item["title"], item["count"]), ({"S": "again"}, {"N": "15"}), "(title, count) after the updates")

    step("UpdateItem creating a new item (upsert)")
    writer.update_item(TableName=table, Key={"pk": {"S": "user#3"}, "sk": {"N": "1"}}, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}})
    item = reader.get_item(TableName=table, Key={"pk": {"S": "user#3"}, "sk": {"N": "1"}}, ConsistentRead=True).get("Item")
    equal(item, {"pk": {"S": "user#3"}, "sk": {"N": "1"}, "n": {"N": "1"}}, "upserted item")

    step("PutItem over an existing item with attribute_not_exists(pk): ConditionalCheckFailedException")
    expect_error("ConditionalCheckFailedException", writer.put_item, TableName=table, Item={"pk": {"S": "user#1"}, "sk": {"N": "2"}}, ConditionExpression="attribute_not_exists(pk)")
    equal(reader.get_item(TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "2"}}, ConsistentRead=True)["Item"].get("title"), {"S": "item 2"}, "item after the failed conditional put")

    step("UpdateItem with a false condition: ConditionalCheckFailedException, item unchanged")
    expect_error(
        "ConditionalCheckFailedException", writer.update_item, TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}},
        UpdateExpression="SET title = :t", ConditionExpression="#c < :n", ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":t": {"S": "never"}, ":n": {"N": "3"}},
    )
    equal(reader.get_item(TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}}, ConsistentRead=True)["Item"]["title"], {"S": "again"}, "title after the failed update")

    step("DeleteItem user#1/3 with ReturnValues ALL_OLD")
    out = writer.delete_item(TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "3"}}, ReturnValues="ALL_OLD", ConditionExpression="attribute_exists(pk)")
    equal(out.get("Attributes"), {"pk": {"S": "user#1"}, "sk": {"N": "3"}, "title": {"S": "item 3"}}, "DeleteItem ALL_OLD")
    got = reader.get_item(TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "3"}}, ConsistentRead=True)
    check("Item" not in got, f"deleted item still there: {got.get('Item')}")
    out = reader.query(**between)
    equal([i["sk"]["N"] for i in out["Items"]], ["2", "4"], "Query sort keys after the delete")

    step("DeleteItem of the deleted item with attribute_exists(pk): ConditionalCheckFailedException")
    expect_error("ConditionalCheckFailedException", writer.delete_item, TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "3"}}, ConditionExpression="attribute_exists(pk)")

    step("GetItem with a key of the wrong type: ValidationException")
    expect_error("ValidationException", reader.get_item, TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"S": "1"}})

    step(f"GetItem on a missing table ({missing}): ResourceNotFoundException")
    expect_error("ResourceNotFoundException", reader.get_item, TableName=missing, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})

    step("boto3 resource API (Table, Key conditions, Decimal)")
    from boto3.dynamodb.conditions import Key

    resource_table = boto3.session.Session(region_name=args.region).resource(
        "dynamodb", endpoint_url=args.endpoint[0], verify=args.ca_bundle or True,
    ).Table(table)
    resource_table.put_item(Item={"pk": "user#4", "sk": 1, "price": Decimal("19.99"), "names": {"x", "y"}})
    items = resource_table.query(KeyConditionExpression=Key("pk").eq("user#4") & Key("sk").gte(1), ConsistentRead=True)["Items"]
    equal(items, [{"pk": "user#4", "sk": Decimal(1), "price": Decimal("19.99"), "names": {"x", "y"}}], "resource API query")

    step("a wrong secret key: InvalidSignatureException; an unknown access key: UnrecognizedClientException")
    from botocore.config import Config

    key_id = boto3.session.Session().get_credentials().access_key
    no_retries = Config(retries={"max_attempts": 1})
    forged = lambda key, secret: boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=args.region).client(
        "dynamodb", endpoint_url=args.endpoint[-1], verify=args.ca_bundle or True, config=no_retries,
    )
    expect_error("InvalidSignatureException", forged(key_id, "not-the-secret").get_item, TableName=table, Key={"pk": {"S": "user#1"}, "sk": {"N": "1"}})
    expect_error("UnrecognizedClientException", forged("AKIAUNKNOWNKEY000000", "not-the-secret").list_tables)

    step(f"DeleteTable {table}, then it is gone")
    deleted = writer.delete_table(TableName=table)["TableDescription"]
    CREATED.clear()
    equal(deleted["TableName"], table, "DeleteTable TableName")
    reader.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    expect_error("ResourceNotFoundException", reader.describe_table, TableName=table)
    names = writer.list_tables()["TableNames"]
    check(table not in names, f"ListTables still lists {table}: {names}")


def main(argv):
    args = parse_args(argv)
    started = time.monotonic()
    try:
        run(args)
    except Exception as err:  # a SmokeFailure, an unexpected ClientError, a connection refused, ...
        detail = str(err) if isinstance(err, SmokeFailure) else f"{type(err).__name__}: {err}"
        print(f"FAIL (boto3) at step '{STEP[0]}': {detail}", file=sys.stderr)
        for client, table in CREATED:
            try:
                client.delete_table(TableName=table)
            except Exception:
                pass
        return 1
    print(f"boto3 smoke: all steps passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
