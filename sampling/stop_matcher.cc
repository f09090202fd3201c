// Stop-string matching on streamed text; see stop_matcher.h.
#include "sampling/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace hearth {
namespace {

// Bytes a UTF-8 sequence starting with `lead` should have; 0 for a continuation byte. Bytes
// that cannot start a sequence count as complete on their own, so they are never held.
size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC0) return 0;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF8) return 4;
  return 1;
}

// Length of a trailing sequence whose lead byte promises more bytes than have arrived.
size_t IncompleteUtf8Tail(std::string_view text) {
  const size_t lookback = std::min<size_t>(text.size(), 3);
  for (size_t n = 1; n <= lookback; ++n) {
    const size_t expected = Utf8SequenceLength(static_cast<unsigned char>(text[text.size() - n]));
    if (expected == 0) continue;  // continuation byte: keep looking for the lead
    return expected > n ? n : 0;
  }
  return 0;
}

// Longest proper prefix of `stop` that `text` ends with.
size_t PartialStopAtEnd(std::string_view text, std::string_view stop) {
  const size_t longest = std::min(text.size(), stop.size() - 1);
  for (size_t n = longest; n > 0; --n) {
    if (text.ends_with(stop.substr(0, n))) return n;
  }
  return 0;
}

}  // namespace

StatusOr<StopMatcher> StopMatcher::Create(std::vector<std::string> stop_strings, std::vector<int32_t> stop_token_ids) {
  if (stop_strings.size() > kMaxStopStrings) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxStopStrings) + " stop strings");
  }
  for (const std::string& s : stop_strings) {
    if (s.empty()) return Status::InvalidArgument("stop strings must not be empty");
    if (s.size() > kMaxStopStringBytes) {
      return Status::InvalidArgument("stop strings must be at most " + std::to_string(kMaxStopStringBytes) + " bytes");
    }
  }
  return StopMatcher(std::move(stop_strings), std::move(stop_token_ids));
}

StopMatcher::StopMatcher(std::vector<std::string> stop_strings, std::vector<int32_t> stop_token_ids)
    : stop_strings_(std::move(stop_strings)), stop_token_ids_(std::move(stop_token_ids)) {
  std::sort(stop_token_ids_.begin(), stop_token_ids_.end());
}

size_t StopMatcher::EarliestMatch() const {
  size_t earliest = std::string::npos;
  for (const std::string& stop : stop_strings_) earliest = std::min(earliest, held_.find(stop));
  return earliest;
}

size_t StopMatcher::HeldTailLength() const {
  size_t tail = IncompleteUtf8Tail(held_);
  for (const std::string& stop : stop_strings_) {
    tail = std::max(tail, PartialStopAtEnd(held_, stop));
  }
  return tail;
}

StopMatcherOutput StopMatcher::Feed(std::string_view piece) {
  if (stopped_) return {"", true};
  held_.append(piece);
  if (const size_t match = EarliestMatch(); match != std::string::npos) {
    held_.resize(match);
    stopped_ = true;
    return {std::exchange(held_, std::string()), true};
  }
  const size_t emit = held_.size() - HeldTailLength();
  StopMatcherOutput out{held_.substr(0, emit), false};
  held_.erase(0, emit);
  return out;
}

std::string StopMatcher::Finish() { return std::exchange(held_, std::string()); }

bool StopMatcher::IsStopToken(int32_t token) const {
  return std::binary_search(stop_token_ids_.begin(), stop_token_ids_.end(), token);
}

}  // namespace hearth
