#include "app/custom_tasks.h"

namespace heavylift {

// Replaced at link time by the definition that heavylift_add_daemon()
// generates for a custom daemon build.
__attribute__((weak)) Status register_custom_tasks(TaskRegistry& /*registry*/, const Config& /*config*/) {
  return Status::Ok();
}

}  // namespace heavylift
