// heavylift_loadgen: a Socket.IO load generator for bench/realtime.
//
// One process opens many WebSocket connections from one source address on a
// single-threaded Asio event loop. It speaks just enough Engine.IO 4 and
// Socket.IO 5 for the benchmark: CONNECT with a JWT in the auth payload,
// joining a room through the hub's "heavylift:join" event, replying to pings,
// timing "tick" events by the "ts" field of their payload, sending "work"
// events with acks, and reconnecting after the server goes away. It parses
// only the output of the servers under test, which the benchmark starts.
//
// Commands come on standard input, one per line; each answer is one JSON line
// on standard output:
//   connect                 open the connections; {"type":"connected","ready":N,"failed":N}
//   report                  fan-out deliveries since the last report, with a latency histogram
//   acks RATE SECONDS       every connection sends RATE "work" events a second with an ack
//   reconnects              connections lost and regained since the last call, with their times
//   quit                    close everything and exit
// Latency histograms are [[bucket, count], ...] with buckets of 0.1 ms.
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Wall-clock time in milliseconds, comparable with Date.now() in Node.
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string local_address = "127.0.0.1";
  std::string token;
  std::string join_room;  // joined with "heavylift:join" after CONNECT when set
  size_t count = 100;
  size_t concurrency = 200;  // handshakes in flight at once
  bool reconnect = false;
};

// Latency counts in buckets of 0.1 ms.
class Histogram {
 public:
  void add(double ms) {
    const auto bucket = static_cast<int64_t>(ms * 10.0);
    ++counts_[bucket < 0 ? 0 : bucket];
  }
  std::string json() const {
    std::string out = "[";
    for (const auto& [bucket, count] : counts_) {
      if (out.size() > 1) out += ",";
      out += "[" + std::to_string(bucket) + "," + std::to_string(count) + "]";
    }
    return out + "]";
  }
  void clear() { counts_.clear(); }

 private:
  std::map<int64_t, uint64_t> counts_;
};

struct Stats {
  uint64_t deliveries = 0;
  double first_delivery = 0;
  double last_delivery = 0;
  Histogram delivery_latency;
  uint64_t acks_sent = 0;
  uint64_t acks_answered = 0;
  Histogram ack_latency;
  uint64_t disconnects = 0;
  std::vector<double> reconnected_at;  // wall-clock ms of each regained connection
  std::vector<double> reconnect_ms;    // time from loss to regained, each
  // Failed attempts to open a connection, by stage and error.
  std::map<std::string, uint64_t> failures;
};

class LoadGen;

// One client connection and its Socket.IO session.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(LoadGen& owner, size_t index);
  void open();
  void start_work(double interval_ms, double until_ms);
  bool ready() const { return ready_; }
  void close() {
    closing_ = true;
    if (ws_) drop_socket();
  }

 private:
  void on_connect(beast::error_code ec);
  void read_next();
  void on_message(const std::string& text);
  void send(std::string text);
  void write_next();
  // `stage` and `ec` name what failed, for the failure counts.
  void lost(const char* stage = "closed", beast::error_code ec = {});
  void finish_open(bool ok);
  void schedule_work();
  void drop_socket() {
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
  }

  LoadGen& owner_;
  const size_t index_;
  asio::io_context& io_;
  // Replaced for each reconnect, since a closed stream keeps its failed state.
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool ready_ = false;
  bool first_attempt_ = false;  // the attempt that connect_all() counts
  bool closing_ = false;
  double lost_at_ = 0;
  int attempts_ = 0;
  asio::steady_timer timer_;
  double work_interval_ms_ = 0;
  double work_until_ms_ = 0;
  uint64_t next_ack_id_ = 1;
  std::unordered_map<uint64_t, double> pending_acks_;
};

class LoadGen {
 public:
  explicit LoadGen(Options options) : options_(std::move(options)), input_(io_, ::dup(STDIN_FILENO)) {
    endpoint_ = tcp::endpoint(asio::ip::make_address(options_.host),
                              static_cast<unsigned short>(std::stoi(options_.port)));
    local_ = asio::ip::make_address(options_.local_address);
  }

