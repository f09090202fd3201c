// How a request id is written for clients (X-Request-Id, a response's "id", /v1/requests/{id})
// and read back. On a single node it is the number, "42". In a cluster it carries the entry
// node's name, "node-a-42": node names are unique in the cluster, so the id is too, and it says
// which node to ask about the request.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::daemon {

// `scope`: empty on a single node, else this node's name.
inline std::string RequestIdText(std::string_view scope, uint64_t id) {
  std::string out;
  if (!scope.empty()) out.append(scope).append("-");
  return out.append(std::to_string(id));
}

// The id in `text`: a number, or "SCOPE-NUMBER" with this node's scope, after an optional
// "chatcmpl-", "cmpl-" or "msg_" (a response body's id, which clients hold more often than the
// header).
// nullopt for anything else, another node's id included.
inline std::optional<uint64_t> ParseRequestIdText(std::string_view scope, std::string_view text) {
  for (std::string_view prefix : {"chatcmpl-", "cmpl-", "msg_"}) {
    if (text.substr(0, prefix.size()) == prefix) {
      text.remove_prefix(prefix.size());
      break;
    }
  }
  if (!scope.empty() && text.size() > scope.size() && text.substr(0, scope.size()) == scope &&
      text[scope.size()] == '-') {
    text.remove_prefix(scope.size() + 1);
  }
  uint64_t id = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, id);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return id;
}

}  // namespace hearth::daemon
