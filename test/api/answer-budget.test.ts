// Shows the exact rules of the node-wide answer budget (src/api/answer-budget.ts), with fake
// responses and a hand-driven clock: an answer's bytes count until it is sent ('finish', then
// 'close', which a real node:http server is shown to emit for every answer) or its
// connection closes; one answer alone always fits; at the limit, answers that waited at least
// the stall time are closed oldest first to make room, and if that is not enough the new answer
// is refused; held bytes therefore never exceed the budget plus one answer.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Agent, createServer, get, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { AnswerBudget } from '../../src/api/answer-budget.ts';

class FakeResponse extends EventEmitter {
  destroyed = false;
  /** All of it handed to the kernel: node:http emits 'finish', then 'close'. */
  send(): void {
    this.emit('finish');
    this.emit('close');
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

function setup(bytesMax: number) {
  let now = 0;
  const warnings: string[] = [];
  const budget = new AnswerBudget(bytesMax, { warn: (_fields, msg) => warnings.push(msg) }, 1_000, () => now);
  const answer = () => new FakeResponse();
  return { budget, answer, warnings, advance: (ms: number) => (now += ms), hold: (r: FakeResponse, bytes: number) => budget.hold(r as unknown as ServerResponse, bytes) };
}

describe('AnswerBudget', () => {
  it('counts an answer until it is sent or its connection closes', () => {
    const { budget, answer, hold } = setup(100);
    const a = answer();
    const b = answer();
    assert.equal(hold(a, 60), true);
    assert.equal(hold(b, 40), true);
    assert.equal(budget.stats.heldBytes, 100);
    a.send();
    assert.equal(budget.stats.heldBytes, 40);
    b.emit('close');
    assert.equal(budget.stats.heldBytes, 0);
  });

  it('holds nothing for an answer whose connection is already gone (no close would ever release it)', () => {
    const { budget, answer, hold } = setup(100);
    for (let i = 0; i < 1_000; i++) {
      const gone = answer();
      gone.destroy();
      assert.equal(hold(gone, 50), true);
    }
    assert.deepEqual({ bytes: budget.stats.heldBytes, answers: budget.stats.heldAnswers }, { bytes: 0, answers: 0 });
  });

  it('always lets one answer through alone, even one larger than the budget', () => {
    const { budget, answer, hold } = setup(100);
    assert.equal(hold(answer(), 500), true);
    assert.equal(budget.stats.heldBytes, 500);
  });

  it('refuses a new answer that does not fit while the held ones are fresh', () => {
    const { budget, answer, hold, advance, warnings } = setup(100);
    const a = answer();
    assert.equal(hold(a, 80), true);
    advance(999);
    assert.equal(hold(answer(), 30), false);
    assert.equal(a.destroyed, false);
    assert.equal(budget.stats.heldBytes, 80);
    assert.equal(budget.stats.refused, 1);
    assert.equal(hold(answer(), 20), true, 'one that fits is taken');
    assert.match(warnings[0]!, /refused/);
  });

  it('closes stalled answers, oldest first and only as many as needed, to make room', () => {
    const { budget, answer, hold, advance } = setup(100);
    const oldest = answer();
    const older = answer();
    const fresh = answer();
    assert.equal(hold(oldest, 30), true);
    advance(10);
    assert.equal(hold(older, 30), true);
    advance(1_500);
    assert.equal(hold(fresh, 40), true);
    // 100 held; 50 more need two stalled answers closed (the fresh one is not stalled).
    assert.equal(hold(answer(), 50), true);
    assert.deepEqual([oldest.destroyed, older.destroyed, fresh.destroyed], [true, true, false]);
    assert.equal(budget.stats.heldBytes, 90);
    assert.equal(budget.stats.closedStalled, 2);
  });

  it('never holds more than the budget plus one answer, whatever the sequence', () => {
    const { budget, answer, hold, advance } = setup(1_000);
    const open: FakeResponse[] = [];
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    let peak = 0;
    for (let i = 0; i < 5_000; i++) {
      advance(next() % 300);
      const r = answer();
      if (hold(r, 1 + (next() % 400))) open.push(r);
      if (next() % 3 === 0 && open.length > 0) open.splice(next() % open.length, 1)[0]!.send();
      peak = Math.max(peak, budget.stats.heldBytes);
    }
    assert.ok(peak <= 1_000 + 400, `peak ${peak}`);
  });

  it('releases every answer of a real node:http server, keep-alive connections included', async () => {
    const budget = new AnswerBudget(1_000_000, { warn: () => {} });
    const server = createServer((_req, res) => {
      const body = Buffer.alloc(1_000, 0x61);
      assert.equal(budget.hold(res, body.length), true);
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    try {
      const port = (server.address() as AddressInfo).port;
      const fetchOne = () => new Promise<number>((resolve, reject) => get({ host: '127.0.0.1', port, agent }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve(bytes));
      }).on('error', reject));
      const sizes = await Promise.all(Array.from({ length: 50 }, fetchOne));
      assert.deepEqual(new Set(sizes), new Set([1_000]));
      // 'close' follows 'finish' on the next tick.
      for (let i = 0; i < 100 && budget.stats.heldAnswers > 0; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual({ bytes: budget.stats.heldBytes, answers: budget.stats.heldAnswers }, { bytes: 0, answers: 0 });
    } finally {
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('releases a pipelined answer whose connection closes while it waits behind an earlier one', async () => {
    const budget = new AnswerBudget(1_000_000, { warn: () => {} });
    let queued = 0;
    const server = createServer((req, res) => {
      if (req.url === '/slow') {
        setTimeout(() => res.end('slow'), 300);
        return;
      }
      // Answered at once, but queued behind /slow on its connection: it has no socket yet.
      if (res.socket === null) queued += 1;
      const body = Buffer.alloc(100_000, 0x62);
      assert.equal(budget.hold(res, body.length), true);
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const clients = Array.from({ length: 5 }, () => connect(port, '127.0.0.1'));
      await Promise.all(clients.map((c) => new Promise((resolve) => c.once('connect', resolve))));
      for (const c of clients) c.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      for (let i = 0; i < 200 && budget.stats.heldAnswers < 5; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(queued, 5, 'each /big answer waited behind its /slow one');
      assert.equal(budget.stats.heldAnswers, 5);
      for (const c of clients) c.destroy();
      for (let i = 0; i < 200 && budget.stats.heldAnswers > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.deepEqual({ bytes: budget.stats.heldBytes, answers: budget.stats.heldAnswers }, { bytes: 0, answers: 0 });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
