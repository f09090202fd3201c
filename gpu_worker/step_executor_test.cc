#include "gpu_worker/step_executor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <set>

#include "tools/random_model.h"

namespace hearth::worker {
namespace {

class StepExecutorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<std::string> path = tools::WriteSmallTestModel("step", 5);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    path_ = *path;
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  void SetUp() override {
    StatusOr<wire::ModelInfo> info = exec_.LoadModel({"rand", path_, 1 << 20});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    info_ = *info;
  }

  static wire::StepSequence Prefill(uint64_t id, std::vector<int32_t> tokens, std::vector<int32_t> blocks) {
    wire::StepSequence s;
    s.request_id = id;
    s.tokens = std::move(tokens);
    s.block_table = std::move(blocks);
    s.want_logits = true;
    s.sampling.temperature = 0.8f;
    s.sampling.seed = 42;
    s.sampling.num_logprobs = 3;
    s.sample_position = static_cast<int64_t>(s.tokens.size());
    return s;
  }

  static std::string path_;
  StepExecutor exec_{2};
  wire::ModelInfo info_;
};

std::string StepExecutorTest::path_;

TEST_F(StepExecutorTest, LoadReportsShapeAndBlocks) {
  EXPECT_EQ(info_.name, "rand");
  EXPECT_EQ(info_.vocab_size, 259);
  EXPECT_EQ(info_.context_length, 512);  // the small test model's context
  EXPECT_EQ(info_.block_size, kKvBlockSize);
  // 2 layers * K,V * 16 tokens * 2 kv heads * 16 dims * 2 bytes = 4 KiB a block.
  EXPECT_EQ(info_.num_kv_blocks, 256);
  // Loading the same name and path again just describes it.
  StatusOr<wire::ModelInfo> again = exec_.LoadModel({"rand", path_, 0});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->num_kv_blocks, info_.num_kv_blocks);
  EXPECT_FALSE(exec_.LoadModel({"rand", path_ + ".other", 0}).ok());
  EXPECT_FALSE(exec_.LoadModel({"tiny", path_, 100}).ok()) << "a cache smaller than one block";
  EXPECT_FALSE(exec_.LoadModel({"missing", "/nonexistent.gguf", 0}).ok());
}

TEST_F(StepExecutorTest, UnloadFreesTheModel) {
  // Whole pool pages: 256 blocks of 4 KiB take one page; the weights the file's size rounded up.
  const uint64_t page = wire::kPoolPageBytes;
  EXPECT_EQ(info_.kv_cache_bytes, page);
  EXPECT_EQ(info_.weights_bytes, (std::filesystem::file_size(path_) + page - 1) / page * page);
  ASSERT_NE(exec_.pool(), nullptr);
  const int32_t free_before = exec_.pool()->num_free_pages();
  wire::StepRequest req;
  req.model = "rand";
  req.seqs.push_back(Prefill(1, {1, 2, 3}, {0}));
  ASSERT_TRUE(exec_.Step(req).ok());
  exec_.UnloadModel("rand");
  EXPECT_TRUE(exec_.Step(req).status().IsInvalidArgument()) << "not loaded any more";
  EXPECT_EQ(exec_.pool()->num_free_pages(), free_before + int32_t((info_.weights_bytes + info_.kv_cache_bytes) / page))
      << "the weights' and the KV cache's pages went back to the pool";
  exec_.UnloadModel("rand");  // nothing left to free: fine
  // The name is free again, for another file too.
  ASSERT_TRUE(exec_.LoadModel({"rand", path_, 1 << 20}).ok());
  EXPECT_TRUE(exec_.Step(req).ok());
}