  void run() {
    read_command();
    io_.run();
  }

  asio::io_context& io() { return io_; }
  const Options& options() const { return options_; }
  const tcp::endpoint& endpoint() const { return endpoint_; }
  const asio::ip::address& local() const { return local_; }
  Stats& stats() { return stats_; }
  std::mt19937& random() { return random_; }

  // Called once per opening attempt started by connect_all().
  void opened(bool ok) {
    --in_flight_;
    if (ok) ++ready_;
    else ++failed_;
    open_more();
  }

 private:
  void read_command() {
    asio::async_read_until(input_, line_buffer_, '\n', [this](beast::error_code ec, size_t) {
      if (ec) {
        quit();
        return;
      }
      std::istream stream(&line_buffer_);
      std::string line;
      std::getline(stream, line);
      handle(line);
      read_command();
    });
  }

  void handle(const std::string& line) {
    std::istringstream words(line);
    std::string command;
    words >> command;
    if (command == "connect") {
      connect_all();
    } else if (command == "report") {
      Stats& s = stats_;
      emit("{\"type\":\"report\",\"deliveries\":" + std::to_string(s.deliveries) +
           ",\"first\":" + number(s.first_delivery) + ",\"last\":" + number(s.last_delivery) +
           ",\"hist\":" + s.delivery_latency.json() + "}");
      s.deliveries = 0;
      s.first_delivery = s.last_delivery = 0;
      s.delivery_latency.clear();
    } else if (command == "acks") {
      double rate = 10;
      double seconds = 5;
      words >> rate >> seconds;
      start_acks(rate, seconds);
    } else if (command == "reconnects") {
      Stats& s = stats_;
      size_t open = 0;
      for (const auto& client : clients_) open += client->ready() ? 1 : 0;
      emit("{\"type\":\"reconnects\",\"disconnects\":" + std::to_string(s.disconnects) +
           ",\"open\":" + std::to_string(open) + ",\"at\":" + list(s.reconnected_at) +
           ",\"ms\":" + list(s.reconnect_ms) + ",\"failures\":" + failures_json(s.failures) + "}");
      s.failures.clear();
      s.disconnects = 0;
      s.reconnected_at.clear();
      s.reconnect_ms.clear();
    } else if (command == "quit") {
      quit();
    } else if (!command.empty()) {
      std::fprintf(stderr, "heavylift_loadgen: unknown command %s\n", command.c_str());
    }
  }

  void connect_all() {
    clients_.reserve(options_.count);
    for (size_t i = 0; i < options_.count; ++i) clients_.push_back(std::make_shared<Client>(*this, i));
    next_ = 0;
    ready_ = failed_ = 0;
    open_more();
  }

  void open_more() {
    while (in_flight_ < options_.concurrency && next_ < clients_.size()) {
      ++in_flight_;
      clients_[next_++]->open();
    }
    if (in_flight_ == 0 && next_ == clients_.size() && !clients_.empty() && !reported_connected_) {
      reported_connected_ = true;
      emit("{\"type\":\"connected\",\"ready\":" + std::to_string(ready_) + ",\"failed\":" + std::to_string(failed_) +
           "}");
    }
  }

