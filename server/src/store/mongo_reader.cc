#include "store/mongo_reader.h"

#include <fmt/format.h>
#include <mongoc/mongoc.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "store/bson_columns.h"
#include "store/mongoc_init.h"

namespace heavylift {
namespace {

// Documents decoded between two checks of the call's deadline.
constexpr int kCheckEvery = 1024;
// Documents per cursor batch. The server still caps a batch at 16 MiB, so this
// bounds the round trips, not the memory.
constexpr int32_t kBatchDocuments = 10000;

// Owns a heap bson_t. (std::unique_ptr<bson_t> would drop bson_t's
// alignment attribute, which GCC warns about.)
class BsonPtr {
 public:
  explicit BsonPtr(bson_t* document = nullptr) : document_(document) {}
  ~BsonPtr() { reset(); }
  BsonPtr(BsonPtr&& other) noexcept : document_(other.document_) { other.document_ = nullptr; }
  BsonPtr& operator=(BsonPtr&& other) noexcept {
    if (this != &other) {
      reset(other.document_);
      other.document_ = nullptr;
    }
    return *this;
  }
  void reset(bson_t* document = nullptr) {
    if (document_ != nullptr) bson_destroy(document_);
    document_ = document;
  }
  bson_t* get() const { return document_; }
  explicit operator bool() const { return document_ != nullptr; }

 private:
  bson_t* document_;
};

struct UriDeleter {
  void operator()(mongoc_uri_t* uri) const { mongoc_uri_destroy(uri); }
};
struct PoolDeleter {
  void operator()(mongoc_client_pool_t* pool) const { mongoc_client_pool_destroy(pool); }
};
struct CursorDeleter {
  void operator()(mongoc_cursor_t* cursor) const { mongoc_cursor_destroy(cursor); }
};
struct CollectionDeleter {
  void operator()(mongoc_collection_t* collection) const { mongoc_collection_destroy(collection); }
};

// A client borrowed from the pool for one scope.
class PooledClient {
 public:
  explicit PooledClient(mongoc_client_pool_t* pool) : pool_(pool), client_(mongoc_client_pool_pop(pool)) {}
  ~PooledClient() { mongoc_client_pool_push(pool_, client_); }
  PooledClient(const PooledClient&) = delete;
  PooledClient& operator=(const PooledClient&) = delete;
  mongoc_client_t* get() const { return client_; }

 private:
  mongoc_client_pool_t* pool_;
  mongoc_client_t* client_;
};

// Appends {path: 1} for every leaf of `fields`, so nested Objects project
// only the children the model keeps.
void append_projection(const std::vector<FieldSchema>& fields, const std::string& prefix, bson_t* projection) {
  for (const FieldSchema& field : fields) {
    const std::string path = prefix.empty() ? field.name : prefix + "." + field.name;
    if (field.type == FieldType::kObject && !field.children.empty()) {
      append_projection(field.children, path, projection);
    } else {
      BSON_APPEND_INT32(projection, path.c_str(), 1);
    }
  }
}

// Returns the smallest or largest _id matching `filter` when it is an
// ObjectId, via a find sorted on _id.
Result<std::optional<bson_oid_t>> edge_object_id(mongoc_collection_t* collection, const bson_t* filter, int direction) {
  BsonPtr options(BCON_NEW("sort", "{", "_id", BCON_INT32(direction), "}", "limit", BCON_INT64(1), "projection", "{",
                           "_id", BCON_INT32(1), "}"));
  std::unique_ptr<mongoc_cursor_t, CursorDeleter> cursor(
      mongoc_collection_find_with_opts(collection, filter, options.get(), nullptr));
  const bson_t* document = nullptr;
  std::optional<bson_oid_t> found;
  if (mongoc_cursor_next(cursor.get(), &document)) {
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, document, "_id") && BSON_ITER_HOLDS_OID(&iter)) found = *bson_iter_oid(&iter);
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) {
    return Error::unavailable(fmt::format("MongoDB find failed: {}", error.message));
  }
  return found;
}

bson_oid_t object_id_at(uint32_t seconds) {
  bson_oid_t oid{};
  oid.bytes[0] = static_cast<uint8_t>(seconds >> 24);
  oid.bytes[1] = static_cast<uint8_t>(seconds >> 16);
  oid.bytes[2] = static_cast<uint8_t>(seconds >> 8);
  oid.bytes[3] = static_cast<uint8_t>(seconds);
  return oid;
}

// Reads one cursor into `sink`.
Status read_cursor(mongoc_collection_t* collection, const bson_t* filter, const bson_t* options,
                   const ModelSchema& model, RecordSink& sink, const TaskContext& context,
                   const std::atomic<bool>& stop) {
  std::unique_ptr<mongoc_cursor_t, CursorDeleter> cursor(
      mongoc_collection_find_with_opts(collection, filter, options, nullptr));
  auto reader = BsonRecordReader::create(model, sink);
  if (!reader.ok()) return reader.error();
  const bson_t* document = nullptr;
  int since_check = 0;
  while (mongoc_cursor_next(cursor.get(), &document)) {
    if (++since_check == kCheckEvery) {
      since_check = 0;
      if (stop.load(std::memory_order_relaxed)) return Status::Ok();
      if (Status s = context.check(); !s.ok()) return s;
    }
    if (Status s = reader.value().read(bson_get_data(document), document->len); !s.ok()) return s;
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) {
    return Error::unavailable(fmt::format("MongoDB find failed: {}", error.message));
  }
  return Status::Ok();
}

}  // namespace

