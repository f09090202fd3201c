#include "gpu_worker/kv_cache.h"

#include <cstring>
#include <new>

namespace hearth::worker {

uint64_t KvCache::BytesPerBlock(const KvCacheOptions& o) {
  const uint64_t elem = o.dtype == kernels::KvDtype::kF16 ? 2 : 4;
  return 2 * uint64_t(o.num_layers) * uint64_t(o.block_size) * uint64_t(o.num_kv_heads) * uint64_t(o.head_dim) * elem;
}

namespace {

kernels::KvCacheLayer Prototype(const KvCacheOptions& o) {
  kernels::KvCacheLayer proto;
  proto.dtype = o.dtype;
  proto.block_size = o.block_size;
  proto.num_kv_heads = o.num_kv_heads;
  proto.head_dim = o.head_dim;
  proto.num_blocks = o.num_blocks;
  return proto;
}

}  // namespace

uint64_t KvCache::NumBytes(const KvCacheOptions& o) {
  return uint64_t(kernels::KvPoolBytes(Prototype(o))) * 2 * uint64_t(o.num_layers);
}

StatusOr<std::unique_ptr<KvCache>> KvCache::Create(const KvCacheOptions& o) {
  if (o.num_layers <= 0 || o.num_kv_heads <= 0 || o.head_dim <= 0 || o.block_size <= 0 || o.num_blocks <= 0) {
    return Status::InvalidArgument("KV cache: every dimension must be positive");
  }
  const uint64_t bytes = NumBytes(o);
  std::unique_ptr<uint8_t[]> memory(new (std::nothrow) uint8_t[bytes]);
  if (!memory) return Status::ResourceExhausted("KV cache: cannot allocate " + std::to_string(bytes) + " bytes");
  std::memset(memory.get(), 0, bytes);
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, CreateIn(o, memory.get()));
  cache->owned_ = std::move(memory);
  return cache;
}

StatusOr<std::unique_ptr<KvCache>> KvCache::CreateIn(const KvCacheOptions& o, uint8_t* memory) {
  if (o.num_layers <= 0 || o.num_kv_heads <= 0 || o.head_dim <= 0 || o.block_size <= 0 || o.num_blocks <= 0) {
    return Status::InvalidArgument("KV cache: every dimension must be positive");
  }
  std::unique_ptr<KvCache> cache(new KvCache(o));
  const kernels::KvCacheLayer proto = Prototype(o);
  const size_t pool = kernels::KvPoolBytes(proto);
  cache->num_bytes_ = NumBytes(o);
  for (int32_t i = 0; i < o.num_layers; ++i) {
    kernels::KvCacheLayer layer = proto;
    layer.k = memory + pool * (2 * size_t(i));
    layer.v = memory + pool * (2 * size_t(i) + 1);
    cache->layers_.push_back(layer);
  }
  return cache;
}

}  // namespace hearth::worker
