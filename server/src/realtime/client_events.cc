#include "realtime/client_events.h"

#include <algorithm>
#include <map>

namespace heavylift::realtime {

ClientEventSubscription::ClientEventSubscription(std::string group, std::vector<std::string> namespaces,
                                                 size_t capacity)
    : group_(std::move(group)), namespaces_(std::move(namespaces)), capacity_(capacity) {}

std::optional<ClientEvent> ClientEventSubscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [this] { return !queue_.empty() || closed_; });
  if (queue_.empty()) return std::nullopt;
  ClientEvent event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

namespace {

// Estimates the bytes `event` takes in a batch message: its strings plus
// 32 for field tags and lengths.
size_t payload_bytes(const ClientEvent& event) {
  size_t bytes = 32 + event.name_space.size() + event.socket_id.size() + event.user_id.size() + event.event.size() +
                 event.args_json.size() + event.room.size() + event.reason.size();
  for (const std::string& attachment : event.attachments) bytes += attachment.size();
  return bytes;
}

}  // namespace

std::vector<ClientEvent> ClientEventSubscription::next_batch(std::chrono::milliseconds timeout, size_t max_events,
                                                             size_t max_bytes) {
  std::vector<ClientEvent> batch;
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [this] { return !queue_.empty() || closed_; });
  size_t bytes = 0;
  while (!queue_.empty() && batch.size() < max_events) {
    const size_t event_bytes = payload_bytes(queue_.front());
    if (!batch.empty() && bytes + event_bytes > max_bytes) break;
    bytes += event_bytes;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

bool ClientEventSubscription::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

bool ClientEventSubscription::wants(const std::string& name_space) const {
  return namespaces_.empty() || std::find(namespaces_.begin(), namespaces_.end(), name_space) != namespaces_.end();
}

bool ClientEventSubscription::push(const ClientEvent& event) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || queue_.size() >= capacity_) return false;
    queue_.push_back(event);
  }
  ready_.notify_one();
  return true;
}

void ClientEventSubscription::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

ClientEventBroker::ClientEventBroker(size_t capacity, Metrics& metrics)
    : capacity_(capacity),
      dropped_slow_(metrics.counter("heavylift_realtime_drops_total",
                                    "Messages the real-time hub dropped, by reason.",
                                    {{"reason", "subscriber_queue_full"}})),
      dropped_unsubscribed_(metrics.counter("heavylift_realtime_drops_total",
                                            "Messages the real-time hub dropped, by reason.",
                                            {{"reason", "no_subscriber"}})),
      published_(metrics.counter("heavylift_realtime_client_events_total",
                                 "Client events (messages, connects, disconnects, joins, leaves) forwarded "
                                 "to subscribers.")) {}

std::shared_ptr<ClientEventSubscription> ClientEventBroker::subscribe(const std::string& group,
                                                                      std::vector<std::string> namespaces) {
  auto subscription = std::make_shared<ClientEventSubscription>(group, std::move(namespaces), capacity_);
  std::lock_guard lock(mutex_);
  subscriptions_.push_back(subscription);
  return subscription;
}

void ClientEventBroker::unsubscribe(const std::shared_ptr<ClientEventSubscription>& subscription) {
  subscription->close();
  std::lock_guard lock(mutex_);
  std::erase(subscriptions_, subscription);
}

void ClientEventBroker::publish(const ClientEvent& event) {
  std::lock_guard lock(mutex_);
  // Named groups: collect the members that want the event, then pick one.
  std::map<std::string, std::vector<ClientEventSubscription*>> groups;
  bool delivered = false;
  for (const auto& subscription : subscriptions_) {
    if (!subscription->wants(event.name_space)) continue;
    if (subscription->group_.empty()) {
      if (subscription->push(event)) {
        delivered = true;
      } else {
        dropped_slow_.inc();
      }
    } else {
      groups[subscription->group_].push_back(subscription.get());
    }
  }
  for (auto& [group, members] : groups) {
    ClientEventSubscription* chosen = members[turn_ % members.size()];
    if (chosen->push(event)) {
      delivered = true;
    } else {
      dropped_slow_.inc();
    }
  }
  ++turn_;
  if (delivered) {
    published_.inc();
  } else if (groups.empty() && subscriptions_.empty()) {
    dropped_unsubscribed_.inc();
  }
}

void ClientEventBroker::close_all() {
  std::lock_guard lock(mutex_);
  for (const auto& subscription : subscriptions_) subscription->close();
  subscriptions_.clear();
}

size_t ClientEventBroker::subscriber_count() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

}  // namespace heavylift::realtime
