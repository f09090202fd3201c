// Loads in the background (docs/models.md, "Loading while serving"): while one model's file is
// read on the loader thread, the worker's main thread steps another model; a read that fails, a
// file that is not a model and an unload in the middle each end the load with its pages back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "gpu_worker/step_executor.h"
#include "tools/random_model.h"

namespace hearth::worker {
namespace {

using namespace std::chrono_literals;

class StepExecutorLoadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<std::string> path = tools::WriteSmallTestModel("background_load", 7);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    path_ = *path;
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  void SetUp() override {
    ASSERT_TRUE(exec_.LoadModel({"warm", path_, 1 << 20}).ok());
    free_ = exec_.pool()->num_free_pages();
  }
  void TearDown() override { exec_.set_read_observer(nullptr); }

  // A file of `bytes` that is no model, in the test's temporary directory.
  static std::string Junk(const std::string& name, size_t bytes) {
    const std::string path = (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
    std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
    return path;
  }

  // Polls until the read is over: its last status, or its error.
  StatusOr<wire::LoadStatus> PollUntilRead(const std::string& name) {
    StatusOr<wire::LoadStatus> status = exec_.PollLoad(name);
    for (int i = 0; i < 10000 && status.ok() && !status->finished; ++i) {
      std::this_thread::sleep_for(1ms);
      status = exec_.PollLoad(name);
    }
    return status;
  }

  static wire::StepRequest Prefill(const std::string& model) {
    wire::StepSequence s;
    s.request_id = 1;
    s.tokens = {10, 20, 30, 40, 50};
    s.block_table = {0};
    s.want_logits = true;
    s.sampling.temperature = 0.8f;
    s.sampling.seed = 42;
    s.sample_position = 5;
    return {model, {s}, {1}};  // released first: each prefill starts the sequence afresh
  }

  static std::string path_;
  StepExecutor exec_{2};
  int32_t free_ = 0;  // the pool's free pages with "warm" loaded
};

std::string StepExecutorLoadTest::path_;

TEST_F(StepExecutorLoadTest, ALoadInProgressDoesNotHoldUpAnotherModelsSteps) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> pieces{0};
  exec_.set_read_observer([&](const std::string& name, uint64_t, uint64_t) {
    if (name != "cold") return;
    ++pieces;
    released.wait();  // the loader thread holds here: the load stays in progress
  });
  StatusOr<wire::LoadStatus> begun = exec_.BeginLoad({"cold", path_, 1 << 20});
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  EXPECT_FALSE(begun->finished);
  EXPECT_EQ(begun->total, std::filesystem::file_size(path_));
  EXPECT_LT(exec_.pool()->num_free_pages(), free_) << "the file's pages are mapped when the load begins";
  while (pieces == 0) std::this_thread::sleep_for(1ms);

  // The warm model steps while the cold one is being read, as often as asked.
  StatusOr<wire::StepReply> warm = Status::Internal("no step yet");
  for (int i = 0; i < 3; ++i) {
    warm = exec_.Step(Prefill("warm"));
    ASSERT_TRUE(warm.ok()) << warm.status().ToString();
  }
  StatusOr<wire::LoadStatus> polled = exec_.PollLoad("cold");
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_FALSE(polled->finished) << "the loader thread is held";
  EXPECT_TRUE(exec_.Step(Prefill("cold")).status().IsInvalidArgument()) << "not warm yet";
  EXPECT_EQ(exec_.FinishLoad("cold").status().code(), Status::Code::kFailedPrecondition) << "still reading";
  EXPECT_FALSE(exec_.BeginLoad({"cold", path_, 1 << 20}).ok()) << "already loading";
  EXPECT_FALSE(exec_.StageModel({"cold", path_, 0}).ok()) << "loading";

