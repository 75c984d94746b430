// Test helper: an in-process gRPC server for one service on a free loopback port.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace heavylift {

struct LoopbackServer {
  std::unique_ptr<grpc::Server> server;
  // A channel to the server, or nullptr when no port could be bound.
  std::shared_ptr<grpc::Channel> channel;
};

// Starts a server for `service`, which must outlive it, on 127.0.0.1 with a port the OS picks.
inline LoopbackServer start_loopback_server(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  LoopbackServer started;
  started.server = builder.BuildAndStart();
  if (port != 0) {
    started.channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  }
  return started;
}

}  // namespace heavylift
