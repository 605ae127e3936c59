#!/usr/bin/env bash
# DynamoDB smoke test of a running dynakv cluster with the AWS CLI (issue 16): the flow of
# smoke.py through `aws dynamodb` (create, describe, list, put, batch-write, get with --consistent-read,
# query on a sort-key range both ways and paged, scan, update, conditional failures, delete,
# missing table, a wrong secret, delete-table), each output checked with --query or parsed by
# python3. Writes go to the first endpoint, consistent reads to the last. Exits 1 at the first
# failure, naming the step. Run by run.sh, or by hand:
#
#   AWS_SHARED_CREDENTIALS_FILE=DIR/certs/client.admin.aws-credentials \
#     test/dynamo-smoke/cli.sh DIR/certs/ca.crt https://127.0.0.1:7001 [https://127.0.0.1:7003]
#
# AWS (default aws) and PYTHON (default python3) choose the commands; the region is dynakv.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 CA_BUNDLE ENDPOINT [READ_ENDPOINT]" >&2
  exit 2
fi
CA=$1
WRITE_URL=$2
READ_URL=${3:-$2}
AWS=${AWS:-aws}
PYTHON=${PYTHON:-python3}
REGION=dynakv
TABLE=smoke-cli-$("$PYTHON" -c 'import uuid; print(uuid.uuid4().hex[:8])')
export AWS_CONFIG_FILE=/dev/null AWS_PAGER='' AWS_DEFAULT_OUTPUT=json
: "${AWS_SHARED_CREDENTIALS_FILE:?set AWS_SHARED_CREDENTIALS_FILE to DIR/certs/client.admin.aws-credentials}"

current_step=start
step() {
  current_step=$1
  echo "  - $1"
}
fail() {
  echo "FAIL (aws cli) at step '$current_step': $*" >&2
  exit 1
}
# The call, on the write or the read endpoint (first argument), its output on stdout.
ddb() {
  local url=$1
  shift
  "$AWS" dynamodb "$@" --endpoint-url "$url" --region "$REGION" --ca-bundle "$CA"
}
w() { ddb "$WRITE_URL" "$@"; }
r() { ddb "$READ_URL" "$@"; }
expect() { # WHAT EXPECTED GOT
  [ "$3" = "$2" ] || fail "$1: expected '$2', got '$3'"
}
# The JSON on stdin must equal the JSON in $2 (order of object members aside).
expect_json() { # WHAT EXPECTED_JSON
  local got
  got=$(cat)
  "$PYTHON" -c '
import json, sys
got, expected = json.loads(sys.argv[1] or "null"), json.loads(sys.argv[2])
sys.exit(0 if got == expected else 1)' "$got" "$2" || fail "$1: expected $2, got ${got:-nothing}"
}
# The command (after the endpoint choice w or r) must fail with error CODE.
expect_error() { # CODE w|r ARGS...
  local code=$1 out
  shift
  if out=$("$@" 2>&1); then fail "expected $code, but the call succeeded: $out"; fi
  case $out in
    *"($code)"*) ;;
    *) fail "expected $code, got: $out" ;;
  esac
}
key() { echo "{\"pk\": {\"S\": \"$1\"}, \"sk\": {\"N\": \"$2\"}}"; }
tab=$'\t'

# A run that fails part-way deletes its table (and the forged credentials file) on the way out.
table_created=no
forged=
cleanup() {
  [ -z "$forged" ] || rm -f "$forged"
  if [ "$table_created" = yes ]; then w delete-table --table-name "$TABLE" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

version=$("$AWS" --version 2>&1)
echo "$version"
# Blob parameters: AWS CLI v2 (Debian 12's awscli) reads them as base64, v1 takes the text's bytes.
DATA_IN=AAEC/w==
DATA_OUT=$DATA_IN
case $version in aws-cli/1.*) DATA_OUT=$(printf %s "$DATA_IN" | base64) ;; esac

step "create-table $TABLE (pk S HASH, sk N RANGE, PAY_PER_REQUEST)"
got=$(w create-table --table-name "$TABLE" \
  --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=N \
  --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
  --billing-mode PAY_PER_REQUEST --query TableDescription.TableName --output text)
table_created=yes
expect "create-table TableName" "$TABLE" "$got"

step "create-table again: ResourceInUseException"
expect_error ResourceInUseException w create-table --table-name "$TABLE" \
  --attribute-definitions AttributeName=pk,AttributeType=S --key-schema AttributeName=pk,KeyType=HASH --billing-mode PAY_PER_REQUEST