  release.set_value();
  StatusOr<wire::LoadStatus> read = PollUntilRead("cold");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->finished);
  EXPECT_EQ(read->done, read->total);
  StatusOr<wire::ModelInfo> info = exec_.FinishLoad("cold");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->name, "cold");
  EXPECT_FALSE(info->swapped_in);
  // The same file under another name: the bytes read in the background sample the same token.
  StatusOr<wire::StepReply> cold = exec_.Step(Prefill("cold"));
  ASSERT_TRUE(cold.ok()) << cold.status().ToString();
  EXPECT_EQ(cold->sampled.at(0).token, warm->sampled.at(0).token);
  EXPECT_EQ(cold->sampled.at(0).logprob, warm->sampled.at(0).logprob);
  // Finished is finished: the load is over, and polling or finishing describes the model.
  StatusOr<wire::LoadStatus> after = exec_.PollLoad("cold");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->finished);
  EXPECT_EQ(exec_.PollLoad("never").status().code(), Status::Code::kFailedPrecondition);
}

TEST_F(StepExecutorLoadTest, AFailedReadEndsTheLoadAndFreesItsPages) {
  // Three pieces; the file shrinks under the reader after the first.
  const std::string junk = Junk("shrinking", 2 * ModelFileReader::kReadPiece + 1000);
  exec_.set_read_observer([&](const std::string&, uint64_t done, uint64_t) {
    if (done == ModelFileReader::kReadPiece) std::filesystem::resize_file(junk, done);
  });
  StatusOr<wire::LoadStatus> begun = exec_.BeginLoad({"broken", junk, 1 << 20});
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  EXPECT_EQ(exec_.pool()->num_free_pages(), free_ - 17) << "33 MiB in 2 MiB pages";
  StatusOr<wire::LoadStatus> read = PollUntilRead("broken");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kIOError) << read.status().ToString();
  EXPECT_NE(read.status().message().find("broken"), std::string::npos) << read.status().ToString();
  EXPECT_EQ(exec_.pool()->num_free_pages(), free_) << "every page of the failed load is back";
  EXPECT_EQ(exec_.PollLoad("broken").status().code(), Status::Code::kFailedPrecondition) << "the load is over";
  EXPECT_FALSE(exec_.FinishLoad("broken").ok());
  EXPECT_TRUE(exec_.Step(Prefill("warm")).ok());
  // The name is free for the next try.
  exec_.set_read_observer(nullptr);
  EXPECT_TRUE(exec_.LoadModel({"broken", path_, 1 << 20}).ok());
  std::filesystem::remove(junk);
}

TEST_F(StepExecutorLoadTest, AFileThatIsNoModelFailsAtFinishAndFreesItsPages) {
  const std::string junk = Junk("not_a_model", 3 << 20);
  StatusOr<wire::LoadStatus> read = exec_.BeginLoad({"junk", junk, 1 << 20});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  read = PollUntilRead("junk");
  ASSERT_TRUE(read.ok() && read->finished) << read.status().ToString();
  StatusOr<wire::ModelInfo> info = exec_.FinishLoad("junk");
  EXPECT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find(junk), std::string::npos) << info.status().ToString();
  EXPECT_EQ(exec_.pool()->num_free_pages(), free_);
  EXPECT_EQ(exec_.FinishLoad("junk").status().code(), Status::Code::kFailedPrecondition) << "the load is over";
  EXPECT_FALSE(exec_.BeginLoad({"gone", "/nonexistent.gguf", 0}).ok()) << "refused at once";
  std::filesystem::remove(junk);
}

TEST_F(StepExecutorLoadTest, UnloadOrShutdownDuringALoadStopsItsRead) {
  const std::string junk = Junk("unloaded", 3 * ModelFileReader::kReadPiece);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  exec_.set_read_observer([&](const std::string&, uint64_t, uint64_t) { released.wait(); });
  ASSERT_TRUE(exec_.BeginLoad({"big", junk, 1 << 20}).ok());
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    release.set_value();
  });
  exec_.UnloadModel("big");  // waits for the loader thread, which stops before its next piece
  releaser.join();
  EXPECT_EQ(exec_.pool()->num_free_pages(), free_);
  EXPECT_EQ(exec_.PollLoad("big").status().code(), Status::Code::kFailedPrecondition);
  {
    StepExecutor exec(2);  // destroyed with a load in progress: the read stops, nothing leaks
    ASSERT_TRUE(exec.BeginLoad({"big", junk, 1 << 20}).ok());
  }
  std::filesystem::remove(junk);
}

}  // namespace
}  // namespace hearth::worker
