// The catalog search in plain JavaScript, as it ran inside the Express route
// before it moved into heavylift. generateCatalog() builds the same products
// as the C++ task (same seed, generator and word lists), so both versions
// rank the same products.

const ADJECTIVES = [
  'classic', 'compact', 'rustic', 'modern', 'vintage', 'sturdy', 'elegant', 'portable',
  'deluxe', 'simple', 'bright', 'quiet', 'heavy', 'light', 'smart', 'sleek',
  'cozy', 'bold', 'slim', 'grand', 'mini', 'royal', 'urban', 'tidy',
];
const MATERIALS = [
  'wooden', 'steel', 'cotton', 'leather', 'glass', 'bamboo', 'ceramic', 'copper',
  'wool', 'linen', 'marble', 'plastic', 'silver', 'oak', 'walnut', 'canvas',
];
const NOUNS = [
  'chair', 'table', 'lamp', 'desk', 'sofa', 'shelf', 'mirror', 'clock',
  'kettle', 'bowl', 'plate', 'mug', 'vase', 'rug', 'pillow', 'blanket',
  'bench', 'stool', 'cabinet', 'drawer', 'basket', 'bottle', 'jar', 'pan',
  'knife', 'spoon', 'towel', 'curtain', 'frame', 'candle', 'speaker', 'backpack',
];
export const CATEGORIES = ['furniture', 'kitchen', 'decor', 'lighting', 'textiles', 'outdoor', 'office', 'bath'];

/** Returns the mulberry32 generator for `seed`: a function giving 32-bit unsigned integers. */
function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Builds `count` products from `seed`. */
export function generateCatalog(count = 1_000_000, seed = 42) {
  const next = mulberry32(seed);
  const products = new Array(count);
  for (let i = 0; i < count; i++) {
    const adjective = ADJECTIVES[next() % ADJECTIVES.length];
    const material = MATERIALS[next() % MATERIALS.length];
    const noun = NOUNS[next() % NOUNS.length];
    const category = CATEGORIES[next() % CATEGORIES.length];
    const priceCents = 100 + (next() % 99900);
    const rating = next() % 51;
    const inStock = next() % 4 !== 0;
    const name = `${adjective} ${material} ${noun}`;
    products[i] = { id: i + 1, name, words: [adjective, material, noun], category, priceCents, rating, inStock };
  }
  return products;
}

function oneEditApart(a, b) {
  if (a.length > b.length) [a, b] = [b, a];
  if (b.length - a.length > 1) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  if (a.length === b.length) return i < a.length && a.slice(i + 1) === b.slice(i + 1);
  return a.slice(i) === b.slice(i + 1);
}

function wordScore(queryWord, word) {
  if (word === queryWord) return 3;
  if (queryWord.length >= 2 && word.startsWith(queryWord)) return 2;
  if (queryWord.length >= 4 && oneEditApart(queryWord, word)) return 1;
  return 0;
}

function better(a, b) {
  if (a.score !== b.score) return a.score > b.score;
  if (a.rating !== b.rating) return a.rating > b.rating;
  return a.id < b.id;
}

/** A bad search parameter, which the Express route reports with status 400. */
export class SearchError extends Error {
  constructor(field, bound, value) {
    super(`${field} must be ${bound}, got ${value}`);
    this.field = field;
    this.bound = bound;
  }
}

/**
 * Ranks `products` for `request` (the fields of catalog.v1.SearchRequest in lowerCamelCase)
 * and returns `{ products, matched }` with the same order and bounds as the C++ task.
 */
export function search(products, request) {
  const query = request.query ?? '';
  if (query.length > 200) throw new SearchError('query', 'at most 200 characters', `${query.length} characters`);
  const words = query.toLowerCase().split(/[^a-z0-9]+/).filter((word) => word.length > 0);
  if (words.length === 0) throw new SearchError('query', 'at least one word', JSON.stringify(query));
  if (words.length > 8) throw new SearchError('query', 'at most 8 words', `${words.length} words`);
  const limit = request.limit || 10;
  if (limit > 100) throw new SearchError('limit', 'in 1..100', limit);
  const minRating = request.minRating ?? 0;
  if (minRating > 50) throw new SearchError('minRating', 'in 0..50', minRating);
  const category = request.category ?? '';
  if (category && !CATEGORIES.includes(category)) throw new SearchError('category', 'a catalog category', category);
  const minPrice = request.minPriceCents ?? 0;
  const maxPrice = request.maxPriceCents || Infinity;

  const best = [];
  let matched = 0;
  for (const product of products) {
    if (category && product.category !== category) continue;
    if (product.priceCents < minPrice || product.priceCents > maxPrice) continue;
    if (product.rating < minRating) continue;
    if (request.inStockOnly && !product.inStock) continue;
    let score = 0;
    for (const queryWord of words) {
      let wordBest = 0;
      for (const word of product.words) wordBest = Math.max(wordBest, wordScore(queryWord, word));
      score += wordBest;
    }
    if (score === 0) continue;
    matched++;
    const candidate = { id: product.id, score, rating: product.rating };
    if (best.length === limit) {
      if (!better(candidate, best[best.length - 1])) continue;
      best.pop();
    }
    // Insertion into the sorted list of the best so far.
    let at = best.length;
    while (at > 0 && better(candidate, best[at - 1])) at--;
    best.splice(at, 0, candidate);
  }
  return {
    products: best.map(({ id, score }) => {
      const { name, category: productCategory, priceCents, rating, inStock } = products[id - 1];
      return { id, name, category: productCategory, priceCents, rating, inStock, score };
    }),
    matched,
  };
}
