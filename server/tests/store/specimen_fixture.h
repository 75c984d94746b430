// The Specimen model of the repository's schema and a valid Specimen
// document, shared by the BSON decoder tests.
#pragma once

#include <bson/bson.h>
#include <gtest/gtest.h>

#include "store/schema.h"

namespace heavylift {

// The generated descriptor of the repository's record models.
inline const Schema& repository_schema() {
  static const Schema schema = [] {
    auto loaded = load_schema_file(HEAVYLIFT_SOURCE_DIR "/../schema/gen/schema.json");
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return loaded.ok() ? loaded.value() : Schema{};
  }();
  return schema;
}

inline const ModelSchema& specimen() { return *repository_schema().model("Specimen"); }

// A valid Specimen with the required fields and a fixed _id.
inline bson_t* base_specimen() {
  bson_t* document = bson_new();
  bson_oid_t id;
  bson_oid_init_from_string(&id, "65f0a1b2c3d4e5f601234567");
  BSON_APPEND_OID(document, "_id", &id);
  BSON_APPEND_UTF8(document, "label", "plain one");
  BSON_APPEND_UTF8(document, "kind", "plain");
  return document;
}

}  // namespace heavylift
