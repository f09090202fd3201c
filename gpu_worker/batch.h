// One forward step's input, as plain data: for each sequence, the new tokens
// to run and the KV blocks that hold (and will hold) its context.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace hearth::worker {

struct BatchSequence {
  int64_t start_pos = 0;                  // tokens of this sequence already in the KV cache
  std::span<const int32_t> tokens;        // [num_new] tokens to run now
  std::span<const int32_t> block_table;   // blocks covering positions [0, start_pos + num_new)
  bool want_logits = false;               // return logits of the last new token
  bool want_hidden = false;               // return every new token's final (normed) hidden state
  // The prompt's length: rows at positions below it may run a prompt-only attention method.
  int64_t num_prompt_tokens = 0;
};

struct Batch {
  std::vector<BatchSequence> seqs;
  int64_t NumTokens() const {
    int64_t n = 0;
    for (const BatchSequence& s : seqs) n += static_cast<int64_t>(s.tokens.size());
    return n;
  }
  int64_t NumLogitRows() const {
    int64_t n = 0;
    for (const BatchSequence& s : seqs) n += s.want_logits ? 1 : 0;
    return n;
  }
  int64_t NumHiddenRows() const {
    int64_t n = 0;
    for (const BatchSequence& s : seqs) n += s.want_hidden ? static_cast<int64_t>(s.tokens.size()) : 0;
    return n;
  }
};

}  // namespace hearth::worker
