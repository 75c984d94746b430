// AggregateService.Live: events streamed by the SDK, windows published to a
// real-time hub room and received by socket.io-client, checked against a
// JavaScript reference computed here on the same events.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createClient, InvalidArgumentError, UnauthenticatedError } from 'heavylift';

import { startTestDaemon } from '../lib/helpers.mjs';

import { assertClose } from '../lib/records.mjs';
import { closeSockets, connectSocket, SANITIZED, useHub } from '../realtime/lib.mjs';

const BASE = 1_700_000_000_000;
const WINDOW_MS = 5_000;
const SLIDE_MS = 1_000;
const LATENESS_MS = 1_000;
const EVENT_COUNT = SANITIZED ? 1_500 : 3_000;

// Events 10 ms apart, each up to 2.5 s earlier than that, so some arrive
// after their window closed. The stream has no gap longer than a window.
function makeEvents() {
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const events = [];
  for (let i = 0; i < EVENT_COUNT; i += 1) {
    events.push({
      time: BASE + i * 10 - Math.floor(random() * 2_500),
      labels: { region: random() < 0.3 ? 'eu' : 'us', user: `u${Math.floor(random() * 30)}` },
      numbers: { latency: Math.round(random() * 50_000) / 100 },
    });
  }
  return events;
}

// Returns the events the lateness rule accepts. A window [end - WINDOW_MS, end)
// closes once an event at or after end + LATENESS_MS arrived, so its later events are late.
function acceptedEvents(events) {
  let firstPaneEnd = Infinity;
  let closedBefore = -Infinity;
  let maxTime = -Infinity;
  const accepted = [];
  for (const event of events) {
    if (event.time < closedBefore) continue;
    accepted.push(event);
    if (closedBefore === -Infinity) firstPaneEnd = Math.min(firstPaneEnd, (Math.floor(event.time / SLIDE_MS) + 1) * SLIDE_MS);
    maxTime = Math.max(maxTime, event.time);
    const lastClosed = Math.floor((maxTime - LATENESS_MS) / SLIDE_MS) * SLIDE_MS;
    if (lastClosed >= firstPaneEnd) closedBefore = Math.max(closedBefore, lastClosed);
  }
  return accepted;
}

function sortedValues(events) {
  return events.map((event) => event.numbers.latency).sort((a, b) => a - b);
}

