// Shows that a page on another origin cannot change anything on a node, even with --insecure
// (finding 6 of issue 13): a state change sent with a foreign Origin is refused 403 before it
// is read; membership changes also need a JSON content type (415 otherwise) and the custom
// x-dynakv-request header (403 otherwise), which no cross-origin form or simple request can
// carry; CORS preflights never get allow headers. And stored values are served so that they
// cannot run as a page on the node's origin (nosniff, a sandboxing CSP, same-origin CORP).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOneNode, type OneNode } from './one-node.ts';

const EVIL = 'http://evil.example';

describe('cross-site requests to an insecure node', { timeout: 60_000 }, () => {
  let node: OneNode | undefined;
  let url = '';
  const memberIds = async () => ((await (await fetch(`${url}/cluster/members`)).json()) as { members: Array<{ id: string }> }).members.map((m) => m.id).sort();

  before(async () => {
    node = await startOneNode('cross-site');
    url = node.url;
  });
  after(async () => {
    await node?.stop();
  });

  it('refuses a cross-origin text/plain POST to /cluster/members and changes nothing', async () => {
    const before = await memberIds();
    const res = await fetch(`${url}/cluster/members`, {
      method: 'POST',
      headers: { origin: EVIL, 'content-type': 'text/plain' },
      body: JSON.stringify({ id: 'mallory', peer: '127.0.0.1:1', http: '127.0.0.1:2' }),
    });
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as { error: string }).error, /origin/i);
    assert.deepEqual(await memberIds(), before);
  });

  it('refuses a membership change without a JSON content type, or without the custom header', async () => {
    const before = await memberIds();
    const body = JSON.stringify({ id: 'mallory', peer: '127.0.0.1:1', http: '127.0.0.1:2' });
    const plain = await fetch(`${url}/cluster/members`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-dynakv-request': '1' }, body });
    assert.equal(plain.status, 415);
    assert.match(((await plain.json()) as { error: string }).error, /application\/json/);
    const noHeader = await fetch(`${url}/cluster/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(noHeader.status, 403);
    assert.match(((await noHeader.json()) as { error: string }).error, /x-dynakv-request/);
    const remove = await fetch(`${url}/cluster/members/s1`, { method: 'DELETE' });
    assert.equal(remove.status, 403);
    const foreignRemove = await fetch(`${url}/cluster/members/s1`, { method: 'DELETE', headers: { origin: EVIL, 'x-dynakv-request': '1' } });
    assert.equal(foreignRemove.status, 403);
    assert.deepEqual(await memberIds(), before);
  });

  it('accepts a same-origin JSON change that carries the custom header', async () => {
    const res = await fetch(`${url}/cluster/members`, {
      method: 'POST',
      headers: { origin: url, 'content-type': 'application/json; charset=utf-8', 'x-dynakv-request': '1' },
      body: JSON.stringify({ id: 'joiner', peer: '127.0.0.1:1', http: '127.0.0.1:2' }),
    });
    assert.equal(res.status, 200, await res.text());
    assert.ok((await memberIds()).includes('joiner'));
    const removed = await fetch(`${url}/cluster/members/joiner`, { method: 'DELETE', headers: { 'x-dynakv-request': '1' } });
    assert.equal(removed.status, 200, await removed.text());
  });

  it('refuses a cross-origin write or delete of a key, and writes nothing', async () => {
    for (const method of ['PUT', 'DELETE', 'POST']) {
      const res = await fetch(`${url}/kv/cross`, { method, headers: { origin: EVIL, 'content-type': 'text/plain' }, ...(method !== 'DELETE' ? { body: 'pwned' } : {}) });
      assert.equal(res.status, 403, method);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    }
    assert.equal((await fetch(`${url}/kv/cross`)).status, 404);
    // An Origin that names another port of the same host is another origin too.
    const otherPort = await fetch(`${url}/kv/cross`, { method: 'PUT', headers: { origin: 'http://127.0.0.1:1' }, body: 'x' });
    assert.equal(otherPort.status, 403);
    const same = await fetch(`${url}/kv/cross`, { method: 'PUT', headers: { origin: url }, body: 'mine' });
    assert.equal(same.status, 200);
  });

  it('never answers a CORS preflight with allow headers', async () => {
    for (const path of ['/kv/cross', '/cluster/members', '/health']) {
      const res = await fetch(`${url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: EVIL, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-dynakv-request, content-type' },
      });
      assert.ok(res.status >= 400, `${path}: ${res.status}`);
      for (const [name] of res.headers) assert.doesNotMatch(name, /^access-control-/, path);
    }
  });

  it('serves stored values so that they cannot run as a page: nosniff, a sandboxing CSP, same-origin CORP', async () => {
    const html = '<script>document.title = "ran"</script>';
    assert.equal((await fetch(`${url}/kv/page.html`, { method: 'PUT', headers: { 'content-type': 'text/html' }, body: html })).status, 200);
    const res = await fetch(`${url}/kv/page.html`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), html, 'the value itself is served unchanged');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /(^|;\s*)sandbox(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
    for (const path of ['/kv/absent', '/cluster/members', '/health']) {
      const other = await fetch(`${url}${path}`);
      assert.equal(other.headers.get('x-content-type-options'), 'nosniff', path);
    }
  });
});
