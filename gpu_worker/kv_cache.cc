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

Status KvCache::CheckBlocks(std::span<const int32_t> blocks) const {
  for (int32_t b : blocks) {
    if (b < 0 || b >= options_.num_blocks) {
      return Status::InvalidArgument("KV block " + std::to_string(b) + " is out of range (the cache has " +
                                     std::to_string(options_.num_blocks) + ")");
    }
  }
  return Status::Ok();
}

Status KvCache::ReadBlocks(std::span<const int32_t> blocks, std::string* out) const {
  HEARTH_RETURN_IF_ERROR(CheckBlocks(blocks));
  const size_t n = LayerBlockBytes();
  out->reserve(out->size() + blocks.size() * bytes_per_block());
  for (int32_t b : blocks) {
    for (const kernels::KvCacheLayer& layer : layers_) {
      for (const void* pool : {static_cast<const void*>(layer.k), static_cast<const void*>(layer.v)}) {
        out->append(static_cast<const char*>(pool) + n * static_cast<size_t>(b), n);
      }
    }
  }
  return Status::Ok();
}

Status KvCache::WriteBlocks(std::span<const int32_t> blocks, std::string_view data) {
  HEARTH_RETURN_IF_ERROR(CheckBlocks(blocks));
  if (data.size() != blocks.size() * bytes_per_block()) {
    return Status::InvalidArgument("KV blocks: " + std::to_string(data.size()) + " bytes for " +
                                   std::to_string(blocks.size()) + " blocks of " + std::to_string(bytes_per_block()));
  }
  const size_t n = LayerBlockBytes();
  const char* from = data.data();
  for (int32_t b : blocks) {
    for (const kernels::KvCacheLayer& layer : layers_) {
      for (void* pool : {layer.k, layer.v}) {
        std::memcpy(static_cast<char*>(pool) + n * static_cast<size_t>(b), from, n);
        from += n;
      }
    }
  }
  return Status::Ok();
}

}  // namespace hearth::worker
