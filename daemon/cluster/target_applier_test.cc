// Applying placement targets against a fake registry: warm targets loaded and pinned, staged
// ones staged, nothing unloaded, pins the cluster set taken back, older epochs ignored.
#include "daemon/cluster/target_applier.h"

#include <gtest/gtest.h>

#include <map>

namespace hearth::daemon {
namespace {

class FakeModels : public ModelControl {
 public:
  std::map<std::string, ModelStatus> models;
  std::vector<std::string> calls;

  void Put(const std::string& name, const std::string& state, bool pinned = false) {
    ModelStatus m;
    m.name = name;
    m.state = state;
    m.pinned = pinned;
    models[name] = m;
  }
  std::vector<ModelStatus> List() override {
    std::vector<ModelStatus> out;
    for (auto& [n, m] : models) out.push_back(m);
    return out;
  }
  StatusOr<ModelStatus> Add(const std::string&, const std::string&, bool) override {
    return Status::Unimplemented("add");
  }
  Status Remove(const std::string& name, bool) override {
    calls.push_back("remove " + name);
    return Status::Ok();
  }
  StatusOr<ModelStatus> Load(const std::string& name) override {
    calls.push_back("load " + name);
    models[name].state = "warm";
    return models[name];
  }
  StatusOr<ModelStatus> Unload(const std::string& name, bool) override {
    calls.push_back("unload " + name);
    return models[name];
  }
  StatusOr<ModelStatus> Stage(const std::string& name, bool) override {
    calls.push_back("stage " + name);
    models[name].state = "staged";
    return models[name];
  }
  StatusOr<ModelStatus> SetPinned(const std::string& name, bool pinned) override {
    calls.push_back(std::string(pinned ? "pin " : "unpin ") + name);
    models[name].pinned = pinned;
    return models[name];
  }
};

cluster::NodeTargets Targets(int64_t epoch, std::vector<std::string> warm, std::vector<std::string> staged = {}) {
  cluster::NodeTargets t;
  t.epoch = epoch;
  t.leader = "node-a";
  t.warm = std::move(warm);
  t.staged = std::move(staged);
  return t;
}

using Calls = std::vector<std::string>;

TEST(TargetApplierTest, LoadsAndPinsWarmTargetsAndStagesStagedOnes) {
  FakeModels m;
  m.Put("a", "registered");
  m.Put("b", "warm");
  m.Put("c", "registered");
  m.Put("d", "warm", /*pinned=*/true);
  TargetApplier applier(&m, /*staging=*/true);
  EXPECT_TRUE(applier.Apply(Targets(5, {"a", "b", "d", "elsewhere"}, {"c"}), 10));
  EXPECT_EQ(m.calls, (Calls{"pin a", "load a", "pin b", "stage c"}));
  EXPECT_EQ(applier.applied().epoch, 5);
  EXPECT_EQ(applier.applied().last_error, "");
  // Again: nothing to do.
  m.calls.clear();
  EXPECT_TRUE(applier.Apply(Targets(5, {"a", "b", "d", "elsewhere"}, {"c"}), 10));
  EXPECT_TRUE(m.calls.empty());
  // "b" leaves the targets: unpinned (the cluster pinned it), never unloaded; "d" was pinned by
  // someone else and stays pinned even when it leaves.
  EXPECT_TRUE(applier.Apply(Targets(6, {"a"}), 11));
  EXPECT_EQ(m.calls, (Calls{"unpin b"}));
  EXPECT_TRUE(m.models["d"].pinned);
  EXPECT_EQ(m.models["b"].state, "warm");
}

TEST(TargetApplierTest, StagingOffStagesNothing) {
  FakeModels m;
  m.Put("c", "registered");
  TargetApplier applier(&m, /*staging=*/false);
  EXPECT_TRUE(applier.Apply(Targets(1, {}, {"c"}), 3));
  EXPECT_TRUE(m.calls.empty());
}

TEST(TargetApplierTest, AnOlderEpochIsIgnoredAndCountedOnce) {
  FakeModels m;
  m.Put("a", "registered");
  m.Put("b", "registered");
  TargetApplier applier(&m, false);
  EXPECT_TRUE(applier.Apply(Targets(9, {"a"}), 20));
  m.calls.clear();
  EXPECT_FALSE(applier.Apply(Targets(7, {"b"}), 21));
  EXPECT_FALSE(applier.Apply(Targets(7, {"b"}), 21)) << "the same stale write read twice";
  EXPECT_TRUE(m.calls.empty()) << "a deposed leader's decision is never applied";
  EXPECT_EQ(applier.applied().stale_ignored, 1);
  EXPECT_EQ(applier.applied().epoch, 9);
  EXPECT_EQ(applier.applied().warm, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(applier.Apply(Targets(12, {"b"}), 22));
  EXPECT_EQ(applier.applied().epoch, 12);
}

}  // namespace
}  // namespace hearth::daemon
