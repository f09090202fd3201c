#include "store/request_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace hearth::store {
namespace {

class RequestStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hearth-reqstore-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    db_.reset();
    auto db = Database::Open(dir_ + "/hearth.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    store_ = std::make_unique<RequestStore>(db_.get());
  }
  static NewRequest Req(uint64_t id, std::string key = "") {
    NewRequest r;
    r.id = id;
    r.idempotency_key = std::move(key);
    r.model = "smollm2";
    r.kind = "completion";
    r.params = R"({"max_tokens":8})";
    r.prompt = {1, 2, 3, static_cast<int32_t>(id)};
    r.created_ms = 1000 + static_cast<int64_t>(id);
    return r;
  }

  std::string dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<RequestStore> store_;
};

TEST_F(RequestStoreTest, InsertCommitAndReadBack) {
  ASSERT_TRUE(store_->Insert(Req(7)).ok());
  const TokenCommit step1[] = {{7, 0, 42, -0.5f, {}}};
  ASSERT_TRUE(store_->Commit(step1, {}, 2000).ok());
  const TokenCommit step2[] = {{7, 1, 43, -1.25f, {{43, -1.25f}, {9, -2.5f}}}};
  const StatusChange done[] = {{7, RequestStatus::kFinished, "length", ""}};
  ASSERT_TRUE(store_->Commit(step2, done, 2100).ok());

  Reopen();  // it is on disk, not in a cache
  auto got = store_->Get(7);
  ASSERT_TRUE(got.ok() && got->has_value());
  const StoredRequest& r = **got;
  EXPECT_EQ(r.model, "smollm2");
  EXPECT_EQ(r.params, R"({"max_tokens":8})");
  EXPECT_EQ(r.prompt, (std::vector<int32_t>{1, 2, 3, 7}));
  EXPECT_EQ(r.status, RequestStatus::kFinished);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.created_ms, 1007);
  EXPECT_EQ(r.ended_ms, 2100);
  ASSERT_EQ(r.tokens.size(), 2u);
  EXPECT_EQ(r.tokens[0].token, 42);
  EXPECT_EQ(r.tokens[1].token, 43);
  EXPECT_FLOAT_EQ(r.tokens[1].logprob, -1.25f);
  EXPECT_TRUE(r.tokens[0].top.empty());
  ASSERT_EQ(r.tokens[1].top.size(), 2u);
  EXPECT_EQ(r.tokens[1].top[1].token, 9);
  EXPECT_EQ(r.tokens[1].top[1].logprob, -2.5f);
  EXPECT_FALSE(store_->Get(8).value().has_value());
  // A top blob that is not whole (token, logprob) pairs is corruption, not a guess.
  ASSERT_TRUE(db_->Exec("UPDATE tokens SET top = x'01000000' WHERE request_id = 7 AND idx = 1").ok());
  EXPECT_TRUE(store_->Get(7).status().IsCorruption());
  EXPECT_EQ(db_->IntegrityCheck().value(), "ok");
}

TEST_F(RequestStoreTest, AnIterationIsAllOrNothing) {
  ASSERT_TRUE(store_->Insert(Req(1)).ok());
  ASSERT_TRUE(store_->Insert(Req(2)).ok());
  const TokenCommit first[] = {{1, 0, 10, 0, {}}, {2, 0, 20, 0, {}}};
  ASSERT_TRUE(store_->Commit(first, {}, 10).ok());
  // Request 2's index 0 again: the whole iteration, request 1's token too, is rolled back.
  const TokenCommit bad[] = {{1, 1, 11, 0, {}}, {2, 0, 21, 0, {}}};
  EXPECT_FALSE(store_->Commit(bad, {}, 20).ok());
  EXPECT_EQ(store_->Get(1).value()->tokens.size(), 1u);
  EXPECT_EQ(store_->Get(2).value()->tokens[0].token, 20);
  // A token for a request that was never stored is refused too.
  const TokenCommit orphan[] = {{99, 0, 1, 0, {}}};
  EXPECT_FALSE(store_->Commit(orphan, {}, 30).ok());
}

TEST_F(RequestStoreTest, IdsAndIdempotencyKeysAreUnique) {
  ASSERT_TRUE(store_->Insert(Req(5, "key-a")).ok());
  EXPECT_FALSE(store_->Insert(Req(5)).ok());
  EXPECT_FALSE(store_->Insert(Req(6, "key-a")).ok());
  EXPECT_EQ(store_->FindByIdempotencyKey("key-a").value(), std::optional<uint64_t>(5));
  EXPECT_FALSE(store_->FindByIdempotencyKey("key-b").value().has_value());
  ASSERT_TRUE(store_->Insert(Req(6)).ok());  // no key: any number of them
  ASSERT_TRUE(store_->Insert(Req(9)).ok());
  EXPECT_EQ(store_->MaxRequestId().value(), 9u);
}

