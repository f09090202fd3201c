#include "model/tokenizer_special.h"

namespace hearth::model {
namespace {

// Appends `raw` to `out`, split at every occurrence of `special`.
void SplitOne(std::string_view raw, const SpecialToken& special, std::vector<TextFragment>* out) {
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t at = raw.find(special.text, pos);
    if (at == std::string_view::npos) break;
    if (at > pos) out->push_back({-1, raw.substr(pos, at - pos)});
    out->push_back({special.id, special.text});
    pos = at + special.text.size();
  }
  if (pos < raw.size()) out->push_back({-1, raw.substr(pos)});
}

}  // namespace

std::vector<TextFragment> SplitOnSpecialTokens(std::string_view text,
                                               const std::vector<SpecialToken>& specials) {
  std::vector<TextFragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, text});
  std::vector<TextFragment> next;
  for (const SpecialToken& special : specials) {
    if (text.find(special.text) == std::string_view::npos) continue;  // cheap common case
    next.clear();
    for (const TextFragment& f : fragments) {
      if (f.id >= 0) {
        next.push_back(f);
      } else {
        SplitOne(f.text, special, &next);
      }
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace hearth::model
