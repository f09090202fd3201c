// What a node costs and how that cost is split over its models (docs/cluster.md, "What it
// costs"). Pure arithmetic: the daemon feeds it the price, the time hearthd has run and the
// tokens generated; /metrics and the cluster view show what it says.
#pragma once

#include <map>
#include <string>

namespace hearth::daemon {

// A node's cost so far: its price per hour ([cluster] price_per_hour; 0 without one) times the
// hours hearthd has run, and that cost per generated token.
struct NodeCost {
  double price_per_hour = 0;
  double uptime_seconds = 0;
  double tokens_generated = 0;  // by every model of the node, since hearthd started

  double node_hours() const { return uptime_seconds / 3600.0; }
  double dollars() const { return price_per_hour * node_hours(); }
  // The node's average cost of a generated token so far (0 before the first): a request's
  // cost is its generated tokens times this.
  double per_token() const { return tokens_generated > 0 ? dollars() / tokens_generated : 0; }
  double per_million_tokens() const { return per_token() * 1e6; }
};

// Splits a node's cost over its models by generated tokens, interval by interval: the cost
// accrued since the last Update goes to the models in proportion to the tokens each generated
// in between. An interval without tokens (idle time) is split by each model's share of all
// tokens so far; before the first token the cost stays unattributed, and goes to the models
// of the first interval with tokens. So a model's cost never goes down, and the models' costs
// plus unattributed() always add up to the node's cost.
class CostLedger {
 public:
  // `node_dollars`: the node's cost so far (NodeCost::dollars); `tokens`: each model's
  // generated tokens so far. A total that goes down is taken as a restart from 0.
  void Update(double node_dollars, const std::map<std::string, double>& tokens);

  double node_dollars() const { return node_dollars_; }
  double model_dollars(const std::string& model) const;
  const std::map<std::string, double>& models() const { return model_dollars_; }
  // The node's cost no model has been given yet: all of it until the first token.
  double unattributed() const { return unattributed_; }

 private:
  // Gives `dollars` to the models in proportion to `weights` (which sum to `total` > 0).
  void Split(double dollars, const std::map<std::string, double>& weights, double total);

  double node_dollars_ = 0;
  double unattributed_ = 0;
  std::map<std::string, double> tokens_seen_;    // each model's total at the last Update
  std::map<std::string, double> tokens_so_far_;  // each model's tokens since the ledger began
  std::map<std::string, double> model_dollars_;
};

}  // namespace hearth::daemon
