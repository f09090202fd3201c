#include "store/database.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace hearth::store {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hearth-db-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DatabaseTest, CreatesSchemaInWalMode) {
  auto db = Database::Open(dir_ + "/hearth.db");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->schema_version(), LatestSchemaVersion());
  auto mode = (*db)->Query("PRAGMA journal_mode;");
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(mode->at(0).at(0), "wal");
  auto sync = (*db)->Query("PRAGMA synchronous;");
  ASSERT_TRUE(sync.ok());
  EXPECT_EQ(sync->at(0).at(0), "2");  // FULL
  EXPECT_EQ((*db)->IntegrityCheck().value(), "ok");
}

TEST_F(DatabaseTest, DataSurvivesReopen) {
  {
    auto db = Database::Open(dir_ + "/hearth.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO models(name, path, added_at) VALUES('smol', '/m.gguf', 1);").ok());
  }
  auto db = Database::Open(dir_ + "/hearth.db");
  ASSERT_TRUE(db.ok());
  auto rows = (*db)->Query("SELECT name, path FROM models;");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).at(1), "/m.gguf");
}

TEST_F(DatabaseTest, RefusesNewerSchema) {
  {
    auto db = Database::Open(dir_ + "/hearth.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version=999;").ok());
  }
  auto db = Database::Open(dir_ + "/hearth.db");
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("999"), std::string::npos);
}

TEST_F(DatabaseTest, BadPathIsIOError) {
  auto db = Database::Open(dir_ + "/no/such/dir/hearth.db");
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(db.status().IsIOError());
}

}  // namespace
}  // namespace hearth::store
