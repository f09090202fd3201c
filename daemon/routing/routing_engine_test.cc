#include "daemon/routing/routing_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <set>
#include <thread>

#include "daemon/http/http_server.h"
#include "daemon/routing/forward_route.h"
#include "model/tokenizer_test_util.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "routing-test-token-0123456789";

// An engine whose output depends only on the seed and the position, as the real one's does:
// token k is a letter byte picked from (seed, k). It replays a request's committed tokens to
// its sink first (as the engine loop does) and generates the rest, one every `delay`.
class PositionEngine : public Engine {
 public:
  PositionEngine() {
    auto t = model::Tokenizer::Create(model::testing::ByteLevelSpec());
    EXPECT_TRUE(t.ok());
    tokenizer_ = std::move(t).value();
  }
  ~PositionEngine() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  static int32_t TokenAt(uint64_t seed, int32_t k) { return 4 + 'a' + static_cast<int32_t>((seed * 7 + k) % 26); }

  const model::Tokenizer* tokenizer(const std::string& model) const override {
    return model == "smol" ? tokenizer_.get() : nullptr;
  }
  int32_t context_length(const std::string&) const override { return 4096; }
  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (refuse) return Status::ResourceExhausted("queue full");
    const uint64_t id = request.id ? request.id : next_id_++;
    committed_seen.push_back(request.committed.size());
    durable_seen.push_back(request.durable);
    threads_.emplace_back([this, id, r = std::move(request), sink] { Play(id, r, *sink); });
    return id;
  }
  void Cancel(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.insert(id);
    cv_.notify_all();
  }
  EngineStats Stats() const override { return {}; }
  bool WaitAnyCancelled(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !cancelled_.empty(); });
  }

  std::chrono::milliseconds delay{1};
  bool refuse = false;
  std::vector<size_t> committed_seen;  // GUARDED_BY(mu_)
  std::vector<bool> durable_seen;      // GUARDED_BY(mu_)
  std::mutex mu_;

 private:
  void Play(uint64_t id, const GenerationRequest& r, RequestSink& sink) {
    auto event = [&](int32_t token) {
      TokenEvent e;
      e.token.id = token;
      e.token.bytes = std::string(tokenizer_->TokenBytes(token));
      e.text = e.token.bytes;
      return e;
    };
    for (const GeneratedToken& t : r.committed) sink.OnToken(event(t.id));
    FinishEvent finish;
    finish.prompt_tokens = static_cast<int32_t>(r.prompt.size());
    finish.finish_reason = FinishReason::kLength;
    for (int32_t k = static_cast<int32_t>(r.committed.size()); k < r.max_tokens; ++k) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, delay, [&] { return stopping_ || cancelled_.count(id) > 0; });
      if (stopping_ || cancelled_.count(id)) {
        finish.finish_reason = FinishReason::kCancelled;
        break;
      }
      lock.unlock();
      sink.OnToken(event(TokenAt(r.sampling.seed, k)));
      finish.completion_tokens = k + 1;
    }
    sink.OnFinish(finish);
  }

  std::unique_ptr<model::Tokenizer> tokenizer_;
  std::condition_variable cv_;
  uint64_t next_id_ = 1000;
  std::set<uint64_t> cancelled_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// Records what the routing engine commits; `fail` makes the next commits fail.
class RecordingCommitter : public TokenCommitter {
 public:
  Status Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail) return Status::IOError("disk full");
    this->tokens.insert(this->tokens.end(), tokens.begin(), tokens.end());
    ends.insert(ends.end(), ended.begin(), ended.end());
    return Status::Ok();
  }
  size_t num_tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens.size();
  }
  std::mutex mu_;
  std::atomic<bool> fail{false};
  std::vector<TokenRecord> tokens;
  std::vector<EndRecord> ends;
};

// Records a request's events; checks that each token was committed before it arrived.
class Sink : public RequestSink {
 public:
  explicit Sink(RecordingCommitter* committer) : committer_(committer) {}
  void OnToken(const TokenEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (committer_ && committer_->num_tokens() < ids.size() + 1) committed_first = false;
    ids.push_back(e.token.id);
    text += e.text;
    cv_.notify_all();
  }
  void OnFinish(const FinishEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    finish = e;
    ended = true;
    cv_.notify_all();
  }
  void OnServedBy(const std::string& node) override {
    std::lock_guard<std::mutex> lock(mu_);
    served_by.push_back(node);
  }
  void OnRemoteCost(int32_t tokens, double dollars) override {
    std::lock_guard<std::mutex> lock(mu_);
    remote_tokens += tokens;
    remote_dollars += dollars;
  }
  bool WaitTokens(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ids.size() >= n || ended; });
  }
  bool WaitEnd(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ended; });
  }

  RecordingCommitter* committer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int32_t> ids;
  std::string text;
  bool ended = false;
  bool committed_first = true;
  FinishEvent finish;
  std::vector<std::string> served_by;
  int32_t remote_tokens = 0;
  double remote_dollars = 0;
};

