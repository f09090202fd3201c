// What an operator wires to a live hearthd (docs/metrics.md, "Dashboard and alerts"):
// packaging/prometheus/hearth-alerts.yml passes `promtool check rules`, and every metric the alert
// rules and packaging/grafana/hearth.json use is one that a live hearthd serves. (/metrics itself
// goes through `promtool check metrics` in metrics_promtool_test.cc.) Skipped without promtool
// (Debian's prometheus package, which scripts/install-deps installs) or without the model.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// promtool's output with its exit code (stderr too: that is where it explains).
RunResult Promtool(const std::string& args) { return RunCommand({"sh", "-c", "promtool " + args + " 2>&1"}); }

// Metric names in PromQL text: hearth_* and process_*, a histogram's series named by family.
std::set<std::string> MetricNames(const std::string& promql) {
  static const std::regex kName(R"(\b(hearth_[a-z_]+|process_[a-z_]+)\b)");
  std::set<std::string> out;
  for (std::sregex_iterator it(promql.begin(), promql.end(), kName), end; it != end; ++it) {
    std::string name = (*it)[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        name.resize(name.size() - s.size());
      }
    }
    out.insert(name);
  }
  return out;
}

void CollectExprs(const rapidjson::Value& v, std::vector<std::string>* out) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (std::string(it->name.GetString()) == "expr" && it->value.IsString()) out->push_back(it->value.GetString());
      CollectExprs(it->value, out);
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) CollectExprs(e, out);
  }
}

TEST(ObservabilityTest, AlertRulesPassPromtool) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (apt-get install prometheus; scripts/install-deps)";
  const std::string rules = SourcePath("packaging/prometheus/hearth-alerts.yml");
  RunResult r = Promtool("check rules '" + rules + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  for (const char* alert : {"HearthEngineStalled", "HearthQueueGrowing", "HearthKvCacheNearlyFull",
                            "HearthWorkerRestarts", "HearthStoreCommitErrors"}) {
    std::string line = "alert: ";
    line.append(alert).append("\n");
    EXPECT_NE(ReadFile(rules).find(line), std::string::npos) << alert;
  }
}

TEST(ObservabilityTest, DashboardIsJsonWithQueries) {
  rapidjson::Document d;
  const std::string text = ReadFile(SourcePath("packaging/grafana/hearth.json"));
  d.Parse(text.c_str(), text.size());
  ASSERT_FALSE(d.HasParseError()) << "packaging/grafana/hearth.json is not JSON";
  ASSERT_TRUE(d.HasMember("panels") && d["panels"].IsArray());
  std::vector<std::string> exprs;
  CollectExprs(d, &exprs);
  EXPECT_GE(exprs.size(), 10u);
  for (const std::string& e : exprs) EXPECT_FALSE(MetricNames(e).empty()) << "a query without a hearth metric: " << e;
}

class LiveMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    dir_ = TempDir();
    std::ofstream(dir_ + "/hearth.toml").flush();
    port_ = FreePort();
    daemon_ = std::make_unique<HearthdProcess>(dir_, port_, FreePort());
    ASSERT_TRUE(daemon_->healthy()) << daemon_->process().Log();
    // One request, so that the per-request histograms have series too.
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(120, 0);
    auto r = cli.Post("/v1/completions", R"({"model":"smollm2","prompt":"Hello","max_tokens":4})", "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    metrics_ = HttpGet(port_, "/metrics").body;
    ASSERT_FALSE(metrics_.empty());
  }
  void TearDown() override {
    daemon_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Families the live /metrics declares.
  std::set<std::string> Families() const {
    std::set<std::string> out;
    std::istringstream in(metrics_);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("# TYPE ", 0) == 0) out.insert(line.substr(7, line.find(' ', 7) - 7));
    }
    return out;
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<HearthdProcess> daemon_;
  std::string metrics_;
};

TEST_F(LiveMetricsTest, EveryMetricTheDashboardAndAlertsUseIsServed) {
  const std::set<std::string> served = Families();
  for (const char* name : {"hearth_build_info", "process_resident_memory_bytes", "hearth_kv_cache_usage_ratio",
                           "hearth_num_requests_waiting", "hearth_num_requests_running"}) {
    EXPECT_TRUE(served.count(name)) << name;
  }
  rapidjson::Document d;
  const std::string dashboard = ReadFile(SourcePath("packaging/grafana/hearth.json"));
  d.Parse(dashboard.c_str(), dashboard.size());
  ASSERT_FALSE(d.HasParseError());
  std::vector<std::string> exprs;
  CollectExprs(d, &exprs);
  for (const char* key : {"query", "definition"}) {  // the template variables' queries too
    for (const auto& v : d["templating"]["list"].GetArray()) {
      if (v.HasMember(key) && v[key].IsString()) exprs.push_back(v[key].GetString());
      if (v.HasMember(key) && v[key].IsObject() && v[key].HasMember("query"))
        exprs.push_back(v[key]["query"].GetString());
    }
  }
  exprs.push_back(ReadFile(SourcePath("packaging/prometheus/hearth-alerts.yml")));
  for (const std::string& e : exprs) {
    for (const std::string& name : MetricNames(e)) {
      EXPECT_TRUE(served.count(name)) << name << " (in " << e.substr(0, 200) << ") is not in /metrics";
    }
  }
  // Each per-model series is labelled with the model.
  for (const char* series :
       {"hearth_generated_tokens_total{model=\"smollm2\"}", "hearth_kv_blocks_used{model=\"smollm2\"}",
        "hearth_prefix_cache_hit_blocks_total{model=\"smollm2\"}", "hearth_kv_cache_usage_ratio{model=\"smollm2\"}",
        "hearth_num_requests_waiting{model=\"smollm2\"}"}) {
    std::string line = "\n";
    line.append(series).append(" ");
    EXPECT_NE(metrics_.find(line), std::string::npos) << series;
  }
}

}  // namespace
}  // namespace hearth::testing
