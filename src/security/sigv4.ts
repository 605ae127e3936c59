// AWS Signature Version 4 verification for the DynamoDB API door: the Authorization header form
// only (no presigned URLs, no chunked payloads, no session tokens). Owns parsing the header,
// the scope, date and skew checks, the canonical request and the constant-time comparison, and
// answers with DynamoDB's exception names. Pure: the clock, the secrets and the signing-key cache
// are given to it; it never throws for anything a client sends.
//
// Every x-amz-* header a request carries must be signed (x-amz-content-sha256 excepted: it is
// checked against the body, whose hash is signed). Otherwise a captured request could be replayed
// with, say, X-Amz-Target switched from GetItem to DeleteItem. The AWS SDKs sign every such header;
// we found no DynamoDB message for this, so the refusal is InvalidSignatureException (as for an
// unsigned host or date) with "'X-Amz-Target' must be a 'SignedHeader' ..." for the target and
// S3's wording, "There were headers present in the request which were not signed: ...", for any
// other x-amz-* header.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The one algorithm accepted. */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** The service a credential scope must name. */
export const DYNAMODB_SERVICE = 'dynamodb';
const SCOPE_TERMINATOR = 'aws4_request';

/** DynamoDB's: a request signed more than 15 minutes before or after the server's clock is refused. */
export const CLOCK_SKEW_MAX_MS = 15 * 60 * 1000;
/** Longest Authorization header read; an SDK's is about 250 characters (more with many signed headers). */
export const AUTHORIZATION_CHARS_MAX = 8 * 1024;
/** Most headers a request may sign; an SDK signs 4-8. */
export const SIGNED_HEADERS_MAX = 64;
/** Longest value of a signed header that is canonicalized (the HTTP layer bounds all headers too). */
export const SIGNED_HEADER_VALUE_CHARS_MAX = 16 * 1024;
/** Longest request path and query string canonicalized (DynamoDB's are "/" and empty). */
export const PATH_CHARS_MAX = 8 * 1024;
export const QUERY_CHARS_MAX = 8 * 1024;
/** Most query parameters canonicalized. */
export const QUERY_PARAMS_MAX = 256;
/** Default size of a SigningKeyCache: one entry per (access key, day, region) in use. */
export const SIGNING_KEY_CACHE_ENTRIES_MAX_DEFAULT = 1024;
/** Longest excerpt of a client's own input quoted back in an error message. */
const QUOTED_CHARS_MAX = 256;

// AWS access key ids are 16-128 characters of [A-Z0-9]; lower case is allowed here so that the
// lookup, not the parser, says "unknown key" for ids of other systems.
const ACCESS_KEY_ID_PATTERN = /^[A-Za-z0-9]{1,128}$/;
// Any region is accepted ("us-east-1", DynamoDB Local's "localhost" or "fakeRegion"), within a
// charset that keeps cache keys and messages unambiguous.
const REGION_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SCOPE_DATE_PATTERN = /^\d{8}$/;
const AMZ_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
// An RFC 9110 token in lower case: what a canonical header name is.
const HEADER_NAME_PATTERN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** DynamoDB's exception names for authentication failures (all HTTP 400 from DynamoDB). */
export type SigV4ErrorCode =
  | 'MissingAuthenticationTokenException' // no Authorization header, or not an AWS4 one
  | 'IncompleteSignatureException' // the header or the date is malformed or lacks a part
  | 'InvalidSignatureException' // well-formed but wrong: signature, scope, skew, unsigned host/date/x-amz-* header
  | 'UnrecognizedClientException'; // unknown access key id, or a session token (dynakv issues none)

export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string; readonly region: string }
  | { readonly ok: false; readonly code: SigV4ErrorCode; readonly message: string };

