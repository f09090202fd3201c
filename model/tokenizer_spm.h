// SentencePiece-style BPE: repeatedly merge the adjacent pair whose concatenation is the
// highest-scoring vocabulary entry.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace hearth::model {

// Returns the score of `piece` when it is in the vocabulary.
using PieceScoreFn = std::function<std::optional<float>(std::string_view piece)>;

// Splits valid UTF-8 `text` into characters and merges them by score (ties: leftmost first).
// Returns the final pieces as views into `text`; a piece may be a single character that is
// not in the vocabulary (the caller falls back to byte tokens).
std::vector<std::string_view> SpmMerge(std::string_view text, const PieceScoreFn& score_of);

}  // namespace hearth::model
