// A real browser: headless Chromium loads a page served by this test, which
// connects to the hub with the socket.io-client browser bundle, joins a room
// and shows what the Node app emits through gRPC.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { useHub } from './lib.mjs';

// The package's exports map hides dist/, so the bundle is read by its path.
const CLIENT_BUNDLE = readFileSync(new URL('../node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url));

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>heavylift news</title><script src="/socket.io.min.js"></script></head>
<body>
<p id="status">connecting</p>
<ul id="headlines"></ul>
<script>
  const params = new URLSearchParams(location.search);
  const socket = io(params.get('hub'), { transports: ['websocket'], auth: { token: params.get('token') } });
  const status = document.getElementById('status');
  socket.on('connect', async () => {
    const answer = await socket.emitWithAck('heavylift:join', 'news');
    status.textContent = answer.ok ? 'joined' : 'refused: ' + answer.error;
  });
  socket.on('connect_error', (error) => { status.textContent = 'error: ' + error.message; });
  socket.on('headline', (headline) => {
    const item = document.createElement('li');
    item.textContent = headline.title;
    document.getElementById('headlines').append(item);
  });
</script>
</body>
</html>`;

describe('realtime hub in a browser', () => {
  const page = { server: undefined, origin: undefined };

  before(async () => {
    page.server = createServer((request, response) => {
      if (request.url === '/socket.io.min.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(CLIENT_BUNDLE);
      } else if (request.url.startsWith('/news.html')) {
        response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise((resolve) => page.server.listen(0, '127.0.0.1', resolve));
    page.origin = `http://127.0.0.1:${page.server.address().port}`;
  });

  // Only the test page's origin may connect.
  const hub = useHub(() => ['--realtime-allowed-origins', page.origin]);

  after(() => page.server?.close());

  test('page shows message emitted by Node', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const tab = await browser.newPage();
      const query = new URLSearchParams({ hub: hub.url, token: hub.token('reader', ['news']) });
      await tab.goto(`${page.origin}/news.html?${query}`);
      await tab.waitForFunction(() => document.getElementById('status').textContent === 'joined', null, { timeout: 15_000 });

      const members = await hub.client.realtime.members({ room: 'news' });
      assert.equal(members.length, 1);
      assert.equal(members[0].userId, 'reader');

      assert.equal(await hub.client.realtime.emit({ rooms: ['news'], event: 'headline', args: [{ title: 'Hub ships' }] }), 1);
      await tab.waitForFunction(() => document.querySelector('#headlines li')?.textContent === 'Hub ships', null, {
        timeout: 10_000,
      });
    } finally {
      await browser.close();
    }
  });
});