// Staged -> warm (swap in) -> staged (swap out) -> warm again: the same token each time, the
// staged copy kept, the pool's pages back after each swap-out.
TEST_F(StepExecutorTest, StageSwapInAndOut) {
  const wire::StepRequest req{"rand", {Prefill(1, {10, 20, 30, 40, 50}, {0})}};
  StatusOr<wire::StepReply> cold = exec_.Step(req);
  ASSERT_TRUE(cold.ok()) << cold.status().ToString();
  EXPECT_FALSE(info_.swapped_in) << "loaded from its file";
  const int32_t free_warm = exec_.pool()->num_free_pages();
  const int32_t pages = int32_t((info_.weights_bytes + info_.kv_cache_bytes) / wire::kPoolPageBytes);
  for (int round = 0; round < 2; ++round) {
    StatusOr<wire::StagedInfo> out = exec_.StageModel({"rand", path_, 0});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_TRUE(out->swapped_out);
    EXPECT_EQ(out->bytes, std::filesystem::file_size(path_));
    EXPECT_EQ(exec_.pool()->num_free_pages(), free_warm + pages) << round;
    EXPECT_TRUE(exec_.Step(req).status().IsInvalidArgument()) << "not warm";
    StatusOr<wire::ModelInfo> in = exec_.LoadModel({"rand", path_, 1 << 20});
    ASSERT_TRUE(in.ok()) << in.status().ToString();
    EXPECT_TRUE(in->swapped_in);
    EXPECT_EQ(in->num_kv_blocks, info_.num_kv_blocks);
    EXPECT_EQ(exec_.pool()->num_free_pages(), free_warm);
    StatusOr<wire::StepReply> warm = exec_.Step(req);
    ASSERT_TRUE(warm.ok()) << warm.status().ToString();
    EXPECT_EQ(warm->sampled[0].token, cold->sampled[0].token);
    EXPECT_EQ(warm->sampled[0].logprob, cold->sampled[0].logprob);
  }
  // Staging a model that is only registered reads its file; unloading drops the copy, so the
  // next load reads the file again.
  StatusOr<wire::StagedInfo> other = exec_.StageModel({"other", path_, 0});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_FALSE(other->swapped_out);
  exec_.UnloadModel("other");
  StatusOr<wire::ModelInfo> reread = exec_.LoadModel({"other", path_, 1 << 20});
  ASSERT_TRUE(reread.ok());
  EXPECT_FALSE(reread->swapped_in);
  EXPECT_FALSE(exec_.StageModel({"missing", "/nonexistent.gguf", 0}).ok());
  EXPECT_FALSE(exec_.StageModel({"rand", path_ + ".other", 0}).ok()) << "warm from another file";
}

// A pool that holds one model refuses the second without side effects.
TEST(StepExecutorPoolTest, FullPoolRefusesAndKeepsServing) {
  StatusOr<std::string> path = tools::WriteSmallTestModel("pool", 6);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  const uint64_t page = wire::kPoolPageBytes;
  const uint64_t one = (std::filesystem::file_size(*path) + page - 1) / page * page + page;
  StepExecutor exec(2, 1 << 20, one);
  ASSERT_TRUE(exec.LoadModel({"a", *path, 1 << 20}).ok());
  EXPECT_EQ(exec.pool()->num_free_pages(), 0);
  StatusOr<wire::ModelInfo> b = exec.LoadModel({"b", *path, 1 << 20});
  EXPECT_EQ(b.status().code(), Status::Code::kResourceExhausted) << b.status().ToString();
  EXPECT_EQ(exec.pool()->num_free_pages(), 0);
  ASSERT_TRUE(exec.StageModel({"a", *path, 0}).ok());  // swap a out: b fits
  EXPECT_TRUE(exec.LoadModel({"b", *path, 1 << 20}).ok());
  std::filesystem::remove(*path);
}

