// The request registry and its entries: recording through the tee, replay, resume after an
// event id, live following from another thread, bounded retention.
#include "daemon/requests/request_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "daemon/testing/recording_sink.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

// Encodes events as plain strings: "begin:ID", "tok:TEXT", "fin:REASON".
class TextEncoder : public EventEncoder {
 public:
  void Begin(uint64_t id, std::vector<std::string>* out) override { out->push_back("begin:" + std::to_string(id)); }
  void Token(const TokenEvent& e, std::vector<std::string>* out) override { out->push_back("tok:" + e.text); }
  void Finish(const FinishEvent& e, std::vector<std::string>* out) override {
    out->push_back(std::string("fin:") + FinishReasonName(e.finish_reason));
  }
};

std::shared_ptr<RequestEntry> NewEntry(const std::string& model = "m") {
  return RequestEntry::Create({model, "completions", true, 5, 1000}, std::make_unique<TextEncoder>());
}

TokenEvent Tok(int32_t token, std::string text) {
  TokenEvent e;
  e.token.id = token;
  e.text = std::move(text);
  return e;
}

FinishEvent Fin(std::string reason, int32_t completion_tokens = 2, Status status = Status::Ok()) {
  FinishEvent e;
  EXPECT_TRUE(ParseFinishReason(reason, &e.finish_reason)) << reason;
  e.status = std::move(status);
  e.prompt_tokens = 5;
  e.completion_tokens = completion_tokens;
  return e;
}

std::vector<std::string> Data(const EventsRead& read) {
  std::vector<std::string> out;
  for (const auto& e : read.events) out.push_back(e.data);
  return out;
}

// A stream served without a waiting thread is woken by the entry: on each event, on the end,
// at once when added after the end; dropped once the request ended.
TEST(RequestEntryTest, WakersRunOnEveryEventAndAtTheEnd) {
  auto entry = NewEntry();
  auto sink = entry->Tee(nullptr);
  std::atomic<int> woken{0};
  entry->AddWaker([&] { ++woken; });
  entry->Attach(3, nullptr);
  EXPECT_EQ(woken.load(), 1) << "attaching records the begin event";
  sink->OnToken(Tok(11, "a"));
  EXPECT_EQ(woken.load(), 2);
  sink->OnFinish(Fin("stop"));
  EXPECT_EQ(woken.load(), 3);
  sink->OnToken(Tok(12, "late"));  // ignored after the end: no wake either
  EXPECT_EQ(woken.load(), 3);
  std::atomic<int> late{0};
  entry->AddWaker([&] { ++late; });
  EXPECT_EQ(late.load(), 1) << "a waker added after the end runs at once";
}

TEST(RequestEntryTest, RecordsForwardsAndReplays) {
  auto entry = NewEntry();
  auto downstream = std::make_shared<RecordingSink>();
  auto sink = entry->Tee(downstream);
  entry->Attach(7, nullptr);
  EXPECT_EQ(entry->Info().state, RequestState::kQueued);
  sink->OnToken(Tok(11, "Hel"));
  EXPECT_EQ(entry->Info().state, RequestState::kRunning);
  sink->OnToken(Tok(12, "lo"));
  FinishEvent finish = Fin("stop");
  finish.text = "!";
  sink->OnFinish(finish);

  EXPECT_EQ(downstream->text(), "Hello!");
  EXPECT_EQ(downstream->tokens(), (std::vector<int32_t>{11, 12}));
  RequestInfo info = entry->Info();
  EXPECT_EQ(info.id, 7u);
  EXPECT_EQ(info.state, RequestState::kFinished);
  EXPECT_EQ(info.text, "Hello!");
  EXPECT_EQ(info.tokens, (std::vector<int32_t>{11, 12}));
  EXPECT_EQ(info.finish_reason, FinishReason::kStop);
  EXPECT_EQ(info.meta.prompt_tokens, 5);
  EXPECT_EQ(info.completion_tokens, 2);
  EXPECT_GT(info.finished_unix, 0);
  EXPECT_EQ(info.num_events, 4u);

  EventsRead all = entry->Read(0, 0ms);
  EXPECT_TRUE(all.done);
  EXPECT_EQ(Data(all), (std::vector<std::string>{"begin:7", "tok:Hel", "tok:lo", "fin:stop"}));
  for (size_t i = 0; i < all.events.size(); ++i) EXPECT_EQ(all.events[i].id, i + 1);
  // A second replay is the same.
  EXPECT_EQ(Data(entry->Read(0, 0ms)), Data(all));
}

