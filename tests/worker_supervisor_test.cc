// Worker supervision's bound (issue 6; docs/durability.md): a real hearth-worker under
// SupervisedWorker, SIGKILLed again and again. Each death costs the step it broke and starts
// a new worker with the model loaded again; max_restarts deaths in a row without a good step
// make the next one fail with "keeps dying" and start no worker; a good step in between resets
// the count; after the refusal the next step gets a fresh try.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/worker/worker_supervisor.h"
#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::daemon {
namespace {

// One token of prefill in block 0, no sampling: the smallest step a worker answers.
wire::StepRequest SmallStep() {
  wire::StepRequest step;
  step.model = "smol";
  wire::StepSequence seq;
  seq.request_id = 1;
  seq.tokens = {1};
  seq.block_table = {0};
  step.seqs.push_back(seq);
  return step;
}

// This process's children that are alive (not zombies), from /proc.
std::vector<pid_t> LiveChildren() {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const size_t paren = line.rfind(')');  // the command name may hold spaces
    if (paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(line.c_str() + paren + 1, " %c %ld", &state, &ppid) != 2) continue;
    if (ppid == ::getpid() && state != 'Z') out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

class WorkerSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::DefaultModelPresent()) GTEST_SKIP() << "default model not present";
    ::signal(SIGPIPE, SIG_IGN);  // as hearthd: a write to a dead worker is an error, not a signal
    SupervisorOptions options;
    options.max_restarts = 3;
    options.first_backoff = std::chrono::milliseconds(10);
    auto worker = SupervisedWorker::Start(testing::BinaryPath("hearth-worker"),
                                          {"--threads", "1", "--kv-cache-mb", "16"}, options, [this] { ++restarted_; });
    ASSERT_TRUE(worker.ok()) << worker.status().ToString();
    worker_ = std::move(worker).value();
    auto info = worker_->LoadModel({"smol", testing::DefaultModelPath(), 0});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
  }
  void TearDown() override {
    if (worker_) worker_->Stop();
  }

  // SIGKILLs the current worker and steps: the step is lost.
  Status KillAndStep() {
    ::kill(worker_->pid(), SIGKILL);  // the step finds the connection closed
    return worker_->Step(SmallStep()).status();
  }

  std::unique_ptr<SupervisedWorker> worker_;
  int restarted_ = 0;
};

// Over the real socket: a stage reads the file with progress frames (bytes read, rising to the
// file's size) before its reply; swapping out a model that has no copy copies its pages out and
// reads nothing, nor does a swap-in from the copy.
TEST_F(WorkerSupervisorTest, StageSwapAndProgressOverTheSocket) {
  std::mutex mu;
  std::vector<wire::Progress> heard;
  worker_->SetProgressListener([&](const wire::Progress& p) {
    std::lock_guard<std::mutex> lock(mu);
    heard.push_back(p);
  });
  const uint64_t size = std::filesystem::file_size(testing::DefaultModelPath());
  StatusOr<wire::StagedInfo> staged = worker_->StageModel({"copy", testing::DefaultModelPath(), 0});
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  EXPECT_FALSE(staged->swapped_out);
  EXPECT_EQ(staged->bytes, size);
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_FALSE(heard.empty());
    for (size_t i = 0; i < heard.size(); ++i) {
      EXPECT_EQ(heard[i].name, "copy");
      EXPECT_EQ(heard[i].total, size);
      if (i > 0) {
        EXPECT_GT(heard[i].done, heard[i - 1].done);
      }
    }
    EXPECT_EQ(heard.back().done, size);
    heard.clear();
  }
  StatusOr<wire::ModelInfo> in = worker_->LoadModel({"copy", testing::DefaultModelPath(), 1 << 20});
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_TRUE(in->swapped_in);
  StatusOr<wire::StagedInfo> out = worker_->StageModel({"smol", testing::DefaultModelPath(), 0});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->swapped_out);
  in = worker_->LoadModel({"smol", testing::DefaultModelPath(), 0});
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_TRUE(in->swapped_in);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(heard.empty()) << "a swap-out and a swap-in read no file";
}

// A worker that dies while no step runs (here: killed, then asked to stage and to load) is
// replaced by the call that finds it dead: with no model warm no step would ever restart it.
TEST_F(WorkerSupervisorTest, AStageOrLoadThatFindsTheWorkerDeadRestartsIt) {
  const pid_t first = worker_->pid();
  ::kill(first, SIGKILL);
  EXPECT_FALSE(worker_->StageModel({"smol", testing::DefaultModelPath(), 0}).ok()) << "the stage the death broke";
  EXPECT_EQ(worker_->restarts(), 1);
  EXPECT_NE(worker_->pid(), first);
  EXPECT_TRUE(worker_->Step(SmallStep()).ok()) << "the replacement has the model";
  const pid_t second = worker_->pid();
  ::kill(second, SIGKILL);
  EXPECT_FALSE(worker_->LoadModel({"other", testing::DefaultModelPath(), 0}).ok());
  EXPECT_EQ(worker_->restarts(), 2);
  EXPECT_NE(worker_->pid(), second);
  StatusOr<wire::ModelInfo> again = worker_->LoadModel({"other", testing::DefaultModelPath(), 0});
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(worker_->UnloadModel("other").ok());
  EXPECT_TRUE(worker_->Step(SmallStep()).ok());
}