TEST_F(StepExecutorTest, SampledTokenDoesNotDependOnTheBatch) {
  wire::StepRequest alone{"rand", {Prefill(1, {10, 20, 30, 40, 50}, {0})}};
  StatusOr<wire::StepReply> a = exec_.Step(alone);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->sampled.size(), 1u);
  EXPECT_EQ(a->sampled[0].request_id, 1u);
  EXPECT_EQ(a->sampled[0].top.size(), 3u);

  // Same sequence in other blocks, beside a longer prefill and a silent chunk.
  wire::StepRequest mixed{"rand", {}};
  mixed.seqs.push_back(Prefill(2, std::vector<int32_t>(40, 7), {1, 2, 3}));
  mixed.seqs.push_back(Prefill(3, {10, 20, 30, 40, 50}, {4}));
  wire::StepSequence silent = Prefill(4, {1, 2, 3}, {5});
  silent.want_logits = false;
  mixed.seqs.push_back(silent);
  StatusOr<wire::StepReply> m = exec_.Step(mixed);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->sampled.size(), 2u);
  EXPECT_EQ(m->sampled[0].request_id, 2u);
  EXPECT_EQ(m->sampled[1].request_id, 3u);
  EXPECT_EQ(m->sampled[1].token, a->sampled[0].token);
  EXPECT_EQ(m->sampled[1].logprob, a->sampled[0].logprob);

  // A decode step continues from the cache: position 5 in block 0.
  wire::StepSequence decode = Prefill(1, {a->sampled[0].token}, {0});
  decode.start_pos = 5;
  decode.sample_position = 6;
  decode.sampling.repetition_penalty = 1.3f;
  decode.history = {10, 20, 30, 40, 50};
  decode.num_prompt_tokens = 5;
  StatusOr<wire::StepReply> d = exec_.Step({"rand", {decode}});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_GE(d->sampled[0].token, 0);
  EXPECT_LT(d->sampled[0].token, info_.vocab_size);
}

wire::StepSequence Pooled(uint64_t id, Pooling pooling, int32_t start, std::vector<int32_t> tokens,
                          std::vector<int32_t> blocks, int32_t num_blocks_after, bool last) {
  wire::StepSequence s;
  s.request_id = id;
  s.full = start == 0;
  s.pooling = s.full ? pooling : Pooling::kNone;  // a delta carries none: the worker keeps it
  s.start_pos = start;
  s.tokens = std::move(tokens);
  s.block_table = std::move(blocks);
  s.num_blocks_after = num_blocks_after;
  s.want_logits = last;
  s.sample_position = start + static_cast<int64_t>(s.tokens.size());
  return s;
}

// An embedding is the same vector, bit for bit, whether its prompt runs alone in one step or in
// chunks beside a generating sequence; it samples nothing and has unit norm.
TEST_F(StepExecutorTest, PooledEmbeddingDoesNotDependOnBatchOrChunks) {
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 40; ++i) prompt.push_back(3 + (i * 37) % 250);
  ASSERT_GT(info_.hidden_size, 0);
  for (Pooling pooling : {Pooling::kMean, Pooling::kLast}) {
    wire::StepRequest alone;
    alone.model = "rand";
    alone.seqs.push_back(Pooled(1, pooling, 0, prompt, {0, 1, 2}, 3, true));
    StatusOr<wire::StepReply> one = exec_.Step(alone);
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    EXPECT_TRUE(one->sampled.empty());
    ASSERT_EQ(one->embeddings.size(), 1u);
    const std::vector<float>& want = one->embeddings[0].values;
    ASSERT_EQ(want.size(), static_cast<size_t>(info_.hidden_size));
    double sq = 0;
    for (float v : want) sq += double{v} * v;
    EXPECT_NEAR(sq, 1.0, 1e-5);

    // Chunks of 16, 16 and 8 beside a generating sequence (its prefill, then its decodes).
    auto chunk = [&](int32_t from, int32_t to) { return std::vector<int32_t>(prompt.begin() + from, prompt.begin() + to); };
    wire::StepRequest s1;
    s1.model = "rand";
    s1.released = {1};
    s1.seqs.push_back(Prefill(7, {5, 6, 7, 8, 9}, {20}));
    s1.seqs.push_back(Pooled(2, pooling, 0, chunk(0, 16), {10}, 1, false));
    StatusOr<wire::StepReply> r1 = exec_.Step(s1);
    ASSERT_TRUE(r1.ok()) << r1.status().ToString();
    EXPECT_TRUE(r1->embeddings.empty()) << "not at its last token yet";
    ASSERT_EQ(r1->sampled.size(), 1u);
    int32_t token = r1->sampled[0].token;
    for (int32_t start : {16, 32}) {
      wire::StepRequest s;
      s.model = "rand";
      wire::StepSequence decode;
      decode.request_id = 7;
      decode.full = false;
      decode.start_pos = start == 16 ? 5 : 6;
      decode.tokens = {token};
      decode.num_blocks_after = 1;
      decode.want_logits = true;
      decode.sample_position = decode.start_pos + 1;
      s.seqs.push_back(Pooled(2, pooling, start, chunk(start, std::min(start + 16, 40)), {start == 16 ? 11 : 12},
                              start == 16 ? 2 : 3, start == 32));
      s.seqs.push_back(decode);
      StatusOr<wire::StepReply> r = exec_.Step(s);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->sampled.size(), 1u);
      EXPECT_EQ(r->sampled[0].request_id, 7u);
      token = r->sampled[0].token;
      if (start == 32) {
        ASSERT_EQ(r->embeddings.size(), 1u);
        EXPECT_EQ(r->embeddings[0].request_id, 2u);
        EXPECT_EQ(r->embeddings[0].values, want) << "pooling " << static_cast<int>(pooling);
      }
    }
    wire::StepRequest done;
    done.model = "rand";
    done.released = {2, 7};
    ASSERT_TRUE(exec_.Step(done).ok());
  }
}