step "wait table-exists, describe-table on the read endpoint"
r wait table-exists --table-name "$TABLE"
r describe-table --table-name "$TABLE" \
  --query 'Table.[TableName, TableStatus, KeySchema, sort_by(AttributeDefinitions, &AttributeName), BillingModeSummary.BillingMode]' \
  | expect_json "describe-table (name, status, key schema, attribute definitions, billing mode)" "[\"$TABLE\", \"ACTIVE\",
      [{\"AttributeName\": \"pk\", \"KeyType\": \"HASH\"}, {\"AttributeName\": \"sk\", \"KeyType\": \"RANGE\"}],
      [{\"AttributeName\": \"pk\", \"AttributeType\": \"S\"}, {\"AttributeName\": \"sk\", \"AttributeType\": \"N\"}], \"PAY_PER_REQUEST\"]"

step "list-tables (paged one name at a time)"
expect "list-tables contains $TABLE" True "$(r list-tables --query "contains(TableNames, '$TABLE')" --output text)"
r list-tables --page-size 1 --query "contains(TableNames, '$TABLE')" | expect_json "list-tables --page-size 1 contains $TABLE" true

item_json() { # DATA
  echo '{"pk": {"S": "user#1"}, "sk": {"N": "1"}, "title": {"S": "first ünïcode ✓"}, "count": {"N": "10"},
    "active": {"BOOL": true}, "nothing": {"NULL": true}, "data": {"B": "'"$1"'"}, "tags": {"SS": ["a"]},
    "list": {"L": [{"S": "x"}, {"N": "1"}]}, "map": {"M": {"name": {"S": "m"}}}}'
}

step "put-item user#1/1 with attribute_not_exists(pk)"
w put-item --table-name "$TABLE" --item "$(item_json "$DATA_IN")" --condition-expression 'attribute_not_exists(pk)'

step "batch-write-item user#1/2..5 and user#2/1..3"
requests=$("$PYTHON" -c '
import json, sys
put = lambda pk, sk, title: {"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"N": str(sk)}, "title": {"S": title}}}}
items = [put("user#1", sk, f"item {sk}") for sk in range(2, 6)] + [put("user#2", sk, f"other {sk}") for sk in range(1, 4)]
print(json.dumps({sys.argv[1]: items}))' "$TABLE")
# (The CLI prints nothing for an empty object, so the check is on its size.)
expect "batch-write-item: number of tables with UnprocessedItems" 0 "$(w batch-write-item --request-items "$requests" --query 'length(UnprocessedItems)' --output text)"

step "get-item user#1/1 --consistent-read on the read endpoint: the item exactly"
r get-item --table-name "$TABLE" --key "$(key user#1 1)" --consistent-read --query Item | expect_json "get-item" "$(item_json "$DATA_OUT")"

step "get-item of a missing key: no Item"
r get-item --table-name "$TABLE" --key "$(key user#1 99)" --consistent-read --query Item | expect_json "get-item of a missing key" null

BETWEEN=(--key-condition-expression 'pk = :p AND sk BETWEEN :lo AND :hi' --consistent-read
  --expression-attribute-values '{":p": {"S": "user#1"}, ":lo": {"N": "2"}, ":hi": {"N": "4"}}')

step "query pk = user#1 AND sk BETWEEN 2 AND 4"
expect "query sort keys and Count" "2${tab}3${tab}4${tab}3" "$(r query --table-name "$TABLE" "${BETWEEN[@]}" --query '[Items[].sk.N, Count][]' --output text)"

step "query the same range --no-scan-index-forward"
expect "query descending sort keys" "4${tab}3${tab}2" "$(r query --table-name "$TABLE" "${BETWEEN[@]}" --no-scan-index-forward --query 'Items[].sk.N' --output text)"

step "query sk > 1 with --page-size 2 (the CLI follows LastEvaluatedKey)"
r query --table-name "$TABLE" --consistent-read --page-size 2 \
  --key-condition-expression 'pk = :p AND sk > :one' --expression-attribute-values '{":p": {"S": "user#1"}, ":one": {"N": "1"}}' \
  --query '[Items[].sk.N, Count]' | expect_json "paged query (sort keys, Count)" '[["2", "3", "4", "5"], 4]'
got=$(r query --table-name "$TABLE" --consistent-read --max-items 2 \
  --key-condition-expression 'pk = :p AND sk > :one' --expression-attribute-values '{":p": {"S": "user#1"}, ":one": {"N": "1"}}' \
  --query '[Items[].sk.N, NextToken != null]' --output json)
echo "$got" | expect_json "query --max-items 2 (items, a NextToken)" '[["2", "3"], true]'

step "scan --consistent-read --page-size 3"
r scan --table-name "$TABLE" --consistent-read --page-size 3 --query 'sort_by(Items, &join(`/`, [pk.S, sk.N]))[].[pk.S, sk.N]' \
  | expect_json "scan keys" '[["user#1","1"],["user#1","2"],["user#1","3"],["user#1","4"],["user#1","5"],["user#2","1"],["user#2","2"],["user#2","3"]]'

step "scan with a filter expression, --select COUNT"
expect "filtered scan Count, ScannedCount" "3${tab}8" "$(r scan --table-name "$TABLE" --consistent-read --select COUNT \
  --filter-expression 'pk = :p' --expression-attribute-values '{":p": {"S": "user#2"}}' --query '[Count, ScannedCount]' --output text)"

step "update-item user#1/1: SET, ADD, REMOVE with a condition, --return-values ALL_NEW"
w update-item --table-name "$TABLE" --key "$(key user#1 1)" \
  --update-expression 'SET title = :t ADD #c :inc, tags :tag REMOVE nothing' --condition-expression '#c = :ten' \
  --expression-attribute-names '{"#c": "count"}' \
  --expression-attribute-values '{":t": {"S": "updated"}, ":inc": {"N": "5"}, ":tag": {"SS": ["b"]}, ":ten": {"N": "10"}}' \
  --return-values ALL_NEW --query 'Attributes.[title.S, count.N, sort(tags.SS), nothing]' \
  | expect_json "update-item ALL_NEW (title, count, tags, nothing)" '["updated", "15", ["a", "b"], null]'

step "get-item after the update (--consistent-read, read endpoint)"
expect "title, count" "updated${tab}15" "$(r get-item --table-name "$TABLE" --key "$(key user#1 1)" --consistent-read --query 'Item.[title.S, count.N]' --output text)"

step "put-item over an existing item with attribute_not_exists(pk): ConditionalCheckFailedException"
expect_error ConditionalCheckFailedException w put-item --table-name "$TABLE" --item "$(key user#1 2)" --condition-expression 'attribute_not_exists(pk)'
expect "title after the failed put" "item 2" "$(r get-item --table-name "$TABLE" --key "$(key user#1 2)" --consistent-read --query Item.title.S --output text)"

step "update-item with a false condition: ConditionalCheckFailedException"
expect_error ConditionalCheckFailedException w update-item --table-name "$TABLE" --key "$(key user#1 1)" \
  --update-expression 'SET title = :t' --condition-expression '#c < :n' --expression-attribute-names '{"#c": "count"}' \
  --expression-attribute-values '{":t": {"S": "never"}, ":n": {"N": "3"}}'

step "delete-item user#1/3 --return-values ALL_OLD"
w delete-item --table-name "$TABLE" --key "$(key user#1 3)" --condition-expression 'attribute_exists(pk)' --return-values ALL_OLD --query Attributes \
  | expect_json "delete-item ALL_OLD" '{"pk": {"S": "user#1"}, "sk": {"N": "3"}, "title": {"S": "item 3"}}'
r get-item --table-name "$TABLE" --key "$(key user#1 3)" --consistent-read --query Item | expect_json "get-item of the deleted item" null
expect "query after the delete" "2${tab}4" "$(r query --table-name "$TABLE" "${BETWEEN[@]}" --query 'Items[].sk.N' --output text)"

step "get-item on a missing table: ResourceNotFoundException"
expect_error ResourceNotFoundException r get-item --table-name "$TABLE-missing" --key "$(key a 1)"

step "a wrong secret key: InvalidSignatureException"
forged=$(mktemp)
"$PYTHON" -c '
import configparser, sys
c = configparser.ConfigParser(); c.read(sys.argv[1])
print("[default]\naws_access_key_id = %s\naws_secret_access_key = not-the-secret" % c["default"]["aws_access_key_id"])' "$AWS_SHARED_CREDENTIALS_FILE" > "$forged"
AWS_SHARED_CREDENTIALS_FILE=$forged AWS_MAX_ATTEMPTS=1 expect_error InvalidSignatureException r list-tables

step "delete-table $TABLE, wait table-not-exists"
expect "delete-table TableName" "$TABLE" "$(w delete-table --table-name "$TABLE" --query TableDescription.TableName --output text)"
table_created=no
r wait table-not-exists --table-name "$TABLE"
expect_error ResourceNotFoundException r describe-table --table-name "$TABLE"
expect "list-tables after delete-table" False "$(w list-tables --query "contains(TableNames, '$TABLE')" --output text)"

echo "aws cli smoke: all steps passed"
