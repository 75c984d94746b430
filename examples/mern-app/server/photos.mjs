// The photo gallery. An upload streams into heavylift's blob root (FileService
// Upload, store: true), and the image tasks then read it by path. The first
// view's thumbnails, the BlurHash and the perceptual hash come back over gRPC
// during the upload request. Larger renditions are BullMQ jobs that heavylift's
// worker runs, so they wait in Redis while heavylift is down.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { Router } from 'express';
import { hammingDistance } from 'heavylift';
import mongoose from 'mongoose';

import { HttpError } from './errors.mjs';
import { streamOneFile } from './multipart.mjs';

/** Thumbnails made over gRPC during the upload request, for the first view. */
const FIRST_VIEW = [
  { format: 'webp', width: 320 },
  { format: 'jpeg', width: 320 },
];
/** Renditions made by BullMQ jobs on heavylift's worker, one job per format. */
const BACKGROUND = [
  { format: 'webp', proto: 'IMAGE_FORMAT_WEBP', widths: [640, 1280] },
  { format: 'jpeg', proto: 'IMAGE_FORMAT_JPEG', widths: [640, 1280] },
];
/** Perceptual hashes at most this many bits apart are reported as near-duplicates. */
export const NEAR_DUPLICATE_BITS = 10;
const JOB_ID = /^photo-([0-9a-f]{24})-(webp|jpeg)-\d+$/;

function publicPhoto(photo) {
  const json = photo.toJSON ? photo.toJSON() : photo;
  const { storedPath: _storedPath, __v: _v, ...rest } = json;
  const renditions = [...(json.renditions ?? [])].sort((a, b) => a.width - b.width || a.format.localeCompare(b.format));
  const jobs = Object.entries(json.jobs ?? {})
    .filter(([, job]) => job?.id)
    .map(([format, job]) => ({ format, id: job.id, state: job.state }));
  return { ...rest, renditions, jobs, id: String(json._id) };
}

// Job events of one photo arrive concurrently, and FerretDB 1.24 applies two
// concurrent updates of one document as read-then-replace, so one can undo
// the other. Updates of a photo therefore run one at a time in this process.
// NOTE: several API processes would need a lock shared through Redis or MongoDB.
const photoLocks = new Map();

function withPhotoLock(photoId, task) {
  const run = (photoLocks.get(photoId) ?? Promise.resolve()).then(task);
  const settled = run.catch(() => {});
  photoLocks.set(photoId, settled);
  settled.then(() => {
    if (photoLocks.get(photoId) === settled) photoLocks.delete(photoId);
  });
  return run;
}