TEST_F(StepExecutorTest, APooledFullStateMustStartAtZero) {
  wire::StepRequest req;
  req.model = "rand";
  wire::StepSequence s = Pooled(1, Pooling::kMean, 0, {4, 5}, {0}, 1, true);
  s.start_pos = 2;
  s.history = {1, 2};
  req.seqs.push_back(s);
  EXPECT_TRUE(exec_.Step(req).status().IsInvalidArgument());
  EXPECT_EQ(exec_.num_sequences("rand"), 0u);
}

TEST_F(StepExecutorTest, RejectsMalformedSteps) {
  EXPECT_TRUE(exec_.Step({"nope", {Prefill(1, {1}, {0})}}).status().IsInvalidArgument());
  EXPECT_FALSE(exec_.Step({"rand", {Prefill(1, {1}, {info_.num_kv_blocks})}}).ok()) << "block out of range";
  EXPECT_FALSE(exec_.Step({"rand", {Prefill(1, {9999}, {0})}}).ok()) << "token out of range";
  EXPECT_FALSE(exec_.Step({"rand", {Prefill(1, std::vector<int32_t>(17, 1), {0})}}).ok()) << "too few blocks";
  wire::StepSequence bad = Prefill(1, {1}, {0});
  bad.sampling.top_p = 2;
  EXPECT_TRUE(exec_.Step({"rand", {bad}}).status().IsInvalidArgument());
  bad = Prefill(1, {1}, {0});
  bad.sampling.presence_penalty = 0.5f;
  bad.start_pos = 1;
  bad.history = {-1};
  EXPECT_TRUE(exec_.Step({"rand", {bad}}).status().IsInvalidArgument());
}

