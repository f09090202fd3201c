#include "daemon/ops/config.h"

#include <gtest/gtest.h>

#include <functional>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

#include "daemon/ops/config_reload.h"

namespace hearth::daemon {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/hearth-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, ParsesHostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:8080")->port, 8080);
  EXPECT_EQ(ParseHostPort("[::1]:9")->host, "::1");
  EXPECT_FALSE(ParseHostPort("nohost").ok());
  EXPECT_FALSE(ParseHostPort("h:99999").ok());
  EXPECT_FALSE(ParseHostPort("h:-1").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
}

TEST(ConfigTest, FileOverridesDefaults) {
  std::string path = WriteTemp(
      "listen = \"0.0.0.0:9000\"\n"
      "data_dir = \"/tmp/x\"\n"
      "[models]\n"
      "smol = \"/models/smol.gguf\"\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 9000);
  EXPECT_EQ(c.admin_listen.port, 8081);  // untouched default
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.models.at("smol"), "/models/smol.gguf");
  std::remove(path.c_str());
}

TEST(ConfigTest, BadFileNamesTheProblem) {
  std::string path = WriteTemp("listen = 8080\n");
  Config c;
  Status st = LoadConfigFile(path, &c);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("listen"), std::string::npos);
  std::remove(path.c_str());

