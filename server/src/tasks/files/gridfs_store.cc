#include "tasks/files/gridfs_store.h"

#include <fmt/format.h>
#include <mongoc/mongoc.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include "core/logging.h"
#include "store/mongoc_init.h"

namespace heavylift {
namespace {

// MongoDB's duplicate key error code.
constexpr uint32_t kDuplicateKey = 11000;

// A bson_t on the stack, destroyed with its scope.
struct Bson {
  Bson() { bson_init(&value); }
  ~Bson() { bson_destroy(&value); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  bson_t* get() { return &value; }
  bson_t value;
};

mongoc_client_pool_t* pool_of(const GridfsStore& store) { return static_cast<mongoc_client_pool_t*>(store.pool()); }

// A client popped from the store's pool and one of the bucket's collections.
class BucketCollection {
 public:
  BucketCollection(const GridfsStore& store, const char* suffix)
      : pool_(pool_of(store)), client_(mongoc_client_pool_pop(pool_)),
        collection_(mongoc_client_get_collection(client_, store.database().c_str(),
                                                 fmt::format("{}.{}", store.bucket(), suffix).c_str())) {}
  ~BucketCollection() {
    mongoc_collection_destroy(collection_);
    mongoc_client_pool_push(pool_, client_);
  }
  BucketCollection(const BucketCollection&) = delete;
  BucketCollection& operator=(const BucketCollection&) = delete;
  mongoc_collection_t* get() const { return collection_; }

 private:
  mongoc_client_pool_t* pool_;
  mongoc_client_t* client_;
  mongoc_collection_t* collection_;
};

// MongoDB reports a unique index violation as code 11000. FerretDB 1.24
// (SQLite backend) reports one in updateMany as an internal error whose
// message contains SQLite's "UNIQUE constraint failed".
bool is_duplicate_key(const bson_error_t& error) {
  return error.code == kDuplicateKey || std::strstr(error.message, "UNIQUE constraint failed") != nullptr ||
         std::strstr(error.message, "duplicate key") != nullptr;
}

// UNAVAILABLE when the server cannot be reached, INTERNAL otherwise.
Error mongo_error(const char* what, const bson_error_t& error) {
  const std::string message = fmt::format("GridFS {} failed: {}", what, error.message);
  if (error.domain == MONGOC_ERROR_SERVER_SELECTION || error.domain == MONGOC_ERROR_STREAM) {
    return Error::unavailable(message);
  }
  return Error::internal(message);
}

void append_string(bson_t* document, const char* key, std::string_view value) {
  bson_append_utf8(document, key, -1, value.data(), static_cast<int>(value.size()));
}

// The length and chunkSize of a files document.
struct FileSizes {
  uint64_t length = 0;
  uint64_t chunk_size = 0;
};

// Looks up the files document with _id `key`; nullopt when there is none.
Result<std::optional<FileSizes>> find_file(const GridfsStore& store, const std::string& key) {
  BucketCollection files(store, "files");
  Bson filter;
  append_string(filter.get(), "_id", key);
  Bson options;
  bson_append_int64(options.get(), "limit", -1, 1);

  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(files.get(), filter.get(), options.get(), nullptr);
  const bson_t* document = nullptr;
  std::optional<FileSizes> found;
  if (mongoc_cursor_next(cursor, &document)) {
    found.emplace();
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, document, "length")) found->length = static_cast<uint64_t>(bson_iter_as_int64(&iter));
    if (bson_iter_init_find(&iter, document, "chunkSize")) {
      found->chunk_size = static_cast<uint64_t>(bson_iter_as_int64(&iter));
    }
  }
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  if (failed) return mongo_error("lookup", error);
  return found;
}

// Returns whether <bucket>.files contains a document with _id `key`.
Result<bool> file_exists(const GridfsStore& store, const std::string& key) {
  Result<std::optional<FileSizes>> found = find_file(store, key);
  if (!found.ok()) return found.error();
  return found.value().has_value();
}

// The smallest ObjectId of the second `age_s` seconds ago. An ObjectId
// starts with its creation time in seconds, so an _id below it is older.
bson_oid_t oid_before(uint32_t age_s) {
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto seconds = static_cast<uint32_t>(std::max<int64_t>(0, now_s - age_s));
  uint8_t data[12] = {};
  data[0] = static_cast<uint8_t>(seconds >> 24);
  data[1] = static_cast<uint8_t>(seconds >> 16);
  data[2] = static_cast<uint8_t>(seconds >> 8);
  data[3] = static_cast<uint8_t>(seconds);
  bson_oid_t oid;
  bson_oid_init_from_data(&oid, data);
  return oid;
}

// Appends {`key`: {`op`: ObjectId}} to `filter`.
void append_oid_condition(bson_t* filter, const char* key, const char* op, const bson_oid_t& oid) {
  bson_t condition;
  bson_append_document_begin(filter, key, -1, &condition);
  bson_append_oid(&condition, op, -1, &oid);
  bson_append_document_end(filter, &condition);
}

// Returns the deletedCount of a delete reply, 0 when it has none.
int64_t deleted_count(const bson_t* reply) {
  bson_iter_t iter;
  return bson_iter_init_find(&iter, reply, "deletedCount") ? bson_iter_as_int64(&iter) : 0;
}

Status create_index(mongoc_database_t* database, const std::string& collection, const char* name,
                    const char* first, const char* second, bool unique) {
  Bson command;
  append_string(command.get(), "createIndexes", collection);
  bson_t indexes;
  bson_t index;
  bson_t key;
  bson_append_array_begin(command.get(), "indexes", -1, &indexes);
  bson_append_document_begin(&indexes, "0", -1, &index);
  bson_append_document_begin(&index, "key", -1, &key);
  bson_append_int32(&key, first, -1, 1);
  bson_append_int32(&key, second, -1, 1);
  bson_append_document_end(&index, &key);
  bson_append_utf8(&index, "name", -1, name, -1);
  if (unique) bson_append_bool(&index, "unique", -1, true);
  bson_append_document_end(&indexes, &index);
  bson_append_array_end(command.get(), &indexes);
  Bson reply;
  bson_error_t error;
  if (!mongoc_database_command_simple(database, command.get(), nullptr, reply.get(), &error)) {
    return mongo_error("index creation", error);
  }
  return Status::Ok();
}

}  // namespace

