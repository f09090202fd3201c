#include "common/worker_protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hearth::wire {
namespace {

class SocketPair : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    if (fds_[0] >= 0) ::close(fds_[0]);
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  int fds_[2] = {-1, -1};
};

TEST_F(SocketPair, HelloRoundTrip) {
  WorkerHello hello{1, 4242, "cpu", "cpu: 2 threads"};
  ASSERT_TRUE(WriteFrame(fds_[0], MessageType::kHello, EncodeHello(hello)).ok());
  StatusOr<Frame> frame = ReadFrame(fds_[1]);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(frame->type, MessageType::kHello);
  StatusOr<WorkerHello> back = DecodeHello(frame->payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->backend, "cpu");
  EXPECT_EQ(back->device, "cpu: 2 threads");
}

TEST_F(SocketPair, PeerCloseIsUnavailable) {
  ::close(fds_[0]);
  fds_[0] = -1;
  StatusOr<Frame> frame = ReadFrame(fds_[1]);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.status().code(), Status::Code::kUnavailable);
}

TEST_F(SocketPair, OversizeLengthIsCorruption) {
  uint8_t header[5] = {0xff, 0xff, 0xff, 0xff, 1};
  ASSERT_EQ(::write(fds_[0], header, 5), 5);
  StatusOr<Frame> frame = ReadFrame(fds_[1]);
  ASSERT_FALSE(frame.ok());
  EXPECT_TRUE(frame.status().IsCorruption());
}

TEST(PayloadReaderTest, TruncatedStringIsCorruption) {
  PayloadWriter w;
  w.U32(100);  // claims 100 bytes of string, has none
  std::vector<uint8_t> bytes = w.Take();
  PayloadReader r(bytes);
  EXPECT_TRUE(r.Str().status().IsCorruption());
  std::vector<uint8_t> hello_bytes = EncodeHello({1, 1, "cpu", "x"});
  hello_bytes.push_back(0);
  EXPECT_TRUE(DecodeHello(hello_bytes).status().IsCorruption());
}

StepRequest SampleStep() {
  StepRequest req;
  req.model = "smol";
  StepSequence a;
  a.request_id = 7;
  a.start_pos = 0;
  a.tokens = {1, 2, 3};
  a.block_table = {4};
  a.want_logits = true;
  a.sampling.temperature = 0.8f;
  a.sampling.top_k = 40;
  a.sampling.top_p = 0.9f;
  a.sampling.min_p = 0.05f;
  a.sampling.repetition_penalty = 1.1f;
  a.sampling.frequency_penalty = 0.5f;
  a.sampling.presence_penalty = -0.25f;
  a.sampling.seed = 0x123456789abcdefull;
  a.sampling.num_logprobs = 5;
  a.sampling.logit_bias = {{3, -100.0f}, {9, 2.5f}};
  a.sampling.min_tokens = 6;
  a.sampling.ignore_eos = true;
  a.sampling.stop_token_ids = {13, 2};
  a.sampling.grammar = "root ::= \"a\"";
  a.sample_position = 5;
  a.start_pos = 2;
  a.history = {11, 12};
  a.num_prompt_tokens = 4;
  StepSequence b;  // a delta: no history, prompt split or sampling on the wire
  b.request_id = 9;
  b.full = false;
  b.start_pos = 33;
  b.tokens = {5};
  b.block_table = {2};
  b.num_blocks_after = 3;
  b.history = {8, 9};             // not sent
  b.sampling.temperature = 0.5f;  // not sent
  req.seqs = {a, b};
  req.released = {3, 0xfedcba9876543210ull};
  return req;
}

