// CSV import: the file streams through heavylift's FileService, which sniffs
// and profiles it in one pass (column types, nulls, min/max, mean, distinct
// estimates, top values, bad rows). Node never parses the CSV.
import { Router } from 'express';

import { HttpError } from './errors.mjs';
import { streamOneFile } from './multipart.mjs';

/** Returns the CSV router. */
export function createCsv({ client, config, realtime, record, requireUser }) {
  const router = Router();
  router.post('/', requireUser, async (request, response) => {
    const result = await streamOneFile(request, {
      field: 'file',
      maxBytes: config.maxCsvBytes,
      upload: (stream, info) => client.files.uploadMultipartFile(stream, info, { digests: ['sha256'], profileCsv: true }),
    });
    if (result.contentType !== 'text/csv') {
      throw new HttpError(415, `The file is not CSV: heavylift sniffed ${result.contentType}.`, { contentType: result.contentType });
    }
    await record({ _id: request.user.id, name: request.user.name }, 'csv', result.bytes);
    realtime.emit('activity', { type: 'csv', user: request.user.name, filename: result.filename, bytes: result.bytes, at: new Date() });
    response.json({ filename: result.filename, bytes: result.bytes, sha256: result.digests.sha256, profile: result.profile });
  });
  return { router };
}
