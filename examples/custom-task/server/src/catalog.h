// The catalog search of examples/custom-task as a heavylift task. The
// catalog is generated from a seed exactly as catalog.mjs generates it, so
// the JavaScript and C++ versions rank the same products.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "app/config.h"
#include "catalog/v1/catalog.pb.h"
#include "core/task_context.h"
#include "core/task_registry.h"

namespace catalog {

// Words per product name ("adjective material noun").
constexpr size_t kNameWords = 3;

// The products as columns (structure of arrays), so the scan reads only the
// bytes its filters and scores need. Index i is product id i + 1. Names
// are split into lower-case words once, at load, and each word is stored as
// an index into `vocabulary`: a search scores each distinct word once per
// query word, then sums table entries per product.
struct Catalog {
  std::vector<std::string> vocabulary;
  std::vector<std::array<uint16_t, kNameWords>> words;
  std::vector<uint8_t> category;
  std::vector<uint32_t> price_cents;
  std::vector<uint8_t> rating;
  std::vector<uint8_t> in_stock;
  // Display names, read only for the products returned.
  std::vector<std::string> names;

  size_t size() const { return names.size(); }
};

// Builds `count` products from `seed` with the mulberry32 generator.
Catalog generate_catalog(uint32_t count, uint32_t seed);

// Runs one search over `catalog`. Fails with INVALID_ARGUMENT naming the
// field and bound for a bad request, and with the context's error once its
// deadline passes or the caller goes away. Thread-safe: `catalog` is only read.
heavylift::Status search(const Catalog& catalog, const v1::SearchRequest& request,
                         v1::SearchResponse* response, heavylift::TaskContext& context);

// Registers "catalog.search" over a catalog of CATALOG_SIZE products
// (default 1,000,000) generated from CATALOG_SEED (default 42).
heavylift::Status register_tasks(heavylift::TaskRegistry& registry, const heavylift::Config& config);

}  // namespace catalog
