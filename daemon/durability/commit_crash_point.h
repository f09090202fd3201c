// A test hook in the commit path (docs/durability.md, "Kill at the N-th commit"), as SQLite's
// writecrash test does it: HEARTH_TEST_CRASH_AT_COMMIT=N[:before|after] makes hearthd SIGKILL
// itself at its N-th per-iteration commit, inside the transaction once the rows are written
// ("before", the default) or right after COMMIT returned, before the tokens are streamed
// ("after"). Read once at start; unset, it costs one branch per commit.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/status.h"
#include "daemon/engine/token_committer.h"

namespace hearth::daemon {

inline constexpr const char* kCrashAtCommitEnv = "HEARTH_TEST_CRASH_AT_COMMIT";

enum class CrashPhase { kBeforeCommit, kAfterCommit };

struct CommitCrashPoint {
  int64_t commit = 0;  // 1-based: the first per-iteration commit is 1
  CrashPhase phase = CrashPhase::kBeforeCommit;
};

// Parses the variable's value: "N", "N:before" or "N:after", N >= 1. Null or empty: none.
StatusOr<std::optional<CommitCrashPoint>> ParseCommitCrashPoint(const char* value);

// Logs which commit and which tokens it held ("crash test hook: SIGKILL at commit" with
// tokens=ID:INDEX,...) and raises SIGKILL on the process. Never returns.
[[noreturn]] void CrashAtCommit(const CommitCrashPoint& point, std::span<const TokenRecord> tokens,
                                std::span<const EndRecord> ended);

}  // namespace hearth::daemon
