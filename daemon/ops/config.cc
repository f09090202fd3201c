#include "daemon/ops/config.h"

#include <unistd.h>

#include <toml++/toml.h>

#include <tuple>

#include "cluster/node_record.h"
#include "scheduler/kv_move.h"
#include "store/database.h"

namespace hearth::daemon {

StatusOr<HostPort> ParseHostPort(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("expected HOST:PORT, got '" + text + "'");
  }
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("bad port in '" + text + "'");
  }
  hp.port = std::stoi(port);
  if (hp.port > 65535) return Status::InvalidArgument("port out of range in '" + text + "'");
  return hp;
}

Status AddModelFlag(const std::string& flag, Config* config) {
  size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size()) {
    return Status::InvalidArgument("--model expects NAME=PATH, got '" + flag + "'");
  }
  config->models[flag.substr(0, eq)] = flag.substr(eq + 1);
  return Status::Ok();
}

namespace {

Status ReadHostPort(const toml::table& t, const char* key, HostPort* out) {
  if (auto v = t[key].value<std::string>()) {
    HEARTH_ASSIGN_OR_RETURN(*out, ParseHostPort(*v));
  } else if (t.contains(key)) {
    return Status::InvalidArgument(std::string(key) + " must be a string \"HOST:PORT\"");
  }
  return Status::Ok();
}

Status ReadString(const toml::table& t, const char* key, std::string* out) {
  if (auto v = t[key].value<std::string>()) {
    *out = *v;
  } else if (t.contains(key)) {
    return Status::InvalidArgument(std::string(key) + " must be a string");
  }
  return Status::Ok();
}

// api_keys, admin_token, request_retention_seconds, request_retention_count.
Status ReadAuthAndRetention(const toml::table& t, Config* config) {
  if (const toml::array* keys = t["api_keys"].as_array()) {
    std::vector<std::string> out;
    for (const toml::node& key : *keys) {
      auto v = key.value<std::string>();
      if (!v || v->empty()) return Status::InvalidArgument("api_keys must be an array of non-empty strings");
      out.push_back(*v);
    }
    config->api_keys = std::move(out);
  } else if (t.contains("api_keys")) {
    return Status::InvalidArgument("api_keys must be an array of strings");
  }
  HEARTH_RETURN_IF_ERROR(ReadString(t, "admin_token", &config->admin_token));
  for (auto [key, out] : {std::pair{"request_retention_seconds", &config->request_retention_seconds},
                          std::pair{"request_retention_count", &config->request_retention_count}}) {
    if (auto v = t[key].value<int64_t>()) {
      if (*v < 0 || *v > 100000000) return Status::InvalidArgument(std::string(key) + " must be in [0, 1e8]");
      *out = *v;
    } else if (t.contains(key)) {
      return Status::InvalidArgument(std::string(key) + " must be an integer");
    }
  }
  return Status::Ok();
}

// max_queued_requests, max_queued_tokens, health_stall_seconds.
Status ReadLimitsAndHealth(const toml::table& t, Config* config) {
  for (auto [key, out] : {std::pair{"max_queued_requests", &config->max_queued_requests},
                          std::pair{"max_queued_tokens", &config->max_queued_tokens}}) {
    if (auto v = t[key].value<int64_t>()) {
      if (*v < 0) return Status::InvalidArgument(std::string(key) + " must be >= 0 (0: no limit)");
      *out = *v;
    } else if (t.contains(key)) {
      return Status::InvalidArgument(std::string(key) + " must be an integer");
    }
  }
  if (t.contains("health_stall_seconds")) {
    auto v = t["health_stall_seconds"].value<double>();
    if (!v || !(*v >= 0)) return Status::InvalidArgument("health_stall_seconds must be a number >= 0 (0: never)");
    config->health_stall_seconds = *v;
  }
  return Status::Ok();
}

// The [http] table: the API listener's connection caps and deadlines.
Status ReadHttp(const toml::table& t, Config* config) {
  if (!t.contains("http")) return Status::Ok();
  const toml::table* http = t["http"].as_table();
  if (http == nullptr) return Status::InvalidArgument("http must be a table");
  for (auto [key, field, min, max] :
       {std::tuple{"max_connections", &config->http_max_connections, 1, 1 << 20},
        std::tuple{"max_connections_per_client", &config->http_max_connections_per_client, 1, 1 << 20}}) {
    if (!http->contains(key)) continue;
    auto v = (*http)[key].value<int64_t>();
    if (!v || *v < min || *v > max) {
      return Status::InvalidArgument("http." + std::string(key) + " must be an integer in [" + std::to_string(min) +
                                     ", " + std::to_string(max) + "]");
    }
    *field = static_cast<int>(*v);
  }
  for (auto [key, field] : {std::pair{"header_timeout_seconds", &config->http_header_timeout_seconds},
                            std::pair{"body_timeout_seconds", &config->http_body_timeout_seconds},
                            std::pair{"keep_alive_seconds", &config->http_keep_alive_seconds}}) {
    if (!http->contains(key)) continue;
    auto v = (*http)[key].value<double>();
    if (!v || !(*v > 0) || *v > 3600) {
      return Status::InvalidArgument("http." + std::string(key) + " must be a number of seconds in (0, 3600]");
    }
    *field = *v;
  }
  return Status::Ok();
}

// The [scheduler] table: token_budget, max_num_seqs, chunked_prefill, target_step_ms.
Status ReadScheduler(const toml::table& root, Config* config) {
  if (!root.contains("scheduler")) return Status::Ok();
  const toml::table* t = root["scheduler"].as_table();
  if (t == nullptr) return Status::InvalidArgument("scheduler must be a table");
  for (auto [key, out, min] : {std::tuple{"token_budget", &config->token_budget, 0},
                               std::tuple{"max_num_seqs", &config->max_num_seqs, 1}}) {
    if (auto v = (*t)[key].value<int64_t>()) {
      if (*v < min || *v > 1000000) {
        return Status::InvalidArgument("scheduler." + std::string(key) + " must be in [" + std::to_string(min) +
                                       ", 1000000]");
      }
      *out = static_cast<int32_t>(*v);
    } else if (t->contains(key)) {
      return Status::InvalidArgument("scheduler." + std::string(key) + " must be an integer");
    }
  }
  if (const toml::value<bool>* v = (*t)["chunked_prefill"].as_boolean()) {  // value<bool>() takes 1 too
    config->chunked_prefill = v->get();
  } else if (t->contains("chunked_prefill")) {
    return Status::InvalidArgument("scheduler.chunked_prefill must be true or false");
  }
  if (t->contains("target_step_ms")) {
    auto v = (*t)["target_step_ms"].value<double>();
    if (!v || !(*v > 0)) return Status::InvalidArgument("scheduler.target_step_ms must be a number > 0");
    config->target_step_ms = *v;
  }
  return Status::Ok();
}

// The [preemption] table: notice_file, poll_url, poll_interval_ms, grace_seconds.
Status ReadPreemption(const toml::table& root, Config* config) {
  if (!root.contains("preemption")) return Status::Ok();
  const toml::table* t = root["preemption"].as_table();
  if (t == nullptr) return Status::InvalidArgument("preemption must be a table");
  for (auto [key, out] : {std::pair{"notice_file", &config->preemption_notice_file},
                          std::pair{"poll_url", &config->preemption_poll_url}}) {
    Status st = ReadString(*t, key, out);
    if (!st.ok()) return Status::InvalidArgument("preemption." + st.message());
  }
  if (t->contains("poll_interval_ms")) {
    auto v = (*t)["poll_interval_ms"].value<int64_t>();
    if (!v || *v < 10 || *v > 3600000) {
      return Status::InvalidArgument("preemption.poll_interval_ms must be in [10, 3600000]");
    }
    config->preemption_poll_interval_ms = *v;
  }
  if (t->contains("grace_seconds")) {
    auto v = (*t)["grace_seconds"].value<double>();
    if (!v || !(*v >= 0) || *v > 86400) {
      return Status::InvalidArgument("preemption.grace_seconds must be in [0, 86400]");
    }
    config->preemption_grace_seconds = *v;
  }
  return Status::Ok();
}

// The [workers] table: memory_budget_bytes, staged_budget_bytes, model_wait_seconds (docs/models.md).
Status ReadWorkers(const toml::table& root, Config* config) {
  if (!root.contains("workers")) return Status::Ok();
  const toml::table* t = root["workers"].as_table();
  if (t == nullptr) return Status::InvalidArgument("workers must be a table");
  if (t->contains("memory_budget_bytes")) {
    auto v = (*t)["memory_budget_bytes"].value<int64_t>();
    if (!v || *v < 0) {
      return Status::InvalidArgument("workers.memory_budget_bytes must be an integer >= 0 (0: no limit)");
    }
    config->memory_budget_bytes = static_cast<uint64_t>(*v);
  }
  if (t->contains("staged_budget_bytes")) {
    auto v = (*t)["staged_budget_bytes"].value<int64_t>();
    if (!v || *v < 0) {
      return Status::InvalidArgument("workers.staged_budget_bytes must be an integer >= 0 (0: no staging)");
    }
    config->staged_budget_bytes = static_cast<uint64_t>(*v);
  }
  if (t->contains("count")) {
    auto v = (*t)["count"].value<int64_t>();
    if (!v || *v < 1 || *v > 64) return Status::InvalidArgument("workers.count must be an integer in [1, 64]");
    config->worker_count = static_cast<int>(*v);
  }
  if (t->contains("model_wait_seconds")) {
    auto v = (*t)["model_wait_seconds"].value<double>();
    if (!v || !(*v >= 0) || *v > 86400) {
      return Status::InvalidArgument("workers.model_wait_seconds must be a number in [0, 86400]");
    }
    config->model_wait_seconds = *v;
  }
  return Status::Ok();
}

// The [placement] table: the policy, the load history's window, the forecast's period, the
// replicas' batch size and the prewarm interval.
Status ReadPlacement(const toml::table& root, Config* config) {
  if (!root.contains("placement")) return Status::Ok();
  const toml::table* t = root["placement"].as_table();
  if (t == nullptr) return Status::InvalidArgument("placement must be a table");
  for (const auto& [key, value] : *t) {
    const std::string_view k = key.str();
    if (k != "policy" && k != "window_seconds" && k != "period_seconds" && k != "batch_size" &&
        k != "prewarm_interval_ms") {
      return Status::InvalidArgument("placement." + std::string(k) +
                                     " is not a setting (policy, window_seconds, period_seconds, batch_size, "
                                     "prewarm_interval_ms)");
    }
  }
  for (auto [key, field, max] : {std::tuple{"window_seconds", &config->load_window_seconds, int64_t{86400}},
                                 std::tuple{"period_seconds", &config->load_period_seconds, int64_t{86400 * 366}}}) {
    if (!t->contains(key)) continue;
    auto v = (*t)[key].value<int64_t>();
    if (!v || *v < 1 || *v > max) {
      return Status::InvalidArgument("placement." + std::string(key) + " must be an integer in [1, " +
                                     std::to_string(max) + "]");
    }
    *field = *v;
  }
  if (config->load_period_seconds < config->load_window_seconds) {
    return Status::InvalidArgument("placement.period_seconds must be at least placement.window_seconds");
  }
  if (t->contains("policy")) {
    auto v = (*t)["policy"].value<std::string>();
    if (!v || (*v != "forecast" && *v != "lru")) {
      return Status::InvalidArgument("placement.policy must be \"forecast\" or \"lru\"");
    }
    config->placement_policy = *v;
  }
  for (auto [key, field, min, max] :
       {std::tuple{"batch_size", &config->placement_batch_size, int64_t{0}, int64_t{4096}},
        std::tuple{"prewarm_interval_ms", &config->prewarm_interval_ms, int64_t{10}, int64_t{3600000}}}) {
    if (!t->contains(key)) continue;
    auto v = (*t)[key].value<int64_t>();
    if (!v || *v < min || *v > max) {
      return Status::InvalidArgument("placement." + std::string(key) + " must be an integer in [" +
                                     std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    *field = *v;
  }
  return Status::Ok();
}

// The [cluster] table.
Status ReadCluster(const toml::table& root, Config* config) {
  if (!root.contains("cluster")) return Status::Ok();
  const toml::table* t = root["cluster"].as_table();
  if (t == nullptr) return Status::InvalidArgument("cluster must be a table");
  for (const auto& [key, value] : *t) {
    const std::string_view k = key.str();
    if (k != "etcd" && k != "node_name" && k != "advertise" && k != "instance" && k != "price_per_hour" &&
        k != "prefix" && k != "resubmit" && k != "kv_handoff") {
      return Status::InvalidArgument(
          "cluster." + std::string(k) +
          " is not a setting (etcd, node_name, advertise, instance, price_per_hour, prefix, resubmit, kv_handoff)");
    }
  }
  if (t->contains("etcd")) {
    config->cluster_etcd.clear();
    if (auto one = (*t)["etcd"].value<std::string>()) {
      config->cluster_etcd = SplitList(*one);
    } else if (const toml::array* list = (*t)["etcd"].as_array()) {
      for (const auto& v : *list) {
        auto url = v.value<std::string>();
        if (!url) return Status::InvalidArgument("cluster.etcd must be a URL or a list of URLs");
        config->cluster_etcd.push_back(*url);
      }
    } else {
      return Status::InvalidArgument("cluster.etcd must be a URL or a list of URLs");
    }
  }
  for (auto [key, field] : {std::pair{"node_name", &config->cluster_node_name},
                            std::pair{"advertise", &config->cluster_advertise},
                            std::pair{"instance", &config->cluster_instance}, std::pair{"prefix", &config->cluster_prefix},
                            std::pair{"resubmit", &config->cluster_resubmit},
                            std::pair{"kv_handoff", &config->cluster_kv_handoff}}) {
    if (!t->contains(key)) continue;
    auto v = (*t)[key].value<std::string>();
    if (!v) return Status::InvalidArgument("cluster." + std::string(key) + " must be a string");
    *field = *v;
  }
  if (t->contains("price_per_hour")) {
    auto v = (*t)["price_per_hour"].value<double>();
    if (!v) return Status::InvalidArgument("cluster.price_per_hour must be a number");
    config->cluster_price_per_hour = *v;
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string item(text.substr(start, comma - start));
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

Status ValidateCluster(Config* config) {
  if (config->cluster_etcd.empty()) return Status::Ok();
  for (const std::string& url : config->cluster_etcd) {
    if (url.rfind("http://", 0) != 0 || url.size() <= 7 || url.find_first_of(" \t\"") != std::string::npos) {
      return Status::InvalidArgument("cluster.etcd: '" + url + "' is not an http://HOST:PORT URL");
    }
  }
  if (config->cluster_token.size() < 16) {
    return Status::InvalidArgument(
        "a cluster node needs HEARTH_CLUSTER_TOKEN in its environment (at least 16 characters, the same on every "
        "node): node-to-node calls carry it");
  }
  if (config->cluster_node_name.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
      return Status::InvalidArgument("cluster.node_name is not set and the host name cannot be read");
    }
    config->cluster_node_name = host;
    if (const size_t dot = config->cluster_node_name.find('.'); dot != std::string::npos) {
      config->cluster_node_name.resize(dot);  // the short name
    }
  }
  const std::string& name = config->cluster_node_name;
  if (!cluster::ValidNodeName(name)) {
    return Status::InvalidArgument("cluster.node_name '" + name +
                                   "' must be 1 to 64 letters, digits, '.', '_' or '-'");
  }
  if (config->cluster_advertise.empty()) config->cluster_advertise = "http://" + config->listen.ToString();
  const std::string& adv = config->cluster_advertise;
  if (adv.rfind("http://", 0) != 0 || adv.size() <= 7 || adv.find_first_of(" \t\"\\") != std::string::npos) {
    return Status::InvalidArgument("cluster.advertise '" + adv + "' is not an http://HOST:PORT URL");
  }
  if (config->cluster_resubmit != "continue" && config->cluster_resubmit != "restart") {
    return Status::InvalidArgument("cluster.resubmit must be \"continue\" or \"restart\"");
  }
  if (scheduler::KvMovePolicy policy; !scheduler::ParseKvMovePolicy(config->cluster_kv_handoff, &policy)) {
    return Status::InvalidArgument("cluster.kv_handoff must be \"auto\", \"transfer\" or \"recompute\"");
  }
  if (config->cluster_instance != "on-demand" && config->cluster_instance != "spot") {
    return Status::InvalidArgument("cluster.instance must be \"on-demand\" or \"spot\"");
  }
  if (!(config->cluster_price_per_hour >= 0) || config->cluster_price_per_hour > 1e6) {
    return Status::InvalidArgument("cluster.price_per_hour must be a number in [0, 1000000]");
  }
  if (config->cluster_prefix.empty() || config->cluster_prefix.back() != '/') {
    return Status::InvalidArgument("cluster.prefix must end with '/'");
  }
  return Status::Ok();
}

void ApplyEnvironment(Config* config, const std::function<const char*(const char*)>& getenv) {
  if (const char* keys = getenv("HEARTH_API_KEYS"); keys && *keys) {
    config->api_keys.clear();
    std::string_view rest = keys;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view key = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
      while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
      if (!key.empty()) config->api_keys.emplace_back(key);
    }
  }
  if (const char* token = getenv("HEARTH_ADMIN_TOKEN"); token && *token) config->admin_token = token;
  if (const char* token = getenv("HEARTH_CLUSTER_TOKEN"); token && *token) config->cluster_token = token;
}

Status LoadConfigFile(const std::string& path, Config* config) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path << ":" << e.source().begin.line << ": " << e.description();
    return Status::InvalidArgument(msg.str());
  }
  HEARTH_RETURN_IF_ERROR(ReadHostPort(t, "listen", &config->listen));
  HEARTH_RETURN_IF_ERROR(ReadHostPort(t, "admin_listen", &config->admin_listen));
  HEARTH_RETURN_IF_ERROR(ReadString(t, "data_dir", &config->data_dir));
  HEARTH_RETURN_IF_ERROR(ReadString(t, "worker_binary", &config->worker_binary));
  HEARTH_RETURN_IF_ERROR(ReadString(t, "log_level", &config->log_level));
  if (auto v = t["worker_threads"].value<int64_t>()) {
    if (*v < 0 || *v > 1024) return Status::InvalidArgument("worker_threads must be in [0, 1024]");
    config->worker_threads = static_cast<int>(*v);
  }
  if (auto v = t["http_threads"].value<int64_t>()) {
    if (*v < 4 || *v > 65536) return Status::InvalidArgument("http_threads must be in [4, 65536]");
    config->http_threads = static_cast<int>(*v);
  } else if (t.contains("http_threads")) {
    return Status::InvalidArgument("http_threads must be an integer");
  }
  HEARTH_RETURN_IF_ERROR(ReadHttp(t, config));
  HEARTH_RETURN_IF_ERROR(ReadAuthAndRetention(t, config));
  HEARTH_RETURN_IF_ERROR(ReadLimitsAndHealth(t, config));
  HEARTH_RETURN_IF_ERROR(ReadScheduler(t, config));
  HEARTH_RETURN_IF_ERROR(ReadPreemption(t, config));
  if (t.contains("store")) {
    const toml::table* store = t["store"].as_table();
    if (store == nullptr) return Status::InvalidArgument("store must be a table");
    if (store->contains("synchronous")) {
      auto v = (*store)["synchronous"].value<std::string>();
      if (!v || (*v != "full" && *v != "normal")) {
        return Status::InvalidArgument("store.synchronous must be \"full\" or \"normal\"");
      }
      config->store_synchronous = *v;
    }
    if (store->contains("on_damage")) {
      auto v = (*store)["on_damage"].value<std::string>();
      if (!v) return Status::InvalidArgument("store.on_damage must be a string");
      HEARTH_RETURN_IF_ERROR(store::ParseOnDamage(*v).status());
      config->store_on_damage = *v;
    }
  }
  HEARTH_RETURN_IF_ERROR(ReadWorkers(t, config));
  HEARTH_RETURN_IF_ERROR(ReadPlacement(t, config));
  HEARTH_RETURN_IF_ERROR(ReadCluster(t, config));
  if (const toml::table* models = t["models"].as_table()) {
    for (const auto& [name, value] : *models) {
      auto p = value.value<std::string>();
      if (!p) return Status::InvalidArgument("models." + std::string(name.str()) + " must be a path string");
      config->models[std::string(name.str())] = *p;
    }
  }
  return Status::Ok();
}

}  // namespace hearth::daemon
