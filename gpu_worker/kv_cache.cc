#include "gpu_worker/kv_cache.h"

#include <cstring>
#include <new>

namespace hearth::worker {

uint64_t KvCache::BytesPerBlock(const KvCacheOptions& o) {
  const uint64_t elem = o.dtype == kernels::KvDtype::kF16 ? 2 : 4;
  return 2 * uint64_t(o.num_layers) * uint64_t(o.block_size) * uint64_t(o.num_kv_heads) * uint64_t(o.head_dim) * elem;
}

StatusOr<std::unique_ptr<KvCache>> KvCache::Create(const KvCacheOptions& o) {
  if (o.num_layers <= 0 || o.num_kv_heads <= 0 || o.head_dim <= 0 || o.block_size <= 0 || o.num_blocks <= 0) {
    return Status::InvalidArgument("KV cache: every dimension must be positive");
  }
  std::unique_ptr<KvCache> cache(new KvCache(o));
  kernels::KvCacheLayer proto;
  proto.dtype = o.dtype;
  proto.block_size = o.block_size;
  proto.num_kv_heads = o.num_kv_heads;
  proto.head_dim = o.head_dim;
  proto.num_blocks = o.num_blocks;
  const size_t pool = kernels::KvPoolBytes(proto);
  cache->num_bytes_ = uint64_t(pool) * 2 * o.num_layers;
  cache->memory_.reset(new (std::nothrow) uint8_t[cache->num_bytes_]);
  if (!cache->memory_) {
    return Status::ResourceExhausted("KV cache: cannot allocate " + std::to_string(cache->num_bytes_) + " bytes");
  }
  std::memset(cache->memory_.get(), 0, cache->num_bytes_);
  for (int32_t i = 0; i < o.num_layers; ++i) {
    kernels::KvCacheLayer layer = proto;
    layer.k = cache->memory_.get() + pool * (2 * size_t(i));
    layer.v = cache->memory_.get() + pool * (2 * size_t(i) + 1);
    cache->layers_.push_back(layer);
  }
  return cache;
}

}  // namespace hearth::worker
