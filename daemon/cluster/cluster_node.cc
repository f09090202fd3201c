#include "daemon/cluster/cluster_node.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "common/json_writer.h"
#include "common/log.h"
#include "scheduler/cluster_placement.h"

namespace hearth::daemon {
namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What the planner needs of a node's record.
scheduler::ClusterNode PlannerNode(const cluster::NodeRecord& r) {
  scheduler::ClusterNode n;
  n.name = r.name;
  n.spot = r.instance == "spot";
  n.price_per_hour = r.price_per_hour;
  n.memory_budget_bytes = r.memory_budget_bytes;
  n.workers = r.workers;
  n.staged_budget_bytes = r.staged_budget_bytes;
  for (const cluster::ModelPresence& m : r.models) {
    scheduler::ClusterModel c;
    c.name = m.name;
    c.warm = m.state == "warm" || m.state == "loading";
    c.staged = m.state == "staged" || m.state == "staging";
    c.bytes = m.bytes;
    c.predicted_avg = m.predicted_avg;
    c.predicted_peak = m.predicted_peak;
    c.batch_size = m.batch_size;
    n.models.push_back(std::move(c));
  }
  return n;
}

void Names(JsonWriter& w, const char* key, const std::vector<std::string>& names) {
  w.Key(key);
  w.StartArray();
  for (const std::string& n : names) WriteString(w, n);
  w.EndArray();
}

// "cost": this node's price, hours since hearthd started, cost so far and per million tokens.
void WriteCost(JsonWriter& w, const NodeCost& c) {
  w.Key("cost");
  w.StartObject();
  w.Key("price_per_hour");
  w.Double(c.price_per_hour);
  w.Key("uptime_seconds");
  w.Double(c.uptime_seconds);
  w.Key("node_hours");
  w.Double(c.node_hours());
  w.Key("dollars");
  w.Double(c.dollars());
  w.Key("tokens_generated");
  w.Double(c.tokens_generated);
  w.Key("dollars_per_million_tokens");
  w.Double(c.per_million_tokens());
  w.EndObject();
}

// The most puts one fenced transaction carries (etcd refuses more than 128 operations).
constexpr size_t kOpsPerTxn = 100;

}  // namespace

StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Create(ClusterNodeOptions options, ModelControl* models) {
  std::vector<cluster::EtcdEndpoint> endpoints;
  for (const std::string& url : options.etcd) {
    HEARTH_ASSIGN_OR_RETURN(cluster::EtcdEndpoint e, cluster::ParseEtcdEndpoint(url));
    endpoints.push_back(std::move(e));
  }
  if (endpoints.empty()) return Status::InvalidArgument("cluster.etcd: no endpoint");
  auto etcd = std::make_unique<cluster::EtcdClient>(std::move(endpoints), std::chrono::milliseconds(2000));
  return std::unique_ptr<ClusterNode>(new ClusterNode(std::move(options), std::move(etcd), models));
}

ClusterNode::ClusterNode(ClusterNodeOptions options, std::unique_ptr<cluster::EtcdClient> etcd, ModelControl* models)
    : options_(std::move(options)), etcd_(std::move(etcd)), models_(models) {
  cluster::MembershipOptions m;
  m.prefix = options_.prefix;
  m.ttl_seconds = options_.ttl_seconds;
  membership_ = std::make_unique<cluster::Membership>(etcd_.get(), [this] { return Self(); }, m);
  cluster::ElectionOptions e;
  e.name = options_.prefix + "election";
  election_ = std::make_unique<cluster::Election>(etcd_.get(), options_.name,
                                                  [this] { return membership_->held_lease(); }, e);
  applier_ = std::make_unique<TargetApplier>(models_, options_.staged_budget_bytes > 0);
}

ClusterNode::~ClusterNode() { Stop(); }

void ClusterNode::Start() {
  membership_->Start();
  election_->Start();
  placement_thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      PlacementRound();
      lock.lock();
      cv_.wait_for(lock, options_.placement_interval, [this] { return stopping_; });
    }
  });
}

void ClusterNode::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (placement_thread_.joinable()) placement_thread_.join();
  election_->Stop();  // resigns first: the next leader is elected at once
  membership_->Stop();
}

void ClusterNode::Failed(const Status& st) {
  std::lock_guard<std::mutex> lock(mu_);
  placement_error_ = st.ToString();
}

void ClusterNode::PlacementRound() {
  std::lock_guard<std::mutex> round(round_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    placement_error_.clear();
  }
  // The leader writes before it asks who leads: a leader that was stopped past its lease finds
  // out by having its fenced write refused, never by a write that lands.
  if (std::optional<cluster::LeaderKey> me = election_->leadership()) Lead(*me);
  if (Status st = election_->Observe(); !st.ok()) Failed(st);
  ApplyOwnTargets();
  ApplyHandoffs();
}