Status check_gridfs_uri(const std::string& source, const std::string& value) {
  if (value.empty()) return Status::Ok();
  initialize_mongoc();
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(value.c_str(), &error);
  if (uri == nullptr) {
    return Error::invalid(source, "INVALID_SETTING",
                          fmt::format("invalid value for {}: expected a MongoDB connection string "
                                      "(mongodb://host:port/database): {}",
                                      source, error.message),
                          "a MongoDB connection string");
  }
  mongoc_uri_destroy(uri);
  return Status::Ok();
}

Result<std::shared_ptr<GridfsStore>> GridfsStore::open(const GridfsSettings& settings) {
  if (settings.uri.empty()) {
    return Error{Code::kFailedPrecondition,
                 "options.gridfs needs a MongoDB server; start heavylift with --files-gridfs-uri",
                 "files.gridfs_uri", "", "", "GRIDFS_DISABLED", 0};
  }
  initialize_mongoc();
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(settings.uri.c_str(), &error);
  if (uri == nullptr) {
    return Error{Code::kFailedPrecondition,
                 fmt::format("files.gridfs_uri is not a valid MongoDB connection string: {}", error.message),
                 "files.gridfs_uri", "", "", "INVALID_SETTING", 0};
  }

  std::shared_ptr<GridfsStore> store(new GridfsStore());
  store->uri_ = uri;
  store->database_ = settings.database;
  if (store->database_.empty() && mongoc_uri_get_database(uri) != nullptr) {
    store->database_ = mongoc_uri_get_database(uri);
  }
  if (store->database_.empty()) {
    return Error{Code::kFailedPrecondition,
                 "options.gridfs needs a database: set --files-gridfs-database or name one in files.gridfs_uri",
                 "files.gridfs_database", "", "", "GRIDFS_DISABLED", 0};
  }
  store->bucket_ = settings.bucket.empty() ? "fs" : settings.bucket;
  store->stale_upload_s_ = settings.stale_upload_s;

  mongoc_client_pool_t* pool = mongoc_client_pool_new(uri);
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  mongoc_client_pool_set_appname(pool, "heavylift");
  store->pool_ = pool;
  return store;
}

GridfsStore::~GridfsStore() {
  if (pool_ != nullptr) mongoc_client_pool_destroy(static_cast<mongoc_client_pool_t*>(pool_));
  if (uri_ != nullptr) mongoc_uri_destroy(static_cast<mongoc_uri_t*>(uri_));
}

