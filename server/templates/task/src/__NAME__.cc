#include "__NAME__.h"

#include <string>

namespace __NAME__ {

using heavylift::Error;
using heavylift::Status;

Status run(const v1::RunRequest& request, v1::RunResponse* response, heavylift::TaskContext& context) {
  // Check every bound first and name the field, the bound and the value:
  // the caller gets INVALID_ARGUMENT with them (InvalidArgumentError in Node).
  if (request.text().size() > 4096) {
    return Error::out_of_range("text", "at most 4096 bytes", std::to_string(request.text().size()) + " bytes");
  }
  if (request.repeat() < 1 || request.repeat() > 1000) {
    return Error::out_of_range("repeat", "in 1..1000", std::to_string(request.repeat()));
  }
  std::string text;
  for (uint32_t i = 0; i < request.repeat(); ++i) {
    // Stop between steps once the deadline passed or the caller went away.
    if (Status s = context.check(); !s.ok()) return s;
    text += request.text();
    // Queue jobs show this as their progress; gRPC calls ignore it.
    context.report_progress(static_cast<double>(i + 1) / request.repeat());
  }
  response->set_text(std::move(text));
  response->set_attempt(context.attempt());
  return Status::Ok();
}

Status register_tasks(heavylift::TaskRegistry& registry, const heavylift::Config& /*config*/) {
  // Built-in and custom tasks register the same way. Read your settings from
  // `config` or the environment here, once, and capture them in the lambda.
  return registry.add<v1::RunRequest, v1::RunResponse>("__NAME__.run", run);
}

}  // namespace __NAME__