// Sequences driven through chunked prefill (16 tokens a step) and decoding, each step sending
// every sequence's whole state (deltas == false) or, after its first step, only its changes.
// Returns each sequence's generated tokens.
std::vector<std::vector<int32_t>> Generate(StepExecutor& exec, bool deltas, const SamplingParams& sampling,
                                           int32_t num_generate) {
  struct Seq {
    std::vector<int32_t> tokens;  // prompt, then generated
    int32_t num_prompt = 0;
    int32_t num_computed = 0;
    std::vector<int32_t> blocks;
    bool sent = false;
  };
  std::vector<Seq> seqs(3);
  const std::vector<int32_t> lengths = {20, 37, 5};
  for (size_t k = 0; k < seqs.size(); ++k) {
    for (int32_t i = 0; i < lengths[k]; ++i) seqs[k].tokens.push_back(3 + (i * 7 + static_cast<int32_t>(k)) % 40);
    seqs[k].num_prompt = lengths[k];
  }
  for (bool running = true; running;) {
    wire::StepRequest req{"rand", {}};
    for (size_t k = 0; k < seqs.size(); ++k) {
      Seq& q = seqs[k];
      if (static_cast<int32_t>(q.tokens.size()) - q.num_prompt >= num_generate) continue;
      const int32_t n = std::min<int32_t>(16, static_cast<int32_t>(q.tokens.size()) - q.num_computed);
      wire::StepSequence s;
      s.request_id = 100 + k;
      s.start_pos = q.num_computed;
      s.tokens.assign(q.tokens.begin() + q.num_computed, q.tokens.begin() + q.num_computed + n);
      const size_t had = q.blocks.size();
      while (q.blocks.size() * kKvBlockSize < static_cast<size_t>(q.num_computed + n)) {
        q.blocks.push_back(static_cast<int32_t>(k * 20 + q.blocks.size()));
      }
      s.full = !deltas || !q.sent;
      if (s.full) {
        s.block_table = q.blocks;
        s.history.assign(q.tokens.begin(), q.tokens.begin() + q.num_computed);
        s.num_prompt_tokens = q.num_prompt;
        s.sampling = sampling;
        s.sampling.seed = 7 + k;
      } else {
        s.block_table.assign(q.blocks.begin() + static_cast<std::ptrdiff_t>(had), q.blocks.end());
        s.num_blocks_after = static_cast<int32_t>(q.blocks.size());
      }
      q.sent = true;
      q.num_computed += n;
      s.want_logits = q.num_computed == static_cast<int32_t>(q.tokens.size());
      s.sample_position = q.num_computed;
      req.seqs.push_back(std::move(s));
    }
    running = !req.seqs.empty();
    if (!running) break;
    StatusOr<wire::StepReply> reply = exec.Step(req);
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    if (!reply.ok()) break;
    for (const wire::SampledTokenInfo& t : reply->sampled) seqs[t.request_id - 100].tokens.push_back(t.token);
  }
  std::vector<std::vector<int32_t>> out;
  for (const Seq& q : seqs) out.emplace_back(q.tokens.begin() + q.num_prompt, q.tokens.end());
  return out;
}

// The worker's kept state stands in exactly for what a full step carries, penalties included
// (they read the prompt and the generated tokens).
TEST_F(StepExecutorTest, DeltasSampleWhatFullStepsSample) {
  SamplingParams plain;
  plain.temperature = 0.9f;
  SamplingParams penalized = plain;
  penalized.repetition_penalty = 1.5f;
  penalized.frequency_penalty = 0.7f;
  penalized.presence_penalty = 0.4f;
  for (const SamplingParams& p : {plain, penalized}) {
    StepExecutor full_exec(2);
    ASSERT_TRUE(full_exec.LoadModel({"rand", path_, 1 << 20}).ok());
    const std::vector<std::vector<int32_t>> full = Generate(full_exec, /*deltas=*/false, p, 40);
    const std::vector<std::vector<int32_t>> delta = Generate(exec_, /*deltas=*/true, p, 40);
    ASSERT_EQ(full.size(), 3u);
    for (const std::vector<int32_t>& g : full) EXPECT_EQ(g.size(), 40u);
    EXPECT_EQ(delta, full) << "repetition penalty " << p.repetition_penalty;
  }
  // The penalties change what is sampled, so the comparison above covered them.
  StepExecutor other(2);
  ASSERT_TRUE(other.LoadModel({"rand", path_, 1 << 20}).ok());
  EXPECT_NE(Generate(other, true, plain, 40), Generate(other, true, penalized, 40));
}

