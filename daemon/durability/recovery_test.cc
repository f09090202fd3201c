// The commit rule and recovery against an in-process worker on a small random model: tokens
// reach a sink only once committed, one commit per iteration; a request resumed from any
// prefix of its committed tokens ends with the same tokens and text as an uninterrupted run;
// ended requests are rebuilt from the store with the same text.
#include "daemon/durability/recovery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>

#include "daemon/openai/chunk_encoder.h"
#include "daemon/openai/tool_request.h"
#include "daemon/durability/durable_params.h"
#include "daemon/durability/request_journal.h"
#include "daemon/durability/store_token_committer.h"
#include "daemon/testing/recording_sink.h"
#include "gpu_worker/step_executor.h"
#include "model/tokenizer_gguf.h"
#include "store/database.h"
#include "tools/random_model.h"

namespace hearth::daemon {
namespace {

class InProcessWorker : public WorkerConnection {
 public:
  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request) override {
    return executor_.LoadModel(request);
  }
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override { return executor_.Step(request); }

 private:
  worker::StepExecutor executor_{2};
};

// A worker that "dies" at its step `die_at` and comes back empty, as a supervised restart
// leaves it: a fresh executor with the model loaded again, and a new generation().
class RestartingWorker : public WorkerConnection {
 public:
  explicit RestartingWorker(int die_at) : die_at_(die_at) {}
  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request) override {
    load_ = request;
    return executor_->LoadModel(request);
  }
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override {
    if (++num_steps_ == die_at_) {
      executor_ = std::make_unique<worker::StepExecutor>(2);
      EXPECT_TRUE(executor_->LoadModel(load_).ok());
      ++generation_;
      return Status::Unavailable("worker died (test)");
    }
    return executor_->Step(request);
  }
  uint64_t generation() const override { return generation_; }

 private:
  const int die_at_;
  int num_steps_ = 0;
  std::atomic<uint64_t> generation_{0};
  wire::LoadModelRequest load_;
  std::unique_ptr<worker::StepExecutor> executor_ = std::make_unique<worker::StepExecutor>(2);
};

// Records what was committed; a sink checks against it. Can be told to fail.
class RecordingCommitter : public TokenCommitter {
 public:
  Status Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail) return Status::IOError("disk full (test)");
    std::set<uint64_t> ids;
    for (const TokenRecord& t : tokens) {
      committed.insert({t.request_id, t.index});
      ids.insert(t.request_id);
    }
    max_requests_in_one_commit = std::max(max_requests_in_one_commit, ids.size());
    num_ended += ended.size();
    return Status::Ok();
  }
  bool Has(uint64_t id, int32_t index) {
    std::lock_guard<std::mutex> lock(mu);
    return committed.contains({id, index});
  }
  std::mutex mu;
  std::set<std::pair<uint64_t, int32_t>> committed;
  size_t max_requests_in_one_commit = 0;
  size_t num_ended = 0;
  bool fail = false;
};

// Fails the test when a token arrives that is not committed yet.
class CheckingSink : public RecordingSink {
 public:
  CheckingSink(RecordingCommitter* committer, uint64_t id) : committer_(committer), id_(id) {}
  void OnToken(const TokenEvent& event) override {
    EXPECT_TRUE(committer_->Has(id_, static_cast<int32_t>(num_tokens()))) << "streamed before committed";
    RecordingSink::OnToken(event);
  }

 private:
  RecordingCommitter* committer_;
  uint64_t id_;
};

class RecoveryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<std::string> path = tools::WriteSmallTestModel("recovery", 11);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    path_ = *path;
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("recovery_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = store::Database::Open((dir_ / "hearth.db").string());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    store_ = std::make_unique<store::RequestStore>(db_.get());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A started engine loop over a fresh in-process worker.
  std::unique_ptr<EngineLoop> NewLoop(TokenCommitter* committer, uint64_t first_id = 1) {
    EngineLoopOptions options;
    options.committer = committer;
    options.first_request_id = first_id;
    options.token_budget = 32;
    workers_.push_back(std::make_unique<InProcessWorker>());
    auto loop = std::make_unique<EngineLoop>(workers_.back().get(), options);
    StatusOr<wire::ModelInfo> info = workers_.back()->LoadModel({"rand", path_, 64 << 10});
    EXPECT_TRUE(info.ok());
    auto tok = model::LoadTokenizerFromGguf(path_);
    EXPECT_TRUE(tok.ok());
    EXPECT_TRUE(loop->AddModel(*info, std::move(tok).value()).ok());
    loop->Start();
    return loop;
  }

  static GenerationRequest Request(int i) {
    GenerationRequest r;
    r.model = "rand";
    for (int k = 0; k < 5 + 3 * i; ++k) r.prompt.push_back(3 + (k * 7 + i) % 60);
    r.max_tokens = 12 + i;
    r.sampling.temperature = i % 3 == 0 ? 0.0f : 0.9f;
    r.sampling.top_k = i % 2 ? 40 : 0;
    r.sampling.repetition_penalty = i == 4 ? 1.3f : 1.0f;
    r.sampling.seed = 1000 + static_cast<uint64_t>(i);
    return r;
  }

  // Stores request i under `id` as the API would.
  void Store(uint64_t id, const GenerationRequest& r) {
    store::NewRequest n;
    n.id = id;
    n.model = r.model;
    n.kind = "completion";
    n.params = EncodeDurableParams({r, /*chat=*/false, /*stream=*/true, false, false, 1764100000});
    n.prompt = r.prompt;
    ASSERT_TRUE(store_->Insert(n).ok());
  }

  static std::string path_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::RequestStore> store_;
  std::vector<std::unique_ptr<InProcessWorker>> workers_;
};

std::string RecoveryTest::path_;

TEST_F(RecoveryTest, TokensAreStreamedOnlyOnceCommittedOneCommitPerIteration) {
  RecordingCommitter committer;
  auto loop = NewLoop(&committer, 50);
  std::vector<std::shared_ptr<CheckingSink>> sinks;
  for (int i = 0; i < 4; ++i) {
    GenerationRequest r = Request(i);
    r.id = 50 + static_cast<uint64_t>(i);
    sinks.push_back(std::make_shared<CheckingSink>(&committer, r.id));
    ASSERT_TRUE(loop->Submit(std::move(r), sinks.back()).ok());
  }
  for (auto& s : sinks) ASSERT_TRUE(s->WaitFinished());
  loop->Stop();
  EXPECT_GT(committer.max_requests_in_one_commit, 1u);  // several requests' tokens in one commit
  EXPECT_EQ(committer.num_ended, 4u);
  // The engine's own ids start above the ones given.
  auto other = std::make_shared<RecordingSink>();
  auto loop2 = NewLoop(&committer, 7);
  GenerationRequest r = Request(0);
  r.id = 70;
  ASSERT_EQ(loop2->Submit(r, other).value(), 70u);
  EXPECT_EQ(loop2->Submit(Request(1), std::make_shared<RecordingSink>()).value(), 71u);
}

TEST_F(RecoveryTest, FailedCommitStreamsNothing) {
  RecordingCommitter committer;
  committer.fail = true;
  auto loop = NewLoop(&committer);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(loop->Submit(Request(1), sink).ok());
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_TRUE(sink->tokens().empty());
  EXPECT_EQ(sink->finish().finish_reason, FinishReason::kError);
  EXPECT_NE(sink->finish().status.message().find("cannot store"), std::string::npos);
}

