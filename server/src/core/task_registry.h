// The task registry: every unit of work heavylift offers is a plain function
// from a typed request message to a typed response message, registered under
// a dotted name such as "image.thumbnail". Transport adapters (gRPC, job
// queues) look tasks up here and never contain task logic.
//
// Thread-safety: register tasks before serving; after that, find() and
// names() may be called from any thread.
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/task_context.h"

namespace heavylift {

struct Task {
  // Handler signature once the request and response types are erased. The
  // adapter owns both messages and keeps them alive until the handler returns.
  using Handler = std::function<Status(const google::protobuf::Message& request,
                                       google::protobuf::Message* response, TaskContext& context)>;

  std::string name;
  // Default instances of the request and response types. Adapters call New()
  // on them to allocate messages for a call, for example from queue JSON.
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  Handler handler;
};

class TaskRegistry {
 public:
  // Registers `fn` under `name`. Fails with FAILED_PRECONDITION when the name
  // is taken. `fn` fills `*response` and returns OK, or returns an Error; it
  // should call context.check() between steps that may be abandoned.
  template <typename Request, typename Response>
  Status add(std::string name,
             std::function<Status(const Request&, Response*, TaskContext&)> fn) {
    Task task;
    task.name = name;
    task.request_prototype = &Request::default_instance();
    task.response_prototype = &Response::default_instance();
    task.handler = [fn = std::move(fn)](const google::protobuf::Message& request,
                                        google::protobuf::Message* response,
                                        TaskContext& context) {
      return fn(static_cast<const Request&>(request), static_cast<Response*>(response), context);
    };
    return add_erased(std::move(task));
  }

  // Returns the task registered under `name`, or nullptr.
  const Task* find(std::string_view name) const;

  std::vector<std::string> names() const;

 private:
  Status add_erased(Task task);

  std::map<std::string, Task, std::less<>> tasks_;
};

}  // namespace heavylift
