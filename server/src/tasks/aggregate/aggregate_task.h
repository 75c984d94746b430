// The aggregation tasks: "aggregate.run" groups and aggregates records of a
// schema model read from MongoDB, PostgreSQL or inline BSON documents, and
// "aggregate.decode" returns records decoded with the schema as canonical
// Extended JSON. Both load the schema once, at registration.
#pragma once

#include <memory>
#include <string>

#include "core/metrics.h"
#include "core/task_context.h"
#include "core/task_registry.h"
#include "heavylift/v1/aggregate.pb.h"
#include "store/schema.h"
#include "tasks/aggregate/aggregator.h"

namespace heavylift {

struct AggregateSettings {
  // Path of schema/gen/schema.json. Empty: the tasks fail with
  // FAILED_PRECONDITION.
  std::string schema_file;
  AggregateLimits limits;
};

// Counters the tasks update. Owned by the Metrics registry.
struct AggregateMetrics {
  Counter* records_read = nullptr;
  Counter* records_rejected = nullptr;
  Counter* limit_rejections = nullptr;
};

AggregateMetrics declare_aggregate_metrics(Metrics& metrics);

// Runs one aggregation. `schema` may be null when none is loaded.
Status run_aggregate(const v1::AggregateRequest& request, v1::AggregateResponse* response, TaskContext& context,
                     const Schema* schema, const AggregateLimits& limits, const AggregateMetrics& metrics);

// Decodes up to `limit` records.
Status run_decode(const v1::DecodeRequest& request, v1::DecodeResponse* response, TaskContext& context,
                  const Schema* schema, const AggregateLimits& limits, const AggregateMetrics& metrics);

// Loads settings.schema_file (when set) and registers both tasks. Fails when
// the schema file cannot be read or parsed. `metrics` must outlive the
// registry.
Status register_aggregate_tasks(TaskRegistry& registry, const AggregateSettings& settings, Metrics& metrics);

}  // namespace heavylift
