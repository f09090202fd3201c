// Symbols are byte ranges of the text in a linked list; a heap holds candidate pairs and a
// candidate is stale when either side's length changed since it was pushed.
#include "model/tokenizer_spm.h"

#include <queue>

#include "model/unicode.h"

namespace hearth::model {

std::vector<std::string_view> SpmMerge(std::string_view text, const PieceScoreFn& score_of) {
  struct Symbol {
    size_t start, len;
    int prev, next;
  };
  std::vector<Symbol> sym;
  for (size_t pos = 0; pos < text.size();) {
    uint32_t cp = 0;
    size_t n = DecodeUtf8At(text, pos, &cp);
    if (n == 0) n = 1;  // invalid byte: its own symbol (callers pass valid UTF-8)
    const int i = static_cast<int>(sym.size());
    sym.push_back({pos, n, i - 1, i + 1});
    pos += n;
  }
  if (sym.empty()) return {};
  sym.back().next = -1;

  struct Candidate {
    float score;
    int left, right;
    size_t len;  // left.len + right.len when pushed
    bool operator<(const Candidate& o) const {  // max-heap: best score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Candidate> heap;
  auto push = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t len = sym[left].len + sym[right].len;
    if (auto score = score_of(text.substr(sym[left].start, len))) {
      heap.push({*score, left, right, len});
    }
  };
  for (size_t i = 0; i + 1 < sym.size(); ++i) push(static_cast<int>(i), static_cast<int>(i + 1));

  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != c.len || l.next != c.right) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    push(l.prev, c.left);
    push(c.left, l.next);
  }
  std::vector<std::string_view> pieces;
  for (int i = 0; i >= 0; i = sym[i].next) pieces.push_back(text.substr(sym[i].start, sym[i].len));
  return pieces;
}

}  // namespace hearth::model
