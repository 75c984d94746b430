// Streams the one file of a multipart request to heavylift with busboy and
// the SDK's uploadMultipartFile, so Node buffers a few chunks at a time, never
// the whole file. A file over `maxBytes` fails the upload part-way, so heavylift
// stores nothing, and the request fails with 413.
import { Transform } from 'node:stream';

import busboy from 'busboy';

import { HttpError } from './errors.mjs';

/** Counts bytes and fails the stream once more than `maxBytes` passed. */
function byteLimit(maxBytes, state) {
  return new Transform({
    transform(chunk, _encoding, callback) {
      state.bytes += chunk.length;
      if (state.bytes > maxBytes) {
        state.tooLarge = true;
        callback(new HttpError(413, `The file is larger than the limit of ${maxBytes} bytes.`, { limit: maxBytes }));
        return;
      }
      callback(null, chunk);
    },
  });
}

/**
 * Reads `request` as multipart/form-data and streams the file in `field`
 * through `upload(stream, info)` (which calls client.files.uploadMultipartFile).
 * Resolves with what `upload` resolved with.
 */
export function streamOneFile(request, { field, maxBytes, upload }) {
  return new Promise((resolve, reject) => {
    let parser;
    try {
      parser = busboy({ headers: request.headers, limits: { files: 1, fields: 10 } });
    } catch {
      reject(new HttpError(400, 'Send the file as multipart/form-data.'));
      return;
    }
    let pending;
    parser.on('file', (name, file, info) => {
      if (name !== field || pending) {
        file.resume();
        return;
      }
      const state = { bytes: 0, tooLarge: false };
      const limited = byteLimit(maxBytes, state);
      limited.on('error', () => file.unpipe(limited).resume());
      file.pipe(limited);
      pending = Promise.resolve().then(() => upload(limited, info)).catch((error) => {
        // Busboy finishes the request only once every file stream is read to its end.
        file.unpipe(limited).resume();
        throw state.tooLarge ? new HttpError(413, `The file is larger than the limit of ${maxBytes} bytes.`, { limit: maxBytes }) : error;
      });
      // The outcome is taken once busboy closes; until then a rejection is not unhandled.
      pending.catch(() => {});
    });
    parser.on('error', (error) => reject(new HttpError(400, `Malformed multipart body: ${error.message}`)));
    parser.on('close', () => {
      if (!pending) {
        reject(new HttpError(400, `The form has no file field named ${field}.`, { field }));
        return;
      }
      pending.then(resolve, reject);
    });
    request.pipe(parser);
  });
}