Status read_mongo(const v1::MongoSource& source, const ModelSchema& model, const std::vector<RecordSink*>& sinks,
                  const TaskContext& context) {
  initialize_mongoc();
  bson_error_t error;
  std::unique_ptr<mongoc_uri_t, UriDeleter> uri(mongoc_uri_new_with_error(source.uri().c_str(), &error));
  if (!uri) {
    return Error::invalid("source.mongo.uri", "INVALID_URI",
                          fmt::format("source.mongo.uri is not a valid MongoDB URI: {}", error.message),
                          "a mongodb:// or mongodb+srv:// URI");
  }
  if (source.database().empty()) {
    return Error::invalid("source.mongo.database", "EMPTY", "source.mongo.database must name a database", "not empty");
  }
  BsonPtr filter(bson_new());
  if (!source.filter_json().empty()) {
    filter.reset(bson_new_from_json(reinterpret_cast<const uint8_t*>(source.filter_json().data()),
                                    static_cast<ssize_t>(source.filter_json().size()), &error));
    if (!filter) {
      return Error::invalid("source.mongo.filter_json", "INVALID_JSON",
                            fmt::format("source.mongo.filter_json is not Extended JSON: {}", error.message),
                            "an Extended JSON document", source.filter_json());
    }
  }
  BsonPtr options(bson_new());
  bson_t projection;
  BSON_APPEND_DOCUMENT_BEGIN(options.get(), "projection", &projection);
  append_projection(model.fields, "", &projection);
  bson_append_document_end(options.get(), &projection);
  BSON_APPEND_INT32(options.get(), "batchSize", kBatchDocuments);

  std::unique_ptr<mongoc_client_pool_t, PoolDeleter> pool(mongoc_client_pool_new(uri.get()));
  mongoc_client_pool_set_error_api(pool.get(), MONGOC_ERROR_API_VERSION_2);
  mongoc_client_pool_set_appname(pool.get(), "heavylift");
  const std::string collection_name = source.collection().empty() ? model.collection : source.collection();

  // Partition boundaries from the ObjectId timestamps of the first and last _id.
  std::vector<BsonPtr> filters;
  {
    PooledClient client(pool.get());
    std::unique_ptr<mongoc_collection_t, CollectionDeleter> collection(
        mongoc_client_get_collection(client.get(), source.database().c_str(), collection_name.c_str()));
    std::optional<bson_oid_t> first;
    std::optional<bson_oid_t> last;
    if (sinks.size() > 1) {
      auto low = edge_object_id(collection.get(), filter.get(), 1);
      if (!low.ok()) return low.error();
      auto high = edge_object_id(collection.get(), filter.get(), -1);
      if (!high.ok()) return high.error();
      first = low.value();
      last = high.value();
    }
    if (!first || !last) {
      filters.emplace_back(bson_copy(filter.get()));
    } else {
      const uint64_t start = bson_oid_get_time_t(&*first);
      const uint64_t span = bson_oid_get_time_t(&*last) - start + 1;
      const size_t parts = sinks.size();
      for (size_t i = 0; i < parts; ++i) {
        BsonPtr part(bson_new());
        bson_t all;
        BSON_APPEND_ARRAY_BEGIN(part.get(), "$and", &all);
        BSON_APPEND_DOCUMENT(&all, "0", filter.get());
        bson_t range;
        bson_t bounds;
        BSON_APPEND_DOCUMENT_BEGIN(&all, "1", &range);
        BSON_APPEND_DOCUMENT_BEGIN(&range, "_id", &bounds);
        if (i > 0) {
          const bson_oid_t lower = object_id_at(static_cast<uint32_t>(start + span * i / parts));
          BSON_APPEND_OID(&bounds, "$gte", &lower);
        }
        if (i + 1 < parts) {
          const bson_oid_t upper = object_id_at(static_cast<uint32_t>(start + span * (i + 1) / parts));
          BSON_APPEND_OID(&bounds, "$lt", &upper);
        }
        bson_append_document_end(&range, &bounds);
        bson_append_document_end(&all, &range);
        bson_append_array_end(part.get(), &all);
        filters.push_back(std::move(part));
      }
    }
  }

  std::atomic<bool> stop{false};
  std::mutex status_mutex;
  Status first_failure;
  const auto run_partition = [&](size_t index) {
    PooledClient client(pool.get());
    std::unique_ptr<mongoc_collection_t, CollectionDeleter> collection(
        mongoc_client_get_collection(client.get(), source.database().c_str(), collection_name.c_str()));
    Status status = read_cursor(collection.get(), filters[index].get(), options.get(), model, *sinks[index], context, stop);
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(status_mutex);
      if (first_failure.ok()) first_failure = status;
      stop.store(true);
    }
  };
  if (filters.size() == 1) {
    run_partition(0);
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 1; i < filters.size(); ++i) threads.emplace_back(run_partition, i);
    run_partition(0);
    for (std::thread& thread : threads) thread.join();
  }
  return first_failure;
}

}  // namespace heavylift
