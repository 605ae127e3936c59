// Shows the dashboard in a real browser (headless chromium through playwright-core) against 5
// real, secure node processes (signed in with the admin token): the ring shows the 5 nodes at their MD5 positions and every node's
// activity arrives through the one node serving the page; a SIGKILLed node turns down without
// a reload; a key lookup highlights exactly the key's 3 preference-list nodes and shows its
// versions on the live replicas; removing the dead node redraws the ring with 4 ranges and the
// lookup follows the new preference list. A screenshot of each stage lands in test-output/ui/.
// Every wait is on a condition in the page, none on a timer.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { positionHex, ringPosition, Ring } from '../../src/ring/ring.ts';
import { launchChromium, type Browser } from '../support/browser.ts';
import { LocalCluster } from '../support/local-cluster.ts';

const OUTPUT = resolve(import.meta.dirname, '../../test-output/ui');
/** Failure detection takes ~2-2.5 s and a frame 1 s; a loaded 2-core CI machine needs slack. */
const WAIT_MS = 30_000;
const KEY = 'dashboard/cart';
const VALUE = 'apples and pears';

/** The ring's node ids whose element matches `selector` (within the ring drawing). */
async function ringNodes(page: Page, selector = '[data-node]'): Promise<string[]> {
  return (await page.locator(`[data-testid=ring] ${selector}`).evaluateAll((els) => els.map((e) => e.getAttribute('data-node') ?? ''))).sort();
}

async function waitForCount(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length === n, [selector, count] as const, { timeout: WAIT_MS });
}

describe('dashboard in a browser against 5 real nodes', { timeout: 240_000 }, () => {
  let cluster: LocalCluster | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    cluster = await LocalCluster.start('ui', 5);
    // The nodes are secure: HTTPS from the cluster's own CA, and the page asks for a token.
    browser = await launchChromium({ ignoreHTTPSErrors: true });
    page = await browser.context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    await browser?.close();
    await cluster?.stop();
    assert.deepEqual(pageErrors, [], 'no script errors in the page');
  });

  it('draws the 5 nodes on the ring at their MD5 positions, all up', async () => {
    await page.goto(`${cluster!.node('n1').url}/ui`);
    await page.fill('#token', readFileSync(join(cluster!.certsDir, 'client.admin.token'), 'utf8').trim());
    await page.click('#login-form button[type=submit]');
    await waitForCount(page, '[data-testid=ring] [data-node][data-status="up"]', 5);
    assert.deepEqual(await ringNodes(page), ['n1', 'n2', 'n3', 'n4', 'n5']);
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) {
      assert.equal(await page.locator(`[data-testid=ring] [data-node="${id}"]`).getAttribute('data-position'), positionHex(ringPosition(id)));
    }
    await waitForCount(page, '[data-testid=ring] [data-range]', 5);
    // Every node's own numbers (keys, hints, sync, ops/s, sparkline) arrive through n1.
    await waitForCount(page, '#nodes tr[data-activity="shown"] svg.sparkline', 5);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: WAIT_MS });
    // Hovering a node shows its replica set: itself and its 2 successors.
    await page.hover('[data-testid=ring] [data-node="n1"] circle');
    const expected = [...Ring.of(['n1', 'n2', 'n3', 'n4', 'n5']).homeRanges(3).find((r) => r.node === 'n1')!.replicas].sort();
    await waitForCount(page, '[data-testid=ring] .ring-node.replica', 3);
    assert.deepEqual(await ringNodes(page, '.ring-node.replica'), expected);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(OUTPUT, '1-five-nodes.png') });
  });

  it('turns a SIGKILLed node down without a reload', async () => {
    await cluster!.node('n1').client.put(KEY, VALUE, { contentType: 'text/plain' });
    await page.locator('#nodes tr[data-node="n1"]:not([data-ops-per-sec="0"])[data-activity="shown"]').waitFor({ timeout: WAIT_MS });
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    await cluster!.kill('n5');
    await page.locator('[data-testid=ring] [data-node="n5"][data-status="down"]').waitFor({ timeout: WAIT_MS });
    await page.locator('#nodes tr[data-node="n5"] .status.down').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid=ring] [data-status="up"]')].map((e) => e.getAttribute('data-node')).sort().join(',') === 'n1,n2,n3,n4',
      undefined,
      { timeout: WAIT_MS },
    );
  });

  it('looks up a key: exactly its 3 preference-list nodes light up, with its versions', async () => {
    await page.fill('#key', KEY);
    await page.click('#lookup button[type="submit"]');
    await waitForCount(page, '[data-testid=ring] [data-key-replica]', 3);
    const expected = Ring.of(['n1', 'n2', 'n3', 'n4', 'n5']).preferenceList(KEY, 3);
    assert.deepEqual(await ringNodes(page, '[data-key-replica]'), [...expected].sort());
    await page.locator('[data-testid=ring] [data-key-position]').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('[data-key-position]').getAttribute('data-key-position'), positionHex(ringPosition(KEY)));
    const rows = page.locator('#lookup-result tr[data-replica]');
    await waitForCount(page, '#lookup-result tr[data-replica]', 3);
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-replica'))), expected);
    // The write reached W=2 replicas at least (the lookup refreshes every frame, so wait for it).
    const live = expected.filter((id) => id !== 'n5');
    await page.waitForFunction(
      ([value, least]) => [...document.querySelectorAll('#lookup-result tr[data-replica]')].filter((e) => e.textContent?.includes(JSON.stringify(value))).length >= least,
      [VALUE, Math.min(2, live.length)] as const,
      { timeout: WAIT_MS },
    );
    await page.screenshot({ path: join(OUTPUT, '2-n5-down-key-lookup.png') });
  });

  it('follows a membership change: the removed node greys out and the lookup moves with the ring', async () => {
    const res = await cluster!.fetch(`${cluster!.node('n2').url}/cluster/members/n5`, { method: 'DELETE', headers: { 'x-dynakv-request': '1' } });
    assert.equal(res.status, 200);
    await page.locator('[data-testid=ring] [data-node="n5"][data-status="removed"]').waitFor({ timeout: WAIT_MS });
    await waitForCount(page, '[data-testid=ring] [data-range]', 4);
    const expected = Ring.of(['n1', 'n2', 'n3', 'n4']).preferenceList(KEY, 3).sort();
    await page.waitForFunction(
      (want) => [...document.querySelectorAll('[data-testid=ring] [data-key-replica]')].map((e) => e.getAttribute('data-node')).sort().join(',') === want,
      expected.join(','),
      { timeout: WAIT_MS },
    );
    await page.screenshot({ path: join(OUTPUT, '3-n5-removed.png'), fullPage: true });
  });
});
