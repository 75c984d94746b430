// Uploads stored in a MongoDB GridFS bucket (MongoDB or FerretDB, through
// libmongoc), keyed and deduplicated by digest, and read back in chunks.
//
// Layout. A stored file is the GridFS document `<bucket>.files`
// {_id: key, filename: key, length, chunkSize, uploadDate, metadata} and its
// `<bucket>.chunks` documents {files_id: key, n, data}, which any GridFS
// reader (the `mongodb` npm driver's GridFSBucket, mongofiles) can read. The
// key is `<sha256 hex><compression extension>`.
//
// Writing. The SHA-256 is known only after the last byte, so chunks are
// inserted under a temporary files_id (`tmp-<random>`) and tagged with
// `upload_id`, the same temporary id. commit() then
//   1. finds `key` in <bucket>.files: present means deduplicated, and the
//      temporary chunks are deleted;
//   2. moves the chunks to files_id = key (one update_many);
//   3. inserts the files document last, so a reader never sees a file whose
//      chunks are missing.
// The unique index {files_id, n} makes a concurrent identical upload fail at
// step 2; its chunks are deleted by upload_id and it reports deduplicated
// when the other upload finished, else UNAVAILABLE (retry). A writer
// destroyed before commit() deletes its chunks, so a failed or cancelled
// upload leaves nothing a GridFS reader would see.
//
// Stale chunks. A daemon killed mid-upload leaves chunks under a `tmp-`
// files_id, and one killed between steps 2 and 3 leaves chunks under `key`
// with no files document. Chunks older than `files.gridfs_stale_upload_s` are
// deleted, and their ObjectId _id gives their insert time. `tmp-` ones go when
// a writer is created, at most once an hour. Those under `key` go when an
// upload of the same bytes meets them at step 2. NOTE: an upload that runs
// longer than that age can lose its first chunks to another daemon's sweep.
//
// Memory: a writer buffers one chunk (255 KiB), and a reader at most
// kGridfsReadBatch chunks.
//
// Thread-safety: a GridfsStore may be used from any thread (libmongoc's
// client pool is thread-safe); a writer or reader by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tasks/files/limits.h"

namespace heavylift {

// GridFS chunk size of stored files: the GridFS default, 255 KiB.
inline constexpr uint32_t kGridfsChunkBytes = 255 * 1024;
// Chunks fetched per query when reading.
inline constexpr uint32_t kGridfsReadBatch = 4;

// Returns INVALID_ARGUMENT naming `source` when `value` is not empty and
// not a MongoDB connection string libmongoc accepts. Never echoes the value,
// which may hold a password.
Status check_gridfs_uri(const std::string& source, const std::string& value);

class GridfsStore {
 public:
  // Opens a client pool for `settings` (no connection is made until first
  // use). FAILED_PRECONDITION naming files.gridfs_uri when it is empty, or
  // files.gridfs_database when neither it nor the uri names a database.
  static Result<std::shared_ptr<GridfsStore>> open(const GridfsSettings& settings);
  ~GridfsStore();
  GridfsStore(const GridfsStore&) = delete;
  GridfsStore& operator=(const GridfsStore&) = delete;

  const std::string& database() const { return database_; }
  const std::string& bucket() const { return bucket_; }

  // Creates the bucket's indexes ({files_id, n} unique on chunks, {filename,
  // uploadDate} on files) the first time it succeeds; later calls return at
  // once.
  Status ensure_indexes();

  // Deletes `tmp-` chunks older than stale_upload_s, on the first call and
  // then at most once an hour. Failures are logged, not returned.
  void sweep_stale_uploads();

  // Seconds after which chunks that no finished upload owns are stale; 0
  // keeps them.
  uint32_t stale_upload_s() const { return stale_upload_s_; }

  // The pool of libmongoc clients (an opaque mongoc_client_pool_t*).
  void* pool() const { return pool_; }

 private:
  GridfsStore() = default;

  void* uri_ = nullptr;
  void* pool_ = nullptr;
  std::string database_;
  std::string bucket_;
  std::mutex index_mutex_;
  bool indexes_ready_ = false;
  uint32_t stale_upload_s_ = 0;
  std::mutex sweep_mutex_;
  std::optional<std::chrono::steady_clock::time_point> last_sweep_;
};

// Metadata stored with a file in files.metadata.
struct GridfsFileInfo {
  std::string sha256;
  std::string content_type;
  // "zstd", "gzip", "brotli" or empty.
  std::string compression;
  // Size before compression.
  uint64_t uncompressed_bytes = 0;
};

// One upload being written into the bucket. Its chunks are deleted on
// destruction unless committed.
class GridfsWriter {
 public:
  static Result<std::unique_ptr<GridfsWriter>> create(std::shared_ptr<GridfsStore> store);
  ~GridfsWriter();
  GridfsWriter(const GridfsWriter&) = delete;
  GridfsWriter& operator=(const GridfsWriter&) = delete;

  Status write(std::string_view bytes);

  // Stores the written bytes as file `key` (see the header comment) and sets
  // *deduplicated when the bucket held `key` already.
  Status commit(const std::string& key, const GridfsFileInfo& info, bool* deduplicated);

 private:
  explicit GridfsWriter(std::shared_ptr<GridfsStore> store);
  Status flush_chunk();
  // Points this upload's chunks at `key`. Sets *conflict when the unique
  // {files_id, n} index rejects the move (an identical upload won).
  Status move_chunks(const std::string& key, bool* conflict);
  // Deletes the chunks under `key` that other uploads inserted more than
  // stale_upload_s ago. Sets *deleted when it deleted any.
  Status delete_stale_key_chunks(const std::string& key, bool* deleted);
  // Inserts the files document. Sets *duplicate when `key` exists.
  Status insert_file(const std::string& key, const GridfsFileInfo& info, bool* duplicate);
  void delete_chunks();

  std::shared_ptr<GridfsStore> store_;
  std::string upload_id_;
  std::string buffer_;
  uint32_t next_n_ = 0;
  uint64_t length_ = 0;
  bool committed_ = false;
};

// Reads a stored file chunk by chunk, each query asking for the next
// kGridfsReadBatch chunks, so no cursor stays open between reads.
class GridfsReader {
 public:
  // INVALID_ARGUMENT naming `field`, reason NOT_FOUND, when no file has
  // _id `id`.
  static Result<std::unique_ptr<GridfsReader>> open(std::shared_ptr<GridfsStore> store, const std::string& id,
                                                    const std::string& field);

  uint64_t length() const { return length_; }

  // Returns the next chunk's bytes, valid until the next call; empty at the
  // end. A missing or wrongly sized chunk is INTERNAL.
  Result<std::string_view> next();

 private:
  GridfsReader() = default;
  Status fetch();

  std::shared_ptr<GridfsStore> store_;
  std::string id_;
  uint64_t length_ = 0;
  uint64_t chunk_size_ = 0;
  uint64_t chunk_count_ = 0;
  uint64_t next_n_ = 0;
  // Fetched chunks not yet returned, in order.
  std::string batch_[kGridfsReadBatch];
  uint32_t batch_size_ = 0;
  uint32_t batch_next_ = 0;
};

}  // namespace heavylift
