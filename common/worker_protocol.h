// The binary protocol between hearthd and hearth-worker over a Unix socket.
//
// Every message is a frame: u32 payload length (little-endian), u8 message
// type, then the payload. The daemon sends requests; the worker answers each
// with exactly one reply, in order (progress frames may come before the
// reply to a stage).
//
// A load is three requests, so that the worker steps its other models while a model's file is
// read (docs/models.md, "Loading while serving"): kBeginLoad maps the model's pages and starts a
// loader thread reading the file into them (a swap-in from a staged copy, or a model already
// loaded, is finished at once), kPollLoad reports the bytes read until the read is done,
// kFinishLoad parses the file in the pages and makes the model warm.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/pooling.h"
#include "common/status.h"
#include "sampling/sampling_params.h"  // plain data shared by both ends (header only)

namespace hearth::wire {

enum class MessageType : uint8_t {
  kHello = 1,     // worker -> daemon, first message: WorkerHello
  kPing = 2,      // daemon -> worker, empty
  kPong = 3,      // worker -> daemon, empty
  kShutdown = 4,  // daemon -> worker, empty; the worker exits 0
  kError = 5,     // worker -> daemon: a UTF-8 message
  // 6 was kLoadModel, a load in one request (the worker stepped nothing else meanwhile).
  kModelInfo = 7,  // worker -> daemon: ModelInfo
  kStep = 8,       // daemon -> worker: StepRequest; reply kStepReply or kError
  kStepReply = 9,  // worker -> daemon: StepReply
  // daemon -> worker: the model's name (EncodeUnloadModel); the worker frees its weights, KV
  // cache and runner, and answers kModelUnloaded (also for a name it does not host) or kError.
  kUnloadModel = 10,
  kModelUnloaded = 11,  // worker -> daemon, empty
  // daemon -> worker: LoadModelRequest (kv_cache_bytes unused). Makes the model staged: a host
  // copy of its file; a warm model is swapped out (its pool pages go back). Reply kModelStaged.
  kStageModel = 12,
  kModelStaged = 13,  // worker -> daemon: StagedInfo
  // worker -> daemon, zero or more before the reply to kStageModel: Progress.
  kProgress = 14,
  // daemon -> worker: LoadModelRequest. Reply kLoadStatus at once (the read runs on), or kError
  // (a file that cannot be opened, no room in the pool, a load of that name in progress).
  kBeginLoad = 15,
  kLoadStatus = 16,  // worker -> daemon: LoadStatus
  // daemon -> worker: the model's name (EncodeModelName). Reply kLoadStatus, or kError when the
  // read failed (the load is over and its pages are free) or no load of that name is in progress.
  kPollLoad = 17,
  // daemon -> worker: the model's name, once kLoadStatus said finished. Reply kModelInfo, or
  // kError (not a model file, no room for its KV cache: the load is over and its pages free).
  kFinishLoad = 18,
  // daemon -> worker: KvBlocksRead. Reply kKvBlocks with those blocks' bytes (every layer's K and
  // V), or kError (an unknown model, a block id out of range, more bytes than a frame holds).
  kReadKvBlocks = 19,
  kKvBlocks = 20,  // worker -> daemon: KvBlocks
  // daemon -> worker: KvBlocksWrite, bytes from kKvBlocks (of this worker or another with the
  // same layout). Reply kKvWritten (empty), or kError (a layout or size that does not match).
  kWriteKvBlocks = 21,
  kKvWritten = 22,
};

// The page size of the worker's memory pool: a model takes whole pages for its weights and for
// its KV cache, and the daemon rounds its estimates to it.
inline constexpr uint64_t kPoolPageBytes = 2ull << 20;
// The KV cache a model gets when LoadModelRequest says 0 (and the worker's --kv-cache-mb is
// left as it is).
inline constexpr uint64_t kDefaultKvCacheBytes = 256ull << 20;

// Largest frame either side accepts; a larger length is a protocol error.
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

struct Frame {
  MessageType type;
  std::vector<uint8_t> payload;
};

struct WorkerHello {
  // 2: loads in three requests (kBeginLoad, kPollLoad, kFinishLoad); 3: logit_bias, min_tokens,
  // ignore_eos and stop_token_ids in a step's sampling parameters; 4: and a grammar; 5: KV blocks
  // read and written (kReadKvBlocks, kWriteKvBlocks), pooled (embedding) sequences and their
  // vectors (StepSequence::pooling, StepReply::embeddings), the model's hidden size.
  uint32_t protocol_version = 5;
  int32_t pid = 0;
  std::string backend;  // "cpu" or "cuda"
  std::string device;   // human-readable, e.g. "cpu: 2 threads (avx512)"
};

// Blocking frame I/O on a socket file descriptor. EOF is Unavailable.
Status WriteFrame(int fd, MessageType type, const std::vector<uint8_t>& payload);
StatusOr<Frame> ReadFrame(int fd);

// A little-endian byte writer and a bounds-checked reader for payloads.
class PayloadWriter {
 public:
  void U32(uint32_t v);
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void U64(uint64_t v);
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F32(float v);
  void Bool(bool v) { bytes_.push_back(v ? 1 : 0); }
  void I32s(const std::vector<int32_t>& v);  // u32 count, then the values
  void Str(const std::string& s);
  std::vector<uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class PayloadReader {
 public:
  explicit PayloadReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  StatusOr<uint32_t> U32();
  StatusOr<int32_t> I32();
  StatusOr<uint64_t> U64();
  StatusOr<int64_t> I64();
  StatusOr<float> F32();
  StatusOr<bool> Bool();  // Corruption for a byte other than 0 or 1
  // Corruption when the count claims more values than the bytes left, so a
  // hostile count cannot make the reader allocate.
  StatusOr<std::vector<int32_t>> I32s();
  // A count of items that each take at least `min_item_bytes`, checked likewise.
  StatusOr<uint32_t> Count(size_t min_item_bytes);
  StatusOr<std::string> Str();
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
};

std::vector<uint8_t> EncodeHello(const WorkerHello& hello);
StatusOr<WorkerHello> DecodeHello(const std::vector<uint8_t>& payload);

// --- Models and steps ---------------------------------------------------------

struct LoadModelRequest {
  std::string name;             // the daemon's name for it; Steps refer to it
  std::string path;             // GGUF file on the worker's machine
  uint64_t kv_cache_bytes = 0;  // 0: the worker's default
};

struct ModelInfo {
  std::string name;
  int32_t vocab_size = 0;
  int32_t context_length = 0;          // the model's trained context, in tokens
  int32_t num_kv_blocks = 0;           // blocks in the model's KV cache
  int32_t block_size = 0;              // tokens per KV block
  std::vector<int32_t> eos_token_ids;  // ids that end generation
  uint64_t weights_bytes = 0;          // the model's weights in the worker's memory
  uint64_t kv_cache_bytes = 0;         // its KV cache
  bool swapped_in = false;             // from the worker's staged copy, not from the file
  int32_t hidden_size = 0;             // the width of its hidden states: an embedding's length
};

// A load in progress (kBeginLoad, kPollLoad).
struct LoadStatus {
  std::string name;
  uint64_t done = 0;      // bytes of the file read
  uint64_t total = 0;     // the file's size (a swap-in or a model already loaded: its bytes)
  bool finished = false;  // nothing left to read (done == total): kFinishLoad next
};

struct StagedInfo {
  std::string name;
  uint64_t bytes = 0;         // the host copy
  bool swapped_out = false;   // the model was warm and left the pool
};

// One sequence's share of a step: what changed since the worker last saw it (docs/engine.md,
// "Step messages"). The worker keeps each live sequence's block table, token history and
// sampling parameters. `full` sends all of it: a sequence's first step, and any step after which
// the daemon cannot vouch for what the worker holds (a block table that changed other than by
// appending, a sequence started again after preemption, a worker restart). Otherwise the step is
// a delta: the blocks appended and the tokens run now, which the worker checks against the lengths
// it holds (start_pos, num_blocks_after) and refuses with InvalidArgument on any mismatch or for a
// sequence it does not know.
struct StepSequence {
  uint64_t request_id = 0;
  bool full = true;
  // Tokens already in the KV cache. A delta's start_pos is the history length the worker must
  // hold; after the step it holds start_pos + num_new.
  int32_t start_pos = 0;
  std::vector<int32_t> tokens;       // [num_new] tokens to run now; they join the history
  std::vector<int32_t> block_table;  // full: blocks covering [0, start_pos + num_new); delta: the blocks appended
  int32_t num_blocks_after = 0;      // delta only: the table's length once appended
  // Full only: the history so far and what the worker keeps for sampling.
  std::vector<int32_t> history;   // [start_pos] tokens at positions [0, start_pos)
  int32_t num_prompt_tokens = 0;  // the history's first tokens that are the prompt (penalties)
  SamplingParams sampling;
  // Full only, kept by the worker: not kNone makes it an embedding sequence. Every new token's
  // final hidden state joins the pool, nothing is sampled, and the step that reaches the last
  // token (want_logits) returns the pooled vector in StepReply::embeddings. Its full state must
  // start at 0 (the pool needs every position).
  Pooling pooling = Pooling::kNone;
  bool want_logits = false;     // sample a token after the last new one
  int64_t sample_position = 0;  // when want_logits: index of the token being sampled (RNG counter)
};

struct StepRequest {
  std::string model;  // a name from LoadModelRequest
  std::vector<StepSequence> seqs;
  // Sequences that ended (finished, cancelled, preempted, failed): the worker forgets them before
  // it reads seqs. An id it does not know is fine (already forgotten).
  std::vector<uint64_t> released = {};
};

struct TopLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct SampledTokenInfo {
  uint64_t request_id = 0;
  int32_t token = 0;
  float logprob = 0;
  std::vector<TopLogprob> top;  // [num_logprobs], best first
};

struct PooledEmbedding {
  uint64_t request_id = 0;
  std::vector<float> values;  // [hidden_size], unit L2 norm
};

// One entry per sequence that wanted logits, in request order: a token for a generation
// sequence, a vector for a pooled one.
struct StepReply {
  std::vector<SampledTokenInfo> sampled;
  std::vector<PooledEmbedding> embeddings = {};
};

std::vector<uint8_t> EncodeLoadModel(const LoadModelRequest& request);
StatusOr<LoadModelRequest> DecodeLoadModel(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeModelInfo(const ModelInfo& info);
StatusOr<ModelInfo> DecodeModelInfo(const std::vector<uint8_t>& payload);
struct Progress {
  std::string name;
  uint64_t done = 0;   // bytes of the model's file read
  uint64_t total = 0;  // of its size
};

std::vector<uint8_t> EncodeProgress(const Progress& progress);
StatusOr<Progress> DecodeProgress(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeLoadStatus(const LoadStatus& status);
// Corruption for more bytes done than the total, or finished before the total.
StatusOr<LoadStatus> DecodeLoadStatus(const std::vector<uint8_t>& payload);
// kPollLoad's and kFinishLoad's payload.
std::vector<uint8_t> EncodeModelName(const std::string& name);
StatusOr<std::string> DecodeModelName(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeStagedInfo(const StagedInfo& info);
StatusOr<StagedInfo> DecodeStagedInfo(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeUnloadModel(const std::string& name);
StatusOr<std::string> DecodeUnloadModel(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeStep(const StepRequest& request);
StatusOr<StepRequest> DecodeStep(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeStepReply(const StepReply& reply);
StatusOr<StepReply> DecodeStepReply(const std::vector<uint8_t>& payload);

// --- KV blocks (docs/cluster.md, "KV transfer") --------------------------------

// A block's bytes are every layer's K block then V block, layer by layer, as the worker's cache
// holds them; blocks follow one another in the order asked.
struct KvBlocksRead {
  std::string model;
  std::vector<int32_t> blocks;
};

struct KvBlocks {
  uint64_t bytes_per_block = 0;
  std::string data;  // blocks.size() * bytes_per_block
};

struct KvBlocksWrite {
  std::string model;
  std::vector<int32_t> blocks;
  uint64_t bytes_per_block = 0;  // the writer's; must equal the worker's for that model
  std::string data;              // blocks.size() * bytes_per_block
};

std::vector<uint8_t> EncodeKvBlocksRead(const KvBlocksRead& read);
StatusOr<KvBlocksRead> DecodeKvBlocksRead(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeKvBlocks(const KvBlocks& blocks);
StatusOr<KvBlocks> DecodeKvBlocks(const std::vector<uint8_t>& payload);
std::vector<uint8_t> EncodeKvBlocksWrite(const KvBlocksWrite& write);
// Corruption when the data is not blocks.size() * bytes_per_block bytes.
StatusOr<KvBlocksWrite> DecodeKvBlocksWrite(const std::vector<uint8_t>& payload);

// An Error frame's payload is the message's bytes.
std::vector<uint8_t> EncodeError(const std::string& message);
std::string DecodeError(const std::vector<uint8_t>& payload);

}  // namespace hearth::wire