describe('aggregate: live windows to the real-time hub', () => {
  const hub = useHub();
  after(() => closeSockets());

  test('windows reach the room and equal a JavaScript reference', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('ops-user', ['ops']) });
    assert.deepEqual(await socket.emitWithAck('heavylift:join', 'ops'), { ok: true, room: 'ops' });
    const received = [];
    socket.on('aggregate:window', (window) => received.push(window));

    const events = makeEvents();
    const result = await hub.client.aggregate.live(
      {
        groupBy: ['region'],
        aggregates: [
          { kind: 'count', name: 'count' },
          { kind: 'sum', field: 'latency', name: 'sum' },
          { kind: 'mean', field: 'latency', name: 'mean' },
          { kind: 'min', field: 'latency', name: 'min' },
          { kind: 'max', field: 'latency', name: 'max' },
          { kind: 'stddev', field: 'latency', name: 'stddev' },
          { kind: 'quantiles', field: 'latency', quantiles: [0.5, 0.99], name: 'p' },
          { kind: 'distinctCount', field: 'user', name: 'users' },
          { kind: 'topK', field: 'user', k: 1, name: 'top' },
          { kind: 'histogram', field: 'latency', bounds: [100, 300], name: 'histogram' },
        ],
        windowMs: WINDOW_MS,
        slideMs: SLIDE_MS,
        allowedLatenessMs: LATENESS_MS,
        room: 'ops',
      },
      events,
      { deadlineMs: 120_000 },
    );

    const accepted = acceptedEvents(events);
    assert.equal(result.eventsReceived, events.length);
    assert.equal(result.eventsLate, events.length - accepted.length);
    assert.ok(result.eventsLate > 0, 'the stream has late events');
    assert.equal(result.eventsOverGroupLimit, 0);
    assert.ok(result.memoryBoundBytes > 0);
    // Windows end at every slide from the earliest accepted event's pane to
    // the latest one's plus one window, so each accepted event is in one.
    const firstEnd = (Math.floor(Math.min(...accepted.map((event) => event.time)) / SLIDE_MS) + 1) * SLIDE_MS;
    const lastEnd = Math.floor(Math.max(...accepted.map((event) => event.time)) / SLIDE_MS) * SLIDE_MS + WINDOW_MS;
    assert.equal(result.windowsPublished, (lastEnd - firstEnd) / SLIDE_MS + 1);
    assert.equal(result.windows.length, result.windowsPublished);

    for (const [index, window] of result.windows.entries()) {
      assert.equal(window.end.getTime(), firstEnd + index * SLIDE_MS);
      assert.equal(window.end - window.start, WINDOW_MS);
      const inWindow = accepted.filter((event) => event.time >= window.start.getTime() && event.time < window.end.getTime());
      assert.equal(window.events, inWindow.length, `events of window ${index}`);
      const regions = [...new Set(inWindow.map((event) => event.labels.region))].sort();
      assert.deepEqual(window.groups.map((group) => group.keys[0]), regions);
      for (const group of window.groups) {
        const members = inWindow.filter((event) => event.labels.region === group.keys[0]);
        const values = sortedValues(members);
        const sum = values.reduce((total, value) => total + value, 0);
        const mean = sum / values.length;
        assert.equal(group.count, members.length);
        assert.equal(group.values.count, members.length);
        assertClose(group.values.sum, sum, 1e-9, 'sum');
        assertClose(group.values.mean, mean, 1e-9, 'mean');
        assert.equal(group.values.min, values[0]);
        assert.equal(group.values.max, values.at(-1));
        if (values.length > 1) {
          const variance = values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1);
          assertClose(group.values.stddev, Math.sqrt(variance), 1e-9, 'stddev');
        }
        // The sketch returns the lower closest rank within 1% (relative).
        [0.5, 0.99].forEach((q, i) => {
          const exact = values[Math.floor(q * (values.length - 1))];
          assert.ok(Math.abs(group.values.p[i] - exact) <= 0.0101 * Math.abs(exact), `p${q}: ${group.values.p[i]} vs ${exact}`);
        });
        const users = new Map();
        for (const event of members) users.set(event.labels.user, (users.get(event.labels.user) ?? 0) + 1);
        assert.equal(group.values.users, users.size);
        const [topUser, topCount] = [...users].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
        assert.deepEqual(group.values.top, [{ value: topUser, count: topCount }]);
        const histogram = [0, 0, 0];
        for (const value of values) {
          if (value <= 100) histogram[0] += 1;
          else if (value <= 300) histogram[1] += 1;
          else histogram[2] += 1;
        }
        assert.deepEqual(group.values.histogram, histogram);
      }
    }

    // Every window reached the socket in order, with the same content.
    const deadline = Date.now() + (SANITIZED ? 60_000 : 15_000);
    while (received.length < result.windowsPublished && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(received.length, result.windowsPublished);
    for (const [index, window] of result.windows.entries()) {
      const sent = received[index];
      assert.equal(sent.start, window.start.getTime());
      assert.equal(sent.end, window.end.getTime());
      assert.equal(sent.events, window.events);
      // JSON carries NaN (stddev of one value) as null.
      const asJson = (groups) => JSON.parse(JSON.stringify(groups.map(({ keys, count, values }) => ({ keys, count, values }))));
      assert.deepEqual(sent.groups, asJson(window.groups));
    }
  });

  test('a window and slide that do not divide fail naming the field', async () => {
    await assert.rejects(
      hub.client.aggregate.live({ aggregates: [{ kind: 'count' }], windowMs: 10_000, slideMs: 3_000 }, []),
      (error) => error instanceof InvalidArgumentError && error.protoField === 'spec.slide_ms' && /3000/.test(error.message),
    );
  });

  test('a spec over the memory bound fails naming bound and value', async () => {
    await assert.rejects(
      hub.client.aggregate.live(
        {
          groupBy: ['user'],
          aggregates: [{ kind: 'quantiles', field: 'latency', quantiles: [0.5] }, { kind: 'distinctCount', field: 'user' }],
          windowMs: 600_000,
          slideMs: 1_000,
          maxGroups: 10_000,
        },
        [],
      ),
      (error) =>
        error instanceof InvalidArgumentError &&
        error.protoField === 'spec.max_groups' &&
        /above the bound of 268435456 bytes/.test(error.message),
    );
  });
});

describe('aggregate: live with bearer tokens', () => {
  const TOKEN = 'live-token-0123456789abcdef';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'heavylift-live-'));
  const tokenFile = path.join(dir, 'tokens');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  let daemon;
  before(async () => {
    daemon = await startTestDaemon(['--auth-token-file', tokenFile]);
  });
  after(async () => {
    const exit = await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(exit?.code, 0, daemon?.logs());
  });

  test('a call without the token is rejected, one with it runs', async () => {
    const options = { aggregates: [{ kind: 'count' }], windowMs: 1_000, slideMs: 1_000 };
    const events = [{ time: BASE, labels: {} }];
    const none = createClient({ address: daemon.grpcAddress });
    const allowed = createClient({ address: daemon.grpcAddress, token: TOKEN });
    try {
      await assert.rejects(none.aggregate.live(options, events), UnauthenticatedError);
      const result = await allowed.aggregate.live(options, events);
      assert.equal(result.eventsReceived, 1);
      assert.equal(result.windows.length, 1);
    } finally {
      none.close();
      allowed.close();
    }
  });
});
