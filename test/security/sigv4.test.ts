// Shows that verifySigV4 accepts exactly what AWS's signers sign: requests signed by the SDK's own
// SignatureV4 (@smithy/signature-v4, random bodies, regions, headers and query strings) and AWS's
// published SigV4 test-suite vectors pass; every change to a signed part, a wrong secret, an
// unknown key, a date off by more than 15 minutes or a malformed header fails with the exception
// name DynamoDB uses. Hostile inputs (10 MB values, garbage, arrays, lone surrogates) return a
// result and never throw. Last, the real DynamoDBClient talks to a local HTTP server that verifies
// with this module, so the SDK's actual wire form and its reading of our error names are checked.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../support/node-sha256.ts';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  CLOCK_SKEW_MAX_MS,
  SIGNING_KEY_CACHE_ENTRIES_MAX_DEFAULT,
  SigningKeyCache,
  verifySigV4,
  type SigV4ErrorCode,
  type SigV4Options,
  type SigV4Request,
  type SigV4Result,
} from '../../src/security/sigv4.ts';

const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`sigv4.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
const fcOptions = { seed, numRuns: 200 };

const AKID = 'DKVABCDEFGHIJKLMNOPQ';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const NOW_MS = Date.UTC(2025, 5, 1, 12, 0, 0);
const secrets = new Map([[AKID, SECRET]]);
const lookupSecret = (id: string): string | undefined => secrets.get(id);


function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface ToSign {
  readonly method?: string;
  readonly path?: string;
  readonly query?: Record<string, string | string[]>;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  readonly region?: string;
  readonly service?: string;
  readonly accessKeyId?: string;
  readonly secret?: string;
  readonly sessionToken?: string;
  readonly atMs?: number;
}

/** A request signed by the SDK's SignatureV4, as our HTTP layer would see it (lower-case header names). */
async function sdkSigned(spec: ToSign = {}): Promise<SigV4Request> {
  const body = spec.body ?? new TextEncoder().encode('{"TableName":"t"}');
  const signer = new SignatureV4({
    credentials: { accessKeyId: spec.accessKeyId ?? AKID, secretAccessKey: spec.secret ?? SECRET, ...(spec.sessionToken === undefined ? {} : { sessionToken: spec.sessionToken }) },
    region: spec.region ?? 'us-east-1',
    service: spec.service ?? 'dynamodb',
    sha256: NodeSha256,
  });
  const headers = {
    host: 'localhost:8000',
    'content-type': 'application/x-amz-json-1.0',
    'x-amz-target': 'DynamoDB_20120810.GetItem',
    ...spec.headers,
  };
  const path = spec.path ?? '/';
  const query = spec.query ?? {};
  const signed = await signer.sign(
    { method: spec.method ?? 'POST', protocol: 'http:', hostname: 'localhost', port: 8000, path, query, headers, body },
    { signingDate: new Date(spec.atMs ?? NOW_MS) },
  );
  const wireHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) wireHeaders[name.toLowerCase()] = value;
  const wireQuery = Object.entries(query)
    .flatMap(([k, v]) => (typeof v === 'string' ? [v] : v).map((one) => `${escapeUri(k)}=${escapeUri(one)}`))
    .join('&');
  return { method: spec.method ?? 'POST', path, query: wireQuery, headers: wireHeaders, body };
}

function verify(request: SigV4Request, options: Partial<SigV4Options> = {}): SigV4Result {
  return verifySigV4(request, { nowMs: NOW_MS, lookupSecret, ...options });
}

function expectFailure(result: SigV4Result, code: SigV4ErrorCode, message?: RegExp): void {
  assert.equal(result.ok, false, 'expected a refusal');
  if (result.ok) return;
  assert.equal(result.code, code, result.message);
  if (message !== undefined) assert.match(result.message, message);
}

function withHeaders(request: SigV4Request, changes: Record<string, string | undefined>): SigV4Request {
  const headers: Record<string, string | readonly string[] | undefined> = { ...request.headers };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { ...request, headers };
}

function authorizationOf(request: SigV4Request): string {
  const value = request.headers.authorization;
  assert.equal(typeof value, 'string');
  return value as string;
}

const KNOWN_CODES: readonly SigV4ErrorCode[] = ['MissingAuthenticationTokenException', 'IncompleteSignatureException', 'InvalidSignatureException', 'UnrecognizedClientException'];

describe('sigv4: requests the SDK signs', () => {
  it('verifies a DynamoDB request signed by SignatureV4', async () => {
    const result = verify(await sdkSigned());
    assert.deepEqual(result, { ok: true, accessKeyId: AKID, region: 'us-east-1' });
  });

  it('verifies random bodies, regions, extra headers, paths and query strings', async () => {
    const headerName = fc.constantFrom('x-amz-target', 'content-type', 'x-custom', 'x-amz-meta-a', 'accept', 'content-encoding');
    const headerValue = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '\t', '-', '/', ';', ',', '"'), minLength: 1, maxLength: 20 }).filter((v) => v.trim() !== '');
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 512 }),
        fc.constantFrom('us-east-1', 'eu-west-3', 'localhost', 'fakeRegion', 'ap-southeast-2'),
        fc.dictionary(headerName, headerValue, { maxKeys: 4 }),
        fc.constantFrom('/', '/a', '/a/b/', '/x y', '/ሴ', '/a/./b/../c'),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 }),
        fc.integer({ min: -CLOCK_SKEW_MAX_MS, max: CLOCK_SKEW_MAX_MS }),
        async (body, region, headers, path, query, skewMs) => {
          const request = await sdkSigned({ body, region, headers, path, query, atMs: NOW_MS + skewMs });
          const result = verify(request);
          assert.ok(result.ok, result.ok ? '' : `${result.code}: ${result.message}`);
          assert.equal(result.region, region);
        },
      ),
      fcOptions,
    );
  });

  it('sorts repeated query parameters by value, as the SDK signs them', async () => {
    const request = await sdkSigned({ query: { Param1: ['value2', 'Value1', 'a b'], Param0: 'x' } });
    assert.equal(request.query, 'Param1=value2&Param1=Value1&Param1=a%20b&Param0=x');
    assert.ok(verify(request).ok);
  });

  it('refuses any single changed byte of the body, and any changed signed header', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 256 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (body, at, delta) => {
        const request = await sdkSigned({ body });
        const tampered = Uint8Array.from(body);
        const i = at % body.length;
        tampered[i] = (tampered[i]! + delta) % 256;
        expectFailure(verify({ ...request, body: tampered }), 'InvalidSignatureException');
      }),
      { ...fcOptions, numRuns: 50 },
    );
    const request = await sdkSigned();
    expectFailure(verify(withHeaders(request, { 'x-amz-target': 'DynamoDB_20120810.DeleteTable' })), 'InvalidSignatureException', /does not match/);
    expectFailure(verify(withHeaders(request, { host: 'evil.example:8000' })), 'InvalidSignatureException', /does not match/);
    expectFailure(verify(withHeaders(request, { 'content-type': undefined })), 'InvalidSignatureException', /content-type/);
    expectFailure(verify({ ...request, method: 'PUT' }), 'InvalidSignatureException', /does not match/);
    expectFailure(verify({ ...request, path: '/other' }), 'InvalidSignatureException', /does not match/);
    expectFailure(verify({ ...request, query: 'a=b' }), 'InvalidSignatureException', /does not match/);
    // Whitespace runs in a value are folded before signing, so they may change on the way.
    const target = request.headers['x-amz-target'] as string;
    assert.ok(verify(withHeaders(request, { 'x-amz-target': `${target}` })).ok);
    // An unsigned header may change (proxies add them).
    assert.ok(verify(withHeaders(request, { 'user-agent': 'something else', 'x-forwarded-for': '1.2.3.4' })).ok);
  });

  it('refuses a wrong secret, an unknown key and a session token', async () => {
    expectFailure(verify(await sdkSigned({ secret: `${SECRET}x` })), 'InvalidSignatureException', /does not match/);
    expectFailure(verify(await sdkSigned({ accessKeyId: 'DKVZZZZZZZZZZZZZZZZZ' })), 'UnrecognizedClientException', /security token/);
    expectFailure(verify(await sdkSigned({ accessKeyId: 'not-a-key!' })), 'UnrecognizedClientException');
    expectFailure(verify(await sdkSigned({ sessionToken: 'FQoGZXIvYXdzEXAMPLE' })), 'UnrecognizedClientException');
  });

  it('allows at most 15 minutes of clock skew either way', async () => {
    const atMs = NOW_MS;
    const request = await sdkSigned({ atMs });
    assert.ok(verify(request, { nowMs: atMs + CLOCK_SKEW_MAX_MS }).ok);
    assert.ok(verify(request, { nowMs: atMs - CLOCK_SKEW_MAX_MS }).ok);
    expectFailure(verify(request, { nowMs: atMs + CLOCK_SKEW_MAX_MS + 1000 }), 'InvalidSignatureException', /^Signature expired: 20250601T120000Z is now earlier than 20250601T120001Z \(20250601T121501Z - 15 min\.\)$/);
    expectFailure(verify(request, { nowMs: atMs - CLOCK_SKEW_MAX_MS - 1000 }), 'InvalidSignatureException', /^Signature not yet current: 20250601T120000Z is still later than 20250601T115959Z/);
  });

  it('checks the credential scope: service dynamodb, terminator, date of X-Amz-Date', async () => {
    expectFailure(verify(await sdkSigned({ service: 's3' })), 'InvalidSignatureException', /scoped to correct service: 'dynamodb'/);
    const request = await sdkSigned();
    const auth = authorizationOf(request);
    const other = (from: string, to: string): SigV4Request => withHeaders(request, { authorization: auth.replace(from, to) });
    expectFailure(verify(other('/20250601/', '/20250602/')), 'InvalidSignatureException', /Date in Credential scope does not match/);
    expectFailure(verify(other('/aws4_request', '/aws5_request')), 'InvalidSignatureException', /valid terminator/);
    expectFailure(verify(other('/us-east-1/', '/us east/')), 'InvalidSignatureException', /valid region/);
    expectFailure(verify(other('/us-east-1/', '/eu-west-1/')), 'InvalidSignatureException', /does not match/);
    // A date signed, then replaced by a fresher one: the scope or the signature catches it.
    expectFailure(verify(withHeaders(request, { 'x-amz-date': '20250601T120500Z' })), 'InvalidSignatureException', /does not match/);
    expectFailure(verify(withHeaders(request, { 'x-amz-date': '20250602T000000Z' }), { nowMs: Date.UTC(2025, 5, 2) }), 'InvalidSignatureException', /Date in Credential scope/);
  });
});

describe('sigv4: AWS test-suite vectors (aws-sig-v4-test-suite, service "service")', () => {
  // Credential AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, signed at 20150830T123600Z.
  const suiteNowMs = Date.UTC(2015, 7, 30, 12, 36, 0);
  const suiteSecret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  function vector(method: string, path: string, query: string, signedHeaders: string, signature: string, extra: Record<string, string> = {}): SigV4Request {
    return {
      method,
      path,
      query,
      body: new Uint8Array(0),
      headers: {
        host: 'example.amazonaws.com',
        'x-amz-date': '20150830T123600Z',
        ...extra,
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${signedHeaders}, Signature=${signature}`,
      },
    };
  }
  const cases: Array<[string, SigV4Request]> = [
    ['post-vanilla', vector('POST', '/', '', 'host;x-amz-date', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b')],
    ['get-vanilla', vector('GET', '/', '', 'host;x-amz-date', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31')],
    ['get-vanilla-query-order-key-case', vector('GET', '/', 'Param2=value2&Param1=value1', 'host;x-amz-date', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500')],
    ['post-vanilla-empty-query-value', vector('POST', '/', 'Param1=value1', 'host;x-amz-date', '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11')],
    ['post-header-value-case', vector('POST', '/', '', 'host;my-header1;x-amz-date', 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d', { 'my-header1': 'VALUE1' })],
    ['get-relative', vector('GET', '/example/..', '', 'host;x-amz-date', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31')],
    ['get-slash-pointless-dot', vector('GET', '/./example', '', 'host;x-amz-date', 'ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5')],
  ];
  const options = { nowMs: suiteNowMs, lookupSecret: (id: string) => (id === 'AKIDEXAMPLE' ? suiteSecret : undefined), service: 'service' };

  for (const [name, request] of cases) {
    it(`${name} verifies`, () => {
      assert.deepEqual(verifySigV4(request, options), { ok: true, accessKeyId: 'AKIDEXAMPLE', region: 'us-east-1' });
    });
  }

  it('the same vectors fail for DynamoDB (service "service") and with one signature hex digit changed', () => {
    const [, postVanilla] = cases[0]!;
    expectFailure(verifySigV4(postVanilla, { ...options, service: undefined }), 'InvalidSignatureException', /correct service: 'dynamodb'/);
    const auth = authorizationOf(postVanilla);
    const flipped = withHeaders(postVanilla, { authorization: auth.replace(/6b$/, '6c') });
    expectFailure(verifySigV4(flipped, options), 'InvalidSignatureException', /does not match/);
  });
});

describe('sigv4: malformed Authorization headers', () => {
  it('answers MissingAuthenticationToken with no AWS4 Authorization header', async () => {
    const request = await sdkSigned();
    for (const value of [undefined, '', 'Bearer dkv1.x.user.y', 'AWS AKID:sig', 'aws4-hmac-sha256 Credential=x']) {
      expectFailure(verify(withHeaders(request, { authorization: value })), 'MissingAuthenticationTokenException', /^Request is missing Authentication Token$/);
    }
  });

  it('answers IncompleteSignature for missing, duplicated, unknown or malformed parts', async () => {
    const request = await sdkSigned();
    const auth = authorizationOf(request);
    const [, credential, signedHeaders, signature] = /^AWS4-HMAC-SHA256 (Credential=[^,]+), (SignedHeaders=[^,]+), (Signature=.+)$/.exec(auth)!;
    const cases: Array<[string, RegExp]> = [
      ['AWS4-HMAC-SHA256', /requires 'Credential' parameter\. .*requires 'SignedHeaders' parameter\. .*requires 'Signature' parameter/],
      [`AWS4-HMAC-SHA256 ${credential}, ${signedHeaders}`, /requires 'Signature' parameter/],
      [`AWS4-HMAC-SHA256 ${credential}, ${signedHeaders}, Signature=`, /requires 'Signature' parameter/],
      [`AWS4-HMAC-SHA256 ${credential}, ${credential}, ${signedHeaders}, ${signature}`, /Duplicate parameter 'Credential'/],
      [`AWS4-HMAC-SHA256 ${credential}, ${signedHeaders}, ${signature}, ${signature}`, /Duplicate parameter 'Signature'/],
      [`AWS4-HMAC-SHA256 ${credential}, ${signedHeaders}, ${signature}, Extra=1`, /Unexpected parameter 'Extra'/],
      [`AWS4-HMAC-SHA256 ${credential}, SignedHeaders, ${signature}`, /missing equal-sign/],
      [`AWS4-HMAC-SHA512 ${credential}, ${signedHeaders}, ${signature}`, /Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'/],
      [`AWS4-HMAC-SHA256 Credential=${AKID}/20250601/us-east-1/dynamodb, ${signedHeaders}, ${signature}`, /exactly 5 slash-delimited/],
      [`AWS4-HMAC-SHA256 Credential=${AKID}/20250601/us-east-1/dynamodb/aws4_request/x, ${signedHeaders}, ${signature}`, /exactly 5 slash-delimited/],
      [`AWS4-HMAC-SHA256 ${credential}, SignedHeaders=x-amz-date;host, ${signature}`, /ascending order/],
      [`AWS4-HMAC-SHA256 ${credential}, SignedHeaders=Host;x-amz-date, ${signature}`, /ascending order/],
      [`AWS4-HMAC-SHA256 ${credential}, SignedHeaders=host;host;x-amz-date, ${signature}`, /ascending order/],
      [`AWS4-HMAC-SHA256 ${credential}, SignedHeaders=host;;x-amz-date, ${signature}`, /ascending order/],
      [`AWS4-HMAC-SHA256 ${credential}, SignedHeaders=${Array.from({ length: 65 }, (_, i) => `h${String(i).padStart(3, '0')}`).join(';')}, ${signature}`, /more than 64/],
    ];
    for (const [value, message] of cases) expectFailure(verify(withHeaders(request, { authorization: value })), 'IncompleteSignatureException', message);
    // Parameters in another order, with other spacing, are the same header.
    assert.ok(verify(withHeaders(request, { authorization: `AWS4-HMAC-SHA256 ${signature},${credential} ,  ${signedHeaders}` })).ok);
  });

  it('answers IncompleteSignature for a missing or malformed X-Amz-Date', async () => {
    const request = await sdkSigned();
    expectFailure(verify(withHeaders(request, { 'x-amz-date': undefined })), 'IncompleteSignatureException', /X-Amz-Date/);
    for (const date of ['2025-06-01T12:00:00Z', '20250601T120000', '20250631T120000Z', '20251301T120000Z', '20250601T246000Z', '20250601t120000z', ' ', 'x'.repeat(100)]) {
      expectFailure(verify(withHeaders(request, { 'x-amz-date': date })), 'IncompleteSignatureException', /ISO-8601/);
    }
  });

  it('requires host and x-amz-date among the signed headers', async () => {
    const request = await sdkSigned();
    const auth = authorizationOf(request);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!;
    const without = (name: string): SigV4Request =>
      withHeaders(request, { authorization: auth.replace(signedHeaders, signedHeaders.split(';').filter((h) => h !== name).join(';')) });
    expectFailure(verify(without('host')), 'InvalidSignatureException', /'Host' or ':authority' must be a 'SignedHeader'/);
    expectFailure(verify(without('x-amz-date')), 'InvalidSignatureException', /'X-Amz-Date' must be a 'SignedHeader'/);
  });

  it('requires x-amz-target and every other x-amz-* header present to be signed', async () => {
    // A GetItem signed over host and x-amz-date only: its target could be switched to DeleteItem.
    const request = await sdkSigned();
    const auth = authorizationOf(request);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!;
    const signedOnly = (names: string[], headers: Record<string, string>): SigV4Request => {
      // Re-sign by hand over just `names`, as a hostile or sloppy client could.
      const all = withHeaders(request, headers);
      const lower = Object.fromEntries(Object.entries(all.headers).map(([k, v]) => [k.toLowerCase(), v as string]));
      const canonicalHeaders = names.map((n) => `${n}:${lower[n]!.trim()}\n`).join('');
      const payloadHash = createHash('sha256').update(all.body).digest('hex');
      const creq = `POST\n/\n\n${canonicalHeaders}\n${names.join(';')}\n${payloadHash}`;
      const amzDate = lower['x-amz-date']!;
      const scope = `${amzDate.slice(0, 8)}/us-east-1/dynamodb/aws4_request`;
      const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(creq).digest('hex')}`;
      const key = [amzDate.slice(0, 8), 'us-east-1', 'dynamodb', 'aws4_request'].reduce<Buffer | string>((k, d) => createHmac('sha256', k).update(d).digest(), `AWS4${SECRET}`);
      const signature = createHmac('sha256', key).update(sts).digest('hex');
      return withHeaders(all, { authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` });
    };
    assert.ok(signedHeaders.split(';').includes('x-amz-target'), 'the SDK signs the target');
    assert.ok(verify(signedOnly(['host', 'x-amz-date', 'x-amz-target'], {})).ok, 'the hand signer agrees with the verifier');
    const getItem = signedOnly(['host', 'x-amz-date'], {});
    expectFailure(verify(getItem), 'InvalidSignatureException', /'X-Amz-Target' must be a 'SignedHeader'/);
    expectFailure(verify(withHeaders(getItem, { 'x-amz-target': 'DynamoDB_20120810.DeleteItem' })), 'InvalidSignatureException', /'X-Amz-Target' must be a 'SignedHeader'/);
    // Any other x-amz-* header present but unsigned, added after signing or left out of SignedHeaders.
    expectFailure(verify(withHeaders(request, { 'x-amz-meta-a': 'b' })), 'InvalidSignatureException', /headers present in the request which were not signed: x-amz-meta-a$/);
    expectFailure(verify(signedOnly(['host', 'x-amz-date', 'x-amz-target'], { 'x-amz-user-agent': 'x' })), 'InvalidSignatureException', /not signed: x-amz-user-agent$/);
    // x-amz-content-sha256 is checked against the body instead; headers that are not x-amz-* may go unsigned.
    const hash = createHash('sha256').update(request.body).digest('hex');
    assert.ok(verify(signedOnly(['host', 'x-amz-date', 'x-amz-target'], { 'x-amz-content-sha256': hash, 'x-amzn-trace-id': 'Root=1', 'user-agent': 'u' })).ok);
    assert.ok(verify(await sdkSigned({ headers: { 'x-amz-meta-a': 'b', 'x-amz-content-sha256': hash } })).ok, 'signed by the SDK: accepted');
  });

  it('headersOnly refuses from the headers alone what they decide, and accepts what only the body could refuse', async () => {
    const request = await sdkSigned();
    const headersOnly = { headersOnly: true };
    const noBody = { ...request, body: new Uint8Array(0) };
    assert.ok(verify(noBody, headersOnly).ok, 'a well-signed request passes before its body is read');
    // Decided by the headers: refused before any body (second review, low finding).
    expectFailure(verify(withHeaders(noBody, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), headersOnly), 'InvalidSignatureException', /x-amz-content-sha256/);
    expectFailure(verify(withHeaders(noBody, { 'x-amz-target': undefined }), headersOnly), 'InvalidSignatureException', /is not in the request/);
    const auth = authorizationOf(request);
    expectFailure(verify(withHeaders(noBody, { authorization: auth.replace(/Signature=[0-9a-f]{64}$/, 'Signature=XYZ') }), headersOnly), 'InvalidSignatureException');
    // Decided by the body: a wrong signature or a hash of another body passes here, and fails in full.
    const otherHash = createHash('sha256').update('other').digest('hex');
    assert.ok(verify(withHeaders(noBody, { authorization: auth.replace(/Signature=[0-9a-f]{64}$/, `Signature=${'0'.repeat(64)}`) }), headersOnly).ok);
    assert.ok(verify(withHeaders(noBody, { 'x-amz-content-sha256': otherHash }), headersOnly).ok);
    expectFailure(verify(withHeaders(request, { 'x-amz-content-sha256': otherHash })), 'InvalidSignatureException', /x-amz-content-sha256/);
  });

  it('refuses an unsigned or mismatched payload hash, and signatures not in lower-case hex', async () => {
    const request = await sdkSigned();
    expectFailure(verify(withHeaders(request, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' })), 'InvalidSignatureException', /x-amz-content-sha256/);
    expectFailure(verify(withHeaders(request, { 'x-amz-content-sha256': createHash('sha256').update('other').digest('hex') })), 'InvalidSignatureException', /x-amz-content-sha256/);
    const auth = authorizationOf(request);
    const signature = /Signature=([0-9a-f]{64})$/.exec(auth)![1]!;
    for (const bad of [signature.toUpperCase(), signature.slice(1), `${signature}0`, `${signature.slice(0, 63)}g`]) {
      expectFailure(verify(withHeaders(request, { authorization: auth.replace(signature, bad) })), 'InvalidSignatureException', /does not match/);
    }
  });
});

describe('sigv4: hostile input never throws', () => {
  const TEN_MB = 10 * 1024 * 1024;

  it('answers 10 MB header values, paths and query strings with a refusal', async () => {
    const request = await sdkSigned();
    const auth = authorizationOf(request);
    const huge = 'a'.repeat(TEN_MB);
    expectFailure(verify(withHeaders(request, { authorization: `AWS4-HMAC-SHA256 Credential=${huge}` })), 'IncompleteSignatureException', /exceeds/);
    expectFailure(verify(withHeaders(request, { authorization: huge })), 'MissingAuthenticationTokenException');
    expectFailure(verify(withHeaders(request, { authorization: ' '.repeat(TEN_MB) })), 'MissingAuthenticationTokenException');
    expectFailure(verify(withHeaders(request, { 'x-amz-date': huge })), 'IncompleteSignatureException', /ISO-8601/);
    expectFailure(verify(withHeaders(request, { 'x-amz-target': huge })), 'InvalidSignatureException', /longer than/);
    expectFailure(verify(withHeaders(request, { 'x-amz-target': ' \t'.repeat(TEN_MB / 2) })), 'InvalidSignatureException');
    expectFailure(verify({ ...request, path: `/${huge}` }), 'InvalidSignatureException', /path/);
    expectFailure(verify({ ...request, query: `a=${huge}` }), 'InvalidSignatureException', /query/);
    expectFailure(verify({ ...request, query: '&'.repeat(1000) }), 'InvalidSignatureException', /query/);
    expectFailure(verify(withHeaders(request, { authorization: auth.replace('Signature=', `Signature=${'f'.repeat(4000)}`) })), 'InvalidSignatureException');
  });

  it('answers broken escapes, lone surrogates, arrays and odd header names', async () => {
    const request = await sdkSigned();
    expectFailure(verify({ ...request, query: 'a=%ZZ' }), 'InvalidSignatureException', /query/);
    expectFailure(verify({ ...request, query: 'a=%ED%A0%80' }), 'InvalidSignatureException', /query/);
    expectFailure(verify({ ...request, path: '/\ud800' }), 'InvalidSignatureException', /path/);
    // Two Authorization headers (a proxy's and the client's) are joined, and then never parse.
    const doubled = { ...request, headers: { ...request.headers, authorization: [authorizationOf(request), authorizationOf(request)] } };
    expectFailure(verify(doubled), 'IncompleteSignatureException');
    // Header names in another case are the same headers.
    const upper: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) upper[name.toUpperCase()] = value as string;
    assert.ok(verify({ ...request, headers: upper }).ok);
  });

  it('returns one of the four codes for any Authorization value', async () => {
    const request = await sdkSigned();
    const auth = authorizationOf(request);
    const pieces = fc.constantFrom('AWS4-HMAC-SHA256', ' ', ',', '=', '/', ';', 'Credential', 'SignedHeaders', 'Signature', AKID, '20250601', 'us-east-1', 'dynamodb', 'aws4_request', 'host', 'x-amz-date', '\u0000', 'é', '\ud800');
    const garbage = fc.oneof(
      fc.array(pieces, { maxLength: 30 }).map((p) => p.join('')),
      fc.string({ unit: 'binary', maxLength: 300 }).map((s) => `AWS4-${s}`),
      fc.tuple(fc.nat({ max: auth.length }), fc.string({ maxLength: 10 })).map(([at, s]) => auth.slice(0, at) + s + auth.slice(at)),
    );
    fc.assert(
      fc.property(garbage, fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), (value, date) => {
        const result = verify(withHeaders(request, { authorization: value, ...(date === undefined ? {} : { 'x-amz-date': date }) }));
        if (!result.ok) assert.ok(KNOWN_CODES.includes(result.code), result.code);
        // Only the signed header itself verifies; whitespace around its parameters is allowed.
        else assert.equal(value.replace(/\s+/g, ''), auth.replace(/\s+/g, ''));
      }),
      { ...fcOptions, numRuns: 2000 },
    );
  });
});

describe('sigv4: signing-key cache', () => {
  it('stays within its bound and follows a rotated secret at once', async () => {
    assert.equal(new SigningKeyCache().entriesMax, SIGNING_KEY_CACHE_ENTRIES_MAX_DEFAULT);
    assert.throws(() => new SigningKeyCache(0), RangeError);
    const cache = new SigningKeyCache(3);
    for (const region of ['r1', 'r2', 'r3', 'r4', 'r5']) {
      const result = verify(await sdkSigned({ region }), { signingKeys: cache });
      assert.ok(result.ok);
      assert.ok(cache.size <= 3);
    }
    const rotated = new Map([[AKID, 'new-secret']]);
    const options = { signingKeys: cache, lookupSecret: (id: string) => rotated.get(id) };
    expectFailure(verify(await sdkSigned({ region: 'r5' }), options), 'InvalidSignatureException');
    assert.ok(verify(await sdkSigned({ region: 'r5', secret: 'new-secret' }), options).ok);
    assert.ok(verify(await sdkSigned({ region: 'r5', secret: 'new-secret' }), options).ok, 'a cached key verifies too');
  });
});

describe('sigv4: signing-key cache against forged requests', () => {
  it('caches a key only after its signature verified: forgeries across regions evict nothing', async () => {
    const cache = new SigningKeyCache(3);
    assert.ok(verify(await sdkSigned({ region: 'us-east-1' }), { signingKeys: cache }).ok);
    assert.equal(cache.size, 1);
    // Someone who knows the key id but not the secret, cycling regions.
    for (let i = 0; i < 10; i++) {
      expectFailure(verify(await sdkSigned({ region: `forged-${i}`, secret: 'not-the-secret' }), { signingKeys: cache }), 'InvalidSignatureException', /does not match/);
    }
    assert.equal(cache.size, 1, 'no forged request added an entry');
    assert.ok(cache.get(AKID, SECRET, '20250601', 'us-east-1', 'dynamodb') !== undefined, 'the legitimate entry survived');
    assert.ok(verify(await sdkSigned({ region: 'us-east-1' }), { signingKeys: cache }).ok);
    assert.ok(verify(await sdkSigned({ region: 'eu-west-1' }), { signingKeys: cache }).ok);
    assert.equal(cache.size, 2);
  });
});

describe('sigv4: the real DynamoDBClient against a verifying server', () => {
  let server: Server;
  let endpoint: string;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
        const result = verifySigV4({ method: req.method ?? '', path, query, headers: req.headers, body: Buffer.concat(chunks) }, { nowMs: Date.now(), lookupSecret });
        res.setHeader('content-type', 'application/x-amz-json-1.0');
        if (result.ok) {
          res.end(JSON.stringify({ TableNames: [] }));
        } else {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: `com.amazon.coral.service#${result.code}`, message: result.message }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function client(accessKeyId: string, secretAccessKey: string): DynamoDBClient {
    return new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  }

  it('accepts the SDK with the right secret, and the SDK reads our refusals as DynamoDB exceptions', async () => {
    const good = client(AKID, SECRET);
    assert.deepEqual((await good.send(new ListTablesCommand({}))).TableNames, []);
    good.destroy();
    for (const [c, name] of [
      [client(AKID, 'wrong'), 'InvalidSignatureException'],
      [client('DKVUNKNOWNUNKNOWNUNK', SECRET), 'UnrecognizedClientException'],
    ] as const) {
      await assert.rejects(c.send(new ListTablesCommand({})), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal(error.name, name);
        return true;
      });
      c.destroy();
    }
  });
});
