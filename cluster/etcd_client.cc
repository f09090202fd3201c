#include "cluster/etcd_client.h"

#include <rapidjson/document.h>

#include <charconv>

#include "cluster/http_post.h"
#include "common/base64.h"
#include "common/json_parse.h"
#include "common/json_writer.h"

namespace hearth::cluster {
namespace {

Status Malformed(const std::string& what) { return Status::Corruption("etcd answered " + what); }

// An int64 field: etcd writes them as strings; absent means 0.
StatusOr<int64_t> Int64Field(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return Malformed("a non-object where an object was expected");
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return int64_t{0};
  const rapidjson::Value& v = it->value;
  if (v.IsInt64()) return v.GetInt64();
  if (!v.IsString()) return Malformed(std::string("a non-number \"") + name + "\"");
  const char* s = v.GetString();
  const char* end = s + v.GetStringLength();
  int64_t out = 0;
  auto [p, ec] = std::from_chars(s, end, out);
  if (ec != std::errc() || p != end) return Malformed(std::string("a malformed \"") + name + "\"");
  return out;
}

StatusOr<std::string> Base64Field(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return std::string();
  if (!it->value.IsString()) return Malformed(std::string("a non-string \"") + name + "\"");
  StatusOr<std::string> bytes = Base64Decode({it->value.GetString(), it->value.GetStringLength()});
  if (!bytes.ok()) return Malformed(std::string("a \"") + name + "\" that is not base64");
  return bytes;
}

// The key just after every key that starts with `prefix`: its last byte below 0xff plus one.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

void Field(JsonWriter& w, const char* name, std::string_view bytes) {
  w.Key(name);
  WriteString(w, Base64Encode(bytes));
}

void Int64(JsonWriter& w, const char* name, int64_t v) {
  w.Key(name);
  WriteString(w, std::to_string(v));
}

StatusOr<KeyValue> ParseKeyValue(const rapidjson::Value& kv) {
  if (!kv.IsObject()) return Malformed("a key-value that is not an object");
  KeyValue x;
  HEARTH_ASSIGN_OR_RETURN(x.key, Base64Field(kv, "key"));
  HEARTH_ASSIGN_OR_RETURN(x.value, Base64Field(kv, "value"));
  HEARTH_ASSIGN_OR_RETURN(x.create_revision, Int64Field(kv, "create_revision"));
  HEARTH_ASSIGN_OR_RETURN(x.mod_revision, Int64Field(kv, "mod_revision"));
  HEARTH_ASSIGN_OR_RETURN(x.version, Int64Field(kv, "version"));
  HEARTH_ASSIGN_OR_RETURN(x.lease, Int64Field(kv, "lease"));
  return x;
}

// The "error" of an error answer, or empty.
std::string ErrorText(const std::string& body) {
  rapidjson::Document d;
  if (ParseJson(body, &d).ok() && d.IsObject() && d.HasMember("error") && d["error"].IsString()) {
    return d["error"].GetString();
  }
  return "";
}

StatusOr<LeaderKey> ParseLeaderKey(const rapidjson::Value& obj) {
  if (!obj.IsObject()) return Malformed("a leader that is not an object");
  LeaderKey k;
  HEARTH_ASSIGN_OR_RETURN(k.name, Base64Field(obj, "name"));
  HEARTH_ASSIGN_OR_RETURN(k.key, Base64Field(obj, "key"));
  HEARTH_ASSIGN_OR_RETURN(k.rev, Int64Field(obj, "rev"));
  HEARTH_ASSIGN_OR_RETURN(k.lease, Int64Field(obj, "lease"));
  if (k.key.empty() || k.rev <= 0) return Malformed("a leader without a key or revision");
  return k;
}

const char* TargetName(TxnCompare::Target t) {
  switch (t) {
    case TxnCompare::Target::kVersion: return "VERSION";
    case TxnCompare::Target::kCreate: return "CREATE";
    case TxnCompare::Target::kMod: return "MOD";
    case TxnCompare::Target::kValue: return "VALUE";
    case TxnCompare::Target::kLease: return "LEASE";
  }
  return "VERSION";
}

const char* TargetField(TxnCompare::Target t) {
  switch (t) {
    case TxnCompare::Target::kVersion: return "version";
    case TxnCompare::Target::kCreate: return "create_revision";
    case TxnCompare::Target::kMod: return "mod_revision";
    case TxnCompare::Target::kValue: return "value";
    case TxnCompare::Target::kLease: return "lease";
  }
  return "version";
}

}  // namespace

StatusOr<EtcdEndpoint> ParseEtcdEndpoint(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("https://", 0) == 0) return Status::InvalidArgument("etcd endpoint " + url + ": https is not supported");
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return Status::InvalidArgument("etcd endpoint " + url + ": expected http://HOST:PORT");
  }
  EtcdEndpoint e;
  e.host = rest.substr(0, colon);
  const std::string port = rest.substr(colon + 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
  if (ec != std::errc() || p != port.data() + port.size() || e.port < 1 || e.port > 65535) {
    return Status::InvalidArgument("etcd endpoint " + url + ": the port must be in [1, 65535]");
  }
  if (e.host.find_first_of("/ ?#@") != std::string::npos) {
    return Status::InvalidArgument("etcd endpoint " + url + ": expected http://HOST:PORT");
  }
  return e;
}

