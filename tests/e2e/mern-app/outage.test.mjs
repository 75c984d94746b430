// heavylift stopped while the app runs: the routes that need it answer 503
// with a clear message, reads served from MongoDB keep working, and
// rendition jobs queued meanwhile wait in Redis. Restarted on the same
// ports, heavylift takes the waiting jobs and the routes serve again.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { io } from 'socket.io-client';

import { PHOTOS } from '../lib/helpers.mjs';
import { call, eventually, fileForm, signUp, startStack } from './lib.mjs';

describe('mern-app while heavylift is down', () => {
  let stack;
  let session;
  let photoId;
  let socket;
  const live = { connects: 0, newPhotos: [] };

  before(async () => {
    stack = await startStack();
    session = await signUp(stack, 'dana');
    const answer = await call(stack, '/photos', { method: 'POST', token: session.token, form: fileForm('photo', await readFile(PHOTOS.aqua), 'Aqua.jpg') });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    photoId = answer.body.photo.id;
    // A client like the browser's: it reconnects by itself and joins the room on every connect.
    socket = io(stack.config.realtimeUrl, { transports: ['websocket'], auth: { token: session.token }, reconnectionDelayMax: 1000 });
    socket.on('connect', async () => {
      const joined = await socket.emitWithAck('heavylift:join', 'activity');
      if (joined.ok) live.connects += 1;
    });
    socket.on('photo:new', (photo) => live.newPhotos.push(photo.filename));
    await eventually(() => live.connects === 1, 'the live connection');
    await eventually(async () => (await call(stack, `/photos/${photoId}`, { token: session.token })).body.photo.renditions.length === 6, 'the first renditions');
  });
  after(async () => {
    socket?.close();
    await stack?.close();
  });

  test('heavylift stopped', async () => {
    await stack.stopHeavylift();

    const upload = await call(stack, '/photos', { method: 'POST', token: session.token, form: fileForm('photo', await readFile(PHOTOS.dune), 'Dune.jpg') });
    assert.equal(upload.status, 503, JSON.stringify(upload.body));
    assert.equal(upload.body.code, 'HEAVYLIFT_UNAVAILABLE');
    assert.match(upload.body.error, /^heavylift is not reachable/);
    assert.equal(upload.headers.get('retry-after'), '5');

    for (const [route, options] of [
      ['/auth/login', { method: 'POST', json: { name: 'dana', password: 'correct horse battery' } }],
      ['/stats', { token: session.token }],
      ['/csv', { method: 'POST', token: session.token, form: fileForm('file', Buffer.from('a,b\n1,2\n'), 'a.csv') }],
    ]) {
      const answer = await call(stack, route, options);
      assert.equal(answer.status, 503, `${route}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.code, 'HEAVYLIFT_UNAVAILABLE', route);
    }

    // A session verified before the outage still reads the gallery from MongoDB.
    const list = await call(stack, '/photos', { token: session.token });
    assert.equal(list.status, 200);
    assert.equal(list.body.photos.length, 1);
    const health = await call(stack, '/health');
    assert.match(String(health.body.heavylift), /^unreachable/);

    const queued = await call(stack, `/photos/${photoId}/renditions`, { method: 'POST', token: session.token });
    assert.equal(queued.status, 202);
    const jobIds = queued.body.jobs.map((job) => job.id);
    const counts = await stack.app.queue.getJobCounts('waiting');
    assert.equal(counts.waiting, 2);
    for (const id of jobIds) assert.equal(await (await stack.app.queue.getJob(id)).getState(), 'waiting');
    stack.queuedJobIds = jobIds;
  });

  test('heavylift restarted', async () => {
    await stack.startHeavylift();
    const photo = await eventually(async () => {
      const { body } = await call(stack, `/photos/${photoId}`, { token: session.token });
      return body.photo.jobs.every((job) => stack.queuedJobIds.includes(job.id) && job.state === 'completed') && body.photo;
    }, 'the jobs queued during the outage');
    assert.equal(photo.renditions.length, 6, 'new renditions replace those of the same size and format');
    for (const id of stack.queuedJobIds) assert.equal(await (await stack.app.queue.getJob(id)).getState(), 'completed');

    // The live client reconnects to the restarted hub by itself.
    await eventually(() => live.connects === 2, 'the reconnection to the restarted hub');
    const upload = await eventually(async () => {
      const answer = await call(stack, '/photos', { method: 'POST', token: session.token, form: fileForm('photo', await readFile(PHOTOS.dune), 'Dune.jpg') });
      return answer.status === 503 ? false : answer;
    }, 'an upload after the restart');
    assert.equal(upload.status, 201, JSON.stringify(upload.body));
    await eventually(() => live.newPhotos.includes('Dune.jpg'), 'the live photo:new after the restart');
    const stats = await call(stack, '/stats', { token: session.token });
    assert.equal(stats.status, 200);
    assert.equal(stats.body.uploads, 2);
    // Live updates emitted during the outage were dropped, and logged once.
    assert.match(stack.logLines[0] ?? '', /^realtime emit \S+ failed, dropping live updates until the hub is back/);
    assert.match(stack.logLines[1] ?? '', /^realtime emit resumed after \d+ failed emits$/);
    assert.equal(stack.logLines.length, 2, stack.logLines.join('\n'));
  });
});
