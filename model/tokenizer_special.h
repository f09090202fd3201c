// Splits raw text on special (added) tokens before it is pre-tokenized and merged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::model {

struct SpecialToken {
  int32_t id;
  std::string_view text;  // non-empty
};

// A piece of the input: either a special token (id >= 0) or raw text to tokenize (id == -1).
struct TextFragment {
  int32_t id = -1;
  std::string_view text;
};

// As llama.cpp does it: tokens are tried in the given order (longest spelling first), each one
// splitting every raw fragment left over by the previous ones at all its non-overlapping
// occurrences. Raw fragments are never empty.
std::vector<TextFragment> SplitOnSpecialTokens(std::string_view text,
                                               const std::vector<SpecialToken>& specials);

}  // namespace hearth::model