/** A request as received: the values on the wire, nothing decoded. */
export interface SigV4Request {
  readonly method: string;
  /** The request target's path as sent (percent-encoded), e.g. "/". */
  readonly path: string;
  /** The raw query string after "?", without it; '' for none. */
  readonly query: string;
  /** Header names in any case (Node's are lower case); repeated headers as an array or one joined string. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Uint8Array;
}

export interface SigV4Options {
  /** The server's wall clock, ms since the epoch. */
  readonly nowMs: number;
  /** The secret access key of an id, or undefined if the id is not known. Must not throw for any id. */
  readonly lookupSecret: (accessKeyId: string) => string | undefined;
  /** Derived signing keys to reuse; without it each request derives its own (4 HMACs). */
  readonly signingKeys?: SigningKeyCache;
  /** The service the scope must name; only tests of AWS's published vectors change it. */
  readonly service?: string;
  /**
   * Check everything the headers alone decide (form, date, scope, signed headers, a known access
   * key) and stop before the body and the signature: a door reads a body only for a request
   * that could verify. The body is not looked at.
   */
  readonly headersOnly?: boolean;
}

const MISSING_TOKEN = 'Request is missing Authentication Token';
const UNRECOGNIZED = 'The security token included in the request is invalid.';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function fail(code: SigV4ErrorCode, message: string): SigV4Result {
  return { ok: false, code, message };
}

function quote(text: string): string {
  return text.length > QUOTED_CHARS_MAX ? `${text.slice(0, QUOTED_CHARS_MAX)}...` : text;
}

/**
 * Derived SigV4 signing keys by (access key, day, region, service), least recently used dropped
 * first past `entriesMax`. A key is reused only while the secret it came from is still current,
 * so a rotated secret takes effect at once. verifySigV4 stores a key only once a signature made
 * with it verified: otherwise anyone knowing an access key id (not its secret) could fill the
 * cache with one region after another and evict every legitimate entry.
 */
export class SigningKeyCache {
  private readonly entries = new Map<string, { readonly secret: string; readonly key: Buffer }>();