// The reference: every request run once, uninterrupted, with the store committer. Then, for
// several cut points, the store is rolled back to the first k tokens (as a crash would leave
// it) and a fresh engine recovers: the text and tokens come out the same.
TEST_F(RecoveryTest, ResumingFromAnyPrefixGivesTheUninterruptedText) {
  constexpr int kRequests = 6;
  StoreTokenCommitter committer(store_.get());
  std::vector<std::string> texts(kRequests);
  std::vector<std::vector<int32_t>> tokens(kRequests);
  {
    auto loop = NewLoop(&committer);
    std::vector<std::shared_ptr<RecordingSink>> sinks;
    for (int i = 0; i < kRequests; ++i) {
      GenerationRequest r = Request(i);
      r.id = 1 + static_cast<uint64_t>(i);
      Store(r.id, r);
      sinks.push_back(std::make_shared<RecordingSink>());
      ASSERT_TRUE(loop->Submit(r, sinks.back()).ok());
    }
    for (int i = 0; i < kRequests; ++i) {
      ASSERT_TRUE(sinks[i]->WaitFinished());
      texts[i] = sinks[i]->text();
      tokens[i] = sinks[i]->tokens();
      ASSERT_FALSE(tokens[i].empty());
    }
  }
  // Ended requests rebuild with the same text.
  for (int i = 0; i < kRequests; ++i) {
    auto stored = store_->Get(1 + i).value();
    ASSERT_TRUE(stored.has_value());
    ASSERT_TRUE(store::IsEnded(stored->status));
    auto loop = NewLoop(nullptr);
    auto entry = RebuildEnded(*stored, *loop);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->Info().text, texts[i]) << "request " << i;
    EXPECT_EQ(entry->Info().tokens, tokens[i]) << "request " << i;
  }
  for (int32_t cut : {0, 1, 2, 5, 9, 100}) {
    for (int i = 0; i < kRequests; ++i) {
      ASSERT_TRUE(db_->Exec("UPDATE requests SET status = 'running', finish_reason = '', ended_ms = 0 WHERE id = " +
                            std::to_string(1 + i))
                      .ok());
      ASSERT_TRUE(db_->Exec("DELETE FROM tokens WHERE request_id = " + std::to_string(1 + i) +
                            " AND idx >= " + std::to_string(cut + i % 2))
                      .ok());
    }
    StoreTokenCommitter again(store_.get());
    auto loop = NewLoop(&again, 100);
    MemoryRequestRegistry registry;
    auto report = RecoverUnfinished(store_.get(), loop.get(), &registry);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->resumed, kRequests);
    for (int i = 0; i < kRequests; ++i) {
      auto entry = registry.Find(1 + i);
      ASSERT_NE(entry, nullptr);
      ASSERT_TRUE(entry->WaitDone(std::chrono::seconds(120)));
      EXPECT_EQ(entry->Info().text, texts[i]) << "request " << i << " cut at " << cut;
      EXPECT_EQ(entry->Info().tokens, tokens[i]) << "request " << i << " cut at " << cut;
      EXPECT_EQ(entry->Info().state, RequestState::kFinished);
    }
    loop->Stop();
    EXPECT_TRUE(store_->LoadUnfinished().value().empty());
  }
}

// A request that asked for top logprobs: they are committed with each token, and the events of
// a resumed request (replayed from the store, then generated) and of a rebuilt ended one are
// those of the uninterrupted run, top_logprobs included, in chat and in completions chunks; so
// are the tokens a non-streamed answer is built from (an idempotent retry after a restart).
void ExpectSameTokens(const std::vector<GeneratedToken>& got, const std::vector<GeneratedToken>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << i;
    EXPECT_EQ(got[i].bytes, want[i].bytes) << i;
    EXPECT_EQ(got[i].logprob, want[i].logprob) << i;
    ASSERT_EQ(got[i].top.size(), want[i].top.size()) << i;
    for (size_t k = 0; k < got[i].top.size(); ++k) {
      EXPECT_EQ(got[i].top[k].id, want[i].top[k].id) << i << "." << k;
      EXPECT_EQ(got[i].top[k].bytes, want[i].top[k].bytes) << i << "." << k;
      EXPECT_EQ(got[i].top[k].logprob, want[i].top[k].logprob) << i << "." << k;
    }
  }
}

class TopLogprobsRecoveryTest : public RecoveryTest, public ::testing::WithParamInterface<bool> {};

