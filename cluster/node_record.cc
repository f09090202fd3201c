#include "cluster/node_record.h"

#include <rapidjson/document.h>

#include <cmath>

#include "common/json_parse.h"
#include "common/json_writer.h"

namespace hearth::cluster {
namespace {

constexpr size_t kMaxModels = 4096;
constexpr size_t kMaxText = 512;

Status Bad(const std::string& what) { return Status::InvalidArgument("node record: " + what); }

StatusOr<std::string> Text(const rapidjson::Value& o, const char* key, bool required) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) {
    if (required) return Bad(std::string("no \"") + key + "\"");
    return std::string();
  }
  if (!it->value.IsString()) return Bad(std::string("\"") + key + "\" is not a string");
  if (it->value.GetStringLength() > kMaxText) return Bad(std::string("\"") + key + "\" is too long");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

StatusOr<double> Number(const rapidjson::Value& o, const char* key, double max) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return 0.0;
  if (!it->value.IsNumber()) return Bad(std::string("\"") + key + "\" is not a number");
  const double v = it->value.GetDouble();
  if (!std::isfinite(v) || v < 0 || v > max) return Bad(std::string("\"") + key + "\" is out of bounds");
  return v;
}

StatusOr<uint64_t> Unsigned(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return uint64_t{0};
  if (!it->value.IsUint64()) return Bad(std::string("\"") + key + "\" is not a non-negative integer");
  return it->value.GetUint64();
}

bool ValidUrl(std::string_view url) {
  if (url.rfind("http://", 0) != 0 || url.size() <= 7) return false;
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) return false;
  }
  return true;
}

}  // namespace

