#include "store/database.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

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

// A database with a table `t` of many rows; then the first bytes of t's root page are
// overwritten, as a torn write or a bad disk sector would.
void MakeDamagedDatabase(const std::string& path) {
  int64_t root = 0, page_size = 0;
  {
    auto db = Database::Open(path);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE t(x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
                           "WHERE i < 3000) INSERT INTO t SELECT printf('row %08d', i) FROM n;")
                    .ok());
    root = std::stoll((*db)->Query("SELECT rootpage FROM sqlite_master WHERE name='t';")->at(0).at(0));
    page_size = std::stoll((*db)->Query("PRAGMA page_size;")->at(0).at(0));
  }
  ASSERT_FALSE(std::filesystem::exists(path + "-wal") && std::filesystem::file_size(path + "-wal") > 0)
      << "closing checkpoints the WAL into the file";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((root - 1) * page_size);
  const char garbage[16] = {'\x77', '\x77', '\x77', '\x77', '\x77', '\x77', '\x77', '\x77',
                            '\x77', '\x77', '\x77', '\x77', '\x77', '\x77', '\x77', '\x77'};
  f.write(garbage, sizeof(garbage));
}

TEST_F(DatabaseTest, ADamagedFileIsRefusedAtOpenWithWhatToDo) {
  const std::string path = dir_ + "/hearth.db";
  MakeDamagedDatabase(path);
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kCorruption) << db.status().ToString();
  EXPECT_NE(db.status().message().find("is damaged"), std::string::npos) << db.status().ToString();
  EXPECT_NE(db.status().message().find("on_damage"), std::string::npos) << db.status().ToString();
  // Table damage is beyond a rebuild of indexes: repair refuses too, and says so.
  DatabaseOptions repair;
  repair.on_damage = OnDamage::kRepair;
  auto repaired = Database::Open(path, repair);
  ASSERT_FALSE(repaired.ok());
  EXPECT_NE(repaired.status().message().find("beyond its indexes"), std::string::npos) << repaired.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(path)) << "a refusal leaves the file where it was";
}

TEST_F(DatabaseTest, ResetMovesTheDamagedFileAsideAndStartsAnew) {
  const std::string path = dir_ + "/hearth.db";
  MakeDamagedDatabase(path);
  DatabaseOptions reset;
  reset.on_damage = OnDamage::kReset;
  auto db = Database::Open(path, reset);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->QuickCheck().value(), "ok");
  EXPECT_EQ((*db)->Query("SELECT name FROM sqlite_master WHERE name='t';")->size(), 0u);
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    aside += e.path().filename().string().rfind("hearth.db.damaged-", 0) == 0;
  }
  EXPECT_EQ(aside, 1);
}

}  // namespace
}  // namespace hearth::store
