#include "daemon/ops/config_reload.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace hearth::daemon {
namespace {

bool SameHostPort(const HostPort& a, const HostPort& b) { return a.host == b.host && a.port == b.port; }

}  // namespace

ReloadReport DiffConfig(const Config& running, const Config& fresh) {
  ReloadReport r;
  auto applied = [&](bool same, const char* name) {
    if (!same) r.applied.push_back(name);
  };
  auto restart = [&](bool same, const char* name) {
    if (!same) r.restart_required.push_back(name);
  };
  applied(running.log_level == fresh.log_level, "log_level");
  applied(running.api_keys == fresh.api_keys, "api_keys");
  applied(running.admin_token == fresh.admin_token, "admin_token");
  applied(running.request_retention_seconds == fresh.request_retention_seconds, "request_retention_seconds");
  applied(running.request_retention_count == fresh.request_retention_count, "request_retention_count");
  applied(running.max_queued_requests == fresh.max_queued_requests, "max_queued_requests");
  applied(running.max_queued_tokens == fresh.max_queued_tokens, "max_queued_tokens");
  restart(SameHostPort(running.listen, fresh.listen), "listen");
  restart(SameHostPort(running.admin_listen, fresh.admin_listen), "admin_listen");
  restart(running.data_dir == fresh.data_dir, "data_dir");
  restart(running.models == fresh.models, "models");
  restart(running.worker_binary == fresh.worker_binary, "worker_binary");
  restart(running.worker_threads == fresh.worker_threads, "worker_threads");
  restart(running.http_threads == fresh.http_threads, "http_threads");
  restart(running.http_max_connections == fresh.http_max_connections, "http.max_connections");
  restart(running.http_max_connections_per_client == fresh.http_max_connections_per_client,
          "http.max_connections_per_client");
  restart(running.http_header_timeout_seconds == fresh.http_header_timeout_seconds, "http.header_timeout_seconds");
  restart(running.http_body_timeout_seconds == fresh.http_body_timeout_seconds, "http.body_timeout_seconds");
  restart(running.http_keep_alive_seconds == fresh.http_keep_alive_seconds, "http.keep_alive_seconds");
  restart(running.health_stall_seconds == fresh.health_stall_seconds, "health_stall_seconds");
  restart(running.token_budget == fresh.token_budget, "token_budget");
  restart(running.max_num_seqs == fresh.max_num_seqs, "max_num_seqs");
  restart(running.chunked_prefill == fresh.chunked_prefill, "chunked_prefill");
  restart(running.target_step_ms == fresh.target_step_ms, "target_step_ms");
  restart(running.store_synchronous == fresh.store_synchronous, "store.synchronous");
  restart(running.store_on_damage == fresh.store_on_damage, "store.on_damage");
  restart(running.memory_budget_bytes == fresh.memory_budget_bytes, "workers.memory_budget_bytes");
  restart(running.staged_budget_bytes == fresh.staged_budget_bytes, "workers.staged_budget_bytes");
  restart(running.model_wait_seconds == fresh.model_wait_seconds, "workers.model_wait_seconds");
  restart(running.worker_count == fresh.worker_count, "workers.count");
  restart(running.load_window_seconds == fresh.load_window_seconds, "placement.window_seconds");
  restart(running.load_period_seconds == fresh.load_period_seconds, "placement.period_seconds");
  restart(running.placement_policy == fresh.placement_policy, "placement.policy");
  restart(running.cluster_etcd == fresh.cluster_etcd, "cluster.etcd");
  restart(running.cluster_node_name == fresh.cluster_node_name, "cluster.node_name");
  restart(running.cluster_advertise == fresh.cluster_advertise, "cluster.advertise");
  restart(running.cluster_instance == fresh.cluster_instance, "cluster.instance");
  restart(running.cluster_price_per_hour == fresh.cluster_price_per_hour, "cluster.price_per_hour");
  restart(running.cluster_prefix == fresh.cluster_prefix, "cluster.prefix");
  restart(running.placement_batch_size == fresh.placement_batch_size, "placement.batch_size");
  restart(running.prewarm_interval_ms == fresh.prewarm_interval_ms, "placement.prewarm_interval_ms");
  restart(running.preemption_notice_file == fresh.preemption_notice_file, "preemption.notice_file");
  restart(running.preemption_poll_url == fresh.preemption_poll_url, "preemption.poll_url");
  restart(running.preemption_poll_interval_ms == fresh.preemption_poll_interval_ms, "preemption.poll_interval_ms");
  restart(running.preemption_grace_seconds == fresh.preemption_grace_seconds, "preemption.grace_seconds");
  return r;
}

Config MergeReloadable(const Config& running, const Config& fresh) {
  Config out = running;
  out.log_level = fresh.log_level;
  out.api_keys = fresh.api_keys;
  out.admin_token = fresh.admin_token;
  out.request_retention_seconds = fresh.request_retention_seconds;
  out.request_retention_count = fresh.request_retention_count;
  out.max_queued_requests = fresh.max_queued_requests;
  out.max_queued_tokens = fresh.max_queued_tokens;
  return out;
}

std::string ReloadReportJson(const ReloadReport& report) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (auto [key, names] : {std::pair{"applied", &report.applied}, {"restart_required", &report.restart_required}}) {
    w.Key(key);
    w.StartArray();
    for (const std::string& name : *names) w.String(name.c_str());
    w.EndArray();
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace hearth::daemon