TEST(RequestEntryTest, ResumesAfterAnEventId) {
  auto entry = NewEntry();
  auto sink = entry->Tee(nullptr);
  entry->Attach(1, nullptr);
  sink->OnToken(Tok(1, "a"));
  sink->OnToken(Tok(2, "b"));
  sink->OnFinish(Fin("length"));
  EventsRead rest = entry->Read(2, 0ms);
  EXPECT_TRUE(rest.done);
  ASSERT_EQ(rest.events.size(), 2u);
  EXPECT_EQ(rest.events[0].id, 3u);
  EXPECT_EQ(rest.events[0].data, "tok:b");
  EXPECT_EQ(rest.events[1].data, "fin:length");
  // Past the end: nothing, and done.
  EventsRead none = entry->Read(99, 0ms);
  EXPECT_TRUE(none.events.empty());
  EXPECT_TRUE(none.done);
}

TEST(RequestEntryTest, EventsBeforeTheIdAreEncodedInOrderOnAttach) {
  auto entry = NewEntry();
  auto sink = entry->Tee(nullptr);
  sink->OnToken(Tok(1, "x"));  // the engine was quick: no id yet
  EXPECT_TRUE(entry->Read(0, 0ms).events.empty());
  EXPECT_FALSE(entry->done());
  sink->OnFinish(Fin("stop", 1));
  EXPECT_FALSE(entry->done()) << "not done until it has an id";
  bool hooked = false;
  entry->Attach(42, [&] { hooked = true; });
  EXPECT_TRUE(hooked) << "an entry that already ended runs its hook at once";
  EventsRead read = entry->Read(0, 0ms);
  EXPECT_TRUE(read.done);
  EXPECT_EQ(Data(read), (std::vector<std::string>{"begin:42", "tok:x", "fin:stop"}));
}

TEST(RequestEntryTest, StatesOfCancelAndFailure) {
  auto cancelled = NewEntry();
  auto sink = cancelled->Tee(nullptr);
  cancelled->Attach(1, nullptr);
  sink->OnFinish(Fin("cancelled", 0));
  EXPECT_EQ(cancelled->Info().state, RequestState::kCancelled);

  auto failed = NewEntry();
  sink = failed->Tee(nullptr);
  failed->Attach(2, nullptr);
  sink->OnFinish(Fin("error", 0, Status::Internal("worker died")));
  EXPECT_EQ(failed->Info().state, RequestState::kFailed);
  EXPECT_EQ(failed->Info().error, "worker died");
  // Nothing is recorded after the end.
  sink->OnToken(Tok(1, "late"));
  EXPECT_EQ(failed->Info().text, "");
}

TEST(RequestEntryTest, ReaderOnAnotherThreadFollowsLive) {
  auto entry = NewEntry();
  auto sink = entry->Tee(nullptr);
  entry->Attach(3, nullptr);
  constexpr int kTokens = 2000;
  std::vector<std::string> seen;
  std::thread reader([&] {
    uint64_t after = 0;
    for (;;) {
      EventsRead read = entry->Read(after, 100ms);
      for (const auto& e : read.events) {
        EXPECT_EQ(e.id, after + 1) << "ids are consecutive";
        after = e.id;
        seen.push_back(e.data);
      }
      if (read.done) break;
    }
  });
  std::thread writer([&] {
    for (int i = 0; i < kTokens; ++i) sink->OnToken(Tok(i, std::to_string(i)));
    sink->OnFinish(Fin("length", kTokens));
  });
  // A third thread polls snapshots meanwhile.
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop) {
      RequestInfo info = entry->Info();
      EXPECT_EQ(static_cast<size_t>(info.num_tokens), info.tokens.size());
    }
  });
  writer.join();
  reader.join();
  stop = true;
  poller.join();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kTokens + 2));
  EXPECT_EQ(seen.front(), "begin:3");
  for (int i = 0; i < kTokens; ++i) EXPECT_EQ(seen[i + 1], "tok:" + std::to_string(i));
  EXPECT_EQ(seen.back(), "fin:length");
}

TEST(RequestEntryTest, RestoredEntryReplays) {
  RequestInfo info;
  info.id = 9;
  info.meta = {"m", "completions", false, 3, 100};
  info.state = RequestState::kFinished;
  info.text = "hi";
  info.finish_reason = FinishReason::kStop;
  auto entry = RequestEntry::Restore(info, {"a", "b"});
  EXPECT_TRUE(entry->done());
  EXPECT_EQ(entry->id(), 9u);
  EXPECT_EQ(entry->Info().text, "hi");
  EventsRead read = entry->Read(1, 0ms);
  EXPECT_TRUE(read.done);
  EXPECT_EQ(Data(read), (std::vector<std::string>{"b"}));
}

// --- The registry ------------------------------------------------------------------------

