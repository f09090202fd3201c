// Why a request ended, as the engine reports it and OpenAI names it. It travels as this enum;
// FinishReasonName turns it into text only where JSON is written or a row is stored, and
// ParseFinishReason reads a stored one back.
#pragma once

#include <ostream>
#include <string_view>

namespace hearth::daemon {

enum class FinishReason {
  kStop,       // a stop token or a stop string
  kLength,     // max_tokens
  kCancelled,  // cancelled (a client went away, someone cancelled it)
  kError,      // failed; FinishEvent::status says why
};

// "stop", "length", "cancelled", "error".
inline const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "error";
}

inline std::ostream& operator<<(std::ostream& os, FinishReason reason) { return os << FinishReasonName(reason); }

// False for a name that is none of the above.
inline bool ParseFinishReason(std::string_view name, FinishReason* reason) {
  for (FinishReason r : {FinishReason::kStop, FinishReason::kLength, FinishReason::kCancelled, FinishReason::kError}) {
    if (name == FinishReasonName(r)) {
      *reason = r;
      return true;
    }
  }
  return false;
}

// The request produced its answer (stop or length), as opposed to being cut short.
inline bool IsCompleted(FinishReason reason) {
  return reason == FinishReason::kStop || reason == FinishReason::kLength;
}

}  // namespace hearth::daemon
