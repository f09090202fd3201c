#include "common/worker_protocol.h"

#include <unistd.h>
#include <bit>
#include <cerrno>
#include <cstring>

namespace hearth::wire {
namespace {

Status WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("write to worker socket: ") + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Reads exactly `size` bytes; a clean EOF before the first byte is Unavailable.
Status ReadAll(int fd, uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("read from worker socket: ") + std::strerror(errno));
    }
    if (n == 0) return Status::Unavailable("peer closed the worker socket");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status WriteFrame(int fd, MessageType type, const std::vector<uint8_t>& payload) {
  if (payload.size() > kMaxFrameBytes) return Status::InvalidArgument("frame too large");
  uint8_t header[5];
  uint32_t len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) header[i] = static_cast<uint8_t>(len >> (8 * i));
  header[4] = static_cast<uint8_t>(type);
  HEARTH_RETURN_IF_ERROR(WriteAll(fd, header, sizeof(header)));
  return WriteAll(fd, payload.data(), payload.size());
}

StatusOr<Frame> ReadFrame(int fd) {
  uint8_t header[5];
  HEARTH_RETURN_IF_ERROR(ReadAll(fd, header, sizeof(header)));
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(header[i]) << (8 * i);
  if (len > kMaxFrameBytes) return Status::Corruption("worker frame length " + std::to_string(len) + " exceeds limit");
  Frame frame{static_cast<MessageType>(header[4]), std::vector<uint8_t>(len)};
  HEARTH_RETURN_IF_ERROR(ReadAll(fd, frame.payload.data(), len));
  return frame;
}