  void start_acks(double rate, double seconds) {
    const double interval = 1000.0 / rate;
    const double until = now_ms() + seconds * 1000.0;
    stats_.acks_sent = stats_.acks_answered = 0;
    stats_.ack_latency.clear();
    for (const auto& client : clients_) client->start_work(interval, until);
    // Answers that arrive up to two seconds after the last send still count.
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(
                                                               static_cast<int64_t>(seconds * 1000 + 2000)));
    timer->async_wait([this, timer](beast::error_code) {
      emit("{\"type\":\"acks\",\"sent\":" + std::to_string(stats_.acks_sent) +
           ",\"answered\":" + std::to_string(stats_.acks_answered) + ",\"hist\":" + stats_.ack_latency.json() + "}");
    });
  }

  void quit() {
    for (const auto& client : clients_) client->close();
    std::fflush(stdout);
    std::_Exit(0);
  }

  static std::string number(double value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.3f", value);
    return text;
  }
  static std::string list(const std::vector<double>& values) {
    std::string out = "[";
    for (double value : values) {
      if (out.size() > 1) out += ",";
      out += number(value);
    }
    return out + "]";
  }
  static std::string failures_json(const std::map<std::string, uint64_t>& failures) {
    std::string out = "{";
    for (const auto& [what, count] : failures) {
      if (out.size() > 1) out += ",";
      out += "\"" + what + "\":" + std::to_string(count);
    }
    return out + "}";
  }
  static void emit(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  Options options_;
  asio::io_context io_{1};
  asio::posix::stream_descriptor input_;
  asio::streambuf line_buffer_;
  tcp::endpoint endpoint_;
  asio::ip::address local_;
  std::vector<std::shared_ptr<Client>> clients_;
  size_t next_ = 0;
  size_t in_flight_ = 0;
  size_t ready_ = 0;
  size_t failed_ = 0;
  bool reported_connected_ = false;
  Stats stats_;
  std::mt19937 random_{std::random_device{}()};
};

Client::Client(LoadGen& owner, size_t index)
    : owner_(owner), index_(index), io_(owner.io()), timer_(owner.io()) {}

void Client::open() {
  if (!ws_) first_attempt_ = true;
  ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(io_);
  buffer_.clear();
  auto& socket = beast::get_lowest_layer(*ws_).socket();
  beast::error_code ec;
  socket.open(tcp::v4(), ec);
  // Many connections share one source address: let connect() pick the port
  // per destination instead of reserving one at bind().
  const int enable = 1;
  if (!ec) ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &enable, sizeof enable);
  if (!ec) socket.bind(tcp::endpoint(owner_.local(), 0), ec);
  if (ec) {
    lost("bind", ec);
    return;
  }
  beast::get_lowest_layer(*ws_).expires_after(std::chrono::seconds(30));
  beast::get_lowest_layer(*ws_).async_connect(owner_.endpoint(), [self = shared_from_this()](beast::error_code error) {
    self->on_connect(error);
  });
}

void Client::on_connect(beast::error_code ec) {
  if (ec) {
    lost("connect", ec);
    return;
  }
  beast::error_code ignored;
  beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true), ignored);
  ws_->async_handshake(owner_.options().host + ":" + owner_.options().port, "/socket.io/?EIO=4&transport=websocket",
                      [self = shared_from_this()](beast::error_code error) {
                        if (error) {
                          self->lost("handshake", error);
                          return;
                        }
                        beast::get_lowest_layer(*self->ws_).expires_never();
                        self->read_next();
                      });
}

void Client::read_next() {
  ws_->async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) {
      self->lost("read", ec);
      return;
    }
    const std::string text = beast::buffers_to_string(self->buffer_.data());
    self->buffer_.consume(self->buffer_.size());
    self->on_message(text);
    self->read_next();
  });
}

void Client::on_message(const std::string& text) {
  if (text.empty()) return;
  Stats& stats = owner_.stats();
  if (text == "2") {
    send("3");
  } else if (text[0] == '0') {
    send("40{\"token\":\"" + owner_.options().token + "\"}");
  } else if (text.rfind("40", 0) == 0) {
    if (owner_.options().join_room.empty()) {
      finish_open(true);
    } else {
      send("420[\"heavylift:join\",\"" + owner_.options().join_room + "\"]");
    }
  } else if (text.rfind("430", 0) == 0 && !ready_) {
    finish_open(true);
  } else if (text.rfind("42[\"tick\"", 0) == 0) {
    const double at = now_ms();
    const size_t ts = text.find("\"ts\":");
    if (ts == std::string::npos) return;
    const double sent = std::strtod(text.c_str() + ts + 5, nullptr);
    ++stats.deliveries;
    if (stats.first_delivery == 0) stats.first_delivery = at;
    stats.last_delivery = at;
    stats.delivery_latency.add(at - sent);
  } else if (text.rfind("43", 0) == 0) {
    const uint64_t id = std::strtoull(text.c_str() + 2, nullptr, 10);
    auto found = pending_acks_.find(id);
    if (found == pending_acks_.end()) return;
    stats.ack_latency.add(now_ms() - found->second);
    ++stats.acks_answered;
    pending_acks_.erase(found);
  } else if (text.rfind("44", 0) == 0) {
    // The read that follows fails and reports the loss.
    std::fprintf(stderr, "heavylift_loadgen: CONNECT_ERROR %s\n", text.c_str());
    drop_socket();
  } else if (text.rfind("41", 0) == 0) {
    drop_socket();
  }
}