TEST_P(TopLogprobsRecoveryTest, TopLogprobsAreStoredAndReplayed) {
  const bool chat = GetParam();
  GenerationRequest r = Request(0);  // greedy
  r.id = 1;
  r.sampling.num_logprobs = 3;
  store::NewRequest n;
  n.id = 1;
  n.model = r.model;
  n.kind = chat ? "chat" : "completion";
  const DurableParams params{r, chat, /*stream=*/true, /*logprobs=*/true, false, 1764100000};
  n.params = EncodeDurableParams(params);
  n.prompt = r.prompt;
  ASSERT_TRUE(store_->Insert(n).ok());
  auto entry_for = [&] {
    RequestMeta meta{r.model,        chat ? "chat.completions" : "completions",
                     true,           static_cast<int32_t>(r.prompt.size()),
                     params.created, /*logprobs=*/true};
    return RequestEntry::Create(meta, MakeChunkEncoder({chat, r.model, params.created, true, false}));
  };
  auto events_of = [](const RequestEntry& entry) {
    std::string all;
    for (const RecordedEvent& e : entry.Read(0, std::chrono::milliseconds(0)).events) all += e.data + "\n";
    return all;
  };
  std::string uninterrupted;
  std::vector<GeneratedToken> tokens;
  {
    StoreTokenCommitter committer(store_.get());
    auto loop = NewLoop(&committer);
    auto entry = entry_for();
    auto sink = std::make_shared<RecordingSink>();
    ASSERT_TRUE(loop->Submit(r, entry->Tee(sink)).ok());
    entry->Attach(1, nullptr);
    ASSERT_TRUE(sink->WaitFinished());
    ASSERT_TRUE(entry->WaitDone(std::chrono::seconds(10)));
    uninterrupted = events_of(*entry);
    tokens = entry->Info().logprob_tokens;
  }
  ASSERT_GT(tokens.size(), 3u);
  auto stored = store_->Get(1).value();
  ASSERT_TRUE(stored.has_value());
  ASSERT_GT(stored->tokens.size(), 4u);
  for (const store::StoredToken& t : stored->tokens) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].token, t.token) << "greedy at temperature 0: the sampled token is the best";
    EXPECT_GE(t.top[0].logprob, t.top[1].logprob);
  }
  // Chat: [{token, logprob, bytes}, ...]; completions: one {token: logprob} object per token.
  EXPECT_NE(uninterrupted.find(chat ? "\"top_logprobs\":[{\"token\":" : "\"top_logprobs\":[{\""), std::string::npos)
      << uninterrupted;
  {
    auto loop = NewLoop(nullptr);
    auto rebuilt = RebuildEnded(*stored, *loop);
    ASSERT_NE(rebuilt, nullptr);
    EXPECT_EQ(events_of(*rebuilt), uninterrupted);
    ExpectSameTokens(rebuilt->Info().logprob_tokens, tokens);
  }
  // Cut after 3 tokens and resume: the replayed tokens carry their stored top logprobs.
  ASSERT_TRUE(db_->Exec("UPDATE requests SET status = 'running', finish_reason = '', ended_ms = 0 WHERE id = 1").ok());
  ASSERT_TRUE(db_->Exec("DELETE FROM tokens WHERE request_id = 1 AND idx >= 3").ok());
  StoreTokenCommitter again(store_.get());
  auto loop = NewLoop(&again, 100);
  MemoryRequestRegistry registry;
  ASSERT_TRUE(RecoverUnfinished(store_.get(), loop.get(), &registry).ok());
  auto resumed = registry.Find(1);
  ASSERT_NE(resumed, nullptr);
  ASSERT_TRUE(resumed->WaitDone(std::chrono::seconds(120)));
  EXPECT_EQ(events_of(*resumed), uninterrupted);
  ExpectSameTokens(resumed->Info().logprob_tokens, tokens);
  loop->Stop();
}

// A forced tool call (its grammar, its call format stored with it) streams the same calls when
// rebuilt from the store and when resumed from a cut: the grammar is replayed and the text read
// again in the stored format.
TEST_F(RecoveryTest, AForcedToolCallIsReadAgainAfterRecovery) {
  GenerationRequest r = Request(0);  // greedy
  r.id = 1;
  r.max_tokens = 200;
  rapidjson::Document tools;
  tools.Parse(R"([{"type":"function","function":{"name":"pick","parameters":{"type":"object",
      "properties":{"x":{"enum":["a","b"]}},"required":["x"]}}}])");
  ASSERT_FALSE(ToolCallGrammar(tools, {}, /*parallel=*/false, &r.sampling.grammar));
  DurableParams params{r, /*chat=*/true, /*stream=*/true, false, false, 1764100000};
  params.tool_format = ToolCallFormatName(ToolCallFormat::kJsonArray);
  store::NewRequest n;
  n.id = 1;
  n.model = r.model;
  n.kind = "chat";
  n.params = EncodeDurableParams(params);
  n.prompt = r.prompt;
  ASSERT_TRUE(store_->Insert(n).ok());
  auto events_of = [](const RequestEntry& entry) {
    std::string all;
    for (const RecordedEvent& e : entry.Read(0, std::chrono::milliseconds(0)).events) all += e.data + "\n";
    return all;
  };
  std::string uninterrupted;
  {
    StoreTokenCommitter committer(store_.get());
    auto loop = NewLoop(&committer);
    RequestMeta meta{r.model, "chat.completions", true, static_cast<int32_t>(r.prompt.size()), params.created, false,
                     params.tool_format};
    ChunkEncoderOptions chunks{true, r.model, params.created, false, false};
    chunks.tool_format = ToolCallFormat::kJsonArray;
    auto entry = RequestEntry::Create(meta, MakeChunkEncoder(chunks));
    auto sink = std::make_shared<RecordingSink>();
    ASSERT_TRUE(loop->Submit(r, entry->Tee(sink)).ok());
    entry->Attach(1, nullptr);
    ASSERT_TRUE(sink->WaitFinished());
    ASSERT_TRUE(entry->WaitDone(std::chrono::seconds(10)));
    uninterrupted = events_of(*entry);
  }
  EXPECT_NE(uninterrupted.find(R"("tool_calls":[{"index":0,"id":"call_1_0","type":"function",)"
                               R"("function":{"name":"pick","arguments":""}}])"),
            std::string::npos)
      << uninterrupted;
  EXPECT_NE(uninterrupted.find(R"("finish_reason":"tool_calls")"), std::string::npos) << uninterrupted;
  auto stored = store_->Get(1).value();
  ASSERT_TRUE(stored.has_value());
  ASSERT_GT(stored->tokens.size(), 8u);
  {
    auto loop = NewLoop(nullptr);
    auto rebuilt = RebuildEnded(*stored, *loop);
    ASSERT_NE(rebuilt, nullptr);
    EXPECT_EQ(events_of(*rebuilt), uninterrupted);
    EXPECT_EQ(rebuilt->Info().meta.tool_format, "json_array");
  }
  // Cut inside the call and resumed.
  ASSERT_TRUE(db_->Exec("UPDATE requests SET status = 'running', finish_reason = '', ended_ms = 0 WHERE id = 1").ok());
  ASSERT_TRUE(db_->Exec("DELETE FROM tokens WHERE request_id = 1 AND idx >= 7").ok());
  StoreTokenCommitter again(store_.get());
  auto loop = NewLoop(&again, 100);
  MemoryRequestRegistry registry;
  ASSERT_TRUE(RecoverUnfinished(store_.get(), loop.get(), &registry).ok());
  auto resumed = registry.Find(1);
  ASSERT_NE(resumed, nullptr);
  ASSERT_TRUE(resumed->WaitDone(std::chrono::seconds(120)));
  EXPECT_EQ(events_of(*resumed), uninterrupted);
  loop->Stop();
}

