// Reads the records of a model from a MongoDB collection (MongoDB itself or
// a wire-compatible server such as FerretDB) with libmongoc. The filter and
// a projection of the model's fields are sent to the server; with several
// partitions, each runs its own cursor over one range of _id in its own
// thread.
//
// Thread-safety: read_mongo may be called from many threads at once.
#pragma once

#include <cstdint>
#include <vector>

#include "core/task_context.h"
#include "heavylift/v1/aggregate.pb.h"
#include "store/record_sink.h"
#include "store/schema.h"

namespace heavylift {

// Streams the documents matching source.filter_json into the sinks:
// partition i delivers only to sinks[i], from its own thread, so a sink
// needs no locking. sinks.size() is the number of partitions. Partitions
// split the ObjectId time range between the smallest and the largest _id;
// when _id is not an ObjectId, one cursor reads everything into sinks[0].
// Fails with INVALID_ARGUMENT for a bad URI or filter (the URI is never
// echoed, since it may hold a password), UNAVAILABLE when the server fails,
// or the sink's or the context's status.
Status read_mongo(const v1::MongoSource& source, const ModelSchema& model, const std::vector<RecordSink*>& sinks,
                  const TaskContext& context);

}  // namespace heavylift