bool ValidNodeName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void WriteNodeRecordFields(JsonWriter& w, const NodeRecord& r) {
  w.Key("name");
  WriteString(w, r.name);
  w.Key("advertise");
  WriteString(w, r.advertise);
  w.Key("admin");
  WriteString(w, r.admin);
  w.Key("instance");
  WriteString(w, r.instance);
  w.Key("price_per_hour");
  w.Double(r.price_per_hour);
  w.Key("memory_budget_bytes");
  w.Uint64(r.memory_budget_bytes);
  w.Key("staged_budget_bytes");
  w.Uint64(r.staged_budget_bytes);
  w.Key("workers");
  w.Int(r.workers);
  w.Key("lease_granted_at");
  w.Int64(r.lease_granted_at);
  w.Key("version");
  WriteString(w, r.version);
  w.Key("draining");
  w.Bool(r.draining);
  if (!r.handoff.empty()) {
    w.Key("handoff");
    w.StartArray();
    for (const Handoff& h : r.handoff) {
      w.StartObject();
      w.Key("model");
      WriteString(w, h.model);
      w.Key("node");
      WriteString(w, h.node);
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("models");
  w.StartArray();
  for (const ModelPresence& m : r.models) {
    w.StartObject();
    w.Key("name");
    WriteString(w, m.name);
    w.Key("state");
    WriteString(w, m.state);
    w.Key("bytes");
    w.Uint64(m.bytes);
    w.Key("swap_in_seconds");
    w.Double(m.swap_in_seconds);
    w.Key("predicted_avg");
    w.Double(m.predicted_avg);
    w.Key("predicted_peak");
    w.Double(m.predicted_peak);
    w.Key("batch_size");
    w.Int(m.batch_size);
    w.EndObject();
  }
  w.EndArray();
}

std::string EncodeNodeRecord(const NodeRecord& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteNodeRecordFields(w, r);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<NodeRecord> DecodeNodeRecord(std::string_view json) {
  rapidjson::Document d;
  const JsonParse parsed = ParseJson(json, &d);
  if (!parsed.ok()) return Bad(parsed.message);
  if (!d.IsObject()) return Bad("not a JSON object");
  NodeRecord r;
  HEARTH_ASSIGN_OR_RETURN(r.name, Text(d, "name", true));
  if (!ValidNodeName(r.name)) return Bad("\"name\" is not a node name");
  HEARTH_ASSIGN_OR_RETURN(r.advertise, Text(d, "advertise", true));
  if (!ValidUrl(r.advertise)) return Bad("\"advertise\" is not an http:// URL");
  HEARTH_ASSIGN_OR_RETURN(r.admin, Text(d, "admin", false));
  if (!r.admin.empty() && !ValidUrl(r.admin)) return Bad("\"admin\" is not an http:// URL");
  HEARTH_ASSIGN_OR_RETURN(r.instance, Text(d, "instance", true));
  if (r.instance != "on-demand" && r.instance != "spot") return Bad("\"instance\" is neither on-demand nor spot");
  HEARTH_ASSIGN_OR_RETURN(r.price_per_hour, Number(d, "price_per_hour", 1e6));
  HEARTH_ASSIGN_OR_RETURN(r.memory_budget_bytes, Unsigned(d, "memory_budget_bytes"));
  HEARTH_ASSIGN_OR_RETURN(r.staged_budget_bytes, Unsigned(d, "staged_budget_bytes"));
  HEARTH_ASSIGN_OR_RETURN(uint64_t workers, Unsigned(d, "workers"));
  if (workers < 1 || workers > 1024) return Bad("\"workers\" is out of bounds");
  r.workers = static_cast<int32_t>(workers);
  HEARTH_ASSIGN_OR_RETURN(uint64_t granted, Unsigned(d, "lease_granted_at"));
  if (granted > (uint64_t{1} << 40)) return Bad("\"lease_granted_at\" is out of bounds");
  r.lease_granted_at = static_cast<int64_t>(granted);
  HEARTH_ASSIGN_OR_RETURN(r.version, Text(d, "version", false));
  if (auto draining = d.FindMember("draining"); draining != d.MemberEnd()) {  // absent: an older node
    if (!draining->value.IsBool()) return Bad("\"draining\" is not a boolean");
    r.draining = draining->value.GetBool();
  }
  if (auto handoff = d.FindMember("handoff"); handoff != d.MemberEnd()) {
    if (!handoff->value.IsArray() || handoff->value.Size() > kMaxModels) return Bad("\"handoff\" is not an array");
    for (const rapidjson::Value& h : handoff->value.GetArray()) {
      if (!h.IsObject()) return Bad("a handoff that is not an object");
      Handoff x;
      HEARTH_ASSIGN_OR_RETURN(x.model, Text(h, "model", true));
      HEARTH_ASSIGN_OR_RETURN(x.node, Text(h, "node", true));
      if (x.model.empty() || !ValidNodeName(x.node)) return Bad("a handoff without a model or a node name");
      r.handoff.push_back(std::move(x));
    }
  }
  auto models = d.FindMember("models");
  if (models == d.MemberEnd() || !models->value.IsArray()) return Bad("\"models\" is not an array");
  if (models->value.Size() > kMaxModels) return Bad("too many models");
  for (const rapidjson::Value& m : models->value.GetArray()) {
    if (!m.IsObject()) return Bad("a model that is not an object");
    ModelPresence p;
    HEARTH_ASSIGN_OR_RETURN(p.name, Text(m, "name", true));
    if (p.name.empty()) return Bad("a model without a name");
    HEARTH_ASSIGN_OR_RETURN(p.state, Text(m, "state", true));
    HEARTH_ASSIGN_OR_RETURN(p.bytes, Unsigned(m, "bytes"));
    HEARTH_ASSIGN_OR_RETURN(p.swap_in_seconds, Number(m, "swap_in_seconds", 1e6));
    // Absent from an older node's record: no forecast.
    HEARTH_ASSIGN_OR_RETURN(p.predicted_avg, Number(m, "predicted_avg", 1e9));
    HEARTH_ASSIGN_OR_RETURN(p.predicted_peak, Number(m, "predicted_peak", 1e9));
    HEARTH_ASSIGN_OR_RETURN(uint64_t batch, Unsigned(m, "batch_size"));
    if (batch > (uint64_t{1} << 20)) return Bad("\"batch_size\" is out of bounds");
    p.batch_size = static_cast<int32_t>(batch);
    r.models.push_back(std::move(p));
  }
  return r;
}

}  // namespace hearth::cluster
