#include "tasks/aggregate/live_stream.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/logging.h"

namespace heavylift {
namespace {

constexpr size_t kMaxRoomBytes = 256;

nlohmann::json number_json(double value) {
  if (std::isnan(value)) return nullptr;
  return value;
}

}  // namespace

std::string live_window_json(const v1::LiveWindow& window) {
  nlohmann::json groups = nlohmann::json::array();
  for (const v1::Group& group : window.groups()) {
    nlohmann::json keys = nlohmann::json::array();
    for (const v1::KeyValue& key : group.keys()) {
      if (key.null()) keys.push_back(nullptr);
      else keys.push_back(key.text());
    }
    nlohmann::json values = nlohmann::json::object();
    for (const v1::AggregateValue& value : group.values()) {
      if (value.quantiles_size() > 0) {
        nlohmann::json list = nlohmann::json::array();
        for (const double q : value.quantiles()) list.push_back(number_json(q));
        values[value.name()] = std::move(list);
      } else if (value.buckets_size() > 0) {
        values[value.name()] = std::vector<uint64_t>(value.buckets().begin(), value.buckets().end());
      } else if (value.top_size() > 0) {
        nlohmann::json list = nlohmann::json::array();
        for (const v1::TopKEntry& entry : value.top()) list.push_back({{"value", entry.value()}, {"count", entry.count()}});
        values[value.name()] = std::move(list);
      } else {
        values[value.name()] = number_json(value.number());
      }
    }
    groups.push_back({{"keys", std::move(keys)}, {"count", group.count()}, {"values", std::move(values)}});
  }
  const nlohmann::json out = {
      {"start", window.start_ms()}, {"end", window.end_ms()}, {"events", window.events()}, {"groups", std::move(groups)}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status LiveStream::on_message(v1::LiveInput& message, TaskContext&) {
  if (!windows_) {
    if (!message.has_spec()) {
      return Error::invalid("spec", "MISSING", "the first message of a Live call must carry spec", "a LiveSpec", "");
    }
    const v1::LiveSpec& spec = message.spec();
    if (spec.room().size() > kMaxRoomBytes || spec.namespace_().size() > kMaxRoomBytes) {
      return Error::out_of_range(spec.room().size() > kMaxRoomBytes ? "spec.room" : "spec.namespace",
                                 fmt::format("at most {} bytes", kMaxRoomBytes),
                                 fmt::format("{} bytes", std::max(spec.room().size(), spec.namespace_().size())));
    }
    if (!spec.room().empty() && hub_ == nullptr) {
      Error error;
      error.code = Code::kFailedPrecondition;
      error.reason = "HUB_OFF";
      error.field = "spec.room";
      error.message = "spec.room is set but the real-time hub is off; start the daemon with --realtime-address";
      return error;
    }
    auto windows = LiveWindows::create(spec, limits_);
    if (!windows.ok()) return windows.error();
    windows_ = std::move(windows).value();
    room_ = spec.room();
    name_space_ = spec.namespace_().empty() ? "/" : spec.namespace_();
  } else if (message.has_spec()) {
    return Error::invalid("spec", "UNEXPECTED", "only the first message of a Live call may carry spec", "absent",
                          "a LiveSpec");
  }
  const auto publish = [this](v1::LiveWindow& window) { this->publish(window); };
  for (const v1::LiveEvent& event : message.events()) {
    const std::string field = fmt::format("events[{}]", events_seen_++);
    if (Status s = windows_->add(event, field, publish); !s.ok()) return s;
  }
  return Status::Ok();
}

Status LiveStream::on_end(v1::LiveSummary* summary, TaskContext& context) {
  if (!windows_) {
    return Error::invalid("spec", "MISSING", "a Live call must send at least one message, carrying spec", "a LiveSpec", "");
  }
  windows_->flush([this](v1::LiveWindow& window) { publish(window); });
  const LiveCounters& counters = windows_->counters();
  summary->set_events_received(counters.events_received);
  summary->set_events_late(counters.events_late);
  summary->set_events_over_group_limit(counters.events_over_group_limit);
  summary->set_windows_published(counters.windows_published);
  summary->set_memory_bound_bytes(windows_->memory_bound_bytes());
  for (v1::LiveWindow& window : kept_) *summary->add_windows() = std::move(window);
  spdlog::info("event=aggregate.live_done request_id={} events={} late={} over_group_limit={} windows={}",
               log_value(context.request_id()), counters.events_received, counters.events_late,
               counters.events_over_group_limit, counters.windows_published);
  return Status::Ok();
}

void LiveStream::publish(v1::LiveWindow& window) {
  if (hub_ != nullptr && !room_.empty()) {
    realtime::Broadcast broadcast;
    broadcast.rooms.push_back(room_);
    broadcast.message.name_space = name_space_;
    broadcast.message.event = kLiveWindowEvent;
    broadcast.message.args_json = "[" + live_window_json(window) + "]";
    hub_->emit(broadcast);
  }
  kept_.push_back(std::move(window));
  if (kept_.size() > kMaxSummaryWindows) kept_.pop_front();
}

}  // namespace heavylift