INSTANTIATE_TEST_SUITE_P(ChatAndCompletions, TopLogprobsRecoveryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Chat" : "Completions"; });

// A worker replaced mid-generation costs a pause: every request is computed again from its
// tokens and ends with the text it would have had.
TEST_F(RecoveryTest, ReplacedWorkerIsAPauseNotAnError) {
  auto run = [&](int die_at) {
    RestartingWorker worker(die_at);
    EngineLoopOptions options;
    options.token_budget = 32;
    EngineLoop loop(&worker, options);
    StatusOr<wire::ModelInfo> info = worker.LoadModel({"rand", path_, 64 << 10});
    EXPECT_TRUE(info.ok());
    auto tok = model::LoadTokenizerFromGguf(path_);
    EXPECT_TRUE(tok.ok());
    EXPECT_TRUE(loop.AddModel(*info, std::move(tok).value()).ok());
    loop.Start();
    std::vector<std::shared_ptr<RecordingSink>> sinks;
    for (int i = 0; i < 5; ++i) {
      sinks.push_back(std::make_shared<RecordingSink>());
      EXPECT_TRUE(loop.Submit(Request(i), sinks.back()).ok());
    }
    std::vector<std::string> texts;
    for (auto& s : sinks) {
      EXPECT_TRUE(s->WaitFinished());
      EXPECT_NE(s->finish().finish_reason, FinishReason::kError) << s->finish().status.ToString();
      texts.push_back(s->text());
    }
    return texts;
  };
  const std::vector<std::string> reference = run(/*die_at=*/-1);
  for (int die_at : {1, 2, 4, 9}) EXPECT_EQ(run(die_at), reference) << "worker died at step " << die_at;
}

TEST_F(RecoveryTest, JournalStoresBeforeSubmitAndForgetsRefused) {
  RequestIds ids(40);
  RequestJournal journal(store_.get(), &ids);
  DurableParams p{Request(2), true, false, false, false, 5};
  auto id = journal.Record(p, Request(2).prompt, "key-1");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 40u);
  EXPECT_EQ(journal.FindByIdempotencyKey("key-1").value().value(), 40u);
  EXPECT_FALSE(journal.Record(p, Request(2).prompt, "key-1").ok());  // the key is taken
  journal.Forget(40);
  EXPECT_FALSE(journal.FindByIdempotencyKey("key-1").value().has_value());
  EXPECT_EQ(store_->MaxRequestId().value(), 0u);
}

}  // namespace
}  // namespace hearth::daemon
