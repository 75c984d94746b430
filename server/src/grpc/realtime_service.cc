#include "grpc/realtime_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "grpc/task_call.h"
#include "heavylift/v1/common.pb.h"
#include "realtime/json_text.h"

namespace heavylift {
namespace {

// Maximum bytes of a namespace, room or event name.
constexpr size_t kMaxNameBytes = 256;
// Rooms (and except rooms) one Emit may name.
constexpr int kMaxRoomsPerEmit = 1024;
constexpr uint32_t kDefaultAckTimeoutMs = 10000;
constexpr uint32_t kMaxAckTimeoutMs = 300000;
constexpr int kMaxAcksPerBatch = 1000;
// How often a Subscribe stream checks for cancellation while idle.
constexpr auto kSubscribePollInterval = std::chrono::milliseconds(200);
// Bounds of one batched Subscribe message, well under the 4 MiB a gRPC
// client receives by default. A single larger event is still sent alone.
constexpr size_t kMaxEventsPerBatch = 512;
constexpr size_t kMaxBatchBytes = 1 << 20;

// Finishes `reactor`, the context's default reactor, with `status`,
// attaching the heavylift.v1.ErrorDetail trailer that the Node SDK turns into
// a typed error.
grpc::ServerUnaryReactor* finish_reactor(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                                         const Status& status) {
  if (status.ok()) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  const Error& error = status.error();
  v1::ErrorDetail detail;
  detail.set_code(code_name(error.code));
  detail.set_field(error.field.substr(0, 256));
  detail.set_bound(error.bound.substr(0, 256));
  detail.set_value(error.value.substr(0, 256));
  detail.set_reason(error.reason.substr(0, 256));
  context->AddTrailingMetadata(kErrorDetailKey, detail.SerializeAsString());
  reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(error.code), error.message.substr(0, 1024)));
  return reactor;
}

// Finishes a call that completes before its method returns. DefaultReactor
// may be called only once per call, because each call re-creates it.
grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* context, const Status& status) {
  return finish_reactor(context, context->DefaultReactor(), status);
}

Error hub_off() {
  Error error = Error::unavailable("the real-time hub is off; start the daemon with --realtime-address");
  error.field = "realtime.address";
  return error;
}

Status check_name(const std::string& field, const std::string& value, bool required) {
  if (required && value.empty()) return Error::invalid(field, "EMPTY", field + " must not be empty");
  if (value.size() > kMaxNameBytes) {
    return Error::out_of_range(field, fmt::format("at most {} bytes", kMaxNameBytes),
                               fmt::format("{} bytes", value.size()));
  }
  return Status::Ok();
}

std::string namespace_or_main(const std::string& name_space) { return name_space.empty() ? "/" : name_space; }

// Checks args_json (a JSON array, empty meaning none) against the
// attachments and returns it minified.
Result<std::string> checked_args(const std::string& args_json, int attachments) {
  if (args_json.empty()) return std::string("[]");
  Result<realtime::JsonArray> array = realtime::split_json_array(args_json, "args_json");
  if (!array.ok()) return array.error();
  std::string minified = realtime::join_json_array(array.value().elements);
  if (attachments > 0) {
    if (Status s = realtime::check_placeholders(minified, static_cast<size_t>(attachments), "args_json"); !s.ok()) {
      return s.error();
    }
  }
  return minified;
}

Result<realtime::SocketSelector> checked_selector(const v1::SocketSelector& selector) {
  realtime::SocketSelector out;
  out.name_space = namespace_or_main(selector.namespace_());
  if (Status s = check_name("sockets.namespace", out.name_space, true); !s.ok()) return s.error();
  switch (selector.target_case()) {
    case v1::SocketSelector::kSocketId:
      out.socket_id = selector.socket_id();
      if (Status s = check_name("sockets.socket_id", out.socket_id, true); !s.ok()) return s.error();
      return out;
    case v1::SocketSelector::kUserId:
      out.user_id = selector.user_id();
      if (Status s = check_name("sockets.user_id", out.user_id, true); !s.ok()) return s.error();
      return out;
    default:
      return Error::invalid("sockets.target", "MISSING", "sockets must name a socket_id or a user_id");
  }
}

