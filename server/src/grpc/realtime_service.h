// gRPC adapter of the real-time hub (heavylift.v1.RealtimeService): the Node
// app's way to emit to rooms, manage membership, read presence and receive
// client events. Each method checks its request, calls the Hub and maps the
// result; no wire format of Socket.IO is visible here.
//
// Errors: INVALID_ARGUMENT names the field (an empty event name, args_json
// that is not a JSON array, a missing selector); NOT_FOUND for an unknown
// socket; DEADLINE_EXCEEDED when a client does not acknowledge in time;
// UNAVAILABLE when the hub is off or the socket closed.
//
// Thread-safety: gRPC calls the methods from its own threads; the Hub is
// thread-safe. The Hub must outlive the service.
#pragma once

#include "grpc/task_call.h"
#include "heavylift/v1/realtime.grpc.pb.h"
#include "realtime/hub.h"
#include "realtime/redis_bridge.h"

namespace heavylift {

class RealtimeServiceImpl final : public v1::RealtimeService::CallbackService {
 public:
  // `dispatcher` checks each call's bearer token. `hub` may be nullptr when
  // the hub is off; every method then fails with UNAVAILABLE naming the
  // realtime.address setting. With a `bridge`, Members lists the members on
  // every hub that shares its Redis. Every argument must outlive the service.
  RealtimeServiceImpl(const TaskCallDispatcher& dispatcher, realtime::Hub* hub, realtime::RedisBridge* bridge)
      : dispatcher_(dispatcher), hub_(hub), bridge_(bridge) {}

  grpc::ServerUnaryReactor* Emit(grpc::CallbackServerContext* context, const v1::EmitRequest* request,
                                 v1::EmitResponse* response) override;
  grpc::ServerUnaryReactor* EmitWithAck(grpc::CallbackServerContext* context, const v1::EmitWithAckRequest* request,
                                        v1::EmitWithAckResponse* response) override;
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* context, const v1::RoomMembershipRequest* request,
                                 v1::RoomMembershipResponse* response) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* context, const v1::RoomMembershipRequest* request,
                                  v1::RoomMembershipResponse* response) override;
  grpc::ServerUnaryReactor* Members(grpc::CallbackServerContext* context, const v1::MembersRequest* request,
                                    v1::MembersResponse* response) override;
  grpc::ServerUnaryReactor* Disconnect(grpc::CallbackServerContext* context, const v1::DisconnectRequest* request,
                                       v1::DisconnectResponse* response) override;
  grpc::ServerWriteReactor<v1::ClientEvent>* Subscribe(grpc::CallbackServerContext* context,
                                                        const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* context, const v1::AckRequest* request,
                                v1::AckResponse* response) override;
  grpc::ServerUnaryReactor* AckBatch(grpc::CallbackServerContext* context, const v1::AckBatchRequest* request,
                                     v1::AckBatchResponse* response) override;

 private:
  // Checks the call's bearer token, then that the hub is on.
  Status admit(const grpc::CallbackServerContext& context) const;
  // Checks one ack and queues it to its socket.
  Status apply_ack(const v1::AckRequest& request);
  // Join (join true) or Leave.
  grpc::ServerUnaryReactor* change_membership(grpc::CallbackServerContext* context,
                                              const v1::RoomMembershipRequest& request,
                                              v1::RoomMembershipResponse* response, bool join);

  const TaskCallDispatcher& dispatcher_;
  realtime::Hub* hub_;
  realtime::RedisBridge* bridge_;
};

}  // namespace heavylift