  path = WriteTemp("listen = \n");
  st = LoadConfigFile(path, &c);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find(":1"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ConfigTest, ModelFlag) {
  Config c;
  EXPECT_TRUE(AddModelFlag("smol=/a/b.gguf", &c).ok());
  EXPECT_EQ(c.models.at("smol"), "/a/b.gguf");
  EXPECT_FALSE(AddModelFlag("smol", &c).ok());
  EXPECT_FALSE(AddModelFlag("=x", &c).ok());
}

TEST(ConfigTest, SchedulerTable) {
  Config defaults;
  EXPECT_EQ(defaults.token_budget, 0);  // measured at model load
  EXPECT_TRUE(defaults.chunked_prefill);
  std::string path = WriteTemp(
      "[scheduler]\n"
      "token_budget = 256\n"
      "max_num_seqs = 16\n"
      "chunked_prefill = false\n"
      "target_step_ms = 50.5\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.token_budget, 256);
  EXPECT_EQ(c.max_num_seqs, 16);
  EXPECT_FALSE(c.chunked_prefill);
  EXPECT_DOUBLE_EQ(c.target_step_ms, 50.5);
  std::remove(path.c_str());

  for (const char* bad : {"[scheduler]\ntoken_budget = -1\n", "[scheduler]\nmax_num_seqs = 0\n",
                          "[scheduler]\nchunked_prefill = 1\n", "[scheduler]\ntarget_step_ms = 0\n",
                          "scheduler = 3\n"}) {
    path = WriteTemp(bad);
    Config b;
    Status st = LoadConfigFile(path, &b);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    EXPECT_NE(st.message().find("scheduler"), std::string::npos) << st.ToString();
    std::remove(path.c_str());
  }
}

TEST(ConfigTest, WorkersTable) {
  Config defaults;
  EXPECT_EQ(defaults.memory_budget_bytes, 0u);  // no limit
  EXPECT_EQ(defaults.staged_budget_bytes, 0u);  // no staging
  std::string path = WriteTemp(
      "[workers]\nmemory_budget_bytes = 2000000000\nstaged_budget_bytes = 3000000000\nmodel_wait_seconds = 5.5\n"
      "count = 2\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.memory_budget_bytes, 2000000000u);
  EXPECT_EQ(c.staged_budget_bytes, 3000000000u);
  EXPECT_DOUBLE_EQ(c.model_wait_seconds, 5.5);
  EXPECT_EQ(c.worker_count, 2);
  EXPECT_EQ(defaults.worker_count, 1);
  std::remove(path.c_str());
  for (const char* bad : {"[workers]\nmemory_budget_bytes = -1\n", "[workers]\nmemory_budget_bytes = \"1G\"\n",
                          "[workers]\nstaged_budget_bytes = -5\n", "[workers]\nmodel_wait_seconds = -2\n",
                          "[workers]\ncount = 0\n", "[workers]\ncount = \"two\"\n", "workers = 1\n"}) {
    path = WriteTemp(bad);
    Config b;
    Status st = LoadConfigFile(path, &b);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    EXPECT_NE(st.message().find("workers"), std::string::npos) << st.ToString();
    std::remove(path.c_str());
  }
}

TEST(ConfigTest, PlacementTable) {
  EXPECT_EQ(Config().load_window_seconds, 300);
  EXPECT_EQ(Config().load_period_seconds, 86400);
  std::string path = WriteTemp("[placement]\nwindow_seconds = 60\nperiod_seconds = 3600\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.load_window_seconds, 60);
  EXPECT_EQ(c.load_period_seconds, 3600);
  std::remove(path.c_str());
  EXPECT_EQ(c.placement_policy, "forecast");  // the default
  EXPECT_EQ(c.placement_batch_size, 0);
  EXPECT_EQ(c.prewarm_interval_ms, 1000);
  path = WriteTemp("[placement]\npolicy = \"lru\"\nbatch_size = 32\nprewarm_interval_ms = 250\n");
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.placement_policy, "lru");
  EXPECT_EQ(c.placement_batch_size, 32);
  EXPECT_EQ(c.prewarm_interval_ms, 250);
  std::remove(path.c_str());
  for (const char* bad : {"[placement]\nwindow_seconds = 0\n", "[placement]\nperiod_seconds = \"day\"\n",
                          "[placement]\nwindow_seconds = 600\nperiod_seconds = 300\n", "placement = 1\n",
                          "[placement]\npolicy = \"random\"\n", "[placement]\npolicy = 1\n",
                          "[placement]\nbatch_size = -1\n", "[placement]\nprewarm_interval_ms = 0\n",
                          "[placement]\npolcy = \"lru\"\n"}) {
    path = WriteTemp(bad);
    Config b;
    Status st = LoadConfigFile(path, &b);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    EXPECT_NE(st.message().find("placement"), std::string::npos) << st.ToString();
    std::remove(path.c_str());
  }
}

TEST(ConfigTest, ClusterTableAndItsChecks) {
  Config none;
  EXPECT_TRUE(ValidateCluster(&none).ok()) << "no etcd: no cluster, nothing to check";
  EXPECT_TRUE(none.cluster_node_name.empty());
  std::string path = WriteTemp(
      "listen = \"127.0.0.1:9000\"\n[cluster]\netcd = [\"http://10.0.0.1:2379\", \"http://10.0.0.2:2379\"]\n"
      "node_name = \"n1\"\ninstance = \"spot\"\nprice_per_hour = 0.5\nkv_handoff = \"recompute\"\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  std::remove(path.c_str());
  EXPECT_TRUE(ValidateCluster(&c).IsInvalidArgument()) << "no HEARTH_CLUSTER_TOKEN";
  ApplyEnvironment(&c, [](const char* name) -> const char* {
    return std::string(name) == "HEARTH_CLUSTER_TOKEN" ? "short" : nullptr;
  });
  EXPECT_EQ(c.cluster_token, "short");
  EXPECT_TRUE(ValidateCluster(&c).IsInvalidArgument()) << "a token too short to be a secret";
  c.cluster_token = "0123456789abcdef";
  ASSERT_TRUE(ValidateCluster(&c).ok());
  EXPECT_EQ(c.cluster_etcd, (std::vector<std::string>{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}));
  EXPECT_EQ(c.cluster_node_name, "n1");
  EXPECT_EQ(c.cluster_advertise, "http://127.0.0.1:9000") << "advertised as listened to";
  EXPECT_EQ(c.cluster_instance, "spot");
  EXPECT_DOUBLE_EQ(c.cluster_price_per_hour, 0.5);
  EXPECT_EQ(c.cluster_kv_handoff, "recompute");
  EXPECT_EQ(Config().cluster_kv_handoff, "auto");
  // A comma-separated string, as --etcd takes it; the node name defaults to the host's.
  path = WriteTemp("[cluster]\netcd = \"http://a:1, http://b:2\"\n");
  Config d;
  ASSERT_TRUE(LoadConfigFile(path, &d).ok());
  std::remove(path.c_str());
  d.cluster_token = c.cluster_token;
  ASSERT_TRUE(ValidateCluster(&d).ok());
  EXPECT_EQ(d.cluster_etcd.size(), 2u);
  EXPECT_FALSE(d.cluster_node_name.empty());
  for (const char* bad : {"[cluster]\netcd = 1\n", "[cluster]\nnodes = 3\n", "cluster = 2\n",
                          "[cluster]\nprice_per_hour = \"cheap\"\n"}) {
    path = WriteTemp(bad);
    Config b;
    EXPECT_TRUE(LoadConfigFile(path, &b).IsInvalidArgument()) << bad;
    std::remove(path.c_str());
  }
  for (auto change : std::vector<std::function<void(Config&)>>{
           [](Config& x) { x.cluster_etcd = {"https://a:1"}; }, [](Config& x) { x.cluster_node_name = "a/b"; },
           [](Config& x) { x.cluster_advertise = "ftp://x"; }, [](Config& x) { x.cluster_instance = "cheap"; },
           [](Config& x) { x.cluster_price_per_hour = -1; }, [](Config& x) { x.cluster_prefix = "hearth"; },
           [](Config& x) { x.cluster_resubmit = "retry"; }, [](Config& x) { x.cluster_kv_handoff = "copy"; }}) {
    Config x = c;
    change(x);
    EXPECT_TRUE(ValidateCluster(&x).IsInvalidArgument());
  }
}

TEST(ConfigTest, HttpTable) {
  std::string path = WriteTemp(
      "[http]\nmax_connections = 20000\nmax_connections_per_client = 64\nheader_timeout_seconds = 2.5\n"
      "body_timeout_seconds = 7\nkeep_alive_seconds = 1\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.http_max_connections, 20000);
  EXPECT_EQ(c.http_max_connections_per_client, 64);
  EXPECT_DOUBLE_EQ(c.http_header_timeout_seconds, 2.5);
  EXPECT_DOUBLE_EQ(c.http_body_timeout_seconds, 7);
  EXPECT_DOUBLE_EQ(c.http_keep_alive_seconds, 1);
  std::remove(path.c_str());
  for (const char* bad : {"[http]\nmax_connections = 0\n", "[http]\nmax_connections_per_client = \"many\"\n",
                          "[http]\nheader_timeout_seconds = 0\n", "[http]\nkeep_alive_seconds = -1\n", "http = 3\n"}) {
    path = WriteTemp(bad);
    Config b;
    Status st = LoadConfigFile(path, &b);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    EXPECT_NE(st.message().find("http"), std::string::npos) << st.ToString();
    std::remove(path.c_str());
  }
}

TEST(ConfigTest, StoreOnDamage) {
  EXPECT_EQ(Config().store_on_damage, "refuse");
  std::string path = WriteTemp("[store]\non_damage = \"reset\"\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.store_on_damage, "reset");
  std::remove(path.c_str());
  for (const char* bad : {"[store]\non_damage = \"ignore\"\n", "[store]\non_damage = 1\n"}) {
    path = WriteTemp(bad);
    Config b;
    Status st = LoadConfigFile(path, &b);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    EXPECT_NE(st.message().find("on_damage"), std::string::npos) << st.ToString();
    std::remove(path.c_str());
  }
}

TEST(ConfigTest, HttpThreads) {
  // Streams hold no handler thread (the listener is asynchronous); non-streamed completions do,
  // so the default still runs as many of them at once as the engine can (max_num_seqs) and more.
  EXPECT_GE(Config{}.http_threads, 4 * Config{}.max_num_seqs);
  std::string path = WriteTemp("http_threads = 64\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.http_threads, 64);
  std::remove(path.c_str());
  for (const char* bad : {"http_threads = 0\n", "http_threads = \"many\"\n"}) {
    path = WriteTemp(bad);
    Config b;
    EXPECT_TRUE(LoadConfigFile(path, &b).IsInvalidArgument()) << bad;
    std::remove(path.c_str());
  }
}

TEST(ConfigTest, QueueLimitsAndHealthStall) {
  Config defaults;
  EXPECT_EQ(defaults.max_queued_requests, 256);
  EXPECT_EQ(defaults.max_queued_tokens, 65536);
  EXPECT_DOUBLE_EQ(defaults.health_stall_seconds, 60);
  std::string path = WriteTemp(
      "max_queued_requests = 3\n"
      "max_queued_tokens = 0\n"
      "health_stall_seconds = 12\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.max_queued_requests, 3);
  EXPECT_EQ(c.max_queued_tokens, 0);
  EXPECT_DOUBLE_EQ(c.health_stall_seconds, 12);
  std::remove(path.c_str());

  for (const char* bad : {"max_queued_requests = -1\n", "max_queued_tokens = \"lots\"\n",
                          "health_stall_seconds = -0.5\n", "health_stall_seconds = \"1m\"\n"}) {
    path = WriteTemp(bad);
    Config b;
    Status st = LoadConfigFile(path, &b);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    std::remove(path.c_str());
  }
}

TEST(ConfigTest, PreemptionTable) {
  Config defaults;
  EXPECT_TRUE(defaults.preemption_notice_file.empty());
  EXPECT_DOUBLE_EQ(defaults.preemption_grace_seconds, 30);
  EXPECT_EQ(defaults.preemption_poll_interval_ms, 1000);
  std::string path = WriteTemp(
      "[preemption]\nnotice_file = \"/run/n\"\npoll_url = \"http://127.0.0.1:9/x\"\npoll_interval_ms = 200\n"
      "grace_seconds = 10\n");
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.preemption_notice_file, "/run/n");
  EXPECT_EQ(c.preemption_poll_url, "http://127.0.0.1:9/x");
  EXPECT_EQ(c.preemption_poll_interval_ms, 200);
  EXPECT_DOUBLE_EQ(c.preemption_grace_seconds, 10);
  std::remove(path.c_str());
  for (const char* bad : {"[preemption]\ngrace_seconds = -1\n", "[preemption]\npoll_interval_ms = 5\n",
                          "[preemption]\nnotice_file = 3\n", "preemption = 1\n"}) {
    path = WriteTemp(bad);
    Config b;
    Status st = LoadConfigFile(path, &b);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    EXPECT_NE(st.message().find("preemption"), std::string::npos) << st.ToString();
    std::remove(path.c_str());
  }
}

// The packaged configuration sets every option to its default (its header says so): loaded, it
// differs from the defaults only in data_dir.
TEST(ConfigTest, PackagedConfigIsTheDefaults) {
  const char* source = std::getenv("HEARTH_SOURCE_DIR");
  Config packaged;
  ASSERT_TRUE(LoadConfigFile(std::string(source ? source : ".") + "/systemd/hearth.toml", &packaged).ok());
  EXPECT_EQ(packaged.data_dir, "/var/lib/hearth");
  packaged.data_dir = "";
  const ReloadReport diff = DiffConfig(Config{}, packaged);
  EXPECT_TRUE(diff.applied.empty()) << diff.applied.front();
  EXPECT_TRUE(diff.restart_required.empty()) << diff.restart_required.front();
  EXPECT_TRUE(packaged.models.empty());
}

}  // namespace
}  // namespace hearth::daemon
