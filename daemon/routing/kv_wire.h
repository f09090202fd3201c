// What a draining node sends the node that takes its requests, instead of letting it recompute
// them (docs/cluster.md, "KV transfer"): one request's computed KV blocks and their tokens, as
// the body of POST /cluster/v1/kv. A peer's bytes are untrusted input: the decoder checks every
// length against the bytes there are and against the limits below.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "daemon/engine/kv_prefix.h"

namespace hearth::daemon {

// The serving side's route, on the API port.
inline constexpr const char* kKvPath = "/cluster/v1/kv";
// The largest body a node sends in one call (the API's body limit is 8 MiB); a request with more
// blocks goes in several calls, each a longer prefix of its tokens.
inline constexpr uint64_t kMaxKvBodyBytes = 6ull << 20;

std::string EncodeKvPrefix(const KvPrefix& prefix);
// InvalidArgument naming what is wrong: a bad magic or version, a block size outside 1..4096,
// tokens that are not whole blocks, a first block outside them, bytes that are not one block per
// block from the first, negative token ids, or trailing bytes.
StatusOr<KvPrefix> DecodeKvPrefix(std::string_view body);

// Blocks [first, first + count) of `prefix` as one part: the tokens up to its last block, and
// its blocks' bytes. Clamped to the blocks whose bytes `prefix` has.
KvPrefix KvPrefixPart(const KvPrefix& prefix, int32_t first, int32_t count);

}  // namespace hearth::daemon