TEST_F(StepExecutorTest, DeltaThatDoesNotFitTheStateIsRefused) {
  wire::StepSequence first = Prefill(1, {10, 20, 30}, {0});
  ASSERT_TRUE(exec_.Step({"rand", {first}}).ok());
  ASSERT_EQ(exec_.num_sequences("rand"), 1u);
  wire::StepSequence delta = Prefill(1, {40}, {});
  delta.full = false;
  delta.start_pos = 3;
  delta.num_blocks_after = 1;
  delta.sample_position = 4;

  wire::StepSequence unknown = delta;
  unknown.request_id = 2;
  EXPECT_TRUE(exec_.Step({"rand", {unknown}}).status().IsInvalidArgument()) << "never sent full";
  wire::StepSequence wrong_start = delta;
  wrong_start.start_pos = 2;
  EXPECT_TRUE(exec_.Step({"rand", {wrong_start}}).status().IsInvalidArgument()) << "history length";
  wire::StepSequence wrong_blocks = delta;
  wrong_blocks.num_blocks_after = 2;
  EXPECT_TRUE(exec_.Step({"rand", {wrong_blocks}}).status().IsInvalidArgument()) << "block count";
  wire::StepSequence appended_wrong = delta;
  appended_wrong.block_table = {1};
  EXPECT_TRUE(exec_.Step({"rand", {appended_wrong}}).status().IsInvalidArgument()) << "blocks appended";
  wire::StepSequence short_history = Prefill(3, {40}, {0});
  short_history.start_pos = 3;
  short_history.history = {10, 20};
  EXPECT_TRUE(exec_.Step({"rand", {short_history}}).status().IsInvalidArgument()) << "full, history != start";
  EXPECT_TRUE(exec_.Step({"rand", {first, first}}).status().IsInvalidArgument()) << "twice in a step";
  // A refused step changed nothing: the right delta still fits, and a delta in the same step as
  // a failing one was not applied.
  EXPECT_TRUE(exec_.Step({"rand", {delta, unknown}}).status().IsInvalidArgument());
  EXPECT_EQ(exec_.num_sequences("rand"), 1u);
  StatusOr<wire::StepReply> ok = exec_.Step({"rand", {delta}});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->sampled.size(), 1u);
  EXPECT_TRUE(exec_.Step({"rand", {delta}}).status().IsInvalidArgument()) << "the same delta twice";
}

TEST_F(StepExecutorTest, ReleasedAndUnloadedSequencesAreForgotten) {
  ASSERT_TRUE(exec_.Step({"rand", {Prefill(1, {10, 20, 30}, {0}), Prefill(2, {1, 2}, {1})}}).ok());
  EXPECT_EQ(exec_.num_sequences("rand"), 2u);
  wire::StepSequence delta = Prefill(1, {40}, {});
  delta.full = false;
  delta.start_pos = 3;
  delta.num_blocks_after = 1;
  delta.sample_position = 4;
  wire::StepRequest release{"rand", {}};
  release.released = {1, 77};  // 77 was never held: fine
  ASSERT_TRUE(exec_.Step(release).ok());
  EXPECT_EQ(exec_.num_sequences("rand"), 1u);
  EXPECT_TRUE(exec_.Step({"rand", {delta}}).status().IsInvalidArgument()) << "released";
  // Released and sent full again in one step: released first, so the full state stands.
  wire::StepRequest again{"rand", {Prefill(1, {10, 20, 30}, {0})}};
  again.released = {1};
  ASSERT_TRUE(exec_.Step(again).ok());
  EXPECT_TRUE(exec_.Step({"rand", {delta}}).ok());
  // A failed forward pass forgets the step's sequences: the daemon ends them.
  EXPECT_FALSE(exec_.Step({"rand", {Prefill(5, {1}, {info_.num_kv_blocks})}}).ok());
  EXPECT_EQ(exec_.num_sequences("rand"), 2u);
  // Swapping the model out and unloading it drop its sequences.
  ASSERT_TRUE(exec_.StageModel({"rand", path_, 0}).ok());
  ASSERT_TRUE(exec_.LoadModel({"rand", path_, 1 << 20}).ok());
  EXPECT_EQ(exec_.num_sequences("rand"), 0u);
  ASSERT_TRUE(exec_.Step({"rand", {Prefill(1, {10, 20, 30}, {0})}}).ok());
  exec_.UnloadModel("rand");
  ASSERT_TRUE(exec_.LoadModel({"rand", path_, 1 << 20}).ok());
  EXPECT_EQ(exec_.num_sequences("rand"), 0u);
  delta.start_pos = 3;
  EXPECT_TRUE(exec_.Step({"rand", {delta}}).status().IsInvalidArgument());
}

}  // namespace
}  // namespace hearth::worker