void PayloadWriter::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PayloadWriter::U64(uint64_t v) {
  for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PayloadWriter::F32(float v) { U32(std::bit_cast<uint32_t>(v)); }

void PayloadWriter::I32s(const std::vector<int32_t>& v) {
  U32(static_cast<uint32_t>(v.size()));
  for (int32_t x : v) I32(x);
}

void PayloadWriter::Str(const std::string& s) {
  U32(static_cast<uint32_t>(s.size()));
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

StatusOr<uint32_t> PayloadReader::U32() {
  if (bytes_.size() - pos_ < 4) return Status::Corruption("payload truncated reading u32");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(bytes_[pos_ + i]) << (8 * i);
  pos_ += 4;
  return v;
}

StatusOr<int32_t> PayloadReader::I32() {
  HEARTH_ASSIGN_OR_RETURN(uint32_t v, U32());
  return static_cast<int32_t>(v);
}

StatusOr<uint64_t> PayloadReader::U64() {
  if (bytes_.size() - pos_ < 8) return Status::Corruption("payload truncated reading u64");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
  pos_ += 8;
  return v;
}

StatusOr<int64_t> PayloadReader::I64() {
  HEARTH_ASSIGN_OR_RETURN(uint64_t v, U64());
  return static_cast<int64_t>(v);
}

StatusOr<float> PayloadReader::F32() {
  HEARTH_ASSIGN_OR_RETURN(uint32_t v, U32());
  return std::bit_cast<float>(v);
}

StatusOr<bool> PayloadReader::Bool() {
  if (pos_ >= bytes_.size()) return Status::Corruption("payload truncated reading bool");
  uint8_t b = bytes_[pos_++];
  if (b > 1) return Status::Corruption("bad bool byte " + std::to_string(b));
  return b == 1;
}

StatusOr<uint32_t> PayloadReader::Count(size_t min_item_bytes) {
  HEARTH_ASSIGN_OR_RETURN(uint32_t n, U32());
  if (min_item_bytes > 0 && n > (bytes_.size() - pos_) / min_item_bytes) {
    return Status::Corruption("count " + std::to_string(n) + " exceeds the payload");
  }
  return n;
}

StatusOr<std::vector<int32_t>> PayloadReader::I32s() {
  HEARTH_ASSIGN_OR_RETURN(uint32_t n, Count(4));
  std::vector<int32_t> v(n);
  for (uint32_t i = 0; i < n; ++i) {
    HEARTH_ASSIGN_OR_RETURN(v[i], I32());
  }
  return v;
}

StatusOr<std::string> PayloadReader::Str() {
  HEARTH_ASSIGN_OR_RETURN(uint32_t len, U32());
  if (bytes_.size() - pos_ < len) return Status::Corruption("payload truncated reading string");
  std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
  pos_ += len;
  return s;
}

std::vector<uint8_t> EncodeHello(const WorkerHello& hello) {
  PayloadWriter w;
  w.U32(hello.protocol_version);
  w.I32(hello.pid);
  w.Str(hello.backend);
  w.Str(hello.device);
  return w.Take();
}

StatusOr<WorkerHello> DecodeHello(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  WorkerHello h;
  HEARTH_ASSIGN_OR_RETURN(h.protocol_version, r.U32());
  HEARTH_ASSIGN_OR_RETURN(h.pid, r.I32());
  HEARTH_ASSIGN_OR_RETURN(h.backend, r.Str());
  HEARTH_ASSIGN_OR_RETURN(h.device, r.Str());
  if (!r.AtEnd()) return Status::Corruption("trailing bytes after hello");
  return h;
}

namespace {

Status ExpectEnd(const PayloadReader& r, const char* what) {
  if (!r.AtEnd()) return Status::Corruption(std::string("trailing bytes after ") + what);
  return Status::Ok();
}

void WriteSampling(PayloadWriter& w, const SamplingParams& p) {
  w.F32(p.temperature);
  w.I32(p.top_k);
  w.F32(p.top_p);
  w.F32(p.min_p);
  w.F32(p.repetition_penalty);
  w.F32(p.frequency_penalty);
  w.F32(p.presence_penalty);
  w.U64(p.seed);
  w.I32(p.num_logprobs);
  w.U32(static_cast<uint32_t>(p.logit_bias.size()));
  for (const LogitBias& b : p.logit_bias) {
    w.I32(b.token);
    w.F32(b.bias);
  }
  w.I32(p.min_tokens);
  w.Bool(p.ignore_eos);
  w.I32s(p.stop_token_ids);
  w.Str(p.grammar);
}

Status ReadSampling(PayloadReader& r, SamplingParams* p) {
  HEARTH_ASSIGN_OR_RETURN(p->temperature, r.F32());
  HEARTH_ASSIGN_OR_RETURN(p->top_k, r.I32());
  HEARTH_ASSIGN_OR_RETURN(p->top_p, r.F32());
  HEARTH_ASSIGN_OR_RETURN(p->min_p, r.F32());
  HEARTH_ASSIGN_OR_RETURN(p->repetition_penalty, r.F32());
  HEARTH_ASSIGN_OR_RETURN(p->frequency_penalty, r.F32());
  HEARTH_ASSIGN_OR_RETURN(p->presence_penalty, r.F32());
  HEARTH_ASSIGN_OR_RETURN(p->seed, r.U64());
  HEARTH_ASSIGN_OR_RETURN(p->num_logprobs, r.I32());
  HEARTH_ASSIGN_OR_RETURN(uint32_t num_bias, r.Count(8));
  p->logit_bias.resize(num_bias);
  for (LogitBias& b : p->logit_bias) {
    HEARTH_ASSIGN_OR_RETURN(b.token, r.I32());
    HEARTH_ASSIGN_OR_RETURN(b.bias, r.F32());
  }
  HEARTH_ASSIGN_OR_RETURN(p->min_tokens, r.I32());
  HEARTH_ASSIGN_OR_RETURN(p->ignore_eos, r.Bool());
  HEARTH_ASSIGN_OR_RETURN(p->stop_token_ids, r.I32s());
  HEARTH_ASSIGN_OR_RETURN(p->grammar, r.Str());
  return Status::Ok();
}

// Smallest encoding of a StepSequence (a delta): id, full, want_logits, start, two empty lists,
// num_blocks_after, position. A full one is larger (an empty history, num_prompt, sampling).
constexpr size_t kMinStepSequenceBytes = 8 + 1 + 1 + 4 + 2 * 4 + 4 + 8;
// Smallest SampledTokenInfo: id, token, logprob, empty top list.
constexpr size_t kMinSampledBytes = 8 + 4 + 4 + 4;

}  // namespace

std::vector<uint8_t> EncodeLoadModel(const LoadModelRequest& request) {
  PayloadWriter w;
  w.Str(request.name);
  w.Str(request.path);
  w.U64(request.kv_cache_bytes);
  return w.Take();
}

StatusOr<LoadModelRequest> DecodeLoadModel(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  LoadModelRequest m;
  HEARTH_ASSIGN_OR_RETURN(m.name, r.Str());
  HEARTH_ASSIGN_OR_RETURN(m.path, r.Str());
  HEARTH_ASSIGN_OR_RETURN(m.kv_cache_bytes, r.U64());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "load-model request"));
  return m;
}

