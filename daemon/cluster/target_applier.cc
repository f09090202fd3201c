#include "daemon/cluster/target_applier.h"

#include <algorithm>
#include <map>

#include "common/log.h"

namespace hearth::daemon {

TargetApplier::TargetApplier(ModelControl* models, bool staging) : models_(models), staging_(staging) {}

AppliedTargets TargetApplier::applied() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_;
}

bool TargetApplier::Apply(const cluster::NodeTargets& t, int64_t mod_revision) {
  std::lock_guard<std::mutex> pass(apply_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (t.epoch < applied_.epoch) {
      if (mod_revision != last_ignored_revision_) {
        last_ignored_revision_ = mod_revision;
        ++applied_.stale_ignored;
        LogWarn("placement targets from an older epoch ignored")
            .Kv("epoch", t.epoch)
            .Kv("applied_epoch", applied_.epoch)
            .Kv("leader", t.leader);
      }
      return false;
    }
    if (t.epoch > applied_.epoch) {
      LogInfo("applying placement targets").Kv("epoch", t.epoch).Kv("leader", t.leader).Kv("warm", t.warm.size());
    }
    applied_.epoch = t.epoch;
    applied_.leader = t.leader;
    applied_.warm = t.warm;
    applied_.staged = t.staged;
  }
  std::map<std::string, ModelStatus> local;
  for (ModelStatus& m : models_->List()) local[m.name] = std::move(m);
  std::string error;
  auto failed = [&](const std::string& model, const Status& st) {
    error = model + ": " + st.ToString();
    LogWarn("placement target not applied").Kv("model", model).Kv("error", st.ToString());
  };
  // Unpin first: what left the targets may be evicted to make room for what came.
  for (auto it = pinned_by_us_.begin(); it != pinned_by_us_.end();) {
    if (std::binary_search(t.warm.begin(), t.warm.end(), *it)) {
      ++it;
      continue;
    }
    StatusOr<ModelStatus> st = models_->SetPinned(*it, false);
    if (!st.ok() && st.status().code() != Status::Code::kNotFound) failed(*it, st.status());
    it = pinned_by_us_.erase(it);
  }
  for (const std::string& name : t.warm) {
    auto m = local.find(name);
    if (m == local.end()) continue;  // not registered here: the leader's view was older
    if (!m->second.pinned) {
      StatusOr<ModelStatus> st = models_->SetPinned(name, true);
      if (st.ok()) {
        pinned_by_us_.insert(name);
      } else {
        failed(name, st.status());
      }
    }
    if (m->second.state != "warm" && m->second.state != "loading") {
      StatusOr<ModelStatus> st = models_->Load(name);
      if (!st.ok()) failed(name, st.status());
    }
  }
  if (staging_) {
    for (const std::string& name : t.staged) {
      auto m = local.find(name);
      if (m == local.end() || m->second.state != "registered") continue;  // warm or moving: leave it
      StatusOr<ModelStatus> st = models_->Stage(name, false);
      if (!st.ok()) failed(name, st.status());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  applied_.last_error = error;
  return true;
}

}  // namespace hearth::daemon