TEST(StepCodecTest, StepRoundTrip) {
  StepRequest req = SampleStep();
  StatusOr<StepRequest> back = DecodeStep(EncodeStep(req));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->model, "smol");
  ASSERT_EQ(back->seqs.size(), 2u);
  const StepSequence& a = back->seqs[0];
  EXPECT_EQ(a.request_id, 7u);
  EXPECT_EQ(a.tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(a.block_table, (std::vector<int32_t>{4}));
  EXPECT_TRUE(a.want_logits);
  EXPECT_EQ(a.sampling.temperature, 0.8f);
  EXPECT_EQ(a.sampling.top_k, 40);
  EXPECT_EQ(a.sampling.top_p, 0.9f);
  EXPECT_EQ(a.sampling.min_p, 0.05f);
  EXPECT_EQ(a.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(a.sampling.frequency_penalty, 0.5f);
  EXPECT_EQ(a.sampling.presence_penalty, -0.25f);
  EXPECT_EQ(a.sampling.seed, 0x123456789abcdefull);
  EXPECT_EQ(a.sampling.num_logprobs, 5);
  EXPECT_EQ(a.sampling.logit_bias, (std::vector<LogitBias>{{3, -100.0f}, {9, 2.5f}}));
  EXPECT_EQ(a.sampling.min_tokens, 6);
  EXPECT_TRUE(a.sampling.ignore_eos);
  EXPECT_EQ(a.sampling.stop_token_ids, (std::vector<int32_t>{13, 2}));
  EXPECT_EQ(a.sampling.grammar, "root ::= \"a\"");
  EXPECT_EQ(a.sample_position, 5);
  EXPECT_TRUE(a.full);
  EXPECT_EQ(a.start_pos, 2);
  EXPECT_EQ(a.history, (std::vector<int32_t>{11, 12}));
  EXPECT_EQ(a.num_prompt_tokens, 4);
  EXPECT_EQ(a.num_blocks_after, 1) << "a full table's length";
  const StepSequence& b = back->seqs[1];
  EXPECT_EQ(b.request_id, 9u);
  EXPECT_FALSE(b.full);
  EXPECT_EQ(b.start_pos, 33);
  EXPECT_FALSE(b.want_logits);
  EXPECT_EQ(b.block_table, (std::vector<int32_t>{2}));
  EXPECT_EQ(b.num_blocks_after, 3);
  EXPECT_TRUE(b.history.empty()) << "a delta carries no history";
  EXPECT_EQ(b.sampling.temperature, SamplingParams().temperature) << "nor sampling parameters";
  EXPECT_EQ(back->released, (std::vector<uint64_t>{3, 0xfedcba9876543210ull}));
}

// A delta is smaller than the full state it stands for: no history, table prefix or sampling.
TEST(StepCodecTest, DeltaIsSmallerThanFull) {
  StepRequest full;
  full.model = "m";
  StepSequence s;
  s.start_pos = 1000;
  s.tokens = {7};
  s.history.assign(1000, 5);
  s.block_table.assign(63, 1);
  s.want_logits = true;
  full.seqs = {s};
  StepRequest delta = full;
  delta.seqs[0].full = false;
  delta.seqs[0].block_table.clear();
  delta.seqs[0].num_blocks_after = 63;
  EXPECT_GT(EncodeStep(full).size(), 4 * (1000 + 63));
  EXPECT_LT(EncodeStep(delta).size(), 64u);
}

TEST(StepCodecTest, LoadModelAndInfoRoundTrip) {
  StatusOr<LoadModelRequest> load = DecodeLoadModel(EncodeLoadModel({"m", "/x/m.gguf", 1ull << 33}));
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load->name, "m");
  EXPECT_EQ(load->path, "/x/m.gguf");
  EXPECT_EQ(load->kv_cache_bytes, 1ull << 33);
  ModelInfo info{"m", 49152, 8192, 728, 16, {0, 2}, 98362432, 1ull << 28, true, 576};
  StatusOr<ModelInfo> back = DecodeModelInfo(EncodeModelInfo(info));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->vocab_size, 49152);
  EXPECT_EQ(back->context_length, 8192);
  EXPECT_EQ(back->num_kv_blocks, 728);
  EXPECT_EQ(back->block_size, 16);
  EXPECT_EQ(back->eos_token_ids, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(back->weights_bytes, 98362432u);
  EXPECT_EQ(back->kv_cache_bytes, 1ull << 28);
  EXPECT_TRUE(back->swapped_in);
  EXPECT_EQ(back->hidden_size, 576);
  StatusOr<StagedInfo> staged = DecodeStagedInfo(EncodeStagedInfo({"m", 98362432, true}));
  ASSERT_TRUE(staged.ok());
  EXPECT_EQ(staged->name, "m");
  EXPECT_EQ(staged->bytes, 98362432u);
  EXPECT_TRUE(staged->swapped_out);
  std::vector<uint8_t> staged_bytes = EncodeStagedInfo({"m", 1, false});
  for (size_t n = 0; n < staged_bytes.size(); ++n) {
    std::vector<uint8_t> cut(staged_bytes.begin(), staged_bytes.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeStagedInfo(cut).status().IsCorruption()) << n;
  }
  StatusOr<Progress> progress = DecodeProgress(EncodeProgress({"m", 16 << 20, 98362432}));
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->name, "m");
  EXPECT_EQ(progress->done, 16u << 20);
  EXPECT_EQ(progress->total, 98362432u);
  EXPECT_TRUE(DecodeProgress(EncodeProgress({"m", 2, 1})).status().IsCorruption()) << "done past the total";
  StatusOr<std::string> unload = DecodeUnloadModel(EncodeUnloadModel("m"));
  ASSERT_TRUE(unload.ok());
  EXPECT_EQ(*unload, "m");
  std::vector<uint8_t> extra = EncodeUnloadModel("m");
  extra.push_back(0);
  EXPECT_TRUE(DecodeUnloadModel(extra).status().IsCorruption());
}

