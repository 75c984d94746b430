// gRPC AggregateService: Aggregate and Decode only name their task; the
// TaskCallDispatcher runs it with the call's deadline and cancellation.
// Live is a client stream over ClientStreamCall whose handler feeds a
// LiveStream.
#pragma once

#include <memory>

#include "grpc/stream_call.h"
#include "grpc/task_call.h"
#include "heavylift/v1/aggregate.grpc.pb.h"
#include "tasks/aggregate/live_stream.h"

namespace heavylift {

// Feeds one Live call into a LiveStream. StreamCallTracker checks the bearer
// token before the call reaches this handler.
class LiveHandler final : public ClientStreamHandler<v1::LiveInput, v1::LiveSummary> {
 public:
  LiveHandler(realtime::Hub* hub, const LiveLimits& limits) : stream_(hub, limits) {}

  Status on_message(v1::LiveInput& message, TaskContext& context) override {
    return stream_.on_message(message, context);
  }
  Status on_end(v1::LiveSummary* response, TaskContext& context) override {
    return stream_.on_end(response, context);
  }

 private:
  LiveStream stream_;
};

class AggregateServiceImpl final : public v1::AggregateService::CallbackService {
 public:
  // `hub` may be nullptr when the real-time hub is off.
  AggregateServiceImpl(TaskCallDispatcher& dispatcher, StreamCallTracker& streams, realtime::Hub* hub)
      : dispatcher_(dispatcher), streams_(streams), hub_(hub) {}

  grpc::ServerUnaryReactor* Aggregate(grpc::CallbackServerContext* context, const v1::AggregateRequest* request,
                                      v1::AggregateResponse* response) override {
    return dispatcher_.dispatch(context, "aggregate.run", request, response);
  }

  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context, const v1::DecodeRequest* request,
                                   v1::DecodeResponse* response) override {
    return dispatcher_.dispatch(context, "aggregate.decode", request, response);
  }

  grpc::ServerReadReactor<v1::LiveInput>* Live(grpc::CallbackServerContext* context, v1::LiveSummary* response) override {
    StreamCallOptions options;
    options.method = "aggregate.live";
    return ClientStreamCall<v1::LiveInput, v1::LiveSummary>::start(
        context, response, std::move(options), std::make_unique<LiveHandler>(hub_, LiveLimits{}), streams_);
  }

 private:
  TaskCallDispatcher& dispatcher_;
  StreamCallTracker& streams_;
  realtime::Hub* hub_;
};

}  // namespace heavylift