TEST_F(WorkerSupervisorTest, EachDeathRestartsTheWorkerWithItsModel) {
  ASSERT_TRUE(worker_->Step(SmallStep()).ok());
  const uint64_t generation = worker_->generation();
  const pid_t first = worker_->pid();
  EXPECT_FALSE(KillAndStep().ok());  // the step the death broke is lost
  EXPECT_EQ(worker_->generation(), generation + 1);
  EXPECT_EQ(worker_->restarts(), 1);
  EXPECT_EQ(restarted_, 1);
  EXPECT_NE(worker_->pid(), first);
  // The new worker has the model again: the next step runs.
  EXPECT_TRUE(worker_->Step(SmallStep()).ok());
}

TEST_F(WorkerSupervisorTest, AWorkerThatKeepsDyingFailsTheStepAfterTheBound) {
  for (int i = 0; i < 3; ++i) {
    Status st = KillAndStep();
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.message().find("keeps dying"), std::string::npos) << "death " << i + 1 << ": " << st.ToString();
  }
  EXPECT_EQ(worker_->restarts(), 3);
  Status refused = KillAndStep();  // the fourth death in a row: no restart
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("keeps dying (restarted 3 times in a row)"), std::string::npos)
      << refused.ToString();
  EXPECT_EQ(worker_->restarts(), 3);
  // The next step gets a fresh try: it finds the worker dead, restarts it, and the one after runs.
  EXPECT_FALSE(worker_->Step(SmallStep()).ok());
  EXPECT_EQ(worker_->restarts(), 4);
  EXPECT_TRUE(worker_->Step(SmallStep()).ok());
}

// The replacement is SIGKILLed while it loads the model again (its first progress frame): that
// is one more death within the bound, so the supervisor starts another, and the requests of
// the lost step are recomputed rather than failed.
TEST_F(WorkerSupervisorTest, AReplacementKilledWhileReloadingIsReplacedToo) {
  ASSERT_TRUE(worker_->Step(SmallStep()).ok());
  const uint64_t generation = worker_->generation();
  const pid_t first = worker_->pid();
  std::atomic<int> killed{0};
  worker_->SetProgressListener([&](const wire::Progress&) {
    if (killed.load() > 0) return;
    for (pid_t child : LiveChildren()) {
      if (child == first) continue;
      ::kill(child, SIGKILL);
      ++killed;
    }
  });
  Status st = KillAndStep();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("reloading"), std::string::npos) << st.ToString();
  EXPECT_EQ(st.message().find("keeps dying"), std::string::npos) << st.ToString();
  EXPECT_EQ(killed.load(), 1);
  EXPECT_EQ(worker_->generation(), generation + 1);  // replaced once, by the third worker
  EXPECT_EQ(worker_->restarts(), 1);
  EXPECT_TRUE(worker_->Step(SmallStep()).ok());
}

// Killed during every reload: the bound counts those deaths too, and then refuses.
TEST_F(WorkerSupervisorTest, DeathsDuringReloadCountTowardTheBound) {
  const pid_t first = worker_->pid();
  worker_->SetProgressListener([&](const wire::Progress&) {
    for (pid_t child : LiveChildren()) {
      if (child != first) ::kill(child, SIGKILL);
    }
  });
  Status refused = KillAndStep();
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("keeps dying (restarted 3 times in a row)"), std::string::npos)
      << refused.ToString();
  EXPECT_EQ(worker_->restarts(), 0);
  worker_->SetProgressListener(nullptr);
  EXPECT_FALSE(worker_->Step(SmallStep()).ok());  // a fresh try: restarts, this step is lost
  EXPECT_EQ(worker_->restarts(), 1);
  EXPECT_TRUE(worker_->Step(SmallStep()).ok());
}

// A worker that sends nothing while it loads (here: stopped, as a stalled file system would
// hold it) is killed at the stall limit instead of holding the daemon forever; the next step
// restarts it with the models it had.
TEST(WorkerLoadStallTest, AStalledLoadIsKilledAtTheLimit) {
  if (!testing::DefaultModelPresent()) GTEST_SKIP() << "default model not present";
  ::signal(SIGPIPE, SIG_IGN);
  SupervisorOptions options;
  options.first_backoff = std::chrono::milliseconds(10);
  options.load_stall_limit = std::chrono::milliseconds(500);
  auto worker = SupervisedWorker::Start(testing::BinaryPath("hearth-worker"), {"--threads", "1", "--kv-cache-mb", "16"},
                                        options, nullptr);
  ASSERT_TRUE(worker.ok()) << worker.status().ToString();
  ASSERT_TRUE((*worker)->LoadModel({"smol", testing::DefaultModelPath(), 0}).ok());
  const pid_t stalled = (*worker)->pid();
  ASSERT_EQ(::kill(stalled, SIGSTOP), 0);
  const auto start = std::chrono::steady_clock::now();
  StatusOr<wire::ModelInfo> info = (*worker)->LoadModel({"other", testing::DefaultModelPath(), 0});
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), Status::Code::kUnavailable) << info.status().ToString();
  EXPECT_NE(info.status().message().find("sent nothing"), std::string::npos) << info.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60)) << "returned, not hung";
  // The failed load restarted it, with "smol": the next step runs, no step lost.
  EXPECT_NE((*worker)->pid(), stalled);
  EXPECT_EQ((*worker)->restarts(), 1);
  EXPECT_TRUE((*worker)->Step(SmallStep()).ok());
  (*worker)->Stop();
}

TEST_F(WorkerSupervisorTest, AGoodStepResetsTheCount) {
  for (int i = 0; i < 6; ++i) {
    Status st = KillAndStep();
    EXPECT_EQ(st.message().find("keeps dying"), std::string::npos) << "death " << i + 1 << ": " << st.ToString();
    ASSERT_TRUE(worker_->Step(SmallStep()).ok()) << "after death " << i + 1;
  }
  EXPECT_EQ(worker_->restarts(), 6);
}

}  // namespace
}  // namespace hearth::daemon