Status GridfsStore::ensure_indexes() {
  std::lock_guard lock(index_mutex_);
  if (indexes_ready_) return Status::Ok();
  mongoc_client_pool_t* pool = static_cast<mongoc_client_pool_t*>(pool_);
  mongoc_client_t* client = mongoc_client_pool_pop(pool);
  mongoc_database_t* database = mongoc_client_get_database(client, database_.c_str());
  Status status = create_index(database, bucket_ + ".chunks", "files_id_1_n_1", "files_id", "n", true);
  if (status.ok()) {
    status = create_index(database, bucket_ + ".files", "filename_1_uploadDate_1", "filename", "uploadDate", false);
  }
  mongoc_database_destroy(database);
  mongoc_client_pool_push(pool, client);
  if (status.ok()) indexes_ready_ = true;
  return status;
}

void GridfsStore::sweep_stale_uploads() {
  if (stale_upload_s_ == 0) return;
  {
    std::lock_guard lock(sweep_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (last_sweep_ && now - *last_sweep_ < std::chrono::hours(1)) return;
    last_sweep_ = now;
  }
  BucketCollection chunks(*this, "chunks");
  Bson filter;
  bson_append_regex(filter.get(), "files_id", -1, "^tmp-", "");
  append_oid_condition(filter.get(), "_id", "$lt", oid_before(stale_upload_s_));
  Bson reply;
  bson_error_t error;
  if (!mongoc_collection_delete_many(chunks.get(), filter.get(), nullptr, reply.get(), &error)) {
    spdlog::warn("event=files.gridfs_sweep_failed bucket={}.{} message={}", database_, bucket_,
                 log_value(error.message));
    return;
  }
  const int64_t deleted = deleted_count(reply.get());
  if (deleted > 0) {
    spdlog::info("event=files.gridfs_stale_chunks_deleted bucket={}.{} files_id=tmp-* chunks={} older_than_s={}",
                 database_, bucket_, deleted, stale_upload_s_);
  }
}

// --- GridfsWriter ---------------------------------------------------------------

GridfsWriter::GridfsWriter(std::shared_ptr<GridfsStore> store)
    : store_(std::move(store)),
      upload_id_(fmt::format("tmp-{:08x}{:08x}{:08x}", randombytes_random(), randombytes_random(),
                             randombytes_random())) {}

Result<std::unique_ptr<GridfsWriter>> GridfsWriter::create(std::shared_ptr<GridfsStore> store) {
  if (Status s = store->ensure_indexes(); !s.ok()) return s.error();
  store->sweep_stale_uploads();
  std::unique_ptr<GridfsWriter> writer(new GridfsWriter(std::move(store)));
  writer->buffer_.reserve(kGridfsChunkBytes);
  return writer;
}

GridfsWriter::~GridfsWriter() {
  if (!committed_ && next_n_ > 0) delete_chunks();
}

void GridfsWriter::delete_chunks() {
  BucketCollection chunks(*store_, "chunks");
  Bson filter;
  append_string(filter.get(), "upload_id", upload_id_);
  bson_error_t error;
  if (!mongoc_collection_delete_many(chunks.get(), filter.get(), nullptr, nullptr, &error)) {
    spdlog::warn("event=files.gridfs_cleanup_failed upload_id={} message={}", upload_id_, log_value(error.message));
  }
}

Status GridfsWriter::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const size_t take = std::min<size_t>(bytes.size(), kGridfsChunkBytes - buffer_.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    length_ += take;
    if (buffer_.size() == kGridfsChunkBytes) {
      if (Status s = flush_chunk(); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status GridfsWriter::flush_chunk() {
  if (buffer_.empty()) return Status::Ok();
  BucketCollection chunks(*store_, "chunks");
  Bson document;
  bson_oid_t oid;
  bson_oid_init(&oid, nullptr);
  bson_append_oid(document.get(), "_id", -1, &oid);
  append_string(document.get(), "files_id", upload_id_);
  bson_append_int32(document.get(), "n", -1, static_cast<int32_t>(next_n_));
  bson_append_binary(document.get(), "data", -1, BSON_SUBTYPE_BINARY, reinterpret_cast<const uint8_t*>(buffer_.data()),
                     static_cast<uint32_t>(buffer_.size()));
  append_string(document.get(), "upload_id", upload_id_);
  bson_error_t error;
  // Counted before the insert: a failed insert may still have written.
  next_n_ += 1;
  if (!mongoc_collection_insert_one(chunks.get(), document.get(), nullptr, nullptr, &error)) {
    return mongo_error("chunk insert", error);
  }
  buffer_.clear();
  return Status::Ok();
}

Status GridfsWriter::commit(const std::string& key, const GridfsFileInfo& info, bool* deduplicated) {
  *deduplicated = false;
  if (Status s = flush_chunk(); !s.ok()) return s;

  Result<bool> exists = file_exists(*store_, key);
  if (!exists.ok()) return exists.error();
  if (exists.value()) {
    delete_chunks();
    committed_ = true;
    *deduplicated = true;
    return Status::Ok();
  }

  bool conflict = false;
  if (Status s = move_chunks(key, &conflict); !s.ok()) return s;
  if (conflict) {
    // Chunks under `key` without a files document came from an identical
    // upload between its steps 2 and 3, or from a killed daemon. Old ones are
    // deleted, and this upload moves its own chunks there instead.
    Result<bool> finished = file_exists(*store_, key);
    if (!finished.ok()) return finished.error();
    bool deleted = false;
    if (!finished.value()) {
      if (Status s = delete_stale_key_chunks(key, &deleted); !s.ok()) return s;
    }
    if (deleted) {
      if (Status s = move_chunks(key, &conflict); !s.ok()) return s;
    }
    if (conflict) {
      // An identical upload moved its chunks to `key` first. Unless it had
      // finished at the check above, look again after deleting this upload's
      // chunks.
      delete_chunks();
      committed_ = true;
      if (!finished.value()) finished = file_exists(*store_, key);
      if (!finished.ok()) return finished.error();
      if (!finished.value()) {
        return Error::unavailable(fmt::format(
            "an identical upload is being stored in GridFS as {} right now; retry when it has finished", key));
      }
      *deduplicated = true;
      return Status::Ok();
    }
  }

  bool duplicate = false;
  if (Status s = insert_file(key, info, &duplicate); !s.ok()) return s;
  if (duplicate) {
    // Only reachable without the unique chunk index: keep the other file.
    delete_chunks();
    *deduplicated = true;
  }
  committed_ = true;
  return Status::Ok();
}

Status GridfsWriter::move_chunks(const std::string& key, bool* conflict) {
  *conflict = false;
  BucketCollection chunks(*store_, "chunks");
  Bson filter;
  append_string(filter.get(), "upload_id", upload_id_);
  Bson update;
  bson_t set;
  bson_append_document_begin(update.get(), "$set", -1, &set);
  append_string(&set, "files_id", key);
  bson_append_document_end(update.get(), &set);

  bson_error_t error;
  if (!mongoc_collection_update_many(chunks.get(), filter.get(), update.get(), nullptr, nullptr, &error)) {
    if (!is_duplicate_key(error)) return mongo_error("chunk update", error);
    *conflict = true;
  }
  return Status::Ok();
}

Status GridfsWriter::delete_stale_key_chunks(const std::string& key, bool* deleted) {
  *deleted = false;
  const uint32_t stale_s = store_->stale_upload_s();
  if (stale_s == 0) return Status::Ok();
  BucketCollection chunks(*store_, "chunks");
  // Only old chunks match, so an identical upload that moves its own chunks
  // to `key` meanwhile keeps them. The upload_id condition leaves out this
  // upload's chunks that the failed move had already pointed there.
  Bson stale;
  append_string(stale.get(), "files_id", key);
  bson_t not_ours;
  bson_append_document_begin(stale.get(), "upload_id", -1, &not_ours);
  append_string(&not_ours, "$ne", upload_id_);
  bson_append_document_end(stale.get(), &not_ours);
  append_oid_condition(stale.get(), "_id", "$lt", oid_before(stale_s));

  Bson reply;
  bson_error_t error;
  if (!mongoc_collection_delete_many(chunks.get(), stale.get(), nullptr, reply.get(), &error)) {
    return mongo_error("stale chunk delete", error);
  }
  const int64_t count = deleted_count(reply.get());
  *deleted = count > 0;
  if (*deleted) {
    spdlog::warn("event=files.gridfs_stale_chunks_deleted bucket={}.{} files_id={} chunks={} older_than_s={}",
                 store_->database(), store_->bucket(), key, count, stale_s);
  }
  return Status::Ok();
}

Status GridfsWriter::insert_file(const std::string& key, const GridfsFileInfo& info, bool* duplicate) {
  *duplicate = false;
  Bson document;
  append_string(document.get(), "_id", key);
  bson_append_int64(document.get(), "length", -1, static_cast<int64_t>(length_));
  bson_append_int32(document.get(), "chunkSize", -1, static_cast<int32_t>(kGridfsChunkBytes));
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  bson_append_date_time(document.get(), "uploadDate", -1, now.count());
  append_string(document.get(), "filename", key);

  bson_t metadata;
  bson_append_document_begin(document.get(), "metadata", -1, &metadata);
  append_string(&metadata, "sha256", info.sha256);
  append_string(&metadata, "contentType", info.content_type);
  if (!info.compression.empty()) append_string(&metadata, "compression", info.compression);
  bson_append_int64(&metadata, "uncompressedLength", -1, static_cast<int64_t>(info.uncompressed_bytes));
  bson_append_document_end(document.get(), &metadata);

  BucketCollection files(*store_, "files");
  bson_error_t error;
  if (!mongoc_collection_insert_one(files.get(), document.get(), nullptr, nullptr, &error)) {
    if (!is_duplicate_key(error)) return mongo_error("file insert", error);
    *duplicate = true;
  }
  return Status::Ok();
}

// --- GridfsReader ---------------------------------------------------------------

Result<std::unique_ptr<GridfsReader>> GridfsReader::open(std::shared_ptr<GridfsStore> store, const std::string& id,
                                                         const std::string& field) {
  std::unique_ptr<GridfsReader> reader(new GridfsReader());
  reader->store_ = std::move(store);
  reader->id_ = id;
  Result<std::optional<FileSizes>> found = find_file(*reader->store_, id);
  if (!found.ok()) return found.error();
  if (!found.value()) {
    return Error::invalid(field, "NOT_FOUND",
                          fmt::format("{} {} names no file in the GridFS bucket {}.{}", field, quote_value(id),
                                      reader->store_->database(), reader->store_->bucket()));
  }
  reader->length_ = found.value()->length;
  reader->chunk_size_ = found.value()->chunk_size;
  if (reader->chunk_size_ == 0 && reader->length_ > 0) {
    return Error::internal(fmt::format("the GridFS file {} has no valid chunkSize", quote_value(id)));
  }
  reader->chunk_count_ = reader->length_ == 0 ? 0 : (reader->length_ + reader->chunk_size_ - 1) / reader->chunk_size_;
  return reader;
}

Status GridfsReader::fetch() {
  const uint64_t first = next_n_;
  const uint64_t end = std::min<uint64_t>(chunk_count_, first + kGridfsReadBatch);
  BucketCollection chunks(*store_, "chunks");
  Bson filter;
  append_string(filter.get(), "files_id", id_);
  bson_t range;
  bson_append_document_begin(filter.get(), "n", -1, &range);
  bson_append_int64(&range, "$gte", -1, static_cast<int64_t>(first));
  bson_append_int64(&range, "$lt", -1, static_cast<int64_t>(end));
  bson_append_document_end(filter.get(), &range);
  Bson options;
  bson_t sort;
  bson_append_document_begin(options.get(), "sort", -1, &sort);
  bson_append_int32(&sort, "n", -1, 1);
  bson_append_document_end(options.get(), &sort);

  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(chunks.get(), filter.get(), options.get(), nullptr);
  const bson_t* document = nullptr;
  batch_size_ = 0;
  batch_next_ = 0;
  Status status = Status::Ok();
  while (status.ok() && mongoc_cursor_next(cursor, &document)) {
    const uint64_t n = first + batch_size_;
    const uint64_t expected = n + 1 == chunk_count_ ? length_ - n * chunk_size_ : chunk_size_;
    bson_iter_t iter;
    int64_t got_n = -1;
    if (bson_iter_init_find(&iter, document, "n")) got_n = bson_iter_as_int64(&iter);
    uint32_t size = 0;
    const uint8_t* data = nullptr;
    bson_subtype_t subtype;
    if (bson_iter_init_find(&iter, document, "data") && BSON_ITER_HOLDS_BINARY(&iter)) {
      bson_iter_binary(&iter, &subtype, &size, &data);
    }
    if (batch_size_ >= end - first || got_n != static_cast<int64_t>(n) || data == nullptr || size != expected) {
      status = Error::internal(fmt::format("the GridFS file {} is damaged: chunk {} is missing or has the wrong size",
                                           quote_value(id_), n));
      break;
    }
    batch_[batch_size_].assign(reinterpret_cast<const char*>(data), size);
    batch_size_ += 1;
  }

  bson_error_t error;
  if (status.ok() && mongoc_cursor_error(cursor, &error)) status = mongo_error("chunk read", error);
  mongoc_cursor_destroy(cursor);
  if (!status.ok()) return status;
  if (batch_size_ != end - first) {
    return Error::internal(fmt::format("the GridFS file {} is damaged: chunk {} is missing", quote_value(id_),
                                       first + batch_size_));
  }
  return Status::Ok();
}

Result<std::string_view> GridfsReader::next() {
  if (batch_next_ == batch_size_) {
    if (next_n_ >= chunk_count_) return std::string_view();
    if (Status s = fetch(); !s.ok()) return s.error();
  }
  next_n_ += 1;
  return std::string_view(batch_[batch_next_++]);
}

}  // namespace heavylift
