// The Express app of the example: one catalog search, served two ways.
//   GET /search/js?q=oak+desk&...         runs search() from js/catalog.mjs in this process
//   GET /search/heavylift?q=oak+desk&...  calls the catalog.search task in a heavylift daemon
// Query parameters: q, category, minPrice and maxPrice (cents), minRating (0..50),
// inStock (1 for in-stock only), limit (1..100). Both return { products, matched }, or 400
// with { error, field, bound } for a bad parameter.
//
// Run: npm run gen && HEAVYLIFT_ADDRESS=127.0.0.1:50051 node app.mjs
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import express from 'express';
import { createClient, InvalidArgumentError } from 'heavylift';

import { generateCatalog, search, SearchError } from './js/catalog.mjs';

const GENERATED = new URL('./gen/heavylift-tasks.js', import.meta.url);

/**
 * Loads the message types of catalog.search that `npm run gen` generates from
 * server/proto/catalog/v1/catalog.proto (heavylift-gen --task).
 */
export async function loadCatalogTypes() {
  if (!existsSync(fileURLToPath(GENERATED))) {
    throw new Error(`${fileURLToPath(GENERATED)} is missing; run \`npm run gen\` in examples/custom-task first`);
  }
  const { taskTypes } = await import(GENERATED.href);
  const { requestType, responseType } = taskTypes['catalog.search'];
  return { requestType, responseType };
}

/** Turns the query string into the fields of catalog.v1.SearchRequest. */
function searchRequest(query) {
  const number = (value) => (value === undefined ? undefined : Number(value));
  return {
    query: String(query.q ?? ''),
    category: String(query.category ?? ''),
    minPriceCents: number(query.minPrice),
    maxPriceCents: number(query.maxPrice),
    minRating: number(query.minRating),
    inStockOnly: query.inStock === '1',
    limit: number(query.limit),
  };
}

/**
 * Builds the app. `products` (from generateCatalog) serves /search/js; `client` and `types`
 * (a heavylift client and loadCatalogTypes()) serve /search/heavylift, each call with a deadline
 * of `deadlineMs`. Either may be left out.
 */
export function createApp({ products, client, types, deadlineMs = 5_000 }) {
  const app = express();

  // Before: the ranking runs on the event loop, so every other request waits for it.
  app.get('/search/js', (req, res) => {
    try {
      res.json(search(products, searchRequest(req.query)));
    } catch (error) {
      if (!(error instanceof SearchError)) throw error;
      res.status(400).json({ error: error.message, field: error.field, bound: error.bound });
    }
  });

  // After: the same search runs in heavylift; the event loop only awaits the response.
  app.get('/search/heavylift', async (req, res, next) => {
    try {
      res.json(await client.task('catalog.search', searchRequest(req.query), { ...types, deadlineMs }));
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) return next(error);
      res.status(400).json({ error: error.message, field: error.field, bound: error.bound });
    }
  });

  return app;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const products = generateCatalog(Number(process.env.CATALOG_SIZE ?? 1_000_000), Number(process.env.CATALOG_SEED ?? 42));
  const client = createClient({ address: process.env.HEAVYLIFT_ADDRESS ?? '127.0.0.1:50051' });
  const app = createApp({ products, client, types: await loadCatalogTypes() });
  const port = Number(process.env.PORT ?? 3000);
  app.listen(port, '127.0.0.1', () => console.log(`catalog example listening on http://127.0.0.1:${port}`));
}
