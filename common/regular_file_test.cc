#include "common/regular_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace hearth {
namespace {

class RegularFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hearth-file-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(RegularFileTest, ReadsARegularFile) {
  std::ofstream(dir_ + "/a") << "hello";
  StatusOr<std::string> text = ReadRegularFile(dir_ + "/a", 100);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "hello");
  EXPECT_EQ(ReadRegularFile(dir_ + "/a", 4).status().code(), Status::Code::kInvalidArgument);
}

// A model file replaced by a FIFO once blocked its load forever (and every other model's).
TEST_F(RegularFileTest, AFifoIsRefusedAtOnceNotWaitedOn) {
  const std::string fifo = dir_ + "/model.gguf";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  StatusOr<RegularFile> f = OpenRegularFile(fifo);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(f.status().message().find("a FIFO"), std::string::npos) << f.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "returned, not blocked";
}

TEST_F(RegularFileTest, DirectoriesDevicesAndNulBytesAreRefused) {
  EXPECT_NE(OpenRegularFile(dir_).status().message().find("a directory"), std::string::npos);
  EXPECT_NE(OpenRegularFile("/dev/null").status().message().find("a device"), std::string::npos);
  std::ofstream(dir_ + "/a") << "x";
  const std::string with_nul = dir_ + "/a" + std::string(1, '\0') + "/../../etc/passwd";
  StatusOr<RegularFile> f = OpenRegularFile(with_nul);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("NUL"), std::string::npos);
  EXPECT_EQ(OpenRegularFile(dir_ + "/none").status().code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace hearth
