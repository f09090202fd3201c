// Merging keeps symbols in an array-backed linked list and candidate pairs in a min-heap; a
// popped candidate is stale when either side has changed since it was pushed.
#include "model/bpe.h"

#include <array>
#include <queue>

#include "model/unicode.h"

namespace hearth::model {
namespace {

bool IsSelfMapped(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteTables {
  std::array<uint32_t, 256> to_cp{};
  std::unordered_map<uint32_t, uint8_t> to_byte;
};

const ByteTables& Tables() {
  static const ByteTables tables = [] {
    ByteTables t;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      t.to_cp[b] = IsSelfMapped(b) ? static_cast<uint32_t>(b) : next++;
      t.to_byte[t.to_cp[b]] = static_cast<uint8_t>(b);
    }
    return t;
  }();
  return tables;
}

}  // namespace

uint32_t ByteToCodepoint(uint8_t b) { return Tables().to_cp[b]; }

int CodepointToByte(uint32_t cp) {
  const auto& m = Tables().to_byte;
  auto it = m.find(cp);
  return it == m.end() ? -1 : it->second;
}

std::string BytesToVocabText(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) AppendUtf8(ByteToCodepoint(static_cast<uint8_t>(ch)), &out);
  return out;
}

std::string VocabTextToBytes(std::string_view text, bool* all_mapped) {
  *all_mapped = true;
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = 0;
    size_t n = DecodeUtf8At(text, pos, &cp);
    const int b = n == 0 ? -1 : CodepointToByte(cp);
    if (b < 0) {
      *all_mapped = false;
      n = n == 0 ? 1 : n;
      out.append(text.substr(pos, n));
    } else {
      out.push_back(static_cast<char>(b));
    }
    pos += n;
  }
  return out;
}

bool BpeMerges::Add(int32_t left, int32_t right, int32_t merged) {
  const auto rank = static_cast<uint32_t>(rules_.size());
  return rules_.emplace(Key(left, right), Rule{rank, merged}).second;
}

const BpeMerges::Rule* BpeMerges::Find(int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return nullptr;
  auto it = rules_.find(Key(left, right));
  return it == rules_.end() ? nullptr : &it->second;
}

void BpeMerges::Apply(std::vector<int32_t>* symbols) const {
  std::vector<int32_t>& sym = *symbols;
  const int n = static_cast<int>(sym.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    uint32_t rank;
    int left;  // index of the left symbol
    int32_t left_id, right_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int left) {
    if (left < 0 || next[left] < 0) return;
    if (const Rule* r = Find(sym[left], sym[next[left]])) {
      heap.push({r->rank, left, sym[left], sym[next[left]]});
    }
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int right = next[c.left];
    if (dead[c.left] || right < 0 || sym[c.left] != c.left_id || sym[right] != c.right_id) {
      continue;  // stale
    }
    sym[c.left] = Find(c.left_id, c.right_id)->merged;
    dead[right] = true;
    next[c.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.left;
    push(prev[c.left]);
    push(c.left);
  }
  size_t out = 0;
  for (int i = 0; i >= 0; i = next[i]) sym[out++] = sym[i];
  sym.resize(out);
}

}  // namespace hearth::model
