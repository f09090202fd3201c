// A request's computed KV blocks as they leave one node's engine and enter another's prefix
// cache (docs/cluster.md, "KV transfer"): the tokens of whole blocks and the blocks' bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::daemon {

struct KvPrefix {
  std::string model;
  int32_t block_size = 0;        // tokens per block
  uint64_t bytes_per_block = 0;  // the worker's layout: every layer's K and V block
  std::vector<int32_t> tokens;   // block_size per block, from the request's first token
  // The bytes of blocks [first_block, num_blocks()), bytes_per_block each, in order: a long
  // prefix goes in several parts, each with all the tokens up to its last block (a block's
  // cache key is its whole prefix) and only its own blocks' bytes.
  int32_t first_block = 0;
  std::string data;

  int32_t num_blocks() const { return block_size > 0 ? static_cast<int32_t>(tokens.size()) / block_size : 0; }
};

}  // namespace hearth::daemon