void Client::finish_open(bool ok) {
  if (ok) {
    ready_ = true;
    attempts_ = 0;
    if (lost_at_ > 0) {
      const double at = now_ms();
      owner_.stats().reconnected_at.push_back(at);
      owner_.stats().reconnect_ms.push_back(at - lost_at_);
      lost_at_ = 0;
    }
  }
  if (first_attempt_) {
    first_attempt_ = false;
    owner_.opened(ok);
  }
}

// The connection failed or closed: reconnect as socket.io-client does by
// default (delay 1 s doubling up to 5 s, each randomized by +-50 %), or report
// the failure of a first attempt.
void Client::lost(const char* stage, beast::error_code ec) {
  const bool was_open = ready_;
  if (!was_open) ++owner_.stats().failures[std::string(stage) + ": " + (ec ? ec.message() : "closed")];
  ready_ = false;
  writing_ = false;
  out_.clear();
  pending_acks_.clear();
  drop_socket();
  if (was_open) {
    ++owner_.stats().disconnects;
    lost_at_ = now_ms();
  }
  if (first_attempt_) {
    finish_open(false);
    return;
  }
  if (!owner_.options().reconnect || closing_) return;
  const double base = std::min(5000.0, 1000.0 * static_cast<double>(1 << std::min(attempts_, 3)));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const double delay = base * jitter(owner_.random());
  ++attempts_;
  timer_.expires_after(std::chrono::microseconds(static_cast<int64_t>(delay * 1000)));
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->closing_) return;
    self->open();
  });
}

void Client::send(std::string text) {
  out_.push_back(std::move(text));
  if (!writing_) write_next();
}

void Client::write_next() {
  if (out_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  ws_->text(true);
  ws_->async_write(asio::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return;  // the read side notices the loss and reconnects
    if (!self->out_.empty()) self->out_.pop_front();
    self->write_next();
  });
}

void Client::start_work(double interval_ms, double until_ms) {
  work_interval_ms_ = interval_ms;
  work_until_ms_ = until_ms;
  // Spread the first sends over one interval so the load is even.
  std::uniform_real_distribution<double> offset(0, interval_ms);
  timer_.expires_after(std::chrono::microseconds(static_cast<int64_t>(offset(owner_.random()) * 1000)));
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->schedule_work();
  });
}

void Client::schedule_work() {
  if (!ready_ || now_ms() >= work_until_ms_) return;
  const uint64_t id = next_ack_id_++;
  pending_acks_[id] = now_ms();
  ++owner_.stats().acks_sent;
  send("42" + std::to_string(id) + "[\"work\",{\"n\":" + std::to_string(index_) + "}]");
  timer_.expires_after(std::chrono::microseconds(static_cast<int64_t>(work_interval_ms_ * 1000)));
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->schedule_work();
  });
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--host") options.host = value;
    else if (flag == "--port") options.port = value;
    else if (flag == "--local-address") options.local_address = value;
    else if (flag == "--count") options.count = std::stoul(value);
    else if (flag == "--concurrency") options.concurrency = std::stoul(value);
    else if (flag == "--token") options.token = value;
    else if (flag == "--join-room") options.join_room = value;
    else if (flag == "--reconnect") options.reconnect = value == "1";
    else {
      std::fprintf(stderr, "heavylift_loadgen: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  if (options.port.empty()) {
    std::fprintf(stderr, "heavylift_loadgen: --port is required\n");
    return 2;
  }
  LoadGen(std::move(options)).run();
  return 0;
}
