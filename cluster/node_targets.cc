#include "cluster/node_targets.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "cluster/node_record.h"
#include "common/json_parse.h"
#include "common/json_writer.h"

namespace hearth::cluster {
namespace {

constexpr size_t kMaxModels = 4096;
constexpr size_t kMaxName = 512;

Status Bad(const std::string& what) { return Status::InvalidArgument("node targets: " + what); }

void Names(JsonWriter& w, const char* key, const std::vector<std::string>& names) {
  w.Key(key);
  w.StartArray();
  for (const std::string& n : names) WriteString(w, n);
  w.EndArray();
}

StatusOr<std::vector<std::string>> ReadNames(const rapidjson::Value& d, const char* key) {
  auto it = d.FindMember(key);
  if (it == d.MemberEnd() || !it->value.IsArray()) return Bad(std::string("\"") + key + "\" is not an array");
  if (it->value.Size() > kMaxModels) return Bad(std::string("too many models in \"") + key + "\"");
  std::vector<std::string> out;
  for (const rapidjson::Value& v : it->value.GetArray()) {
    if (!v.IsString() || v.GetStringLength() == 0 || v.GetStringLength() > kMaxName) {
      return Bad(std::string("\"") + key + "\" holds something that is not a model name");
    }
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) return Bad(std::string("\"") + key + "\" repeats a model");
  return out;
}

}  // namespace

std::string EncodeNodeTargets(const NodeTargets& t) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("epoch");
  w.Int64(t.epoch);
  w.Key("leader");
  WriteString(w, t.leader);
  Names(w, "warm", t.warm);
  Names(w, "staged", t.staged);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<NodeTargets> DecodeNodeTargets(std::string_view json) {
  rapidjson::Document d;
  const JsonParse parsed = ParseJson(json, &d);
  if (!parsed.ok()) return Bad(parsed.message);
  if (!d.IsObject()) return Bad("not a JSON object");
  NodeTargets t;
  auto epoch = d.FindMember("epoch");
  if (epoch == d.MemberEnd() || !epoch->value.IsInt64() || epoch->value.GetInt64() <= 0) {
    return Bad("\"epoch\" is not a positive integer");
  }
  t.epoch = epoch->value.GetInt64();
  auto leader = d.FindMember("leader");
  if (leader == d.MemberEnd() || !leader->value.IsString()) return Bad("\"leader\" is not a string");
  t.leader.assign(leader->value.GetString(), leader->value.GetStringLength());
  if (!ValidNodeName(t.leader)) return Bad("\"leader\" is not a node name");
  HEARTH_ASSIGN_OR_RETURN(t.warm, ReadNames(d, "warm"));
  HEARTH_ASSIGN_OR_RETURN(t.staged, ReadNames(d, "staged"));
  for (const std::string& s : t.staged) {
    if (std::binary_search(t.warm.begin(), t.warm.end(), s)) {
      std::string what = "\"";
      what += s;
      what += "\" is both warm and staged";
      return Bad(what);
    }
  }
  return t;
}

}  // namespace hearth::cluster
