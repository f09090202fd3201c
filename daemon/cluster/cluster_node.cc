#include "daemon/cluster/cluster_node.h"

#include <chrono>

#include "common/json_writer.h"

namespace hearth::daemon {
namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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
}

ClusterNode::~ClusterNode() { Stop(); }

void ClusterNode::Start() { membership_->Start(); }

void ClusterNode::Stop() { membership_->Stop(); }

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
  for (const ModelStatus& m : models_->List()) {
    r.models.push_back({m.name, m.state, m.bytes, m.last_swap_in_seconds});
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
  // No node leads placement yet: the planner over nodes is not built.
  w.Key("leader");
  w.Null();
  w.Key("invalid_records");
  w.Int64(v.invalid_records);
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