TEST_F(RequestStoreTest, UnfinishedAreLoadedWithTheirTokensAndEndedArePruned) {
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(store_->Insert(Req(id)).ok());
  const TokenCommit toks[] = {{1, 0, 5, 0, {}}, {2, 0, 6, 0, {}}, {2, 1, 7, 0, {}}};
  const StatusChange ends[] = {{3, RequestStatus::kCancelled, "", ""}};
  ASSERT_TRUE(store_->Commit(toks, ends, 500).ok());
  const StatusChange fail[] = {{1, RequestStatus::kFailed, "", "worker died"}};
  ASSERT_TRUE(store_->Commit({}, fail, 900).ok());

  auto open = store_->LoadUnfinished();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].id, 2u);
  EXPECT_EQ((*open)[0].status, RequestStatus::kRunning);
  EXPECT_EQ((*open)[0].tokens.size(), 2u);
  EXPECT_EQ(store_->Get(1).value()->error, "worker died");

  ASSERT_TRUE(store_->Insert(Req(4)).ok());  // the newest request is never pruned (below)
  EXPECT_EQ(store_->PruneEnded(600).value(), 1);  // request 3 ended at 500
  EXPECT_FALSE(store_->Get(3).value().has_value());
  EXPECT_EQ(store_->PruneEnded(1000).value(), 1);  // request 1 ended at 900; its token goes too
  auto left = db_->Query("SELECT COUNT(*) FROM tokens");
  EXPECT_EQ(left.value()[0][0], "2");
  EXPECT_TRUE(store_->Get(2).value().has_value());
  const StatusChange end4[] = {{4, RequestStatus::kFinished, "stop", ""}};
  ASSERT_TRUE(store_->Commit({}, end4, 1100).ok());
  EXPECT_EQ(store_->PruneEnded(5000).value(), 0);  // the newest request stays: ids never go back
  EXPECT_EQ(store_->MaxRequestId().value(), 4u);
}

TEST_F(RequestStoreTest, DeleteForgetsARequestItsKeyAndItsTokens) {
  NewRequest r = Req(4);
  r.idempotency_key = "k-4";
  ASSERT_TRUE(store_->Insert(r).ok());
  const TokenCommit toks[] = {{4, 0, 5, 0, {}}};
  ASSERT_TRUE(store_->Commit(toks, {}, 100).ok());
  ASSERT_TRUE(store_->Delete(4).ok());
  EXPECT_FALSE(store_->Get(4).value().has_value());
  EXPECT_FALSE(store_->FindByIdempotencyKey("k-4").value().has_value());
  EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM tokens").value()[0][0], "0");
  ASSERT_TRUE(store_->Insert(r).ok());  // the key is free again
}

// A writer SIGKILLed at a random moment leaves whole iterations only: every
// request's tokens are contiguous, every committed iteration is complete,
// and the file passes integrity_check.
TEST_F(RequestStoreTest, SurvivesSigkillOfTheWriter) {
  store_.reset();
  db_.reset();
  for (int round = 0; round < 5; ++round) {
    const std::string path = dir_ + "/kill" + std::to_string(round) + ".db";
    int ready[2];  // the writer says when its first iteration is in, however slow the machine is
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto db = Database::Open(path);
      if (!db.ok()) _exit(2);
      RequestStore store(db->get());
      for (uint64_t id = 1; id <= 4; ++id) {
        if (!store.Insert(Req(id)).ok()) _exit(3);
      }
      for (int32_t step = 0;; ++step) {  // 4 tokens per iteration, one per request
        std::vector<TokenCommit> toks;
        for (uint64_t id = 1; id <= 4; ++id) toks.push_back({id, step, step * 10 + static_cast<int32_t>(id), 0, {}});
        if (!store.Commit(toks, {}, step).ok()) _exit(4);
        if (step == 0 && write(ready[1], "r", 1) != 1) _exit(5);
      }
    }
    close(ready[1]);
    char byte = 0;
    const bool inserted = read(ready[0], &byte, 1) == 1;
    close(ready[0]);
    usleep(20000 + round * 37000);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(inserted) << "writer failed before its first commit";
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with " << WEXITSTATUS(status);

    auto db = Database::Open(path);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ((*db)->IntegrityCheck().value(), "ok");
    RequestStore store(db->get());
    auto open = store.LoadUnfinished();
    ASSERT_TRUE(open.ok()) << open.status().ToString();  // gaps would be Corruption
    ASSERT_EQ(open->size(), 4u);
    const size_t n = (*open)[0].tokens.size();
    EXPECT_GT(n, 0u);
    for (const StoredRequest& r : *open) {
      ASSERT_EQ(r.tokens.size(), n) << "an iteration was committed in part";
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(r.tokens[i].token, static_cast<int32_t>(i * 10 + r.id));
    }
  }
}

}  // namespace
}  // namespace hearth::store