v1::ClientEvent to_proto(const realtime::ClientEvent& event) {
  v1::ClientEvent out;
  switch (event.type) {
    case realtime::ClientEvent::Type::kConnect: out.set_type(v1::ClientEvent::CONNECT); break;
    case realtime::ClientEvent::Type::kDisconnect: out.set_type(v1::ClientEvent::DISCONNECT); break;
    case realtime::ClientEvent::Type::kEvent: out.set_type(v1::ClientEvent::EVENT); break;
    case realtime::ClientEvent::Type::kJoin: out.set_type(v1::ClientEvent::JOIN); break;
    case realtime::ClientEvent::Type::kLeave: out.set_type(v1::ClientEvent::LEAVE); break;
  }
  out.set_namespace_(event.name_space);
  out.set_socket_id(event.socket_id);
  out.set_user_id(event.user_id);
  out.set_event(event.event);
  out.set_args_json(event.args_json);
  for (const std::string& attachment : event.attachments) out.add_attachments(attachment);
  if (event.ack_id) out.set_ack_id(*event.ack_id);
  out.set_room(event.room);
  out.set_reason(event.reason);
  return out;
}

// Streams one subscription's events. A thread of its own waits for events
// and writes them: one per message, or, for a batched subscriber, all that
// queued up while the previous write was in flight in one message. Only
// that thread calls Finish, and gRPC then calls OnDone, where the reactor
// deletes itself.
class SubscribeStream final : public grpc::ServerWriteReactor<v1::ClientEvent> {
 public:
  SubscribeStream(realtime::ClientEventBroker& broker, std::shared_ptr<realtime::ClientEventSubscription> subscription,
                  bool batched)
      : broker_(broker), subscription_(std::move(subscription)), batched_(batched) {
    std::thread([this] { run(); }).detach();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    writing_ = false;
    write_failed_ = !ok;
    changed_.notify_all();
  }

  void OnCancel() override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    changed_.notify_all();
  }

  void OnDone() override { delete this; }

 private:
  void run() {
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (cancelled_ || write_failed_) break;
      }
      std::vector<realtime::ClientEvent> events =
          subscription_->next_batch(kSubscribePollInterval, batched_ ? kMaxEventsPerBatch : 1, kMaxBatchBytes);
      if (events.empty()) {
        if (subscription_->closed()) break;
        continue;
      }
      if (batched_) {
        message_.Clear();
        for (const realtime::ClientEvent& event : events) *message_.add_batch() = to_proto(event);
      } else {
        message_ = to_proto(events.front());
      }
      std::unique_lock lock(mutex_);
      writing_ = true;
      StartWrite(&message_);
      changed_.wait(lock, [this] { return !writing_ || cancelled_; });
      if (writing_) {
        // Cancelled while writing: gRPC still calls OnWriteDone, and Finish
        // may not come before it.
        changed_.wait(lock, [this] { return !writing_; });
      }
    }
    broker_.unsubscribe(subscription_);
    const bool hub_stopped = subscription_->closed() && !cancelled_;
    Finish(hub_stopped ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the real-time hub stopped")
                       : grpc::Status::OK);
  }

  realtime::ClientEventBroker& broker_;
  std::shared_ptr<realtime::ClientEventSubscription> subscription_;
  const bool batched_;
  v1::ClientEvent message_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool writing_ = false;
  bool write_failed_ = false;
  bool cancelled_ = false;
};

// A stream that fails at once, as Subscribe does while the hub is off.
class FailedStream final : public grpc::ServerWriteReactor<v1::ClientEvent> {
 public:
  FailedStream(grpc::CallbackServerContext* /*context*/, const Error& error) {
    Finish(grpc::Status(static_cast<grpc::StatusCode>(error.code), error.message));
  }
  void OnDone() override { delete this; }
};

}  // namespace