struct FakeClock {
  MemoryRequestRegistry::Clock::time_point now{};
  std::function<MemoryRequestRegistry::Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

// Adds a request under `id` and returns its sink.
std::shared_ptr<RequestSink> AddRequest(RequestRegistry& registry, uint64_t id) {
  auto entry = NewEntry();
  auto sink = entry->Tee(nullptr);
  registry.Add(id, entry);
  return sink;
}

TEST(MemoryRequestRegistryTest, FindsByIdAndListsNewestFirst) {
  MemoryRequestRegistry registry;
  auto a = AddRequest(registry, 1);
  auto b = AddRequest(registry, 2);
  auto c = AddRequest(registry, 3);
  b->OnToken(Tok(1, "x"));
  c->OnFinish(Fin("stop"));
  ASSERT_NE(registry.Find(2), nullptr);
  EXPECT_EQ(registry.Find(2)->id(), 2u);
  EXPECT_EQ(registry.Find(4), nullptr);

  std::vector<RequestInfo> all = registry.List({});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, 3u);
  EXPECT_EQ(all[2].id, 1u);
  EXPECT_TRUE(all[1].text.empty()) << "summaries carry no output";
  EXPECT_EQ(all[1].num_tokens, 1);

  RequestFilter running;
  running.state = RequestState::kRunning;
  std::vector<RequestInfo> r = registry.List(running);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, 2u);
  RequestFilter two;
  two.limit = 2;
  EXPECT_EQ(registry.List(two).size(), 2u);
}

TEST(MemoryRequestRegistryTest, KeepsAtMostMaxEndedDroppingTheOldestFirst) {
  MemoryRequestRegistry registry({std::chrono::hours(1), 2});
  auto running = AddRequest(registry, 100);
  for (uint64_t id = 1; id <= 4; ++id) AddRequest(registry, id)->OnFinish(Fin("stop"));
  EXPECT_EQ(registry.Find(1), nullptr);
  EXPECT_EQ(registry.Find(2), nullptr);
  EXPECT_NE(registry.Find(3), nullptr);
  EXPECT_NE(registry.Find(4), nullptr);
  EXPECT_NE(registry.Find(100), nullptr) << "running requests are never dropped";
  EXPECT_EQ(registry.size(), 3u);
}

TEST(MemoryRequestRegistryTest, DropsEndedRequestsAfterMaxAge) {
  FakeClock clock;
  MemoryRequestRegistry registry({std::chrono::seconds(60), 100}, clock.fn());
  auto early = AddRequest(registry, 1);
  auto late = AddRequest(registry, 2);
  auto running = AddRequest(registry, 3);
  early->OnFinish(Fin("stop"));
  clock.now += std::chrono::seconds(30);
  late->OnFinish(Fin("stop"));
  clock.now += std::chrono::seconds(31);  // 61 s after the first ended, 31 after the second
  EXPECT_EQ(registry.Find(1), nullptr);
  EXPECT_NE(registry.Find(2), nullptr);
  clock.now += std::chrono::seconds(30);
  EXPECT_EQ(registry.Find(2), nullptr);
  EXPECT_NE(registry.Find(3), nullptr);
  EXPECT_EQ(registry.List({}).size(), 1u);
}

TEST(MemoryRequestRegistryTest, TighterRetentionAppliesAtOnce) {
  MemoryRequestRegistry registry({std::chrono::hours(1), 100});
  for (uint64_t id = 1; id <= 5; ++id) AddRequest(registry, id)->OnFinish(Fin("stop"));
  EXPECT_EQ(registry.size(), 5u);
  registry.SetRetention({std::chrono::hours(1), 1});
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_NE(registry.Find(5), nullptr);
}

TEST(MemoryRequestRegistryTest, ConcurrentRequestsFromTwoThreads) {
  MemoryRequestRegistry registry({std::chrono::hours(1), 50});
  constexpr int kPerThread = 300;
  auto run = [&](uint64_t first) {
    for (uint64_t id = first; id < first + kPerThread; ++id) {
      auto sink = AddRequest(registry, id);
      sink->OnToken(Tok(1, "a"));
      EXPECT_NE(registry.Find(id), nullptr);
      sink->OnFinish(Fin("stop", 1));
      registry.List({});
    }
  };
  std::thread t1(run, 1);
  std::thread t2(run, 100001);
  t1.join();
  t2.join();
  EXPECT_EQ(registry.size(), 50u);
  for (const RequestInfo& info : registry.List({})) EXPECT_EQ(info.state, RequestState::kFinished);
}

TEST(MemoryRequestRegistryTest, HooksOutliveTheRegistry) {
  std::shared_ptr<RequestSink> sink;
  {
    MemoryRequestRegistry registry;
    sink = AddRequest(registry, 1);
  }
  sink->OnFinish(Fin("stop"));  // must not touch the dead registry
}

TEST(RequestStateTest, NamesRoundTrip) {
  for (RequestState s : {RequestState::kQueued, RequestState::kRunning, RequestState::kFinished,
                         RequestState::kCancelled, RequestState::kFailed}) {
    RequestState parsed;
    ASSERT_TRUE(ParseRequestState(RequestStateName(s), &parsed));
    EXPECT_EQ(parsed, s);
  }
  RequestState unused;
  EXPECT_FALSE(ParseRequestState("done", &unused));
}

}  // namespace
}  // namespace hearth::daemon