void ClusterNode::SetHandoff(std::vector<cluster::Handoff> handoff) {
  std::lock_guard<std::mutex> lock(mu_);
  handoff_ = std::move(handoff);
}

void ClusterNode::ApplyHandoffs() {
  const cluster::MembershipView v = membership_->view();
  for (const cluster::Peer& p : v.nodes) {
    if (!p.record.draining || p.record.name == options_.name) continue;
    for (const cluster::Handoff& h : p.record.handoff) {
      if (h.node != options_.name || !handoffs_taken_.insert(p.record.name + "/" + h.model).second) continue;
      // The requests handed over find the model warm: no cold start on the way.
      StatusOr<ModelStatus> loaded = models_->Load(h.model);
      LogInfo("loaded a draining node's model for its handoff")
          .Kv("from", p.record.name)
          .Kv("model", h.model)
          .Kv("ok", loaded.ok())
          .Kv("error", loaded.ok() ? "" : loaded.status().ToString());
    }
  }
}

void ClusterNode::Lead(const cluster::LeaderKey& me) {
  StatusOr<cluster::RangeResult> held = etcd_->GetPrefix(options_.prefix + "targets/");
  if (!held.ok()) return Failed(held.status());
  std::map<std::string, std::string> current;
  for (const cluster::KeyValue& kv : held->kvs) current[kv.key] = kv.value;
  const cluster::MembershipView v = membership_->view();
  std::vector<scheduler::ClusterNode> nodes;
  for (const cluster::Peer& p : v.nodes) {
    scheduler::ClusterNode n = PlannerNode(p.record);
    // The homes of the plan being followed: kept where the model is still warm.
    auto it = current.find(TargetsKey(n.name));
    StatusOr<cluster::NodeTargets> was =
        it == current.end() ? StatusOr<cluster::NodeTargets>(Status::NotFound("")) : cluster::DecodeNodeTargets(it->second);
    if (was.ok()) {
      for (scheduler::ClusterModel& m : n.models) {
        m.home = std::binary_search(was->warm.begin(), was->warm.end(), m.name);
      }
    }
    nodes.push_back(std::move(n));
  }
  const scheduler::ClusterPlan plan = scheduler::PlanClusterPlacement(nodes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    unplaced_ = plan.unplaced;
    replicas_ = plan.replicas;
  }
  // Only what changed is written: a steady cluster writes nothing.
  std::vector<cluster::TxnOp> ops;
  for (const scheduler::ClusterNodePlan& n : plan.nodes) {
    cluster::NodeTargets t;
    t.epoch = me.rev;
    t.leader = options_.name;
    t.warm = n.warm;
    t.staged = n.staged;
    const std::string key = TargetsKey(n.node);
    std::string text = cluster::EncodeNodeTargets(t);
    auto it = current.find(key);
    if (it == current.end() || it->second != text) ops.push_back({key, std::move(text), 0, false});
  }
  // The targets of nodes that left: a node that comes back gets new ones at the next plan.
  for (const auto& [key, value] : current) {
    const bool member = std::any_of(plan.nodes.begin(), plan.nodes.end(),
                                    [&](const scheduler::ClusterNodePlan& n) { return TargetsKey(n.node) == key; });
    if (!member) ops.push_back({key, "", 0, true});
  }
  for (size_t i = 0; i < ops.size(); i += kOpsPerTxn) {
    std::vector<cluster::TxnOp> chunk(ops.begin() + static_cast<std::ptrdiff_t>(i),
                                      ops.begin() + static_cast<std::ptrdiff_t>(std::min(ops.size(), i + kOpsPerTxn)));
    StatusOr<bool> wrote = election_->WriteFenced(chunk);
    if (!wrote.ok()) return Failed(wrote.status());
    if (!*wrote) return;  // deposed: counted by the election
  }
  if (!ops.empty()) LogInfo("placement targets written").Kv("epoch", me.rev).Kv("nodes", ops.size());
}

void ClusterNode::ApplyOwnTargets() {
  StatusOr<cluster::RangeResult> r = etcd_->Get(TargetsKey(options_.name));
  if (!r.ok()) return Failed(r.status());
  if (r->kvs.size() != 1) return;  // no targets yet
  StatusOr<cluster::NodeTargets> t = cluster::DecodeNodeTargets(r->kvs[0].value);
  if (!t.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++invalid_targets_;
    }
    return Failed(t.status());
  }
  applier_->Apply(*t, r->kvs[0].mod_revision);
}

