// Shows the dashboard's defences in a real browser (headless chromium): on a secure node the page
// asks for a token when the server answers 401, keeps it in sessionStorage only (not in the URL,
// not in a cookie), and after the admin token is entered draws the ring over a fetch() stream;
// a wrong token is refused with a message. On an insecure node a stored text/html value opened
// in the browser runs no script (its answer is a sandboxed, script-less document), and a hostile
// value looked up on the dashboard shows as text. The dashboard itself trips no CSP violation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../support/browser.ts';
import { startOneNode, type OneNode } from '../security/one-node.ts';

const WAIT_MS = 30_000;

function watch(page: Page): { errors: string[]; csp: string[] } {
  const seen = { errors: [] as string[], csp: [] as string[] };
  page.on('pageerror', (err) => seen.errors.push(err.message));
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) seen.csp.push(msg.text());
  });
  return seen;
}

describe('dashboard login on a secure node', { timeout: 120_000 }, () => {
  let node: OneNode | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let seen: { errors: string[]; csp: string[] };

  before(async () => {
    node = await startOneNode('ui-login', {}, { secure: true });
    browser = await launchChromium({ ignoreHTTPSErrors: true });
    page = await browser.context.newPage();
    seen = watch(page);
  });
  after(async () => {
    await browser?.close();
    await node?.stop();
    assert.deepEqual(seen.errors, [], 'no script errors in the page');
    assert.deepEqual(seen.csp, [], 'the dashboard trips no CSP violation');
  });

  it('shows the login form, not the ring, without a token', async () => {
    await page.goto(`${node!.url}/ui`);
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await page.locator('#main').isVisible(), false);
    assert.equal(await page.locator('[data-testid=ring] [data-node]').count(), 0);
  });

  it('refuses a wrong token with a message, and keeps asking', async () => {
    await page.fill('#token', 'dkv1.admin.admin.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'token not accepted' }).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#login-form').isVisible(), true);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('dynakv-token')), null, 'a refused token is forgotten');
  });

  it('draws the ring after the admin token is entered, keeping the token out of URLs and cookies', async () => {
    const token = readFileSync(join(node!.certsDir, 'client.admin.token'), 'utf8').trim();
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
    await page.locator('[data-testid=ring] [data-node="s1"][data-status="up"]').waitFor({ timeout: WAIT_MS });
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#login').isVisible(), false);
    assert.equal(new URL(page.url()).search + new URL(page.url()).hash, '');
    assert.ok(!page.url().includes(token));
    assert.deepEqual(await browser!.context.cookies(), []);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('dynakv-token')), token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
  });

  it('keeps the live stream and lookups working with the token (fetch with Authorization)', async () => {
    await page.fill('#key', 'some/key');
    await page.click('#lookup button[type=submit]');
    await page.locator('#lookup-result [data-replica="s1"]').waitFor({ timeout: WAIT_MS });
    // A reload in the same tab stays signed in: sessionStorage lives as long as the tab.
    await page.reload();
    await page.locator('[data-testid=ring] [data-node="s1"]').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#login').isVisible(), false);
  });
});

describe('stored values cannot run script on an insecure node\'s origin', { timeout: 120_000 }, () => {
  let node: OneNode | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let seen: { errors: string[]; csp: string[] };

  before(async () => {
    node = await startOneNode('ui-xss');
    browser = await launchChromium();
    page = await browser.context.newPage();
    seen = watch(page);
  });
  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  it('opens a stored text/html value with a script as an inert document', async () => {
    const html = [
      '<title>stored</title>',
      '<script>document.title = "ran"; fetch("/cluster/members", { method: "POST", headers: { "content-type": "application/json", "x-dynakv-request": "1" }, body: JSON.stringify({ id: "xss", peer: "127.0.0.1:1" }) })</script>',
      '<img src="/nowhere.png" onerror="document.title = \'ran-onerror\'">',
      '<p id="marker">stored page</p>',
    ].join('');
    const put = await fetch(`${node!.url}/kv/evil.html`, { method: 'PUT', headers: { 'content-type': 'text/html; charset=utf-8' }, body: html });
    assert.equal(put.status, 200);
    await page.goto(`${node!.url}/kv/evil.html`, { waitUntil: 'load' });
    await page.locator('#marker').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.title(), 'stored', 'no script or handler ran');
    assert.ok(seen.csp.length > 0, 'the browser blocked the scripts by CSP');
    const members = (await (await fetch(`${node!.url}/cluster/members`)).json()) as { members: Array<{ id: string }> };
    assert.deepEqual(members.members.map((m) => m.id), ['s1']);
    assert.deepEqual(seen.errors, []);
  });

  it('shows a hostile value in a key lookup as text', async () => {
    seen.csp.length = 0;
    const value = '<img src=x onerror="document.title=\'pwned\'">';
    assert.equal((await fetch(`${node!.url}/kv/hostile`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: value })).status, 200);
    await page.goto(`${node!.url}/ui`);
    await page.locator('[data-testid=ring] [data-node="s1"]').waitFor({ timeout: WAIT_MS });
    await page.fill('#key', 'hostile');
    await page.click('#lookup button[type=submit]');
    const cell = page.locator('#lookup-result [data-replica="s1"] .versions li');
    await cell.waitFor({ timeout: WAIT_MS });
    assert.ok((await cell.textContent())!.includes('<img src=x onerror='), 'the markup shows as text');
    assert.equal(await page.locator('#lookup-result img').count(), 0);
    assert.notEqual(await page.title(), 'pwned');
    assert.equal(await page.locator('#login').isVisible(), false, 'an insecure node asks for no token');
    assert.deepEqual(seen.csp, [], 'the dashboard trips no CSP violation');
    assert.deepEqual(seen.errors, []);
  });
});
