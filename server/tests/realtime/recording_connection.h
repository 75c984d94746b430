#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "realtime/hub.h"
#include "realtime/socketio_server.h"

namespace heavylift::realtime {

// Records what the hub sends, decoded back to the first text frame.
class RecordingConnection : public Connection {
 public:
  void send(EncodedMessage frames) override {
    std::lock_guard lock(mutex);
    sent.push_back(frames->front().data);
  }
  void send_with_ack(const std::string&, Message message, std::chrono::milliseconds, AckCallback done) override {
    message.ack_id = 1;
    send(encode_socketio_message(message));
    done(std::string("[\"pong\"]"));
  }
  void close_socket(const std::string& socket_id, const std::string&) override { closed_sockets.push_back(socket_id); }
  void close(const std::string& reason) override { close_reason = reason; }

  std::mutex mutex;
  std::vector<std::string> sent;
  std::vector<std::string> closed_sockets;
  std::string close_reason;
};

}  // namespace heavylift::realtime
