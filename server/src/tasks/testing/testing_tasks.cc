#include "tasks/testing/testing_tasks.h"

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "core/logging.h"

namespace heavylift {

Status testing_sleep(const v1::SleepRequest& request, v1::SleepResponse* response, TaskContext& context) {
  if (request.duration_ms() > kMaxSleepMs) {
    return Error::out_of_range("duration_ms", fmt::format("<= {} ms", kMaxSleepMs),
                               fmt::format("{} ms", request.duration_ms()));
  }
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  const auto duration = std::chrono::milliseconds(request.duration_ms());
  const auto end = started + duration;
  const auto step = std::chrono::milliseconds(10);
  int reported_tenths = 0;

  for (auto now = started; now < end; now = Clock::now()) {
    if (Status s = context.check(); !s.ok()) return s;

    const auto until = std::min(end, now + step);
    if (request.busy()) {
      // Spin without yielding, as a CPU-bound task would.
      while (Clock::now() < until) {
      }
    } else {
      std::this_thread::sleep_until(until);
    }

    const int tenths = static_cast<int>(10 * (Clock::now() - started) / duration);
    if (tenths > reported_tenths && tenths < 10) {
      reported_tenths = tenths;
      context.report_progress(tenths / 10.0);
    }
  }

  context.report_progress(1.0);
  response->set_elapsed_ms(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()));
  response->set_attempt(context.attempt());
  return Status::Ok();
}

Status testing_fail(const v1::FailRequest& request, v1::FailResponse* response, TaskContext& context) {
  const std::optional<Code> code = code_from_name(request.code());
  if (!code || *code == Code::kOk) {
    return Error::invalid("code", "UNKNOWN_CODE",
                          fmt::format("code must be a gRPC status code name other than OK, got {}",
                                      quote_value(request.code())),
                          "a gRPC status code name other than OK", quote_value(request.code()));
  }
  if (request.succeed_on_attempt() == 0 || context.attempt() < request.succeed_on_attempt()) {
    Error error;
    error.code = *code;
    error.reason = "TESTING_FAILURE";
    error.message = request.message().empty()
                        ? fmt::format("testing.fail failed on attempt {} as requested", context.attempt())
                        : request.message();
    return error;
  }
  response->set_attempt(context.attempt());
  return Status::Ok();
}

Status testing_echo(const v1::EchoRequest& request, v1::EchoResponse* response, TaskContext& /*context*/) {
  response->set_payload(request.payload());
  return Status::Ok();
}

Status testing_crash(const v1::EchoRequest& /*request*/, v1::EchoResponse* /*response*/, TaskContext& context) {
  spdlog::warn("event=testing.crash request_id={} attempt={}", log_value(context.request_id()), context.attempt());
  spdlog::default_logger()->flush();
  std::raise(SIGKILL);
  return Error::internal("testing.crash: the daemon survived SIGKILL");
}

Status register_testing_tasks(TaskRegistry& registry) {
  Status status = registry.add<v1::SleepRequest, v1::SleepResponse>("testing.sleep", testing_sleep);
  if (!status.ok()) return status;
  status = registry.add<v1::FailRequest, v1::FailResponse>("testing.fail", testing_fail);
  if (!status.ok()) return status;
  status = registry.add<v1::EchoRequest, v1::EchoResponse>("testing.echo", testing_echo);
  if (!status.ok()) return status;
  return registry.add<v1::EchoRequest, v1::EchoResponse>("testing.crash", testing_crash);
}

}  // namespace heavylift
