#include "store/model_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace hearth::store {
namespace {

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        (std::filesystem::temp_directory_path() / ("model_store_test_" + std::to_string(::getpid()) + ".db")).string();
    std::filesystem::remove(path_);
    Open();
  }
  void TearDown() override {
    db_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  void Open() {
    db_.reset();
    auto db = Database::Open(path_, {SyncMode::kNormal});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }

  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(ModelStoreTest, PutListRemoveSurviveReopen) {
  {
    ModelStore store(db_.get());
    ASSERT_TRUE(store.Put({"b", "/m/b.gguf", false, 20}).ok());
    ASSERT_TRUE(store.Put({"a", "/m/a.gguf", true, 10}).ok());
    ASSERT_TRUE(store.Put({"b", "/m/b2.gguf", true, 30}).ok());  // replaces
  }
  Open();
  ModelStore store(db_.get());
  auto list = store.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_TRUE((*list)[0].pinned);
  EXPECT_EQ((*list)[0].added_at, 10);
  EXPECT_EQ((*list)[1].path, "/m/b2.gguf");
  EXPECT_TRUE((*list)[1].pinned);

  auto got = store.Get("a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->path, "/m/a.gguf");
  EXPECT_FALSE(store.Get("zzz")->has_value());

  EXPECT_TRUE(store.Remove("a").ok());
  EXPECT_EQ(store.Remove("a").code(), Status::Code::kNotFound);
  EXPECT_EQ(store.List()->size(), 1u);
}

TEST_F(ModelStoreTest, NamesAreBoundNotSpliced) {
  ModelStore store(db_.get());
  const std::string odd = "x'); DROP TABLE models; --";
  ASSERT_TRUE(store.Put({odd, "/p", false, 1}).ok());
  auto got = store.Get(odd);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, odd);
}

}  // namespace
}  // namespace hearth::store
