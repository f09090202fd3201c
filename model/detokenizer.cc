#include "model/detokenizer.h"

#include "model/unicode.h"

namespace hearth::model {

StatusOr<std::string> StreamingDetokenizer::Push(int32_t id) {
  HEARTH_RETURN_IF_ERROR(tokenizer_.AppendPiece(id, options_, &at_start_, &pending_));
  const size_t keep = IncompleteUtf8Tail(pending_);
  std::string ready = SanitizeUtf8(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return ready;
}

std::string StreamingDetokenizer::Flush() {
  std::string out;
  for (size_t i = 0; i < pending_.size(); ++i) AppendUtf8(kReplacementChar, &out);
  pending_.clear();
  return out;
}

}  // namespace hearth::model