EtcdClient::EtcdClient(std::vector<EtcdEndpoint> endpoints, std::chrono::milliseconds timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {}

StatusOr<std::string> EtcdClient::Call(const std::string& path, const std::string& body) {
  return Call(path, body, timeout_, {});
}

StatusOr<std::string> EtcdClient::Call(const std::string& path, const std::string& body,
                                       std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) {
  if (endpoints_.empty()) return Status::Unavailable("no etcd endpoint");
  size_t first = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = preferred_;
  }
  std::string last_error;
  for (size_t k = 0; k < endpoints_.size(); ++k) {
    const size_t i = (first + k) % endpoints_.size();
    const EtcdEndpoint& e = endpoints_[i];
    const std::string where = e.host + ":" + std::to_string(e.port);
    StatusOr<HttpReply> r = PostHttp10(e.host, e.port, path, body, timeout, 64u << 20, cancelled);
    if (!r.ok()) {
      last_error = r.status().message();
      if (cancelled && cancelled()) break;
      continue;
    }
    // The election API answers "no leader" as an internal error.
    if (r->status >= 500 && ErrorText(r->body) == "election: no leader") {
      return Status::NotFound("etcd " + path + ": no leader");
    }
    if (r->status >= 500) {
      last_error = where + ": HTTP " + std::to_string(r->status);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      preferred_ = i;
    }
    if (r->status != 200) {
      std::string message = ErrorText(r->body);
      if (message.empty()) message = r->body.substr(0, 200);
      return Status::FailedPrecondition("etcd " + path + ": HTTP " + std::to_string(r->status) + ": " + message);
    }
    return r->body;
  }
  return Status::Unavailable("etcd unreachable (" + last_error + ")");
}

StatusOr<int64_t> EtcdClient::GrantLease(int64_t ttl_seconds) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/lease/grant", "{\"TTL\":\"" + std::to_string(ttl_seconds) + "\"}"));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a grant that is not a JSON object");
  HEARTH_ASSIGN_OR_RETURN(int64_t id, Int64Field(d, "ID"));
  HEARTH_ASSIGN_OR_RETURN(int64_t ttl, Int64Field(d, "TTL"));
  if (id == 0 || ttl <= 0) return Malformed("a grant without a lease");
  return id;
}

StatusOr<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  // One POST per renewal: the gateway ignores all but the first message of a streamed request.
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/lease/keepalive", "{\"ID\":\"" + std::to_string(lease) + "\"}"));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a keepalive that is not a JSON object");
  auto result = d.FindMember("result");
  if (result == d.MemberEnd() || !result->value.IsObject()) return Malformed("a keepalive without a result");
  HEARTH_ASSIGN_OR_RETURN(int64_t ttl, Int64Field(result->value, "TTL"));
  if (ttl <= 0) return Status::NotFound("etcd lease " + std::to_string(lease) + " has expired");
  return ttl;
}

Status EtcdClient::Revoke(int64_t lease) {
  return Call("/v3/lease/revoke", "{\"ID\":\"" + std::to_string(lease) + "\"}").status();
}

StatusOr<int64_t> EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Field(w, "key", key);
  Field(w, "value", value);
  if (lease != 0) {
    w.Key("lease");
    WriteString(w, std::to_string(lease));
  }
  w.EndObject();
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/kv/put", buf.GetString()));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a put that is not a JSON object");
  auto header = d.FindMember("header");
  if (header == d.MemberEnd()) return Malformed("a put without a header");
  return Int64Field(header->value, "revision");
}

StatusOr<bool> EtcdClient::PutIfModRevision(const std::string& key, const std::string& value, int64_t mod_revision,
                                            int64_t lease) {
  TxnCompare c;
  c.key = key;
  c.target = TxnCompare::Target::kMod;
  c.number = mod_revision;
  HEARTH_ASSIGN_OR_RETURN(TxnResult r, Txn({c}, {TxnOp{key, value, lease, false}}));
  return r.succeeded;
}