std::vector<uint8_t> EncodeModelInfo(const ModelInfo& info) {
  PayloadWriter w;
  w.Str(info.name);
  w.I32(info.vocab_size);
  w.I32(info.context_length);
  w.I32(info.num_kv_blocks);
  w.I32(info.block_size);
  w.I32s(info.eos_token_ids);
  w.U64(info.weights_bytes);
  w.U64(info.kv_cache_bytes);
  w.Bool(info.swapped_in);
  w.I32(info.hidden_size);
  return w.Take();
}

StatusOr<ModelInfo> DecodeModelInfo(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  ModelInfo m;
  HEARTH_ASSIGN_OR_RETURN(m.name, r.Str());
  HEARTH_ASSIGN_OR_RETURN(m.vocab_size, r.I32());
  HEARTH_ASSIGN_OR_RETURN(m.context_length, r.I32());
  HEARTH_ASSIGN_OR_RETURN(m.num_kv_blocks, r.I32());
  HEARTH_ASSIGN_OR_RETURN(m.block_size, r.I32());
  HEARTH_ASSIGN_OR_RETURN(m.eos_token_ids, r.I32s());
  HEARTH_ASSIGN_OR_RETURN(m.weights_bytes, r.U64());
  HEARTH_ASSIGN_OR_RETURN(m.kv_cache_bytes, r.U64());
  HEARTH_ASSIGN_OR_RETURN(m.swapped_in, r.Bool());
  HEARTH_ASSIGN_OR_RETURN(m.hidden_size, r.I32());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "model info"));
  return m;
}

std::vector<uint8_t> EncodeProgress(const Progress& progress) {
  PayloadWriter w;
  w.Str(progress.name);
  w.U64(progress.done);
  w.U64(progress.total);
  return w.Take();
}

StatusOr<Progress> DecodeProgress(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  Progress m;
  HEARTH_ASSIGN_OR_RETURN(m.name, r.Str());
  HEARTH_ASSIGN_OR_RETURN(m.done, r.U64());
  HEARTH_ASSIGN_OR_RETURN(m.total, r.U64());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "progress"));
  if (m.done > m.total) return Status::Corruption("progress: more bytes done than the total");
  return m;
}

std::vector<uint8_t> EncodeLoadStatus(const LoadStatus& status) {
  PayloadWriter w;
  w.Str(status.name);
  w.U64(status.done);
  w.U64(status.total);
  w.Bool(status.finished);
  return w.Take();
}

StatusOr<LoadStatus> DecodeLoadStatus(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  LoadStatus m;
  HEARTH_ASSIGN_OR_RETURN(m.name, r.Str());
  HEARTH_ASSIGN_OR_RETURN(m.done, r.U64());
  HEARTH_ASSIGN_OR_RETURN(m.total, r.U64());
  HEARTH_ASSIGN_OR_RETURN(m.finished, r.Bool());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "load status"));
  if (m.done > m.total) return Status::Corruption("load status: more bytes done than the total");
  if (m.finished && m.done != m.total) return Status::Corruption("load status: finished before the total");
  return m;
}

std::vector<uint8_t> EncodeModelName(const std::string& name) {
  PayloadWriter w;
  w.Str(name);
  return w.Take();
}

StatusOr<std::string> DecodeModelName(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  HEARTH_ASSIGN_OR_RETURN(std::string name, r.Str());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "model name"));
  if (name.empty()) return Status::InvalidArgument("empty model name");
  return name;
}

std::vector<uint8_t> EncodeStagedInfo(const StagedInfo& info) {
  PayloadWriter w;
  w.Str(info.name);
  w.U64(info.bytes);
  w.Bool(info.swapped_out);
  return w.Take();
}

