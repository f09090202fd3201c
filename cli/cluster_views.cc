#include "cli/cluster_views.h"

#include <rapidjson/document.h>

#include <cstdio>
#include <sstream>

#include "cli/table.h"
#include "common/json_parse.h"
#include "common/json_writer.h"

namespace hearth::cli {
namespace {

std::string Text(const rapidjson::Value& o, const char* key) {
  if (!o.IsObject() || !o.HasMember(key)) return "";
  const rapidjson::Value& v = o[key];
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsNumber()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", v.GetDouble());
    return buf;
  }
  return "";
}

double Number(const rapidjson::Value& o, const char* key) {
  return o.IsObject() && o.HasMember(key) && o[key].IsNumber() ? o[key].GetDouble() : 0;
}

std::string Fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Dollars(double v) {
  std::string out = "$";
  out += Fixed(v, 4);
  return out;
}

// "cost: 1.25 node-hours at 0.35/h since hearthd started = $0.4375; $1.2300 per million generated
// tokens (355000 tokens)"
std::string CostLine(const rapidjson::Value& c) {
  std::ostringstream out;
  out << "cost: " << Fixed(Number(c, "node_hours"), 2) << " node-hours at " << Fixed(Number(c, "price_per_hour"), 2)
      << "/h since hearthd started = " << Dollars(Number(c, "dollars")) << "; "
      << Dollars(Number(c, "dollars_per_million_tokens")) << " per million generated tokens ("
      << Fixed(Number(c, "tokens_generated"), 0) << " tokens)\n";
  return out.str();
}

StatusOr<rapidjson::Document> ParseCluster(const std::string& json) {
  rapidjson::Document d;
  if (!ParseJson(json, &d).ok() || !d.IsObject() || !d.HasMember("enabled") || !d["enabled"].IsBool() ||
      !d.HasMember("nodes") || !d["nodes"].IsArray()) {
    return Status::Corruption("the daemon's cluster answer is not what hearthctl expects");
  }
  return d;
}

// "http://HOST:PORT/..." -> "HOST:PORT".
std::string HostPort(const std::string& url) {
  std::string rest = url.rfind("http://", 0) == 0 ? url.substr(7) : url;
  return rest.substr(0, rest.find('/'));
}

std::string JoinNames(const rapidjson::Value& o, const char* key) {
  std::string out;
  if (o.HasMember(key) && o[key].IsArray()) {
    for (const auto& n : o[key].GetArray()) {
      if (!n.IsString()) continue;
      if (!out.empty()) out += ',';
      out += n.GetString();
    }
  }
  return out.empty() ? "-" : out;
}

// "placement epoch 12 (this node leads); applied epoch 12: warm a,b staged -; 0 stale ..."
std::string PlacementLine(const rapidjson::Value& p) {
  std::ostringstream out;
  out << "placement epoch " << Text(p, "epoch") << (Text(p, "is_leader") == "true" ? " (this node leads)" : "")
      << "; applied epoch " << Text(p, "applied_epoch") << ": warm " << JoinNames(p, "warm") << " staged "
      << JoinNames(p, "staged") << "; " << Text(p, "stale_targets_ignored") << " stale targets ignored, "
      << Text(p, "fenced_writes_refused") << " fenced writes refused";
  if (!Text(p, "last_error").empty()) out << "; last error: " << Text(p, "last_error");
  out << "\n";
  // The leader's replicas: "replicas: smol 2+1 on a,b,c; big 1+0 on a"
  auto replicas = p.FindMember("replicas");
  if (replicas != p.MemberEnd() && replicas->value.IsArray() && !replicas->value.Empty()) {
    out << "replicas (foundation+burst wanted):";
    const char* sep = " ";
    for (const rapidjson::Value& r : replicas->value.GetArray()) {
      if (!r.IsObject()) continue;
      out << sep << Text(r, "model") << " " << Text(r, "foundation") << "+" << Text(r, "burst") << " on "
          << JoinNames(r, "nodes");
      sep = "; ";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace

StatusOr<std::string> RenderCluster(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, ParseCluster(json));
  if (!d["enabled"].GetBool()) return std::string("no cluster: this daemon runs alone (start it with --etcd to join one)\n");
  std::ostringstream out;
  const rapidjson::Value& lease = d["lease"];
  const rapidjson::Value& etcd = d["etcd"];
  out << "node " << Text(d, "node") << ": " << Text(d, "state");
  if (!Text(d, "reason").empty()) out << " (" << Text(d, "reason") << ")";
  out << "\nlease " << (Text(lease, "held") == "true" ? "held, " + Text(lease, "age_seconds") + " s old" : "not held")
      << "; etcd " << (Text(etcd, "reachable") == "true" ? "reachable" : "unreachable") << ", "
      << Text(etcd, "errors") << " errors; leader " << (Text(d, "leader").empty() ? "none" : Text(d, "leader"))
      << "\n";
  if (d.HasMember("placement") && d["placement"].IsObject()) out << PlacementLine(d["placement"]);
  const bool has_cost = d.HasMember("cost") && d["cost"].IsObject();
  if (has_cost) out << CostLine(d["cost"]);
  out << "\n";
  // HOURS: since hearthd started for this node, since its lease was granted for a peer (all the
  // answer says of a peer; a peer that lost its lease counts from its new one). COST: price x hours.
  Table t({"NODE", "INSTANCE", "PRICE/H", "LEASE", "HOURS", "COST", "API", "MODELS"});
  double total = 0;
  for (const auto& n : d["nodes"].GetArray()) {
    std::string models;
    if (n.HasMember("models") && n["models"].IsArray()) {
      for (const auto& m : n["models"].GetArray()) {
        if (!models.empty()) models += ' ';
        models += Text(m, "name");
        models += ':';
        models += Text(m, "state");
      }
    }
    const bool self = Text(n, "self") == "true";
    std::string name = Text(n, "name");
    if (self) name += " (this)";
    if (Text(n, "draining") == "true") name += " draining";
    const double hours =
        self && has_cost ? Number(d["cost"], "node_hours") : Number(n, "lease_age_seconds") / 3600.0;
    const double cost = Number(n, "price_per_hour") * hours;
    total += cost;
    t.AddRow({name, Text(n, "instance"), Text(n, "price_per_hour"), Text(n, "lease_age_seconds") + "s",
              Fixed(hours, 2), Dollars(cost), Text(n, "advertise"), models.empty() ? "-" : models});
  }
  out << t.Render();
  out << "cluster cost so far: " << Dollars(total) << " over " << d["nodes"].Size() << " nodes\n";
  return out.str();
}

StatusOr<std::string> ClusterTargets(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, ParseCluster(json));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  for (const auto& n : d["nodes"].GetArray()) {
    w.StartObject();
    w.Key("targets");
    w.StartArray();
    WriteString(w, HostPort(Text(n, "advertise")));
    w.EndArray();
    w.Key("labels");
    w.StartObject();
    w.Key("node");
    WriteString(w, Text(n, "name"));
    w.Key("instance_type");
    WriteString(w, Text(n, "instance"));
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace hearth::cli
