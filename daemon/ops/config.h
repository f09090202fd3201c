// hearthd's configuration: defaults, the TOML file, then command-line flags.
#pragma once

#include <cstdint>
#include <map>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hearth::daemon {

struct HostPort {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

StatusOr<HostPort> ParseHostPort(const std::string& text);

// A new field also goes into DiffConfig (config_reload.cc), or a reload ignores it silently.
struct Config {
  HostPort listen{"127.0.0.1", 8080};        // OpenAI-compatible API
  HostPort admin_listen{"127.0.0.1", 8081};  // admin API (hearthctl)
  std::string data_dir;  // empty: $STATE_DIRECTORY (systemd), else ~/.local/share/hearth
  std::map<std::string, std::string> models;  // name -> path of a GGUF file
  std::string worker_binary;                  // empty: next to hearthd
  std::string log_level = "info";
  int worker_threads = 0;  // CPU threads per worker; 0: all cores
  // Threads that run the API's handlers. A non-streamed completion holds one until it ends; a
  // stream holds none between its events, and idle connections none at all (a few I/O threads
  // own every socket). More concurrent non-streamed requests than this wait for a thread.
  int http_threads = 256;
  // [http]: the API listener's limits (docs/configuration.md).
  int http_max_connections = 16384;            // open at once; more are refused with 503
  int http_max_connections_per_client = 4096;  // from one IP address
  double http_header_timeout_seconds = 10;     // for a whole request head, however it trickles
  double http_body_timeout_seconds = 30;       // for a whole request body
  double http_keep_alive_seconds = 30;         // an idle connection between requests
  // Auth and request retention (owner: requests/admin API). Reloadable at run time.
  std::vector<std::string> api_keys;  // any set: /v1/* needs "Authorization: Bearer KEY"
  std::string admin_token;            // set: /admin/v1/* needs "Authorization: Bearer TOKEN"
  int64_t request_retention_seconds = 600;  // ended requests stay queryable this long...
  int64_t request_retention_count = 256;    // ...and at most this many of them
  // Overload control and health (owner: metrics; docs/metrics.md).
  int64_t max_queued_requests = 256;  // requests waiting for their first token; more get 429; 0: no limit
  int64_t max_queued_tokens = 65536;  // prompt tokens of those requests; 0: no limit
  double health_stall_seconds = 60;   // /healthz fails when work waits this long with no token; 0: never
  // [scheduler] (owner: scheduler; docs/engine.md).
  int32_t token_budget = 0;     // tokens per step; 0: measured by a short profile when a model loads
  int32_t max_num_seqs = 64;    // sequences per step and running at once
  bool chunked_prefill = true;  // false: whole prompts first (the baseline)
  double target_step_ms = 100;  // the profile's target for one step of token_budget tokens
  // [store] (owner: durability; docs/durability.md). "full": a committed token survives power
  // loss; "normal": it survives a crash of hearthd, but the last commits may be lost with power.
  std::string store_synchronous = "full";
  // What a database that fails PRAGMA quick_check at start does: "refuse" to start, "repair"
  // (rebuild its indexes), or "reset" (move it aside and start with an empty one).
  std::string store_on_damage = "refuse";
  // [workers] (owner: models; docs/models.md). Weights + KV caches of the warm models; a
  // request for a cold model evicts idle ones to fit. 0: no limit.
  uint64_t memory_budget_bytes = 0;
  // Host memory for staged copies (models evicted to staged, or staged by hand); 0: no staging.
  uint64_t staged_budget_bytes = 0;
  double model_wait_seconds = 60;  // how long a request waits for room before a 503
  // Universal workers on this node, each with its own process, engine loop, page pool
  // (memory_budget_bytes each) and staged budget: one per GPU; on CPU the cores split between
  // them (worker_threads each, or the cores / count).
  int worker_count = 1;
  // [placement] (docs/models.md, "Forecast"): each model's load is recorded per window and the
  // next window forecast from the same window of earlier periods.
  int64_t load_window_seconds = 300;
  int64_t load_period_seconds = 86400;
  // [placement]: "forecast" (prewarm by the forecast, evict the lowest-scored first) or "lru"
  // (load on request, evict the least recently used); the replicas' batch size (0: measured
  // per model); how often the prewarm plan runs.
  // [cluster] (docs/cluster.md): etcd's client URLs (empty: a single node, no cluster), this
  // node's name (default: the host name), the URL peers reach its API at (default: http://
  // listen), its instance type ("on-demand" or "spot") and price, and the keys' prefix.
  std::vector<std::string> cluster_etcd;
  std::string cluster_node_name;
  std::string cluster_advertise;
  std::string cluster_instance = "on-demand";
  double cluster_price_per_hour = 0;
  std::string cluster_prefix = "hearth/";
  // What a request that lost its node carries to the next: "continue" (its committed tokens:
  // the next node recomputes them in one prefill) or "restart" (nothing: it is generated again
  // from its prompt, as routers that lose a request do; a baseline for bench/spot).
  std::string cluster_resubmit = "continue";
  // How a draining node's requests move to the nodes taking them (docs/cluster.md, "KV
  // transfer"): "auto" (with their KV blocks when the estimate says sending them is faster than
  // recomputing them), "transfer" or "recompute".
  std::string cluster_kv_handoff = "auto";
  // HEARTH_CLUSTER_TOKEN (environment only): what node-to-node calls carry; required with etcd.
  std::string cluster_token;
  std::string placement_policy = "forecast";
  int64_t placement_batch_size = 0;
  int64_t prewarm_interval_ms = 1000;
  // [preemption] (docs/durability.md, "Preemption notices"). A notice is the
  // file appearing, or a 200 from the URL; empty: that source is off. The admin API is always on.
  std::string preemption_notice_file;
  std::string preemption_poll_url;  // "http://HOST:PORT/PATH"
  int64_t preemption_poll_interval_ms = 1000;
  double preemption_grace_seconds = 30;  // when the notice does not say
};

// Reads a TOML file into `config`, leaving fields it does not set alone.
// "a, b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitList(std::string_view text);

// Checks the [cluster] settings however they were given (file, flags): InvalidArgument naming
// the first bad one. Fills the node name and advertise URL when they are left out.
Status ValidateCluster(Config* config);

Status LoadConfigFile(const std::string& path, Config* config);

// Applies HEARTH_API_KEYS (comma-separated; replaces api_keys) and HEARTH_ADMIN_TOKEN (replaces
// admin_token) when they are set and not empty. `getenv` is injectable for tests.
void ApplyEnvironment(Config* config, const std::function<const char*(const char*)>& getenv);

// Parses "NAME=PATH".
Status AddModelFlag(const std::string& flag, Config* config);

}  // namespace hearth::daemon