Status RealtimeServiceImpl::admit(const grpc::CallbackServerContext& context) const {
  if (Status s = dispatcher_.authenticate(context); !s.ok()) return s;
  if (hub_ == nullptr) return hub_off();
  return Status::Ok();
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::Emit(grpc::CallbackServerContext* context,
                                                    const v1::EmitRequest* request, v1::EmitResponse* response) {
  if (Status s = admit(*context); !s.ok()) return finish(context, s);
  realtime::Broadcast broadcast;
  broadcast.message.name_space = namespace_or_main(request->namespace_());
  broadcast.message.event = request->event();
  if (Status s = check_name("namespace", broadcast.message.name_space, true); !s.ok()) return finish(context, s);
  if (Status s = check_name("event", request->event(), true); !s.ok()) return finish(context, s);
  if (request->rooms_size() > kMaxRoomsPerEmit || request->except_rooms_size() > kMaxRoomsPerEmit) {
    return finish(context, Error::out_of_range("rooms", fmt::format("at most {} rooms", kMaxRoomsPerEmit),
                                               std::to_string(std::max(request->rooms_size(),
                                                                       request->except_rooms_size()))));
  }
  Result<std::string> args = checked_args(request->args_json(), request->attachments_size());
  if (!args.ok()) return finish(context, args.error());
  broadcast.message.args_json = std::move(args).value();
  broadcast.rooms.assign(request->rooms().begin(), request->rooms().end());
  broadcast.except_rooms.assign(request->except_rooms().begin(), request->except_rooms().end());
  broadcast.message.attachments.assign(request->attachments().begin(), request->attachments().end());
  response->set_delivered(hub_->emit(broadcast));
  return finish(context, Status::Ok());
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::EmitWithAck(grpc::CallbackServerContext* context,
                                                           const v1::EmitWithAckRequest* request,
                                                           v1::EmitWithAckResponse* response) {
  if (Status s = admit(*context); !s.ok()) return finish(context, s);
  if (Status s = check_name("socket_id", request->socket_id(), true); !s.ok()) return finish(context, s);
  if (Status s = check_name("event", request->event(), true); !s.ok()) return finish(context, s);
  if (request->timeout_ms() > kMaxAckTimeoutMs) {
    return finish(context, Error::out_of_range("timeout_ms", fmt::format("<= {}", kMaxAckTimeoutMs),
                                               std::to_string(request->timeout_ms())));
  }
  Result<std::string> args = checked_args(request->args_json(), request->attachments_size());
  if (!args.ok()) return finish(context, args.error());
  realtime::Message message;
  message.name_space = namespace_or_main(request->namespace_());
  message.event = request->event();
  message.args_json = std::move(args).value();
  message.attachments.assign(request->attachments().begin(), request->attachments().end());
  const auto found = hub_->find(request->socket_id());
  if (!found || found->name_space != message.name_space) {
    return finish(context, Error{Code::kNotFound,
                                 "socket " + quote_value(request->socket_id()) + " is not connected to namespace " +
                                     quote_value(message.name_space),
                                 "socket_id"});
  }
  const auto timeout =
      std::chrono::milliseconds(request->timeout_ms() == 0 ? kDefaultAckTimeoutMs : request->timeout_ms());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Status sent = hub_->emit_with_ack(request->socket_id(), std::move(message), timeout,
                                    [context, reactor, response](Result<std::string> answer) {
                                      if (answer.ok()) response->set_args_json(answer.value());
                                      finish_reactor(context, reactor,
                                                     answer.ok() ? Status::Ok() : Status(answer.error()));
                                    });
  if (!sent.ok()) return finish_reactor(context, reactor, sent);
  return reactor;
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::Join(grpc::CallbackServerContext* context,
                                                    const v1::RoomMembershipRequest* request,
                                                    v1::RoomMembershipResponse* response) {
  return change_membership(context, *request, response, true);
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::Leave(grpc::CallbackServerContext* context,
                                                     const v1::RoomMembershipRequest* request,
                                                     v1::RoomMembershipResponse* response) {
  return change_membership(context, *request, response, false);
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::change_membership(grpc::CallbackServerContext* context,
                                                                 const v1::RoomMembershipRequest& request,
                                                                 v1::RoomMembershipResponse* response, bool join) {
  if (Status s = admit(*context); !s.ok()) return finish(context, s);
  Result<realtime::SocketSelector> selector = checked_selector(request.sockets());
  if (!selector.ok()) return finish(context, selector.error());
  if (Status s = check_name("room", request.room(), true); !s.ok()) return finish(context, s);
  response->set_sockets(join ? hub_->join_selected(selector.value(), request.room())
                             : hub_->leave_selected(selector.value(), request.room()));
  return finish(context, Status::Ok());
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::Members(grpc::CallbackServerContext* context,
                                                       const v1::MembersRequest* request,
                                                       v1::MembersResponse* response) {
  if (Status s = admit(*context); !s.ok()) return finish(context, s);
  if (Status s = check_name("room", request->room(), true); !s.ok()) return finish(context, s);
  const std::string name_space = namespace_or_main(request->namespace_());
  Result<std::vector<realtime::SocketInfo>> members =
      bridge_ != nullptr ? bridge_->members(name_space, request->room())
                         : Result<std::vector<realtime::SocketInfo>>(hub_->members(name_space, request->room()));
  if (!members.ok()) return finish(context, members.error());
  for (const realtime::SocketInfo& member : members.value()) {
    v1::Member* out = response->add_members();
    out->set_socket_id(member.socket_id);
    out->set_user_id(member.user_id);
  }
  return finish(context, Status::Ok());
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::Disconnect(grpc::CallbackServerContext* context,
                                                          const v1::DisconnectRequest* request,
                                                          v1::DisconnectResponse* response) {
  if (Status s = admit(*context); !s.ok()) return finish(context, s);
  Result<realtime::SocketSelector> selector = checked_selector(request->sockets());
  if (!selector.ok()) return finish(context, selector.error());
  response->set_sockets(hub_->disconnect(selector.value(), request->close_connection(), "server disconnect"));
  return finish(context, Status::Ok());
}

grpc::ServerWriteReactor<v1::ClientEvent>* RealtimeServiceImpl::Subscribe(grpc::CallbackServerContext* context,
                                                                           const v1::SubscribeRequest* request) {
  if (Status s = admit(*context); !s.ok()) return new FailedStream(context, s.error());
  std::vector<std::string> namespaces(request->namespaces().begin(), request->namespaces().end());
  auto subscription = hub_->client_events().subscribe(request->group(), std::move(namespaces));
  spdlog::info("event=realtime.subscribed group={} namespaces={}", request->group().empty() ? "-" : request->group(),
               request->namespaces_size());
  return new SubscribeStream(hub_->client_events(), std::move(subscription), request->batched());
}

Status RealtimeServiceImpl::apply_ack(const v1::AckRequest& request) {
  if (Status s = check_name("socket_id", request.socket_id(), true); !s.ok()) return s;
  Result<std::string> args = checked_args(request.args_json(), 0);
  if (!args.ok()) return args.error();
  realtime::Message message;
  message.kind = realtime::Message::Kind::kAck;
  message.name_space = namespace_or_main(request.namespace_());
  message.ack_id = request.ack_id();
  message.args_json = std::move(args).value();
  return hub_->send_to(request.socket_id(), message);
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::Ack(grpc::CallbackServerContext* context,
                                                   const v1::AckRequest* request, v1::AckResponse* /*response*/) {
  if (Status s = admit(*context); !s.ok()) return finish(context, s);
  return finish(context, apply_ack(*request));
}

grpc::ServerUnaryReactor* RealtimeServiceImpl::AckBatch(grpc::CallbackServerContext* context,
                                                        const v1::AckBatchRequest* request,
                                                        v1::AckBatchResponse* response) {
  if (Status s = admit(*context); !s.ok()) return finish(context, s);
  if (request->acks_size() > kMaxAcksPerBatch) {
    return finish(context, Error::invalid("acks", "TOO_MANY_ACKS",
                                          fmt::format("acks holds {} entries; at most {} are allowed per batch",
                                                      request->acks_size(), kMaxAcksPerBatch)));
  }
  for (const v1::AckRequest& ack : request->acks()) {
    const Status status = apply_ack(ack);
    v1::AckResult* result = response->add_results();
    if (!status.ok()) {
      result->set_code(static_cast<int32_t>(status.error().code));
      result->set_message(status.error().message);
    }
  }
  return finish(context, Status::Ok());
}

}  // namespace heavylift
