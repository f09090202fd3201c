// The worker's paged KV cache: for every layer, K and V pools of fixed-size
// blocks. Which sequence owns which block is the scheduler's business; the
// cache only holds memory.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kernels/cpu/paged_attention.h"

namespace hearth::worker {

struct KvCacheOptions {
  int32_t num_layers = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t block_size = 16;  // tokens per block
  int32_t num_blocks = 0;
  kernels::KvDtype dtype = kernels::KvDtype::kF16;
};

class KvCache {
 public:
  // Allocates and zeroes its own memory.
  static StatusOr<std::unique_ptr<KvCache>> Create(const KvCacheOptions& options);
  // Over `memory` (at least NumBytes(options), outliving the cache; need not be cleared, as
  // attention reads only positions a step wrote): the worker's page pool holds it.
  static StatusOr<std::unique_ptr<KvCache>> CreateIn(const KvCacheOptions& options, uint8_t* memory);

  const kernels::KvCacheLayer& layer(int i) const { return layers_[i]; }
  int32_t block_size() const { return options_.block_size; }
  int32_t num_blocks() const { return options_.num_blocks; }
  uint64_t num_bytes() const { return num_bytes_; }
  uint64_t bytes_per_block() const { return BytesPerBlock(options_); }

  // A block's bytes, as another node's cache of the same layout takes them: every layer's K
  // block, then its V block, layer by layer. Appends bytes_per_block() per block to `out`, in
  // order. InvalidArgument for a block id out of range (nothing appended).
  Status ReadBlocks(std::span<const int32_t> blocks, std::string* out) const;
  // The reverse: `data` is bytes_per_block() per block. InvalidArgument for a block id out of
  // range or a size that does not match (nothing written).
  Status WriteBlocks(std::span<const int32_t> blocks, std::string_view data);

  // Bytes one block takes across all layers, K and V.
  static uint64_t BytesPerBlock(const KvCacheOptions& options);
  // Bytes of the whole cache.
  static uint64_t NumBytes(const KvCacheOptions& options);

 private:
  explicit KvCache(const KvCacheOptions& options) : options_(options) {}
  Status CheckBlocks(std::span<const int32_t> blocks) const;
  // Bytes of one block in one layer's K (or V) pool.
  size_t LayerBlockBytes() const { return static_cast<size_t>(bytes_per_block() / (2 * uint64_t(options_.num_layers))); }

  KvCacheOptions options_;
  std::vector<kernels::KvCacheLayer> layers_;  // [num_layers]
  std::unique_ptr<uint8_t[]> owned_;           // all K and V pools, unless CreateIn
  uint64_t num_bytes_ = 0;
};

}  // namespace hearth::worker