StatusOr<StagedInfo> DecodeStagedInfo(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  StagedInfo m;
  HEARTH_ASSIGN_OR_RETURN(m.name, r.Str());
  HEARTH_ASSIGN_OR_RETURN(m.bytes, r.U64());
  HEARTH_ASSIGN_OR_RETURN(m.swapped_out, r.Bool());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "staged info"));
  return m;
}

std::vector<uint8_t> EncodeUnloadModel(const std::string& name) {
  PayloadWriter w;
  w.Str(name);
  return w.Take();
}

StatusOr<std::string> DecodeUnloadModel(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  HEARTH_ASSIGN_OR_RETURN(std::string name, r.Str());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "unload model"));
  return name;
}

std::vector<uint8_t> EncodeStep(const StepRequest& request) {
  PayloadWriter w;
  w.Str(request.model);
  w.U32(static_cast<uint32_t>(request.released.size()));
  for (uint64_t id : request.released) w.U64(id);
  w.U32(static_cast<uint32_t>(request.seqs.size()));
  for (const StepSequence& s : request.seqs) {
    w.U64(s.request_id);
    w.Bool(s.full);
    w.Bool(s.want_logits);
    w.I32(s.start_pos);
    w.I32s(s.tokens);
    w.I32s(s.block_table);
    if (s.full) {
      w.I32s(s.history);
      w.I32(s.num_prompt_tokens);
      WriteSampling(w, s.sampling);
      w.U32(static_cast<uint32_t>(s.pooling));
    } else {
      w.I32(s.num_blocks_after);
    }
    w.I64(s.sample_position);
  }
  return w.Take();
}

StatusOr<StepRequest> DecodeStep(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  StepRequest req;
  HEARTH_ASSIGN_OR_RETURN(req.model, r.Str());
  HEARTH_ASSIGN_OR_RETURN(uint32_t num_released, r.Count(8));
  req.released.resize(num_released);
  for (uint64_t& id : req.released) {
    HEARTH_ASSIGN_OR_RETURN(id, r.U64());
  }
  HEARTH_ASSIGN_OR_RETURN(uint32_t n, r.Count(kMinStepSequenceBytes));
  req.seqs.resize(n);
  for (StepSequence& s : req.seqs) {
    HEARTH_ASSIGN_OR_RETURN(s.request_id, r.U64());
    HEARTH_ASSIGN_OR_RETURN(s.full, r.Bool());
    HEARTH_ASSIGN_OR_RETURN(s.want_logits, r.Bool());
    HEARTH_ASSIGN_OR_RETURN(s.start_pos, r.I32());
    HEARTH_ASSIGN_OR_RETURN(s.tokens, r.I32s());
    HEARTH_ASSIGN_OR_RETURN(s.block_table, r.I32s());
    if (s.full) {
      HEARTH_ASSIGN_OR_RETURN(s.history, r.I32s());
      HEARTH_ASSIGN_OR_RETURN(s.num_prompt_tokens, r.I32());
      HEARTH_RETURN_IF_ERROR(ReadSampling(r, &s.sampling));
      HEARTH_ASSIGN_OR_RETURN(uint32_t pooling, r.U32());
      if (pooling > static_cast<uint32_t>(Pooling::kLast)) {
        return Status::Corruption("step request: unknown pooling " + std::to_string(pooling));
      }
      s.pooling = static_cast<Pooling>(pooling);
      s.num_blocks_after = static_cast<int32_t>(s.block_table.size());
    } else {
      HEARTH_ASSIGN_OR_RETURN(s.num_blocks_after, r.I32());
    }
    HEARTH_ASSIGN_OR_RETURN(s.sample_position, r.I64());
  }
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "step request"));
  return req;
}

std::vector<uint8_t> EncodeStepReply(const StepReply& reply) {
  PayloadWriter w;
  w.U32(static_cast<uint32_t>(reply.sampled.size()));
  for (const SampledTokenInfo& s : reply.sampled) {
    w.U64(s.request_id);
    w.I32(s.token);
    w.F32(s.logprob);
    w.U32(static_cast<uint32_t>(s.top.size()));
    for (const TopLogprob& t : s.top) {
      w.I32(t.token);
      w.F32(t.logprob);
    }
  }
  w.U32(static_cast<uint32_t>(reply.embeddings.size()));
  for (const PooledEmbedding& e : reply.embeddings) {
    w.U64(e.request_id);
    w.U32(static_cast<uint32_t>(e.values.size()));
    for (float v : e.values) w.F32(v);
  }
  return w.Take();
}