cluster::NodeRecord ClusterNode::Self() const {
  cluster::NodeRecord r;
  r.name = options_.name;
  r.advertise = options_.advertise;
  r.admin = options_.admin;
  r.instance = options_.instance;
  r.price_per_hour = options_.price_per_hour;
  r.memory_budget_bytes = options_.memory_budget_bytes;
  r.staged_budget_bytes = options_.staged_budget_bytes;
  r.workers = options_.workers;
  r.version = options_.version;
  r.draining = options_.draining && options_.draining();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (r.draining) r.handoff = handoff_;
  }
  for (const ModelStatus& m : models_->List()) {
    r.models.push_back({m.name, m.state, m.bytes, m.last_swap_in_seconds, m.predicted_avg, m.predicted_peak,
                        m.batch_size});
  }
  return r;
}

std::string ClusterNode::Degraded() const {
  const cluster::MembershipView v = view();
  if (!v.etcd_reachable) return "etcd unreachable: serving what this node hosts (" + v.last_error + ")";
  if (!v.has_lease) return "no cluster lease: taking no routed work until it has one";
  return "";
}

std::string ClusterNode::Json() const {
  const cluster::MembershipView v = view();
  const int64_t now = UnixNow();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("enabled");
  w.Bool(true);
  w.Key("node");
  WriteString(w, options_.name);
  w.Key("prefix");
  WriteString(w, options_.prefix);
  const std::string degraded = Degraded();
  w.Key("state");
  w.String(degraded.empty() ? "member" : "degraded");
  w.Key("reason");
  if (degraded.empty()) {
    w.Null();
  } else {
    WriteString(w, degraded);
  }
  w.Key("lease");
  w.StartObject();
  w.Key("id");
  WriteString(w, std::to_string(v.lease));
  w.Key("held");
  w.Bool(v.has_lease);
  w.Key("age_seconds");
  w.Int64(v.has_lease && v.lease_granted_at > 0 ? now - v.lease_granted_at : 0);
  w.Key("ttl_seconds");
  w.Int64(options_.ttl_seconds);
  w.EndObject();
  w.Key("etcd");
  w.StartObject();
  w.Key("endpoints");
  w.StartArray();
  for (const std::string& url : options_.etcd) WriteString(w, url);
  w.EndArray();
  w.Key("reachable");
  w.Bool(v.etcd_reachable);
  w.Key("last_error");
  if (v.last_error.empty()) {
    w.Null();
  } else {
    WriteString(w, v.last_error);
  }
  w.Key("errors");
  w.Int64(etcd_errors());
  w.Key("revision");
  w.Int64(v.revision);
  w.EndObject();
  const cluster::ElectionView e = election_->view();
  const AppliedTargets applied = applier_->applied();
  w.Key("leader");
  if (e.leader.empty()) {
    w.Null();
  } else {
    WriteString(w, e.leader);
  }
  w.Key("placement");
  w.StartObject();
  w.Key("epoch");
  w.Int64(e.epoch);
  w.Key("is_leader");
  w.Bool(e.leading);
  w.Key("elected");
  w.Int64(e.elected);
  w.Key("fenced_writes_refused");
  w.Int64(e.fenced_writes_refused);
  w.Key("applied_epoch");
  w.Int64(applied.epoch);
  w.Key("applied_leader");
  WriteString(w, applied.leader);
  Names(w, "warm", applied.warm);
  Names(w, "staged", applied.staged);
  w.Key("stale_targets_ignored");
  w.Int64(applied.stale_ignored);
  {
    std::lock_guard<std::mutex> lock(mu_);
    w.Key("invalid_targets");
    w.Int64(invalid_targets_);
    if (e.leading) {
      Names(w, "unplaced", unplaced_);
      // Per placed model: the replicas the forecast wants and the nodes that hold them.
      w.Key("replicas");
      w.StartArray();
      for (const scheduler::ClusterReplicas& r : replicas_) {
        w.StartObject();
        w.Key("model");
        WriteString(w, r.model);
        w.Key("foundation");
        w.Int(r.foundation);
        w.Key("burst");
        w.Int(r.burst);
        Names(w, "nodes", r.nodes);
        w.EndObject();
      }
      w.EndArray();
    }
    std::string error = placement_error_;
    if (error.empty()) error = applied.last_error;
    w.Key("last_error");
    if (error.empty()) {
      w.Null();
    } else {
      WriteString(w, error);
    }
  }
  w.EndObject();
  w.Key("invalid_records");
  w.Int64(v.invalid_records);
  if (options_.cost) WriteCost(w, options_.cost());
  w.Key("nodes");
  w.StartArray();
  for (const cluster::Peer& p : v.nodes) {
    const cluster::NodeRecord& r = p.record;
    w.StartObject();
    cluster::WriteNodeRecordFields(w, r);
    w.Key("self");
    w.Bool(r.name == options_.name);
    w.Key("lease_age_seconds");
    w.Int64(r.lease_granted_at > 0 ? std::max<int64_t>(0, now - r.lease_granted_at) : 0);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string NoClusterJson() { return R"({"enabled":false,"nodes":[]})"; }

}  // namespace hearth::daemon
