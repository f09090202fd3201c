// The vocabulary as a byte trie, built once per model, so a token mask is one walk that
// shares each common prefix's matcher work among all tokens that start with it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::grammar {

struct Vocabulary {
  // [vocab] each token's bytes; empty for tokens a grammar never produces (control tokens).
  std::vector<std::string> token_bytes;
  std::vector<int32_t> end_tokens;  // end of text: allowed exactly when the grammar is complete

  int32_t size() const { return static_cast<int32_t>(token_bytes.size()); }
};

class VocabTrie {
 public:
  struct Node {
    int32_t first_child = 0;  // into children()
    int32_t num_children = 0;
    int32_t first_token = 0;  // into tokens(): the tokens whose bytes end here
    int32_t num_tokens = 0;
  };
  struct Edge {
    uint8_t byte = 0;
    int32_t node = 0;
  };

  explicit VocabTrie(const Vocabulary& vocab);

  const Node& root() const { return nodes_[0]; }
  const Node& node(int32_t id) const { return nodes_[id]; }
  const Edge* children(const Node& n) const { return edges_.data() + n.first_child; }
  const int32_t* tokens(const Node& n) const { return tokens_.data() + n.first_token; }
  size_t num_nodes() const { return nodes_.size(); }

 private:
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<int32_t> tokens_;
};

}  // namespace hearth::grammar