// What a peer's generated token costs (its average, as NodeCost::per_token gives it).
constexpr double kPeerDollarsPerToken = 0.25;

// A peer: an HTTP server with the forwarding route over its own engine.
struct Peer {
  explicit Peer(std::string name) : name(std::move(name)), server(http::HttpServerOptions{}) {
    ForwardRouteOptions o;
    o.engine = [this]() -> Engine* { return &engine; };
    o.token = kToken;
    o.dollars_per_token = [] { return kPeerDollarsPerToken; };
    RegisterForwardRoute(server.router(), o);
    StatusOr<int> p = server.Start("127.0.0.1", 0);
    EXPECT_TRUE(p.ok());
    port = p.ok() ? *p : 0;
  }
  cluster::NodeRecord Record(const std::string& state) const {
    cluster::NodeRecord r;
    r.name = name;
    r.advertise = "http://127.0.0.1:" + std::to_string(port);
    r.models.push_back({"smol", state, 1, 0});
    return r;
  }
  std::string name;
  PositionEngine engine;
  http::HttpServer server;
  int port = 0;
};

class RoutingEngineTest : public ::testing::Test {
 protected:
  void Start(std::function<std::vector<cluster::NodeRecord>()> members, bool restart_on_loss = false) {
    RoutingOptions o;
    o.restart_on_loss = restart_on_loss;
    o.self = "entry";
    o.token = kToken;
    o.members = std::move(members);
    o.committer = &committer_;
    o.check_every = 100ms;
    o.on_handoff = [this](double seconds) {
      std::lock_guard<std::mutex> lock(handoffs_mu_);
      handoffs_.push_back(seconds);
    };
    routing_ = std::make_unique<RoutingEngine>(&local_, &client_, o);
  }
  void TearDown() override {
    if (routing_) routing_->Stop();
    client_.Stop();
  }
  static GenerationRequest Request(uint64_t id, int32_t max_tokens, uint64_t seed = 3) {
    GenerationRequest r;
    r.model = "smol";
    r.prompt = {10, 11, 12};
    r.max_tokens = max_tokens;
    r.sampling.seed = seed;
    r.id = id;
    return r;
  }
  static std::vector<int32_t> Expected(int32_t n, uint64_t seed = 3) {
    std::vector<int32_t> out;
    for (int32_t k = 0; k < n; ++k) out.push_back(PositionEngine::TokenAt(seed, k));
    return out;
  }
  cluster::NodeRecord Entry(const std::string& state) {
    cluster::NodeRecord r;
    r.name = "entry";
    r.advertise = "http://127.0.0.1:1";
    r.models.push_back({"smol", state, 1, 0});
    return r;
  }

  PositionEngine local_;
  RecordingCommitter committer_;
  ForwardClient client_;
  std::unique_ptr<RoutingEngine> routing_;
  std::mutex handoffs_mu_;
  std::vector<double> handoffs_;  // GUARDED_BY(handoffs_mu_)
};

TEST_F(RoutingEngineTest, ForwardsCommitsEachTokenBeforeItsSinkSeesItAndEndsLikeTheEngine) {
  Peer p1("p1");
  Start([&] { return std::vector<cluster::NodeRecord>{Entry("registered"), p1.Record("warm")}; });
  auto sink = std::make_shared<Sink>(&committer_);
  StatusOr<uint64_t> id = routing_->Submit(Request(7, 12), sink);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, 7u);
  ASSERT_TRUE(sink->WaitEnd(10s));
  EXPECT_EQ(sink->ids, Expected(12));
  EXPECT_TRUE(sink->committed_first);
  EXPECT_EQ(sink->finish.finish_reason, FinishReason::kLength);
  EXPECT_EQ(sink->finish.completion_tokens, 12);
  EXPECT_EQ(sink->served_by, std::vector<std::string>{"p1"});
  EXPECT_EQ(sink->remote_tokens, 12) << "the peer says what it generated";
  EXPECT_DOUBLE_EQ(sink->remote_dollars, 12 * kPeerDollarsPerToken);
  ASSERT_EQ(committer_.tokens.size(), 12u);
  for (size_t k = 0; k < 12; ++k) {
    EXPECT_EQ(committer_.tokens[k].request_id, 7u);
    EXPECT_EQ(committer_.tokens[k].index, static_cast<int32_t>(k));
  }
  ASSERT_EQ(committer_.ends.size(), 1u);
  EXPECT_EQ(committer_.ends[0].reason, FinishReason::kLength);
  {
    std::lock_guard<std::mutex> lock(p1.engine.mu_);
    EXPECT_EQ(p1.engine.durable_seen, std::vector<bool>{false}) << "the peer does not store it";
  }
  EXPECT_EQ(routing_->counters().forwarded, 1);
  EXPECT_EQ(routing_->counters().open_forwarded, 0);
  {
    std::lock_guard<std::mutex> lock(local_.mu_);
    EXPECT_TRUE(local_.committed_seen.empty()) << "nothing ran here";
  }
}

