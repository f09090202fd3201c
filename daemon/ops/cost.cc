#include "daemon/ops/cost.h"

#include <iterator>

namespace hearth::daemon {

void CostLedger::Update(double node_dollars, const std::map<std::string, double>& tokens) {
  // The price is fixed for the life of hearthd, so the cost only grows; a smaller figure
  // (a clock stepped back) accrues nothing.
  if (node_dollars > node_dollars_) {
    unattributed_ += node_dollars - node_dollars_;
    node_dollars_ = node_dollars;
  }
  std::map<std::string, double> interval;
  double interval_total = 0;
  for (const auto& [model, total] : tokens) {
    model_dollars_.try_emplace(model, 0.0);
    double& seen = tokens_seen_[model];
    const double grew = total >= seen ? total - seen : total;
    seen = total;
    if (grew <= 0) continue;
    interval[model] = grew;
    interval_total += grew;
    tokens_so_far_[model] += grew;
  }
  if (unattributed_ <= 0) return;
  if (interval_total > 0) {
    Split(unattributed_, interval, interval_total);
    return;
  }
  double so_far = 0;
  for (const auto& [model, n] : tokens_so_far_) so_far += n;
  if (so_far > 0) Split(unattributed_, tokens_so_far_, so_far);
}

void CostLedger::Split(double dollars, const std::map<std::string, double>& weights, double total) {
  // The last model takes what rounding left, so the split adds up to `dollars` exactly.
  double given = 0;
  auto last = std::prev(weights.end());
  for (auto it = weights.begin(); it != last; ++it) {
    const double share = dollars * (it->second / total);
    model_dollars_[it->first] += share;
    given += share;
  }
  model_dollars_[last->first] += dollars - given > 0 ? dollars - given : 0;
  unattributed_ = 0;
}

double CostLedger::model_dollars(const std::string& model) const {
  auto it = model_dollars_.find(model);
  return it == model_dollars_.end() ? 0 : it->second;
}

}  // namespace hearth::daemon
