// The KV transfer's two sides over loopback: the route on a real HTTP server, the sender on the
// cluster's Asio client. The importing engine is a recorder: what arrives, in what parts.
#include "daemon/routing/kv_handoff.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

#include "daemon/http/http_server.h"
#include "daemon/routing/kv_route.h"
#include "daemon/routing/kv_wire.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "0123456789abcdef-token";

// A node's KV route over a recording "prefix cache": blocks arrive in order, and a part whose
// earlier blocks never came is refused, as EngineLoop::ImportKv does.
struct Receiver {
  Receiver() : server(http::HttpServerOptions{}) {
    KvRouteOptions o;
    o.token = kToken;
    o.refusal = [this] { return refuse; };
    o.vocab_size = [](const std::string& model) { return model == "smol" ? 1000 : 0; };
    o.import = [this](const KvPrefix& p) -> StatusOr<int32_t> {
      std::lock_guard<std::mutex> lock(mu);
      std::string& have = data[p.tokens.front()];
      if (static_cast<uint64_t>(p.first_block) * p.bytes_per_block != have.size()) {
        return Status::FailedPrecondition("a gap");
      }
      have += p.data;
      ++parts;
      return p.num_blocks() - p.first_block;
    };
    RegisterKvRoute(server.router(), o);
    StatusOr<int> port = server.Start("127.0.0.1", 0);
    EXPECT_TRUE(port.ok());
    peer = PeerAddress{"127.0.0.1", std::to_string(port.ok() ? *port : 0)};
  }
  std::mutex mu;
  std::map<int32_t, std::string> data;  // by the request's first token
  int parts = 0;
  std::string refuse;
  http::HttpServer server;
  PeerAddress peer;
};

// A request's prefix: `blocks` blocks of 16 tokens, its first token `first`, each block's bytes
// a run of one letter.
KvPrefix Prefix(int32_t first, int32_t blocks, uint64_t bytes_per_block) {
  KvPrefix p;
  p.model = "smol";
  p.block_size = 16;
  p.bytes_per_block = bytes_per_block;
  for (int32_t i = 0; i < blocks * 16; ++i) p.tokens.push_back(first + i % 7);
  for (int32_t b = 0; b < blocks; ++b) p.data += std::string(bytes_per_block, static_cast<char>('a' + b % 26));
  return p;
}

