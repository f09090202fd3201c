#include "daemon/durability/commit_crash_point.h"

#include <signal.h>

#include <charconv>
#include <cstdlib>
#include <string>

#include "common/log.h"

namespace hearth::daemon {

StatusOr<std::optional<CommitCrashPoint>> ParseCommitCrashPoint(const char* value) {
  if (value == nullptr || *value == '\0') return std::optional<CommitCrashPoint>();
  const std::string_view text(value);
  const size_t colon = text.find(':');
  const std::string_view number = text.substr(0, colon);
  const std::string_view phase = colon == std::string_view::npos ? "before" : text.substr(colon + 1);
  auto bad = [&] {
    return Status::InvalidArgument(std::string(kCrashAtCommitEnv) +
                                   " must be N, N:before or N:after with N >= 1, got \"" + std::string(text) + "\"");
  };
  CommitCrashPoint point;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), point.commit);
  if (ec != std::errc() || end != number.data() + number.size() || point.commit < 1) return bad();
  if (phase == "before") {
    point.phase = CrashPhase::kBeforeCommit;
  } else if (phase == "after") {
    point.phase = CrashPhase::kAfterCommit;
  } else {
    return bad();
  }
  return std::optional<CommitCrashPoint>(point);
}

void CrashAtCommit(const CommitCrashPoint& point, std::span<const TokenRecord> tokens,
                   std::span<const EndRecord> ended) {
  std::string held, ends;
  for (const TokenRecord& t : tokens) {
    if (!held.empty()) held.push_back(',');
    held.append(std::to_string(t.request_id)).push_back(':');
    held.append(std::to_string(t.index));
  }
  for (const EndRecord& e : ended) {
    if (!ends.empty()) ends.push_back(',');
    ends.append(std::to_string(e.request_id));
  }
  // The log line goes out unbuffered (stderr) before the signal: tests read it.
  LogError("crash test hook: SIGKILL at commit")
      .Kv("commit", point.commit)
      .Kv("phase", point.phase == CrashPhase::kBeforeCommit ? "before" : "after")
      .Kv("tokens", held)
      .Kv("ended", ends);
  ::raise(SIGKILL);
  std::abort();  // not reached
}

}  // namespace hearth::daemon
