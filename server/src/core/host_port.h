// Splitting and joining "host:port" addresses, with IPv6 hosts in brackets
// ("[::1]:50051").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace heavylift {

struct HostPort {
  std::string host;  // without brackets
  std::string port;
};

// Splits `address` at its last ':' and removes brackets around the host.
// Returns nullopt when there is no ':' or the host or port is empty.
inline std::optional<HostPort> split_host_port(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return std::nullopt;
  return HostPort{std::string(host), std::string(address.substr(colon + 1))};
}

// Joins `host` and `port`, putting an IPv6 host in brackets.
inline std::string join_host_port(std::string_view host, std::string_view port) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  return (ipv6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::string(port);
}

}  // namespace heavylift
