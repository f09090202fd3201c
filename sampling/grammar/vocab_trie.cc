#include "sampling/grammar/vocab_trie.h"

#include <algorithm>

namespace hearth::grammar {

VocabTrie::VocabTrie(const Vocabulary& vocab) {
  // Sorted by bytes, the tokens under any node are a contiguous run, so the trie is built in
  // one pass over the sorted list, parents before children, each node's edges contiguous.
  std::vector<int32_t> order;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    if (!vocab.token_bytes[id].empty()) order.push_back(id);
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return vocab.token_bytes[a] != vocab.token_bytes[b] ? vocab.token_bytes[a] < vocab.token_bytes[b] : a < b;
  });
  struct Pending {
    int32_t node;
    size_t begin, end, depth;  // tokens order[begin, end) share the node's depth-byte prefix
  };
  nodes_.push_back({});
  std::vector<Pending> queue{{0, 0, order.size(), 0}};
  for (size_t q = 0; q < queue.size(); ++q) {
    const Pending p = queue[q];
    size_t i = p.begin;
    nodes_[p.node].first_token = static_cast<int32_t>(tokens_.size());
    while (i < p.end && vocab.token_bytes[order[i]].size() == p.depth) tokens_.push_back(order[i++]);
    nodes_[p.node].num_tokens = static_cast<int32_t>(tokens_.size()) - nodes_[p.node].first_token;
    nodes_[p.node].first_child = static_cast<int32_t>(edges_.size());
    while (i < p.end) {
      const auto byte = static_cast<uint8_t>(vocab.token_bytes[order[i]][p.depth]);
      size_t j = i;
      while (j < p.end && static_cast<uint8_t>(vocab.token_bytes[order[j]][p.depth]) == byte) ++j;
      const auto child = static_cast<int32_t>(nodes_.size());
      nodes_.push_back({});
      edges_.push_back({byte, child});
      queue.push_back({child, i, j, p.depth + 1});
      i = j;
    }
    nodes_[p.node].num_children = static_cast<int32_t>(edges_.size()) - nodes_[p.node].first_child;
  }
}

}  // namespace hearth::grammar
