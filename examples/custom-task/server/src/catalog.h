// The catalog search of examples/custom-task as a heavylift task. The
// catalog is generated from a seed exactly as catalog.mjs generates it, so
// the JavaScript and C++ versions rank the same products.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/config.h"
#include "catalog/v1/catalog.pb.h"
#include "core/task_context.h"
#include "core/task_registry.h"

namespace catalog {

struct Product {
  uint32_t id;
  std::string name;
  // Indexes into the word lists: adjective, material, noun.
  uint8_t words[3];
  uint8_t category;
  uint32_t price_cents;
  uint32_t rating;
  bool in_stock;
};

// Builds `count` products from `seed` with the mulberry32 generator.
std::vector<Product> generate_catalog(uint32_t count, uint32_t seed);

// Runs one search over `products`. Fails with INVALID_ARGUMENT naming the
// field and bound for a bad request, and with the context's error once its
// deadline passes or the caller goes away. Thread-safe: `products` is only read.
heavylift::Status search(const std::vector<Product>& products, const v1::SearchRequest& request,
                         v1::SearchResponse* response, heavylift::TaskContext& context);

// Registers "catalog.search" over a catalog of CATALOG_SIZE products
// (default 1,000,000) generated from CATALOG_SEED (default 42).
heavylift::Status register_tasks(heavylift::TaskRegistry& registry, const heavylift::Config& config);

}  // namespace catalog