TEST_F(RoutingEngineTest, ThisNodeServesWhatItHostsAsWellAsAnyPeer) {
  Peer p1("p1");
  Start([&] { return std::vector<cluster::NodeRecord>{Entry("warm"), p1.Record("warm")}; });
  auto sink = std::make_shared<Sink>(nullptr);
  ASSERT_TRUE(routing_->Submit(Request(8, 5), sink).ok());
  ASSERT_TRUE(sink->WaitEnd(10s));
  EXPECT_EQ(sink->ids, Expected(5));
  EXPECT_EQ(sink->served_by, std::vector<std::string>{"entry"});
  EXPECT_EQ(routing_->counters().routed_local, 1);
  EXPECT_TRUE(committer_.tokens.empty()) << "the local engine commits its own";
}

TEST_F(RoutingEngineTest, ANodeDyingMidStreamHandsTheRestToAnotherWithTheCommittedTokens) {
  auto p1 = std::make_unique<Peer>("p1");
  Peer p2("p2");
  p1->engine.delay = 20ms;
  std::atomic<bool> p1_alive{true};
  const cluster::NodeRecord r1 = p1->Record("warm");
  Start([&] {
    std::vector<cluster::NodeRecord> m = {Entry("registered"), p2.Record("staged")};
    if (p1_alive) m.push_back(r1);
    return m;
  });
  auto sink = std::make_shared<Sink>(&committer_);
  ASSERT_TRUE(routing_->Submit(Request(9, 30), sink).ok());
  ASSERT_TRUE(sink->WaitTokens(5, 10s));
  p1->server.Stop();  // its connections close mid-stream
  ASSERT_TRUE(sink->WaitEnd(20s));
  EXPECT_EQ(sink->ids, Expected(30)) << "the same tokens as an uninterrupted run, none twice";
  EXPECT_EQ(sink->finish.finish_reason, FinishReason::kLength);
  EXPECT_EQ(sink->served_by, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_TRUE(sink->committed_first);
  ASSERT_EQ(committer_.tokens.size(), 30u);
  for (size_t k = 0; k < 30; ++k) EXPECT_EQ(committer_.tokens[k].index, static_cast<int32_t>(k));
  {
    std::lock_guard<std::mutex> lock(p2.engine.mu_);
    ASSERT_EQ(p2.engine.committed_seen.size(), 1u);
    EXPECT_GE(p2.engine.committed_seen[0], 5u) << "p2 continued after what the entry had committed";
  }
  EXPECT_EQ(routing_->counters().resubmitted, 1);
  std::lock_guard<std::mutex> lock(handoffs_mu_);
  ASSERT_EQ(handoffs_.size(), 1u) << "one handoff, measured from the loss to the next token";
  EXPECT_GT(handoffs_[0], 0.0);
  EXPECT_LT(handoffs_[0], 10.0);
}

// The baseline: the next node starts the request over from its prompt; the tokens the client
// has are generated again, checked and dropped, and nothing is committed twice.
TEST_F(RoutingEngineTest, RestartOnLossGeneratesAgainFromThePrompt) {
  auto p1 = std::make_unique<Peer>("p1");
  Peer p2("p2");
  p1->engine.delay = 20ms;
  const cluster::NodeRecord r1 = p1->Record("warm");
  Start([&] { return std::vector<cluster::NodeRecord>{Entry("registered"), p2.Record("staged"), r1}; },
        /*restart_on_loss=*/true);
  auto sink = std::make_shared<Sink>(&committer_);
  ASSERT_TRUE(routing_->Submit(Request(16, 30), sink).ok());
  ASSERT_TRUE(sink->WaitTokens(5, 10s));
  p1->server.Stop();
  ASSERT_TRUE(sink->WaitEnd(20s));
  EXPECT_EQ(sink->ids, Expected(30));
  EXPECT_EQ(sink->served_by, (std::vector<std::string>{"p1", "p2"}));
  {
    std::lock_guard<std::mutex> lock(p2.engine.mu_);
    ASSERT_EQ(p2.engine.committed_seen.size(), 1u);
    EXPECT_EQ(p2.engine.committed_seen[0], 0u) << "started over: nothing carried";
  }
  std::lock_guard<std::mutex> lock(committer_.mu_);
  ASSERT_EQ(committer_.tokens.size(), 30u) << "the regenerated tokens are not committed again";
  for (size_t k = 0; k < 30; ++k) EXPECT_EQ(committer_.tokens[k].index, static_cast<int32_t>(k));
}

TEST_F(RoutingEngineTest, ANodeThatLeavesTheMembersLosesItsStreams) {
  Peer p1("p1");
  Peer p2("p2");
  p1.engine.delay = 20ms;
  std::atomic<bool> p1_member{true};
  Start([&] {
    std::vector<cluster::NodeRecord> m = {Entry("registered"), p2.Record("staged")};
    if (p1_member) m.push_back(p1.Record("warm"));
    return m;
  });
  auto sink = std::make_shared<Sink>(&committer_);
  ASSERT_TRUE(routing_->Submit(Request(10, 40), sink).ok());
  ASSERT_TRUE(sink->WaitTokens(3, 10s));
  p1_member = false;  // its lease expired (stopped, partitioned): still connected, but out
  ASSERT_TRUE(sink->WaitEnd(20s));
  EXPECT_EQ(sink->ids, Expected(40));
  EXPECT_EQ(sink->served_by, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_TRUE(p1.engine.WaitAnyCancelled(5s)) << "the stream to p1 was closed: p1 stops generating";
}

TEST_F(RoutingEngineTest, ARefusingNodeIsReplacedBeforeSubmitReturns) {
  Peer p1("p1");
  Peer p2("p2");
  p1.engine.refuse = true;
  Start([&] { return std::vector<cluster::NodeRecord>{Entry("registered"), p1.Record("warm"), p2.Record("staged")}; });
  auto sink = std::make_shared<Sink>(&committer_);
  ASSERT_TRUE(routing_->Submit(Request(11, 6), sink).ok());
  ASSERT_TRUE(sink->WaitEnd(10s));
  EXPECT_EQ(sink->ids, Expected(6));
  EXPECT_EQ(sink->served_by, std::vector<std::string>{"p2"}) << "a node that refused never served it";
  // Every node refuses: this node's own engine answers, and refuses too: 429 at once.
  p2.engine.refuse = true;
  local_.refuse = true;
  StatusOr<uint64_t> full = routing_->Submit(Request(12, 6), std::make_shared<Sink>(nullptr));
  EXPECT_EQ(full.status().code(), Status::Code::kResourceExhausted);
}

TEST_F(RoutingEngineTest, CancelEndsItAndReachesThePeer) {
  Peer p1("p1");
  p1.engine.delay = 10ms;
  Start([&] { return std::vector<cluster::NodeRecord>{Entry("registered"), p1.Record("warm")}; });
  auto sink = std::make_shared<Sink>(&committer_);
  ASSERT_TRUE(routing_->Submit(Request(13, 1000), sink).ok());
  ASSERT_TRUE(sink->WaitTokens(2, 10s));
  routing_->Cancel(13);
  ASSERT_TRUE(sink->WaitEnd(10s));
  EXPECT_EQ(sink->finish.finish_reason, FinishReason::kCancelled);
  EXPECT_TRUE(p1.engine.WaitAnyCancelled(5s));
  std::lock_guard<std::mutex> lock(committer_.mu_);
  ASSERT_FALSE(committer_.ends.empty());
  EXPECT_EQ(committer_.ends.back().reason, FinishReason::kCancelled);
}

TEST_F(RoutingEngineTest, AFailedCommitEndsTheRequestAndDeliversNothingOfIt) {
  Peer p1("p1");
  Start([&] { return std::vector<cluster::NodeRecord>{Entry("registered"), p1.Record("warm")}; });
  committer_.fail = true;
  auto sink = std::make_shared<Sink>(&committer_);
  ASSERT_TRUE(routing_->Submit(Request(14, 8), sink).ok());
  ASSERT_TRUE(sink->WaitEnd(10s));
  EXPECT_TRUE(sink->ids.empty());
  EXPECT_EQ(sink->finish.finish_reason, FinishReason::kError);
  EXPECT_EQ(routing_->counters().failed, 1);
}

TEST_F(RoutingEngineTest, WithoutMembersEverythingIsServedHere) {
  Start([] { return std::vector<cluster::NodeRecord>{}; });
  auto sink = std::make_shared<Sink>(nullptr);
  ASSERT_TRUE(routing_->Submit(Request(15, 4), sink).ok());
  ASSERT_TRUE(sink->WaitEnd(10s));
  EXPECT_EQ(sink->ids, Expected(4));
  EXPECT_EQ(routing_->Submit(GenerationRequest{}, sink).status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace hearth::daemon
