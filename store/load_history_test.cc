#include "store/load_history.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace hearth::store {
namespace {

class LoadHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hearth-load-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(LoadHistoryTest, WindowsSurviveReopenNewestLimitedOldestFirst) {
  {
    auto db = Database::Open(dir_ + "/hearth.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    LoadHistoryStore history(db->get());
    std::vector<LoadWindow> w;
    for (int i = 0; i < 5; ++i) w.push_back({"a", 300 * i, 300, 1.5 * i, 2.0 * i, i});
    w.push_back({"b", 0, 300, 9, 9, 9});
    ASSERT_TRUE(history.Put(w).ok());
    ASSERT_TRUE(history.Put({{"a", 600, 300, 7, 8, 9}}).ok());  // written again: replaced
  }
  auto db = Database::Open(dir_ + "/hearth.db");
  ASSERT_TRUE(db.ok());
  LoadHistoryStore history(db->get());
  StatusOr<std::vector<LoadWindow>> a = history.List("a", 0, 100);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->size(), 5u);
  EXPECT_EQ((*a)[0].start_s, 0);
  EXPECT_EQ((*a)[2].avg, 7);
  EXPECT_EQ((*a)[2].arrivals, 9);
  StatusOr<std::vector<LoadWindow>> newest = history.List("a", 0, 2);
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].start_s, 900);
  EXPECT_EQ((*newest)[1].start_s, 1200);
  EXPECT_EQ(history.List("a", 900, 100)->size(), 2u);
  ASSERT_TRUE(history.Prune(600).ok());
  EXPECT_EQ(history.List("a", 0, 100)->size(), 3u);
  EXPECT_EQ(history.List("b", 0, 100)->size(), 0u);
}

}  // namespace
}  // namespace hearth::store
