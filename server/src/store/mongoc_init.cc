#include "store/mongoc_init.h"

#include <mongoc/mongoc.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "core/logging.h"

namespace heavylift {
namespace {

void log_message(mongoc_log_level_t level, const char* domain, const char* message, void* /*user_data*/) {
  const std::string domain_text = log_value(domain == nullptr ? "" : domain);
  const std::string message_text = log_value(message == nullptr ? "" : message);
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
      spdlog::error("event=mongoc.log domain={} message={}", domain_text, message_text);
      break;
    case MONGOC_LOG_LEVEL_WARNING:
      spdlog::warn("event=mongoc.log domain={} message={}", domain_text, message_text);
      break;
    case MONGOC_LOG_LEVEL_MESSAGE:
    case MONGOC_LOG_LEVEL_INFO:
      spdlog::info("event=mongoc.log domain={} message={}", domain_text, message_text);
      break;
    default:
      break;
  }
}

}  // namespace

void initialize_mongoc() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_log_set_handler(log_message, nullptr);
    mongoc_init();
  });
}

}  // namespace heavylift