StatusOr<StepReply> DecodeStepReply(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  StepReply reply;
  HEARTH_ASSIGN_OR_RETURN(uint32_t n, r.Count(kMinSampledBytes));
  reply.sampled.resize(n);
  for (SampledTokenInfo& s : reply.sampled) {
    HEARTH_ASSIGN_OR_RETURN(s.request_id, r.U64());
    HEARTH_ASSIGN_OR_RETURN(s.token, r.I32());
    HEARTH_ASSIGN_OR_RETURN(s.logprob, r.F32());
    HEARTH_ASSIGN_OR_RETURN(uint32_t num_top, r.Count(8));
    s.top.resize(num_top);
    for (TopLogprob& t : s.top) {
      HEARTH_ASSIGN_OR_RETURN(t.token, r.I32());
      HEARTH_ASSIGN_OR_RETURN(t.logprob, r.F32());
    }
  }
  HEARTH_ASSIGN_OR_RETURN(uint32_t num_embeddings, r.Count(8 + 4));
  reply.embeddings.resize(num_embeddings);
  for (PooledEmbedding& e : reply.embeddings) {
    HEARTH_ASSIGN_OR_RETURN(e.request_id, r.U64());
    HEARTH_ASSIGN_OR_RETURN(uint32_t width, r.Count(4));
    e.values.resize(width);
    for (float& v : e.values) {
      HEARTH_ASSIGN_OR_RETURN(v, r.F32());
    }
  }
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "step reply"));
  return reply;
}

std::vector<uint8_t> EncodeError(const std::string& message) {
  return std::vector<uint8_t>(message.begin(), message.end());
}

std::vector<uint8_t> EncodeKvBlocksRead(const KvBlocksRead& read) {
  PayloadWriter w;
  w.Str(read.model);
  w.I32s(read.blocks);
  return w.Take();
}

StatusOr<KvBlocksRead> DecodeKvBlocksRead(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  KvBlocksRead read;
  HEARTH_ASSIGN_OR_RETURN(read.model, r.Str());
  HEARTH_ASSIGN_OR_RETURN(read.blocks, r.I32s());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "kv blocks read"));
  return read;
}

std::vector<uint8_t> EncodeKvBlocks(const KvBlocks& blocks) {
  PayloadWriter w;
  w.U64(blocks.bytes_per_block);
  w.Str(blocks.data);
  return w.Take();
}

StatusOr<KvBlocks> DecodeKvBlocks(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  KvBlocks blocks;
  HEARTH_ASSIGN_OR_RETURN(blocks.bytes_per_block, r.U64());
  HEARTH_ASSIGN_OR_RETURN(blocks.data, r.Str());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "kv blocks"));
  if (blocks.bytes_per_block == 0 || blocks.data.size() % blocks.bytes_per_block != 0) {
    return Status::Corruption("kv blocks: data is not a whole number of blocks");
  }
  return blocks;
}

std::vector<uint8_t> EncodeKvBlocksWrite(const KvBlocksWrite& write) {
  PayloadWriter w;
  w.Str(write.model);
  w.I32s(write.blocks);
  w.U64(write.bytes_per_block);
  w.Str(write.data);
  return w.Take();
}

StatusOr<KvBlocksWrite> DecodeKvBlocksWrite(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  KvBlocksWrite write;
  HEARTH_ASSIGN_OR_RETURN(write.model, r.Str());
  HEARTH_ASSIGN_OR_RETURN(write.blocks, r.I32s());
  HEARTH_ASSIGN_OR_RETURN(write.bytes_per_block, r.U64());
  HEARTH_ASSIGN_OR_RETURN(write.data, r.Str());
  HEARTH_RETURN_IF_ERROR(ExpectEnd(r, "kv blocks write"));
  if (write.bytes_per_block == 0 || write.data.size() / write.bytes_per_block != write.blocks.size() ||
      write.data.size() % write.bytes_per_block != 0) {
    return Status::Corruption("kv blocks write: data is not one block per id");
  }
  return write;
}

std::string DecodeError(const std::vector<uint8_t>& payload) { return std::string(payload.begin(), payload.end()); }

}  // namespace hearth::wire