StatusOr<TxnResult> EtcdClient::Txn(const std::vector<TxnCompare>& compares, const std::vector<TxnOp>& ops) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("compare");
  w.StartArray();
  for (const TxnCompare& c : compares) {
    w.StartObject();
    Field(w, "key", c.key);
    // Enum names, both given: a missing target means VERSION, a missing result EQUAL.
    w.Key("target");
    w.String(TargetName(c.target));
    w.Key("result");
    w.String("EQUAL");
    if (c.target == TxnCompare::Target::kValue) {
      Field(w, "value", c.value);
    } else {
      Int64(w, TargetField(c.target), c.number);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("success");
  w.StartArray();
  for (const TxnOp& op : ops) {
    w.StartObject();
    w.Key(op.erase ? "request_delete_range" : "request_put");
    w.StartObject();
    Field(w, "key", op.key);
    if (!op.erase) {
      Field(w, "value", op.value);
      if (op.lease != 0) Int64(w, "lease", op.lease);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/kv/txn", buf.GetString()));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a txn that is not a JSON object");
  TxnResult out;
  auto header = d.FindMember("header");
  if (header == d.MemberEnd()) return Malformed("a txn without a header");
  HEARTH_ASSIGN_OR_RETURN(out.revision, Int64Field(header->value, "revision"));
  auto succeeded = d.FindMember("succeeded");
  if (succeeded == d.MemberEnd()) return out;  // false is the default: left out
  if (!succeeded->value.IsBool()) return Malformed("a non-boolean \"succeeded\"");
  out.succeeded = succeeded->value.GetBool();
  return out;
}

StatusOr<RangeResult> EtcdClient::Range(const std::string& key, const std::string& range_end,
                                        const RangeFilter& filter) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Field(w, "key", key);
  if (!range_end.empty()) Field(w, "range_end", range_end);
  if (filter.min_mod_revision > 0) Int64(w, "min_mod_revision", filter.min_mod_revision);
  if (filter.revision > 0) Int64(w, "revision", filter.revision);
  if (filter.count_only) {
    w.Key("count_only");
    w.Bool(true);
  }
  w.EndObject();
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/kv/range", buf.GetString()));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a range that is not a JSON object");
  RangeResult out;
  auto header = d.FindMember("header");
  if (header == d.MemberEnd()) return Malformed("a range without a header");
  HEARTH_ASSIGN_OR_RETURN(out.revision, Int64Field(header->value, "revision"));
  HEARTH_ASSIGN_OR_RETURN(out.count, Int64Field(d, "count"));
  auto kvs = d.FindMember("kvs");
  if (kvs == d.MemberEnd()) return out;
  if (!kvs->value.IsArray()) return Malformed("a non-array \"kvs\"");
  for (const rapidjson::Value& kv : kvs->value.GetArray()) {
    HEARTH_ASSIGN_OR_RETURN(KeyValue x, ParseKeyValue(kv));
    out.kvs.push_back(std::move(x));
  }
  return out;
}

StatusOr<RangeResult> EtcdClient::Get(const std::string& key) { return Range(key, ""); }

StatusOr<RangeResult> EtcdClient::GetPrefix(const std::string& prefix) { return Range(prefix, PrefixEnd(prefix)); }

StatusOr<RangeResult> EtcdClient::GetPrefixSince(const std::string& prefix, int64_t min_mod_revision) {
  RangeFilter f;
  f.min_mod_revision = min_mod_revision;
  return Range(prefix, PrefixEnd(prefix), f);
}

StatusOr<RangeResult> EtcdClient::CountPrefix(const std::string& prefix, int64_t revision) {
  RangeFilter f;
  f.revision = revision;
  f.count_only = true;
  return Range(prefix, PrefixEnd(prefix), f);
}

StatusOr<int64_t> EtcdClient::Delete(const std::string& key) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Field(w, "key", key);
  w.EndObject();
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/kv/deleterange", buf.GetString()));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a delete that is not a JSON object");
  return Int64Field(d, "deleted");
}

StatusOr<LeaderKey> EtcdClient::Campaign(const std::string& election, const std::string& value, int64_t lease,
                                         std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Field(w, "name", election);
  Int64(w, "lease", lease);
  Field(w, "value", value);
  w.EndObject();
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/election/campaign", buf.GetString(), timeout, cancelled));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a campaign that is not a JSON object");
  auto leader = d.FindMember("leader");
  if (leader == d.MemberEnd()) return Malformed("a campaign without a leader");
  HEARTH_ASSIGN_OR_RETURN(LeaderKey k, ParseLeaderKey(leader->value));
  if (k.lease != lease || k.name != election) return Malformed("a campaign won under another name or lease");
  return k;
}

StatusOr<KeyValue> EtcdClient::Leader(const std::string& election) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Field(w, "name", election);
  w.EndObject();
  HEARTH_ASSIGN_OR_RETURN(std::string text, Call("/v3/election/leader", buf.GetString()));
  rapidjson::Document d;
  if (!ParseJson(text, &d).ok() || !d.IsObject()) return Malformed("a leader that is not a JSON object");
  auto kv = d.FindMember("kv");
  if (kv == d.MemberEnd()) return Status::NotFound("etcd: no leader of " + election);
  HEARTH_ASSIGN_OR_RETURN(KeyValue x, ParseKeyValue(kv->value));
  if (x.key.empty() || x.create_revision <= 0) return Malformed("a leader without a key or revision");
  return x;
}

Status EtcdClient::Resign(const LeaderKey& leader) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("leader");
  w.StartObject();
  Field(w, "name", leader.name);
  Field(w, "key", leader.key);
  Int64(w, "rev", leader.rev);
  Int64(w, "lease", leader.lease);
  w.EndObject();
  w.EndObject();
  return Call("/v3/election/resign", buf.GetString()).status();
}

}  // namespace hearth::cluster
