// The reference MERN app in headless Chromium: sign up and log in through the
// page, upload a real photo, see its thumbnail over its BlurHash, see it
// arrive live in a second browser (the hub's WebSocket) with the renditions
// the BullMQ jobs add, and read the dashboard as it refreshes. Screenshots
// go to build/test-artifacts/mern-app/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

import { PHOTOS } from '../lib/helpers.mjs';
import { APP_DIR, ARTIFACTS_DIR, WAIT_MS, call, fileForm, startStack } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('mern-app in a browser', () => {
  let stack;
  let browser;
  const pages = {};

  before(async () => {
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    // The front end is built from the sources under test into the stack's own directory.
    const webDir = path.join(ARTIFACTS_DIR, 'web');
    await promisify(execFile)(process.execPath, [path.join(APP_DIR, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--outDir', webDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: APP_DIR });
    stack = await startStack({ env: { WEB_DIR: webDir } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function openAs(name, mode) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(stack.url);
    await page.fill('input[name=name]', name);
    await page.fill('input[name=password]', 'correct horse battery');
    await page.click(mode === 'signup' ? '.login button[type=button]' : '.login button[type=submit]');
    await page.waitForSelector('[data-testid=live-status]:text("live")');
    return page;
  }

  test('sign-up and log-in pages', async () => {
    pages.erin = await openAs('erin', 'signup');
    await pages.erin.click('header button');
    await pages.erin.fill('input[name=name]', 'erin');
    await pages.erin.fill('input[name=password]', 'not the password');
    await pages.erin.click('button[type=submit]');
    assert.equal(await pages.erin.textContent('[role=alert]'), 'Wrong name or password.');
    await pages.erin.fill('input[name=password]', 'correct horse battery');
    await pages.erin.click('button[type=submit]');
    await pages.erin.waitForSelector('[data-testid=live-status]:text("live")');
    assert.equal(await pages.erin.textContent('header .user'), 'erin');
  });

  test('upload seen live elsewhere', async () => {
    pages.frank = await openAs('frank', 'signup');
    const { erin, frank } = pages;

    await erin.setInputFiles('[data-testid=photo-input]', PHOTOS.dune);
    await erin.click('.upload button');
    await erin.waitForSelector('[data-testid=upload-message]:text("Uploaded Dune.jpg")');
    const placeholder = await erin.getAttribute('[data-testid=photo] [data-testid=blurhash]', 'src');
    assert.match(placeholder, /^data:image\/png;base64,/);
    await erin.waitForFunction(() => document.querySelector('[data-testid=photo] [data-testid=thumbnail]')?.naturalWidth > 0);

    // frank's page did not reload: the photo and the activity came over the hub.
    await frank.waitForSelector('[data-testid=photo] figcaption:has-text("Dune.jpg by erin")');
    await frank.waitForSelector('[data-testid=activity-feed] li:has-text("erin uploaded Dune.jpg")');
    // The renditions made by the BullMQ jobs arrive as photo:updated.
    await frank.waitForSelector('[data-testid=renditions]:has-text("webp 1280")');
    await frank.waitForSelector('[data-testid=renditions]:has-text("jpeg 1280")');
    await frank.waitForFunction(() => document.querySelector('[data-testid=photo] [data-testid=thumbnail]')?.naturalWidth > 0);
    await erin.screenshot({ path: path.join(ARTIFACTS_DIR, 'gallery-uploader.png') });
    await frank.screenshot({ path: path.join(ARTIFACTS_DIR, 'gallery-live.png') });
  });

  test('dashboard refreshes live', async () => {
    const { erin, frank } = pages;
    await erin.click('nav a[href="#dashboard"]');
    await erin.waitForSelector('[data-testid=stat-uploads]:text("1")');
    assert.equal(await erin.textContent('[data-testid=stat-uploaders]'), '1');
    const size = (await readFile(PHOTOS.dune)).length;
    assert.equal(await erin.textContent('[data-testid=stat-p95]'), `${(size / 1024).toFixed(0)} KiB`);
    assert.match(await erin.textContent('[data-testid=chart-top]'), /erin1/);

    // frank uploads through the API with his session; erin's dashboard follows.
    const token = await frank.evaluate(() => JSON.parse(localStorage.getItem('heavylift-demo-token')).token);
    const answer = await call(stack, '/photos', { method: 'POST', token, form: fileForm('photo', await readFile(PHOTOS.aqua), 'Aqua.jpg') });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    await erin.waitForSelector('[data-testid=stat-uploads]:text("2")');
    await erin.waitForSelector('[data-testid=stat-uploaders]:text("2")');
    await erin.waitForSelector('[data-testid=chart-top]:has-text("frank")');
    await erin.screenshot({ path: path.join(ARTIFACTS_DIR, 'dashboard.png') });
  });

  test('CSV import page', async () => {
    const { erin } = pages;
    await erin.click('nav a[href="#csv"]');
    await erin.setInputFiles('[data-testid=csv-input]', {
      name: 'visits.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('city,visitors\nLyon,120\nOslo,98\nOslo,77\n'),
    });
    await erin.click('.upload button');
    await erin.waitForSelector('[data-testid=csv-profile]');
    assert.match(await erin.textContent('[data-testid=csv-profile] p'), /visits\.csv: 3 rows, 2 columns, 0 bad rows/);
    assert.match(await erin.textContent('[data-testid=csv-profile] tbody'), /visitorsinteger0/);
    await erin.screenshot({ path: path.join(ARTIFACTS_DIR, 'csv-profile.png') });
  });
});
