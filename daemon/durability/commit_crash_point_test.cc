// The crash test hook: its variable's syntax, and a committer armed with it SIGKILLs its own
// process at exactly the N-th commit, leaving that commit out of the store ("before") or in it
// ("after"). The committer runs in a death test's child (forked: the default "fast" style, with
// no database open across the fork); the parent reads the store it left.
#include "daemon/durability/commit_crash_point.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "daemon/durability/store_token_committer.h"
#include "store/database.h"
#include "store/request_store.h"

namespace hearth::daemon {
namespace {

TEST(CommitCrashPointTest, Parses) {
  auto none = ParseCommitCrashPoint(nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(ParseCommitCrashPoint("").ok());
  EXPECT_FALSE(ParseCommitCrashPoint("")->has_value());

  auto plain = ParseCommitCrashPoint("7");
  ASSERT_TRUE(plain.ok() && plain->has_value());
  EXPECT_EQ((*plain)->commit, 7);
  EXPECT_EQ((*plain)->phase, CrashPhase::kBeforeCommit);
  auto after = ParseCommitCrashPoint("12:after");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->commit, 12);
  EXPECT_EQ((*after)->phase, CrashPhase::kAfterCommit);
  auto before = ParseCommitCrashPoint("1:before");
  ASSERT_TRUE(before.ok() && before->has_value());
  EXPECT_EQ((*before)->phase, CrashPhase::kBeforeCommit);

  for (const char* bad : {"0", "-1", "x", "3:", "3:during", "3x", ":after", "99999999999999999999"}) {
    auto st = ParseCommitCrashPoint(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.status().code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(st.status().message().find(kCrashAtCommitEnv), std::string::npos) << st.status().ToString();
  }
}

class CommitCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("commit_crash_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = store::Database::Open(dir_ + "/hearth.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    store::RequestStore store(db->get());
    for (uint64_t id : {1, 2}) {
      store::NewRequest r;
      r.id = id;
      r.model = "m";
      r.kind = "completion";
      r.params = "{}";
      r.prompt = {1, 2, 3};
      ASSERT_TRUE(store.Insert(r).ok());
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Commits iteration k (one token for each request, index k - 1) for k = 1..5 with the hook armed.
  void CommitFiveIterations(CommitCrashPoint point) {
    auto db = store::Database::Open(dir_ + "/hearth.db");
    if (!db.ok()) std::_Exit(3);
    store::RequestStore store(db->get());
    StoreCommitterOptions options;
    options.crash_point = point;
    StoreTokenCommitter committer(&store, options);
    for (int32_t k = 1; k <= 5; ++k) {
      const TokenRecord tokens[] = {{1, k - 1, {100 + k, "", -0.5f, {}}}, {2, k - 1, {200 + k, "", -0.25f, {}}}};
      if (!committer.Commit(tokens, {}).ok()) std::_Exit(4);
    }
    std::_Exit(0);  // not reached when the hook fires
  }

  // Tokens the store holds for request `id`.
  int64_t StoredTokens(uint64_t id) {
    auto db = store::Database::Open(dir_ + "/hearth.db");
    EXPECT_TRUE(db.ok());
    store::RequestStore store(db->get());
    auto r = store.Get(id);
    EXPECT_TRUE(r.ok() && r->has_value());
    return static_cast<int64_t>((*r)->tokens.size());
  }

  std::string dir_;
};

TEST_F(CommitCrashTest, BeforeLeavesTheNthCommitOut) {
  EXPECT_EXIT(CommitFiveIterations({3, CrashPhase::kBeforeCommit}), ::testing::KilledBySignal(SIGKILL),
              "crash test hook: SIGKILL at commit.*commit=3 phase=before tokens=1:2,2:2");
  EXPECT_EQ(StoredTokens(1), 2);
  EXPECT_EQ(StoredTokens(2), 2);
  auto db = store::Database::Open(dir_ + "/hearth.db");
  ASSERT_TRUE(db.ok());
  auto integrity = (*db)->IntegrityCheck();
  ASSERT_TRUE(integrity.ok());
  EXPECT_EQ(*integrity, "ok");
}

TEST_F(CommitCrashTest, AfterKeepsTheNthCommit) {
  EXPECT_EXIT(CommitFiveIterations({3, CrashPhase::kAfterCommit}), ::testing::KilledBySignal(SIGKILL),
              "commit=3 phase=after tokens=1:2,2:2");
  EXPECT_EQ(StoredTokens(1), 3);
  EXPECT_EQ(StoredTokens(2), 3);
}

TEST_F(CommitCrashTest, FirstCommitCanCrash) {
  EXPECT_EXIT(CommitFiveIterations({1, CrashPhase::kBeforeCommit}), ::testing::KilledBySignal(SIGKILL),
              "commit=1 phase=before");
  EXPECT_EQ(StoredTokens(1), 0);
}

TEST_F(CommitCrashTest, UnreachedCommitNeverCrashes) {
  EXPECT_EXIT(CommitFiveIterations({6, CrashPhase::kAfterCommit}), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(StoredTokens(1), 5);
}

}  // namespace
}  // namespace hearth::daemon