TEST(StepCodecTest, LoadStatusAndModelNameRoundTrip) {
  StatusOr<LoadStatus> reading = DecodeLoadStatus(EncodeLoadStatus({"m", 16 << 20, 98362432, false}));
  ASSERT_TRUE(reading.ok()) << reading.status().ToString();
  EXPECT_EQ(reading->name, "m");
  EXPECT_EQ(reading->done, 16u << 20);
  EXPECT_EQ(reading->total, 98362432u);
  EXPECT_FALSE(reading->finished);
  StatusOr<LoadStatus> finished = DecodeLoadStatus(EncodeLoadStatus({"m", 7, 7, true}));
  ASSERT_TRUE(finished.ok());
  EXPECT_TRUE(finished->finished);
  // A hostile worker's status is refused, not believed.
  EXPECT_TRUE(DecodeLoadStatus(EncodeLoadStatus({"m", 8, 7, false})).status().IsCorruption()) << "done past the total";
  EXPECT_TRUE(DecodeLoadStatus(EncodeLoadStatus({"m", 6, 7, true})).status().IsCorruption()) << "finished early";
  std::vector<uint8_t> bytes = EncodeLoadStatus({"m", 1, 2, false});
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeLoadStatus(cut).status().IsCorruption()) << n;
  }
  std::vector<uint8_t> bad_bool = bytes;
  bad_bool.back() = 2;
  EXPECT_TRUE(DecodeLoadStatus(bad_bool).status().IsCorruption());
  std::vector<uint8_t> extra = bytes;
  extra.push_back(0);
  EXPECT_TRUE(DecodeLoadStatus(extra).status().IsCorruption());

  StatusOr<std::string> name = DecodeModelName(EncodeModelName("m"));
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "m");
  EXPECT_FALSE(DecodeModelName(EncodeModelName("")).ok()) << "a poll names a model";
  std::vector<uint8_t> long_name = EncodeModelName("m");
  long_name[0] = 0xff;  // claims more bytes than the payload holds
  EXPECT_TRUE(DecodeModelName(long_name).status().IsCorruption());
  std::vector<uint8_t> trailing = EncodeModelName("m");
  trailing.push_back(0);
  EXPECT_TRUE(DecodeModelName(trailing).status().IsCorruption());
}

TEST(StepCodecTest, StepReplyRoundTrip) {
  StepReply reply;
  reply.sampled.push_back({7, 42, -0.5f, {{42, -0.5f}, {3, -2.0f}}});
  reply.sampled.push_back({9, 1, -1.5f, {}});
  StatusOr<StepReply> back = DecodeStepReply(EncodeStepReply(reply));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->sampled.size(), 2u);
  EXPECT_EQ(back->sampled[0].request_id, 7u);
  EXPECT_EQ(back->sampled[0].token, 42);
  EXPECT_EQ(back->sampled[0].logprob, -0.5f);
  ASSERT_EQ(back->sampled[0].top.size(), 2u);
  EXPECT_EQ(back->sampled[0].top[1].token, 3);
  EXPECT_EQ(back->sampled[0].top[1].logprob, -2.0f);
  EXPECT_TRUE(back->sampled[1].top.empty());
  EXPECT_TRUE(back->embeddings.empty());
}

TEST(StepCodecTest, PooledSequenceAndEmbeddingRoundTrip) {
  StepRequest req = SampleStep();
  req.seqs[0].pooling = Pooling::kLast;
  req.seqs[1].pooling = Pooling::kMean;  // a delta: not sent, the worker keeps the full one's
  StatusOr<StepRequest> back = DecodeStep(EncodeStep(req));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->seqs[0].pooling, Pooling::kLast);
  EXPECT_EQ(back->seqs[1].pooling, Pooling::kNone);

  StepReply reply;
  reply.sampled.push_back({9, 1, -1.5f, {}});
  reply.embeddings.push_back({7, {0.6f, -0.8f, 0.0f}});
  StatusOr<StepReply> rep = DecodeStepReply(EncodeStepReply(reply));
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  ASSERT_EQ(rep->embeddings.size(), 1u);
  EXPECT_EQ(rep->embeddings[0].request_id, 7u);
  EXPECT_EQ(rep->embeddings[0].values, (std::vector<float>{0.6f, -0.8f, 0.0f}));
  std::vector<uint8_t> bytes = EncodeStepReply(reply);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeStepReply(cut).status().IsCorruption()) << n;
  }
  PayloadWriter huge;  // an embedding that claims more floats than the payload has
  huge.U32(0);
  huge.U32(1);
  huge.U64(7);
  huge.U32(0x40000000u);
  EXPECT_TRUE(DecodeStepReply(huge.Take()).status().IsCorruption());
}