TEST(KvHandoffTest, TransfersEveryRequestInPartsAndReportsEachOnce) {
  Receiver to;
  ForwardClient client;
  // Request 1 is larger than one body (in parts); 2 and 3 fit one; 4 runs nowhere here.
  std::map<uint64_t, KvPrefix> prefixes = {{1, Prefix(100, 40, 400'000)}, {2, Prefix(200, 3, 400'000)},
                                           {3, Prefix(300, 1, 400'000)}};
  KvHandoffOptions o;
  o.policy = scheduler::KvMovePolicy::kTransfer;
  o.token = kToken;
  o.client = &client;
  o.export_kv = [&](const std::vector<uint64_t>&, double* prefill) -> StatusOr<std::map<uint64_t, KvPrefix>> {
    *prefill = 500;
    return prefixes;
  };
  std::vector<KvHandoffRequest> requests;
  for (uint64_t id : {1, 2, 3, 4}) requests.push_back({id, "node-b", to.peer});
  requests.push_back({5, "", std::nullopt});  // no planned node
  std::set<uint64_t> heard;
  const KvHandoffSummary s = RunKvHandoff(o, requests, std::chrono::steady_clock::now() + 30s,
                                          [&](const KvHandoffResult& r) { EXPECT_TRUE(heard.insert(r.id).second); });
  EXPECT_EQ(heard, (std::set<uint64_t>{1, 2, 3, 4, 5}));
  ASSERT_EQ(s.results.size(), 5u);
  for (const KvHandoffResult& r : s.results) {
    if (r.id >= 4) {
      EXPECT_EQ(r.move, scheduler::KvMove::kRecompute) << r.id;
      continue;
    }
    ASSERT_TRUE(r.status.ok()) << r.id << ": " << r.status.ToString();
    EXPECT_EQ(r.move, scheduler::KvMove::kTransfer);
    EXPECT_EQ(r.bytes, prefixes[r.id].data.size());
    EXPECT_EQ(r.blocks, prefixes[r.id].num_blocks());
    EXPECT_EQ(r.tokens, prefixes[r.id].num_blocks() * 16);
    EXPECT_EQ(r.node, "node-b");
  }
  EXPECT_EQ(to.data[100], prefixes[1].data) << "the parts of request 1 arrived whole and in order";
  EXPECT_EQ(to.data[200], prefixes[2].data);
  EXPECT_EQ(to.data[300], prefixes[3].data);
  EXPECT_GE(to.parts, 5) << "16 MB in parts of at most 6 MiB, plus two small ones";
  EXPECT_GT(s.link_bytes_per_second, 0);
  EXPECT_EQ(s.prefill_tokens_per_second, 500);
}

TEST(KvHandoffTest, AutoMeasuresTheLinkWithTheLargestThenChoosesByTheEstimate) {
  Receiver to;
  ForwardClient client;
  // At a prefill speed this high, recomputing 16 tokens beats sending 400 kB over any loopback.
  std::map<uint64_t, KvPrefix> prefixes = {{1, Prefix(100, 4, 400'000)}, {2, Prefix(200, 1, 400'000)}};
  KvHandoffOptions o;
  o.token = kToken;
  o.client = &client;
  o.export_kv = [&](const std::vector<uint64_t>&, double* prefill) -> StatusOr<std::map<uint64_t, KvPrefix>> {
    *prefill = 1e12;
    return prefixes;
  };
  const KvHandoffSummary s = RunKvHandoff(o, {{2, "b", to.peer}, {1, "b", to.peer}},
                                          std::chrono::steady_clock::now() + 30s, [](const KvHandoffResult&) {});
  ASSERT_EQ(s.results.size(), 2u);
  EXPECT_EQ(s.results[0].id, 1u) << "the largest goes first, alone: it measures the link";
  EXPECT_EQ(s.results[0].move, scheduler::KvMove::kTransfer);
  EXPECT_GT(s.link_bytes_per_second, 0);
  EXPECT_EQ(s.results[1].id, 2u);
  EXPECT_EQ(s.results[1].move, scheduler::KvMove::kRecompute) << "the measured link loses to this prefill";
  EXPECT_EQ(to.data.count(200), 0u);
}

TEST(KvHandoffTest, RefusalsComeBackAsErrorsAndTheRequestIsRecomputed) {
  Receiver to;
  ForwardClient client;
  const KvPrefix p = Prefix(100, 2, 1000);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  EXPECT_EQ(*SendKvPart(client, to.peer, kToken, p, deadline), 2);
  StatusOr<int32_t> r = SendKvPart(client, to.peer, "wrong-token-0123456", p, deadline);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("401"), std::string::npos) << r.status().ToString();
  KvPrefix unknown = p;
  unknown.model = "other";
  r = SendKvPart(client, to.peer, kToken, unknown, deadline);
  EXPECT_NE(r.status().message().find("404"), std::string::npos) << r.status().ToString();
  KvPrefix outside = p;
  outside.tokens[3] = 1000;  // the vocabulary has 1000
  r = SendKvPart(client, to.peer, kToken, outside, deadline);
  EXPECT_NE(r.status().message().find("400"), std::string::npos) << r.status().ToString();
  to.refuse = "it is draining";
  r = SendKvPart(client, to.peer, kToken, p, deadline);
  EXPECT_NE(r.status().message().find("503"), std::string::npos) << r.status().ToString();
  to.refuse.clear();
  // A body that is not a KV prefix at all.
  r = SendKvPart(client, to.peer, kToken, KvPrefix{}, deadline);
  EXPECT_NE(r.status().message().find("400"), std::string::npos) << r.status().ToString();

  // Through the handoff: the import refuses (a gap), the request is reported recomputed.
  KvHandoffOptions o;
  o.policy = scheduler::KvMovePolicy::kTransfer;
  o.token = kToken;
  o.client = &client;
  KvPrefix gap = Prefix(500, 2, 1000);
  o.export_kv = [&](const std::vector<uint64_t>&, double*) -> StatusOr<std::map<uint64_t, KvPrefix>> {
    std::map<uint64_t, KvPrefix> m;
    m[7] = KvPrefixPart(gap, 1, 1);  // its first block never arrives
    return m;
  };
  const KvHandoffSummary s = RunKvHandoff(o, {{7, "b", to.peer}}, deadline, [](const KvHandoffResult&) {});
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_FALSE(s.results[0].status.ok());
  EXPECT_EQ(s.results[0].blocks, 0);
}

}  // namespace
}  // namespace hearth::daemon