namespace hearth::worker {
namespace {

// The byte tokens of the test model's vocabulary are ids 3 + byte; id 2 ends the text.
std::string ByteText(const std::vector<int32_t>& tokens, bool* ended) {
  std::string text;
  *ended = false;
  for (int32_t t : tokens) {
    if (t == 2) {
      *ended = true;
      break;
    }
    EXPECT_GE(t, 3);
    EXPECT_LT(t, 259);
    text += static_cast<char>(t - 3);
  }
  return text;
}

// Constrained decoding: every sequence follows its grammar and then ends, and a worker sent
// the whole state every step (its matcher rebuilt from the history each time, as after a
// recovery) samples exactly what one that kept the state samples.
TEST_F(StepExecutorTest, GrammarConstrainsAndReplaysFromTheHistory) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.grammar = "root ::= \"{\" [a-z]{3,8} (\",\" [0-9])? \"}\"";
  StepExecutor full_exec(2);
  ASSERT_TRUE(full_exec.LoadModel({"rand", path_, 1 << 20}).ok());
  const std::vector<std::vector<int32_t>> full = Generate(full_exec, /*deltas=*/false, p, 14);
  const std::vector<std::vector<int32_t>> delta = Generate(exec_, /*deltas=*/true, p, 14);
  EXPECT_EQ(delta, full);
  std::set<std::string> texts;
  for (const std::vector<int32_t>& g : full) {
    bool ended = false;
    const std::string text = ByteText(g, &ended);
    EXPECT_TRUE(ended) << text;
    ASSERT_GE(text.size(), 5u);
    EXPECT_EQ(text.front(), '{');
    EXPECT_EQ(text.back(), '}');
    size_t letters = 1;
    while (letters < text.size() && text[letters] >= 'a' && text[letters] <= 'z') ++letters;
    EXPECT_GE(letters - 1, 3u) << text;
    EXPECT_LE(letters - 1, 8u) << text;
    const std::string tail = text.substr(letters);
    EXPECT_TRUE(tail == "}" || (tail.size() == 3 && tail[0] == ',' && std::isdigit(tail[1]) && tail[2] == '}'))
        << text;
    texts.insert(text);
  }
  EXPECT_GT(texts.size(), 1u) << "sampled, not forced into one text";
  // Unconstrained, the random model does not write this shape.
  SamplingParams free = p;
  free.grammar.clear();
  bool ended = false;
  EXPECT_NE(ByteText(Generate(exec_, true, free, 14)[0], &ended).substr(0, 1), "{");
}

TEST_F(StepExecutorTest, AGrammarThatDoesNotParseIsRefusedBeforeTheStepRuns) {
  wire::StepSequence bad = Prefill(1, {1, 2}, {0});
  bad.sampling.grammar = "root ::= (\"a\"";
  StatusOr<wire::StepReply> reply = exec_.Step({"rand", {bad}});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(reply.status().message().find("expected ')'"), std::string::npos) << reply.status().ToString();
  EXPECT_EQ(exec_.num_sequences("rand"), 0u);
}

}  // namespace
}  // namespace hearth::worker
