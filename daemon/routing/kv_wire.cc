#include "daemon/routing/kv_wire.h"

#include <algorithm>
#include <vector>

#include "common/worker_protocol.h"

namespace hearth::daemon {
namespace {

constexpr std::string_view kMagic = "HKV1";

}  // namespace

std::string EncodeKvPrefix(const KvPrefix& prefix) {
  wire::PayloadWriter w;
  w.Str(prefix.model);
  w.I32(prefix.block_size);
  w.U64(prefix.bytes_per_block);
  w.I32s(prefix.tokens);
  w.I32(prefix.first_block);
  w.Str(prefix.data);
  const std::vector<uint8_t> bytes = w.Take();
  std::string body(kMagic);
  body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return body;
}

StatusOr<KvPrefix> DecodeKvPrefix(std::string_view body) {
  if (body.substr(0, kMagic.size()) != kMagic) return Status::InvalidArgument("KV body: not a Hearth KV prefix (HKV1)");
  const std::vector<uint8_t> bytes(body.begin() + static_cast<std::ptrdiff_t>(kMagic.size()), body.end());
  wire::PayloadReader r(bytes);
  KvPrefix p;
  auto bad = [](const Status& st) { return Status::InvalidArgument("KV body: " + st.message()); };
  StatusOr<std::string> model = r.Str();
  if (!model.ok()) return bad(model.status());
  p.model = std::move(*model);
  StatusOr<int32_t> block_size = r.I32();
  if (!block_size.ok()) return bad(block_size.status());
  p.block_size = *block_size;
  if (p.block_size < 1 || p.block_size > 4096) return Status::InvalidArgument("KV body: block size out of range");
  StatusOr<uint64_t> bytes_per_block = r.U64();
  if (!bytes_per_block.ok()) return bad(bytes_per_block.status());
  p.bytes_per_block = *bytes_per_block;
  StatusOr<std::vector<int32_t>> tokens = r.I32s();
  if (!tokens.ok()) return bad(tokens.status());
  p.tokens = std::move(*tokens);
  StatusOr<int32_t> first = r.I32();
  if (!first.ok()) return bad(first.status());
  p.first_block = *first;
  StatusOr<std::string> data = r.Str();
  if (!data.ok()) return bad(data.status());
  p.data = std::move(*data);
  if (!r.AtEnd()) return Status::InvalidArgument("KV body: trailing bytes");
  if (p.model.empty()) return Status::InvalidArgument("KV body: no model");
  if (p.tokens.size() % static_cast<size_t>(p.block_size) != 0) {
    return Status::InvalidArgument("KV body: the tokens are not whole blocks");
  }
  if (std::any_of(p.tokens.begin(), p.tokens.end(), [](int32_t t) { return t < 0; })) {
    return Status::InvalidArgument("KV body: a negative token id");
  }
  if (p.first_block < 0 || p.first_block > p.num_blocks()) {
    return Status::InvalidArgument("KV body: the first block is outside the tokens");
  }
  const uint64_t blocks = static_cast<uint64_t>(p.num_blocks() - p.first_block);
  if (p.bytes_per_block == 0 || p.data.size() % p.bytes_per_block != 0 || p.data.size() / p.bytes_per_block != blocks) {
    return Status::InvalidArgument("KV body: the bytes are not one block per block from the first");
  }
  return p;
}

KvPrefix KvPrefixPart(const KvPrefix& prefix, int32_t first, int32_t count) {
  KvPrefix part;
  part.model = prefix.model;
  part.block_size = prefix.block_size;
  part.bytes_per_block = prefix.bytes_per_block;
  const int32_t begin = std::clamp(first, std::clamp(prefix.first_block, 0, prefix.num_blocks()), prefix.num_blocks());
  const int32_t end = std::clamp(begin + std::max(count, 0), begin, prefix.num_blocks());
  part.tokens.assign(prefix.tokens.begin(), prefix.tokens.begin() + static_cast<std::ptrdiff_t>(end) * prefix.block_size);
  part.first_block = begin;
  part.data = prefix.data.substr(static_cast<size_t>(begin - prefix.first_block) * prefix.bytes_per_block,
                                 static_cast<size_t>(end - begin) * prefix.bytes_per_block);
  return part;
}

}  // namespace hearth::daemon
