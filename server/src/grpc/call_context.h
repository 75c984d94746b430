// Steps every gRPC call adapter shares: building the TaskContext of a call
// from its deadline and x-request-id, and turning a Status into the gRPC
// status and the heavylift-error-bin trailer.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "core/error.h"
#include "core/task_context.h"

namespace heavylift {

// Returns a context with the call's deadline (steady clock), its request
// id (the caller's x-request-id when it is 1..64 characters of
// [A-Za-z0-9._-], otherwise a new random 16-hex-digit id) and the trace id
// of its traceparent metadata, if valid.
std::shared_ptr<TaskContext> make_call_context(const grpc::CallbackServerContext& server_context);

// Returns the trace id of the call's `traceparent` metadata, or empty when it
// has none or an invalid one.
std::string trace_id_of(const grpc::CallbackServerContext& server_context);

// Returns the gRPC status for `status`. For an error it adds the serialized
// heavylift.v1.ErrorDetail as trailing metadata "heavylift-error-bin" to
// `server_context`, so call it once, just before Finish().
grpc::Status to_grpc_status(const Status& status, grpc::CallbackServerContext* server_context);

}  // namespace heavylift