TEST(StepCodecTest, UnknownPoolingIsCorruption) {
  StepRequest req = SampleStep();
  req.seqs[0].pooling = static_cast<Pooling>(3);
  EXPECT_TRUE(DecodeStep(EncodeStep(req)).status().IsCorruption());
}

// Every strict prefix of a valid payload is rejected, never read past its end.
TEST(StepCodecTest, EveryTruncationIsCorruption) {
  std::vector<uint8_t> step = EncodeStep(SampleStep());
  for (size_t n = 0; n < step.size(); ++n) {
    std::vector<uint8_t> cut(step.begin(), step.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeStep(cut).status().IsCorruption()) << n;
  }
  StepReply reply;
  reply.sampled.push_back({7, 42, -0.5f, {{42, -0.5f}}});
  std::vector<uint8_t> rep = EncodeStepReply(reply);
  for (size_t n = 0; n < rep.size(); ++n) {
    std::vector<uint8_t> cut(rep.begin(), rep.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeStepReply(cut).status().IsCorruption()) << n;
  }
  std::vector<uint8_t> info = EncodeModelInfo({"m", 1, 2, 3, 4, {5}, 6, 7});
  for (size_t n = 0; n < info.size(); ++n) {
    std::vector<uint8_t> cut(info.begin(), info.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeModelInfo(cut).status().IsCorruption()) << n;
  }
  std::vector<uint8_t> extra = EncodeStep(SampleStep());
  extra.push_back(0);
  EXPECT_TRUE(DecodeStep(extra).status().IsCorruption());
}

TEST(StepCodecTest, HugeCountsAreRejectedWithoutAllocating) {
  PayloadWriter w;
  w.Str("m");
  w.U32(0xffffffffu);  // released ids
  EXPECT_TRUE(DecodeStep(w.Take()).status().IsCorruption());
  PayloadWriter q;
  q.Str("m");
  q.U32(0);
  q.U32(0xffffffffu);  // sequences
  EXPECT_TRUE(DecodeStep(q.Take()).status().IsCorruption());
  PayloadWriter h;  // a full sequence whose history claims more tokens than the payload has
  h.Str("m");
  h.U32(0);
  h.U32(1);
  h.U64(1);
  h.Bool(true);
  h.Bool(false);
  h.I32(0);
  h.I32s({});
  h.I32s({});
  h.U32(0x40000000u);
  for (int i = 0; i < 16; ++i) h.U32(0);
  EXPECT_TRUE(DecodeStep(h.Take()).status().IsCorruption());
  PayloadWriter v;
  v.U32(0x40000000u);  // a billion ints, no bytes
  std::vector<uint8_t> bytes = v.Take();
  PayloadReader r(bytes);
  EXPECT_TRUE(r.I32s().status().IsCorruption());
  PayloadWriter b;
  b.Bool(true);
  std::vector<uint8_t> bad = b.Take();
  bad[0] = 2;
  PayloadReader rb(bad);
  EXPECT_TRUE(rb.Bool().status().IsCorruption());
}


TEST(KvBlocksCodecTest, RoundTripsAndRejectsDataThatIsNotOneBlockPerId) {
  const KvBlocksRead read{"m", {3, 1, 4}};
  StatusOr<KvBlocksRead> r = DecodeKvBlocksRead(EncodeKvBlocksRead(read));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "m");
  EXPECT_EQ(r->blocks, read.blocks);

  const KvBlocks blocks{4, std::string("abcdefgh")};
  StatusOr<KvBlocks> b = DecodeKvBlocks(EncodeKvBlocks(blocks));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->bytes_per_block, 4u);
  EXPECT_EQ(b->data, "abcdefgh");
  EXPECT_TRUE(DecodeKvBlocks(EncodeKvBlocks({3, "abcdefgh"})).status().IsCorruption()) << "8 bytes are not 3-byte blocks";
  EXPECT_TRUE(DecodeKvBlocks(EncodeKvBlocks({0, ""})).status().IsCorruption());

  const KvBlocksWrite write{"m", {2, 5}, 4, "abcdefgh"};
  StatusOr<KvBlocksWrite> w = DecodeKvBlocksWrite(EncodeKvBlocksWrite(write));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->blocks, write.blocks);
  EXPECT_EQ(w->data, write.data);
  EXPECT_TRUE(DecodeKvBlocksWrite(EncodeKvBlocksWrite({"m", {2}, 4, "abcdefgh"})).status().IsCorruption())
      << "two blocks of data for one id";
  EXPECT_TRUE(DecodeKvBlocksWrite(EncodeKvBlocksWrite({"m", {2, 5}, 4, "abcdefg"})).status().IsCorruption());
  const std::vector<uint8_t> full = EncodeKvBlocksWrite(write);
  for (size_t n = 0; n < full.size(); ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_TRUE(DecodeKvBlocksWrite(cut).status().IsCorruption()) << n;
  }
}

}  // namespace
}  // namespace hearth::wire