  constructor(readonly entriesMax: number = SIGNING_KEY_CACHE_ENTRIES_MAX_DEFAULT) {
    if (!Number.isSafeInteger(entriesMax) || entriesMax < 1) throw new RangeError(`entriesMax must be a positive integer, got ${entriesMax}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached signing key (marked recently used), or undefined: none, or from another secret. The id, date, region and service contain no '/'. */
  get(accessKeyId: string, secret: string, date: string, region: string, service: string): Buffer | undefined {
    const id = `${accessKeyId}/${date}/${region}/${service}`;
    const hit = this.entries.get(id);
    if (hit === undefined || hit.secret !== secret) return undefined;
    this.entries.delete(id);
    this.entries.set(id, hit);
    return hit.key;
  }

  /** Stores a signing key that verified a signature, dropping the least recently used past entriesMax. */
  set(accessKeyId: string, secret: string, date: string, region: string, service: string, key: Buffer): void {
    const id = `${accessKeyId}/${date}/${region}/${service}`;
    this.entries.delete(id);
    this.entries.set(id, { secret, key });
    if (this.entries.size > this.entriesMax) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The signing key, derived on a miss and stored. For callers that know the key is wanted; verifySigV4 uses get and set. */
  signingKey(accessKeyId: string, secret: string, date: string, region: string, service: string): Buffer {
    const key = this.get(accessKeyId, secret, date, region, service) ?? deriveSigningKey(secret, date, region, service);
    this.set(accessKeyId, secret, date, region, service, key);
    return key;
  }
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), SCOPE_TERMINATOR);
}

// ---- Parsing ------------------------------------------------------------------------------------

interface AuthorizationParts {
  readonly algorithm: string;
  readonly credential: string;
  readonly signedHeaders: string;
  readonly signature: string;
}

const AUTH_PARAMS = ['Credential', 'SignedHeaders', 'Signature'] as const;
type AuthParam = (typeof AUTH_PARAMS)[number];

function isAuthParam(name: string): name is AuthParam {
  return (AUTH_PARAMS as readonly string[]).includes(name);
}

/** `ALGORITHM Credential=..., SignedHeaders=..., Signature=...`, parameters in any order. */
function parseAuthorization(header: string, hasDate: boolean): AuthorizationParts | SigV4Result {
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  const params = new Map<AuthParam, string>();
  if (space >= 0) {
    for (const raw of header.slice(space + 1).split(',')) {
      const part = raw.trim();
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq < 0) return fail('IncompleteSignatureException', `'${quote(part)}' not a valid key=value pair (missing equal-sign) in Authorization header: '${quote(header)}'.`);
      const name = part.slice(0, eq).trim();
      if (!isAuthParam(name)) return fail('IncompleteSignatureException', `Unexpected parameter '${quote(name)}' in Authorization header: '${quote(header)}'.`);
      // Which of two copies would count is ambiguous; AWS's parsers disagree, so neither counts.
      if (params.has(name)) return fail('IncompleteSignatureException', `Duplicate parameter '${name}' in Authorization header: '${quote(header)}'.`);
      params.set(name, part.slice(eq + 1).trim());
    }
  }
  let message = '';
  for (const name of AUTH_PARAMS) if ((params.get(name) ?? '') === '') message += `Authorization header requires '${name}' parameter. `;
  if (!hasDate) message += "Authorization header requires existence of an 'X-Amz-Date' header. ";
  if (message !== '') return fail('IncompleteSignatureException', `${message}Authorization=${quote(header)}`);
  return { algorithm, credential: params.get('Credential')!, signedHeaders: params.get('SignedHeaders')!, signature: params.get('Signature')! };
}

/** X-Amz-Date (`YYYYMMDDTHHMMSSZ`, UTC) in ms, or undefined if it is not a real instant in that form. */
function parseAmzDate(text: string): number | undefined {
  const m = AMZ_DATE_PATTERN.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 20240230 over to March 1st; a real date formats back to itself.
  return formatAmzDate(ms) === text ? ms : undefined;
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** Lower-cased header names to their values, repeated headers joined with ',' (SigV4's rule). */
function headerMap(headers: SigV4Request['headers']): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : Array.isArray(value) ? value.filter((v) => typeof v === 'string').join(',') : undefined;
    if (text === undefined) continue;
    const lower = name.toLowerCase();
    const before = map.get(lower);
    map.set(lower, before === undefined ? text : `${before},${text}`);
  }
  return map;
}

// ---- Canonical request ------------------------------------------------------------------------
// As the AWS SDKs build it (smithy's SignatureV4): the path normalized and percent-encoded once
// more (non-S3 services sign the encoded path), query parameters decoded then encoded strictly
// and sorted, signed headers with whitespace runs folded, and the hex SHA-256 of the body.

/** encodeURIComponent plus the four characters RFC 3986 reserves that it leaves alone. Throws URIError on lone surrogates. */
function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalPath(path: string): string | undefined {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  try {
    return escapeUri(normalized).replace(/%2F/g, '/');
  } catch {
    return undefined;
  }
}

function canonicalQuery(query: string): string | undefined {
  if (query === '') return '';
  const parts = query.split('&');
  if (parts.length > QUERY_PARAMS_MAX) return undefined;
  const byKey = new Map<string, string[]>();
  try {
    for (const part of parts) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const key = escapeUri(decodeURIComponent(eq < 0 ? part : part.slice(0, eq)));
      const value = escapeUri(decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1)));
      const list = byKey.get(key) ?? [];
      list.push(`${key}=${value}`);
      byKey.set(key, list);
    }
  } catch {
    return undefined; // a bad %-escape or one that is not UTF-8
  }
  return [...byKey.keys()]
    .sort()
    .map((key) => byKey.get(key)!.sort().join('&'))
    .join('&');
}

function canonicalHeaderValue(value: string): string {
  return value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

// ---- Verification -----------------------------------------------------------------------------

/**
 * Checks a request's SigV4 Authorization header. In DynamoDB's order: the header's presence and
 * parts, the date's form and skew, host and x-amz-date signed, the algorithm, the credential's
 * form and scope, the access key, then the signature.
 */
export function verifySigV4(request: SigV4Request, options: SigV4Options): SigV4Result {
  const service = options.service ?? DYNAMODB_SERVICE;
  const headers = headerMap(request.headers);
  const authorization = headers.get('authorization');
  // Only the start is looked at before the length check: a huge header costs no more than a short one.
  if (authorization === undefined || !authorization.slice(0, 64).trimStart().startsWith('AWS4-')) return fail('MissingAuthenticationTokenException', MISSING_TOKEN);
  if (authorization.length > AUTHORIZATION_CHARS_MAX) {
    return fail('IncompleteSignatureException', `Authorization header of ${authorization.length} characters exceeds ${AUTHORIZATION_CHARS_MAX}.`);
  }
  const amzDate = headers.get('x-amz-date');
  const parts = parseAuthorization(authorization.trim(), amzDate !== undefined);
  if ('ok' in parts) return parts;

  const signedAtMs = parseAmzDate(amzDate!);
  if (signedAtMs === undefined) {
    return fail('IncompleteSignatureException', `Date must be in ISO-8601 'basic format'. Got '${quote(amzDate!)}'. See http://en.wikipedia.org/wiki/ISO_8601`);
  }
  if (signedAtMs < options.nowMs - CLOCK_SKEW_MAX_MS) {
    const bound = formatAmzDate(options.nowMs - CLOCK_SKEW_MAX_MS);
    return fail('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than ${bound} (${formatAmzDate(options.nowMs)} - 15 min.)`);
  }
  if (signedAtMs > options.nowMs + CLOCK_SKEW_MAX_MS) {
    const bound = formatAmzDate(options.nowMs + CLOCK_SKEW_MAX_MS);
    return fail('InvalidSignatureException', `Signature not yet current: ${amzDate} is still later than ${bound} (${formatAmzDate(options.nowMs)} + 15 min.)`);
  }

  const signedNames = parts.signedHeaders.split(';');
  if (signedNames.length > SIGNED_HEADERS_MAX) return fail('IncompleteSignatureException', `SignedHeaders lists ${signedNames.length} headers, more than ${SIGNED_HEADERS_MAX}.`);
  for (let i = 0; i < signedNames.length; i++) {
    // Canonical form only: the string is signed as sent, so any other spelling could not match anyway.
    if (!HEADER_NAME_PATTERN.test(signedNames[i]!) || (i > 0 && signedNames[i - 1]! >= signedNames[i]!)) {
      return fail('IncompleteSignatureException', `SignedHeaders must be distinct lower-case header names in ascending order separated by ';', got '${quote(parts.signedHeaders)}'.`);
    }
  }
  if (!signedNames.includes('host')) return fail('InvalidSignatureException', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  // Unsigned, the date could be replaced to replay a captured request beyond the skew window.
  if (!signedNames.includes('x-amz-date')) return fail('InvalidSignatureException', "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
  // Unsigned, the operation could be switched (GetItem signed, DeleteItem run), or any other
  // x-amz-* header changed, without touching the signature.
  const signedSet = new Set(signedNames);
  if (headers.has('x-amz-target') && !signedSet.has('x-amz-target')) {
    return fail('InvalidSignatureException', "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.");
  }
  for (const name of headers.keys()) {
    if (name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && !signedSet.has(name)) {
      return fail('InvalidSignatureException', `There were headers present in the request which were not signed: ${quote(name)}`);
    }
  }

  if (parts.algorithm !== SIGV4_ALGORITHM) {
    return fail('IncompleteSignatureException', `Unsupported AWS 'algorithm': '${quote(parts.algorithm)}' (only ${SIGV4_ALGORITHM} for now). `);
  }
  const scope = parts.credential.split('/');
  if (scope.length !== 5) {
    return fail('IncompleteSignatureException', `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${quote(parts.credential)}'`);
  }
  const [accessKeyId, scopeDate, region, scopeService, terminator] = scope as [string, string, string, string, string];
  let scopeMessage = '';
  if (!REGION_PATTERN.test(region)) scopeMessage += `Credential should be scoped to a valid region, not '${quote(region)}'. `;
  if (scopeService !== service) scopeMessage += `Credential should be scoped to correct service: '${service}'. `;
  if (terminator !== SCOPE_TERMINATOR) scopeMessage += `Credential should be scoped with a valid terminator: '${SCOPE_TERMINATOR}', not '${quote(terminator)}'. `;
  if (!SCOPE_DATE_PATTERN.test(scopeDate) || scopeDate !== amzDate!.slice(0, 8)) {
    scopeMessage += `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${quote(scopeDate)}' != '${amzDate!.slice(0, 8)}', from '${amzDate}'.`;
  }
  if (scopeMessage !== '') return fail('InvalidSignatureException', scopeMessage.trim());

  const secret = ACCESS_KEY_ID_PATTERN.test(accessKeyId) ? options.lookupSecret(accessKeyId) : undefined;
  if (secret === undefined) return fail('UnrecognizedClientException', UNRECOGNIZED);
  // dynakv issues no temporary credentials, so no session token is one of ours.
  if (headers.has('x-amz-security-token')) return fail('UnrecognizedClientException', UNRECOGNIZED);
  const claimedHash = headers.get('x-amz-content-sha256');
  // UNSIGNED-PAYLOAD and streaming forms would leave the body unauthenticated: refused too.
  if (claimedHash !== undefined && !SHA256_HEX_PATTERN.test(claimedHash)) {
    return fail('InvalidSignatureException', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  let canonicalHeaders = '';
  for (const name of signedNames) {
    const value = headers.get(name);
    if (value === undefined) return fail('InvalidSignatureException', `Signed header '${name}' is not in the request.`);
    if (value.length > SIGNED_HEADER_VALUE_CHARS_MAX) return fail('InvalidSignatureException', `Signed header '${name}' is longer than ${SIGNED_HEADER_VALUE_CHARS_MAX} characters.`);
    canonicalHeaders += `${name}:${canonicalHeaderValue(value)}\n`;
  }
  const path = request.path.length <= PATH_CHARS_MAX ? canonicalPath(request.path) : undefined;
  if (path === undefined) return fail('InvalidSignatureException', 'The request path cannot be canonicalized.');
  const query = request.query.length <= QUERY_CHARS_MAX ? canonicalQuery(request.query) : undefined;
  if (query === undefined) return fail('InvalidSignatureException', 'The query string cannot be canonicalized.');
  // The form of a signature says nothing about the secret, so only a well-formed one is compared.
  if (!SIGNATURE_PATTERN.test(parts.signature)) return fail('InvalidSignatureException', MISMATCH);
  // Everything above depends on the headers alone: a door may stop here before reading the body.
  if (options.headersOnly === true) return { ok: true, accessKeyId, region };

  const payloadHash = createHash('sha256').update(request.body).digest('hex');
  if (claimedHash !== undefined && claimedHash !== payloadHash) {
    return fail('InvalidSignatureException', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  const canonicalRequest = `${request.method}\n${path}\n${query}\n${canonicalHeaders}\n${parts.signedHeaders}\n${payloadHash}`;
  const stringToSign = `${SIGV4_ALGORITHM}\n${amzDate}\n${scopeDate}/${region}/${scopeService}/${SCOPE_TERMINATOR}\n${createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')}`;
  const cached = options.signingKeys?.get(accessKeyId, secret, scopeDate, region, scopeService);
  const signingKey = cached ?? deriveSigningKey(secret, scopeDate, region, scopeService);
  const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(Buffer.from(parts.signature, 'hex'), expected)) {
    return fail('InvalidSignatureException', MISMATCH);
  }
  // Only a key that verified a signature is cached (see SigningKeyCache).
  if (cached === undefined) options.signingKeys?.set(accessKeyId, secret, scopeDate, region, scopeService, signingKey);
  return { ok: true, accessKeyId, region };
}
