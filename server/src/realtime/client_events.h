// Client events forwarded to the Node app: what sockets send, and when they
// connect, disconnect, join or leave rooms. Node no longer holds the sockets,
// so its handlers read these from a subscription (the gRPC server stream
// RealtimeService.Subscribe).
//
// Each subscription has a bounded queue. When it is full the event is dropped
// for that subscriber and counted, so a slow subscriber never stalls the hub.
// Subscriptions that share a group name split the events between them (each
// event goes to one of them, in turn), like several instances of one app.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"

namespace heavylift::realtime {

struct ClientEvent {
  enum class Type { kConnect, kDisconnect, kEvent, kJoin, kLeave };
  Type type = Type::kEvent;
  std::string name_space;
  std::string socket_id;
  std::string user_id;
  std::string event;      // kEvent: the event name
  std::string args_json;  // kEvent: JSON array of arguments
  std::vector<std::string> attachments;
  std::optional<uint64_t> ack_id;  // kEvent: set when the client waits for an ack
  std::string room;                // kJoin, kLeave
  std::string reason;              // kDisconnect
};

class ClientEventSubscription {
 public:
  ClientEventSubscription(std::string group, std::vector<std::string> namespaces, size_t capacity);

  // Waits up to `timeout` for the next event; nullopt on timeout or when the
  // subscription was closed and is empty.
  std::optional<ClientEvent> next(std::chrono::milliseconds timeout);
  // Waits up to `timeout` for an event, then takes it and the events queued
  // behind it, in order. Stops at `max_events`, or before an event that
  // would take the encoded size over about `max_bytes`; the first event is
  // always taken. Empty on timeout or when the subscription was closed and
  // is empty.
  std::vector<ClientEvent> next_batch(std::chrono::milliseconds timeout, size_t max_events, size_t max_bytes);
  bool closed() const;

 private:
  friend class ClientEventBroker;
  bool wants(const std::string& name_space) const;
  // Returns false, dropping the event, when the queue is full.
  bool push(const ClientEvent& event);
  void close();

  const std::string group_;
  const std::vector<std::string> namespaces_;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<ClientEvent> queue_;
  bool closed_ = false;
};

class ClientEventBroker {
 public:
  // `capacity`: events each subscription may hold before new ones are dropped.
  ClientEventBroker(size_t capacity, Metrics& metrics);

  // Subscribes to the events of `namespaces` (all when empty). An empty group
  // receives every event; a named group shares them with its other members.
  std::shared_ptr<ClientEventSubscription> subscribe(const std::string& group, std::vector<std::string> namespaces);
  void unsubscribe(const std::shared_ptr<ClientEventSubscription>& subscription);
  void publish(const ClientEvent& event);
  // Ends every subscription, as the hub stops.
  void close_all();
  size_t subscriber_count() const;

 private:
  const size_t capacity_;
  Counter& dropped_slow_;
  Counter& dropped_unsubscribed_;
  Counter& published_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<ClientEventSubscription>> subscriptions_;
  uint64_t turn_ = 0;  // round-robin position within named groups
};

}  // namespace heavylift::realtime