/** Returns the photos router; `start()` begins listening to the job events. */
export function createPhotos({ client, models, config, realtime, record, requireUser, queue, queueEvents, log }) {
  const mediaDir = path.join(config.dataDir, 'media');

  async function saveRendition(photoId, image, via) {
    await mkdir(mediaDir, { recursive: true });
    const name = `${photoId}-${image.width}.${image.format === 'jpeg' ? 'jpg' : image.format}`;
    await writeFile(path.join(mediaDir, name), image.data);
    return { width: image.width, height: image.height, format: image.format, url: `/media/${name}`, via };
  }

  async function enqueueRenditions(photo) {
    const attempt = Date.now();
    const jobs = BACKGROUND.map((spec) => ({ format: spec.format, id: `photo-${photo._id}-${spec.format}-${attempt}`, state: 'waiting' }));
    const update = Object.fromEntries(jobs.map(({ format, id, state }) => [`jobs.${format}`, { id, state }]));
    await withPhotoLock(String(photo._id), () => models.Photo.updateOne({ _id: photo._id }, { $set: update }));
    for (const [index, spec] of BACKGROUND.entries()) {
      // Announced before queue.add, because heavylift may start the job before add() returns.
      realtime.emit('job', { jobId: jobs[index].id, photoId: String(photo._id), filename: photo.filename, format: spec.format, state: 'waiting' });
      await queue.add(
        'image.thumbnail',
        { input: { path: photo.storedPath }, widths: spec.widths, format: spec.proto, quality: 80 },
        {
          jobId: jobs[index].id,
          attempts: 5,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 24 * 3600 },
        },
      );
    }
    return jobs;
  }

  async function onJobCompleted({ jobId, returnvalue }) {
    const match = JOB_ID.exec(jobId);
    if (!match) return;
    const [, photoId, format] = match;
    const result = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue;
    const renditions = [];
    for (const thumbnail of result?.thumbnails ?? []) {
      renditions.push(
        await saveRendition(photoId, { width: thumbnail.width, height: thumbnail.height, format, data: Buffer.from(thumbnail.data, 'base64') }, 'job'),
      );
    }
    await withPhotoLock(photoId, async () => {
      const photo = await models.Photo.findById(photoId);
      if (!photo) return;
      // Renditions of the same size and format replace older ones.
      const urls = new Set(renditions.map((rendition) => rendition.url));
      const kept = photo.renditions.filter((old) => !urls.has(old.url));
      const update = { renditions: [...kept, ...renditions] };
      if (photo.jobs?.[format]?.id === jobId) update[`jobs.${format}.state`] = 'completed';
      await models.Photo.updateOne({ _id: photoId }, { $set: update });
    });
    const photo = await models.Photo.findById(photoId);
    if (!photo) return;
    realtime.emit('job', { jobId, photoId, filename: photo.filename, format, state: 'completed' });
    realtime.emit('photo:updated', publicPhoto(photo));
  }

  async function setJobState(jobId, state, extra = {}) {
    const match = JOB_ID.exec(jobId);
    if (!match) return;
    const [, photoId, format] = match;
    let filename;
    await withPhotoLock(photoId, async () => {
      const photo = await models.Photo.findById(photoId, { jobs: 1, filename: 1 });
      filename = photo?.filename;
      const job = photo?.jobs?.[format];
      // QueueEvents handlers run concurrently, so a late 'active' must not undo 'completed'.
      if (job?.id !== jobId || job.state === 'completed') return;
      await models.Photo.updateOne({ _id: photoId }, { $set: { [`jobs.${format}.state`]: state } });
    });
    realtime.emit('job', { jobId, photoId, filename, format, state, ...extra });
  }

  function start() {
    const guard = (handler) => (event) => handler(event).catch((error) => log(`job event: ${error.stack ?? error}`));
    queueEvents.on('completed', guard(onJobCompleted));
    queueEvents.on('active', guard(({ jobId }) => setJobState(jobId, 'active')));
    queueEvents.on('progress', guard(({ jobId, data }) => setJobState(jobId, 'active', { progress: data })));
    queueEvents.on('failed', guard(({ jobId, failedReason }) => setJobState(jobId, 'failed', { error: failedReason })));
  }

  const router = Router();

  router.get('/', requireUser, async (_request, response) => {
    const photos = await models.Photo.find().sort({ createdAt: -1 }).limit(200);
    response.json({ photos: photos.map(publicPhoto) });
  });

  router.get('/:id', requireUser, async (request, response) => {
    if (!mongoose.isValidObjectId(request.params.id)) throw new HttpError(404, 'No such photo.');
    const photo = await models.Photo.findById(request.params.id);
    if (!photo) throw new HttpError(404, 'No such photo.');
    response.json({ photo: publicPhoto(photo) });
  });

  router.post('/', requireUser, async (request, response) => {
    const user = request.user;
    realtime.emit('activity', { type: 'upload:started', user: user.name, at: new Date() });
    const stored = await streamOneFile(request, {
      field: 'photo',
      maxBytes: config.maxUploadBytes,
      upload: (stream, info) => client.files.uploadMultipartFile(stream, info, { store: true, digests: ['sha256'] }),
    });
    if (!stored.contentType.startsWith('image/')) {
      throw new HttpError(415, `The file is not an image: heavylift sniffed ${stored.contentType}.`, { contentType: stored.contentType });
    }
    const input = { path: stored.storedPath };
    const [analysis, firstView] = await Promise.all([
      client.image.analyze({ input }),
      client.image.transform({ input, outputs: FIRST_VIEW.map(({ format, width }) => ({ format, quality: 80, resize: { width } })) }),
    ]);

    const others = await models.Photo.find({ phash: { $exists: true } }, { phash: 1, filename: 1 });
    const nearDuplicates = others
      .map((other) => ({ photo: other._id, filename: other.filename, distance: hammingDistance(analysis.phash, other.phash) }))
      .filter((match) => match.distance <= NEAR_DUPLICATE_BITS)
      .sort((a, b) => a.distance - b.distance);

    // The thumbnails are auto-oriented, and orientations 5 to 8 swap the stored width and height.
    const { width, height, orientation } = firstView.source;
    const upright = orientation >= 5 ? { width: height, height: width } : { width, height };
    const photo = new models.Photo({
      owner: user.id,
      ownerName: user.name,
      filename: stored.filename ?? 'photo',
      bytes: stored.bytes,
      sha256: stored.digests.sha256,
      storedPath: stored.storedPath,
      width: upright.width,
      height: upright.height,
      blurhash: analysis.blurhash,
      phash: analysis.phash,
      dominant: `rgb(${analysis.dominant.r}, ${analysis.dominant.g}, ${analysis.dominant.b})`,
      nearDuplicates,
    });
    const renditions = [];
    for (const output of firstView.outputs) renditions.push(await saveRendition(String(photo._id), output, 'grpc'));
    photo.renditions = renditions;
    await photo.save();
    await record({ _id: user.id, name: user.name }, 'upload', stored.bytes);
    await enqueueRenditions(photo);

    const answer = publicPhoto(await models.Photo.findById(photo._id));
    realtime.emit('photo:new', answer);
    realtime.emit('activity', { type: 'upload', user: user.name, filename: answer.filename, bytes: stored.bytes, at: new Date() });
    response.status(201).json({ photo: answer });
  });

  // Queues the background renditions again. Needs only Redis, so it works
  // while heavylift is down: the jobs wait and run once it is back.
  router.post('/:id/renditions', requireUser, async (request, response) => {
    if (!mongoose.isValidObjectId(request.params.id)) throw new HttpError(404, 'No such photo.');
    const photo = await models.Photo.findById(request.params.id);
    if (!photo) throw new HttpError(404, 'No such photo.');
    const jobs = await enqueueRenditions(photo);
    response.status(202).json({ jobs });
  });

  return { router, start, mediaDir };
}
