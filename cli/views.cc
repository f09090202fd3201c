#include "cli/views.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "cli/metrics_summary.h"
#include "cli/table.h"

namespace hearth::cli {
namespace {

std::string Str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject() || !obj.HasMember(key)) return "";
  const rapidjson::Value& v = obj[key];
  if (v.IsString()) return v.GetString();
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  if (v.IsNull()) return "-";
  if (v.IsArray()) {
    std::string out;
    for (const auto& e : v.GetArray()) {
      if (!out.empty()) out += ", ";
      out += e.IsString() ? e.GetString() : "?";
    }
    return out.empty() ? "-" : out;
  }
  return "";
}

StatusOr<rapidjson::Document> Parse(const std::string& json, const char* what) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject()) {
    return Status::Corruption(std::string("the daemon's ") + what + " answer is not a JSON object");
  }
  return d;
}

StatusOr<const rapidjson::Value*> DataArray(const rapidjson::Document& d, const char* what) {
  if (!d.HasMember("data") || !d["data"].IsArray()) {
    return Status::Corruption(std::string("the daemon's ") + what + " answer has no data list");
  }
  return &d["data"];
}

// A number of requests in flight, to one decimal and without a trailing ".0": "1.2", "3".
std::string Load(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", x);
  std::string out = buf;
  if (out.size() > 2 && out.compare(out.size() - 2, 2, ".0") == 0) out.resize(out.size() - 2);
  return out == "-0" ? "0" : out;
}

std::optional<double> Number(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject() || !obj.HasMember(key) || !obj[key].IsNumber()) return std::nullopt;
  return obj[key].GetDouble();
}

// "A/B" of two numbers of `obj`, each by `format`; "-" when either is missing (an older hearthd).
template <typename Format>
std::string Pair(const rapidjson::Value& obj, const char* a, const char* b, Format format) {
  const std::optional<double> x = Number(obj, a), y = Number(obj, b);
  return x && y ? format(*x) + "/" + format(*y) : "-";
}

std::string Seconds(double s) {
  char buf[32];
  if (std::isnan(s)) return "-";
  if (s < 1)
    std::snprintf(buf, sizeof(buf), "%.0f ms", s * 1000);
  else
    std::snprintf(buf, sizeof(buf), "%.2f s", s);
  return buf;
}

}  // namespace

StatusOr<std::string> RenderStatus(const std::string& status_json) {
  rapidjson::Document d;
  d.Parse(status_json.c_str());
  if (d.HasParseError() || !d.IsObject()) return Status::Corruption("daemon sent a status that is not a JSON object");
  std::ostringstream out;
  out << "hearthd " << Str(d, "version") << "  pid " << Str(d, "pid") << "  up " << Str(d, "uptime_s") << "s  listen "
      << Str(d, "listen") << "\n";
  if (d.HasMember("draining") && d["draining"].IsBool()) {
    out << (d["draining"].GetBool() ? "draining: new requests get 503\n" : "accepting requests\n");
  }
  if (d.HasMember("engine") && d["engine"].IsObject()) {
    const rapidjson::Value& e = d["engine"];
    out << "requests: " << Str(e, "waiting") << " queued, " << Str(e, "running") << " running\n";
    if (e.HasMember("kv_blocks_total") && e["kv_blocks_total"].IsInt64() && e.HasMember("kv_blocks_free") &&
        e["kv_blocks_free"].IsInt64()) {
      const int64_t total = e["kv_blocks_total"].GetInt64();
      const int64_t used = total - e["kv_blocks_free"].GetInt64();
      out << "kv blocks: " << used << " used of " << total;
      if (total > 0) out << " (" << used * 100 / total << "%)";
      out << "\n";
    }
  }
  out << "\n";
  Table workers({"WORKER", "PID", "BACKEND", "DEVICE", "ALIVE"});
  if (d.HasMember("workers") && d["workers"].IsArray()) {
    for (const auto& w : d["workers"].GetArray()) {
      workers.AddRow({Str(w, "id"), Str(w, "pid"), Str(w, "backend"), Str(w, "device"), Str(w, "alive")});
    }
  }
  out << workers.Render() << "\n";
  Table models({"MODEL", "STATE", "WORKER", "QUEUED", "RUNNING", "KV_BLOCKS", "PATH"});
  if (d.HasMember("models") && d["models"].IsArray()) {
    for (const auto& m : d["models"].GetArray()) {
      const std::string kv =
          m.HasMember("kv_blocks_total") ? Str(m, "kv_blocks_used") + "/" + Str(m, "kv_blocks_total") : "";
      models.AddRow(
          {Str(m, "name"), Str(m, "state"), Str(m, "worker"), Str(m, "queued"), Str(m, "running"), kv, Str(m, "path")});
    }
  }
  out << models.Render();
  return out.str();
}

StatusOr<std::string> RenderModels(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "models"));
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* data, DataArray(d, "models"));
  // PLAN: where the last prewarm plan put the model; PRED: the next window's predicted requests
  // in flight, average/peak; PREWARM: prewarm hits/waste (docs/models.md, "Prewarm").
  Table t({"MODEL", "STATE", "PLAN", "WORKER", "PINNED", "LOADS", "SWAPS", "REQUESTS", "PRED", "SCORE", "PREWARM",
           "MIB", "STAGED_MIB", "CONTEXT", "PATH"});
  auto u64 = [](const rapidjson::Value& m, const char* key) -> uint64_t {
    return m.HasMember(key) && m[key].IsUint64() ? m[key].GetUint64() : 0;
  };
  auto count = [](double x) { return std::to_string(std::llround(x)); };
  for (const auto& m : data->GetArray()) {
    const std::string swaps = Str(m, "swap_ins") + "/" + Str(m, "swap_outs");
    const std::string plan = Str(m, "planned_state");
    const std::optional<double> score = Number(m, "score");
    char score_text[32] = "-";
    if (score) std::snprintf(score_text, sizeof(score_text), "%.2f", *score);
    t.AddRow({Str(m, "name"), Str(m, "state"), plan.empty() ? "-" : plan, Str(m, "worker"), Str(m, "pinned"),
              Str(m, "loads"), swaps, Str(m, "active_requests"), Pair(m, "predicted_avg", "predicted_peak", Load),
              score_text, Pair(m, "prewarm_hits", "prewarm_waste", count), std::to_string(u64(m, "bytes") >> 20),
              std::to_string(u64(m, "staged_bytes") >> 20), Str(m, "context_length"), Str(m, "path")});
  }
  return t.Render();
}

StatusOr<std::string> RenderModel(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "model"));
  std::ostringstream out;
  out << Str(d, "name") << ": " << Str(d, "state") << (d.HasMember("pinned") && d["pinned"].IsTrue() ? ", pinned" : "");
  if (d.HasMember("last_error") && d["last_error"].IsString()) out << " (" << d["last_error"].GetString() << ")";
  out << "\n";
  return out.str();
}

StatusOr<std::string> RenderHistory(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "history"));
  if (!d.HasMember("windows") || !d["windows"].IsArray() || !d.HasMember("forecast") || !d["forecast"].IsObject()) {
    return Status::Internal("the history has no windows or forecast");
  }
  auto num = [](const rapidjson::Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsNumber() ? v[key].GetDouble() : 0.0;
  };
  auto fixed = [](double x) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(2) << x;
    return s.str();
  };
  Table t({"START_UTC", "SECONDS", "AVG", "PEAK", "ARRIVALS"});
  for (const auto& w : d["windows"].GetArray()) {
    const std::time_t start = static_cast<std::time_t>(num(w, "start"));
    std::tm tm{};
    gmtime_r(&start, &tm);
    char when[32];
    std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    t.AddRow({when, Str(w, "seconds"), fixed(num(w, "avg")), fixed(num(w, "peak")), Str(w, "arrivals")});
  }
  const rapidjson::Value& f = d["forecast"];
  std::ostringstream out;
  out << t.Render() << "next window: avg " << fixed(num(f, "avg")) << ", peak " << fixed(num(f, "peak"))
      << " (baseline " << fixed(num(f, "baseline_avg")) << " from "
      << (f.HasMember("periodic") && f["periodic"].IsTrue() ? "earlier periods" : "recent windows") << ", correction "
      << fixed(num(f, "correction_avg")) << ")\n";
  if (d.HasMember("error") && d["error"].IsObject()) {  // an older hearthd has none
    const rapidjson::Value& e = d["error"];
    const int64_t windows = e.HasMember("windows") && e["windows"].IsInt64() ? e["windows"].GetInt64() : 0;
    if (windows == 0) {
      out << "forecast error: too few windows to compare\n";
    } else {
      out << "forecast MAE over " << windows << " window" << (windows == 1 ? "" : "s") << ": avg "
          << fixed(num(e, "avg")) << ", peak " << fixed(num(e, "peak")) << " (naive next = last: avg "
          << fixed(num(e, "naive_avg")) << ", peak " << fixed(num(e, "naive_peak")) << ")\n";
    }
  }
  return out.str();
}

std::string RenderModelProgress(const std::string& list_json, const std::string& name, int width) {
  rapidjson::Document d;
  d.Parse(list_json.c_str(), list_json.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("data") || !d["data"].IsArray()) return "";
  for (const auto& m : d["data"].GetArray()) {
    if (!m.IsObject() || Str(m, "name") != name) continue;
    const std::string state = Str(m, "state");
    if (state != "loading" && state != "staging" && state != "unloading") return "";
    std::ostringstream out;
    out << name << " " << state;
    if (m.HasMember("progress") && m["progress"].IsObject()) {
      const rapidjson::Value& p = m["progress"];
      const uint64_t done = p.HasMember("done") && p["done"].IsUint64() ? p["done"].GetUint64() : 0;
      const uint64_t total = p.HasMember("total") && p["total"].IsUint64() ? p["total"].GetUint64() : 0;
      if (total > 0 && done <= total) {
        const int filled = static_cast<int>(done * static_cast<uint64_t>(width) / total);
        out << " [" << std::string(static_cast<size_t>(filled), '#')
            << std::string(static_cast<size_t>(width - filled), '.') << "] " << done * 100 / total << "% "
            << (done >> 20) << "/" << (total >> 20) << " MiB";
      }
    }
    return out.str();
  }
  return "";
}

StatusOr<std::string> RenderRequests(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "requests"));
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* data, DataArray(d, "requests"));
  Table t({"ID", "MODEL", "STATE", "PROMPT", "COMPLETION", "FINISH", "ENDPOINT"});
  for (const auto& r : data->GetArray()) {
    t.AddRow({Str(r, "id"), Str(r, "model"), Str(r, "state"), Str(r, "prompt_tokens"), Str(r, "completion_tokens"),
              Str(r, "finish_reason"), Str(r, "endpoint")});
  }
  return t.Render();
}

StatusOr<std::string> RenderRequest(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "request"));
  std::ostringstream out;
  for (const char* key : {"id", "model", "endpoint", "state", "prompt_tokens", "completion_tokens", "finish_reason",
                          "created", "finished_at"}) {
    out << key << ": " << Str(d, key) << "\n";
  }
  if (d.HasMember("error") && d["error"].IsObject())
    out << "error: " << Str(d["error"], "message") << "\n";
  else if (d.HasMember("error") && d["error"].IsString())
    out << "error: " << d["error"].GetString() << "\n";
  out << "text:\n" << Str(d, "text") << "\n";
  return out.str();
}

StatusOr<std::string> RenderWorkers(const std::string& status_json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(status_json, "status"));
  if (!d.HasMember("workers") || !d["workers"].IsArray()) {
    return Status::Corruption("the daemon's status answer has no workers list");
  }
  Table t({"WORKER", "PID", "BACKEND", "DEVICE", "ALIVE"});
  for (const auto& w : d["workers"].GetArray()) {
    t.AddRow({Str(w, "id"), Str(w, "pid"), Str(w, "backend"), Str(w, "device"), Str(w, "alive")});
  }
  return t.Render();
}

StatusOr<std::string> WorkersJson(const std::string& status_json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(status_json, "status"));
  if (!d.HasMember("workers") || !d["workers"].IsArray()) {
    return Status::Corruption("the daemon's status answer has no workers list");
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  d["workers"].Accept(w);
  return std::string(buf.GetString()) + "\n";
}

StatusOr<std::string> RenderRemoved(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "remove"));
  if (!d.HasMember("deleted") || !d["deleted"].IsTrue()) {
    return Status::Corruption("the daemon's remove answer does not say the model was removed");
  }
  return Str(d, "name") + ": removed\n";
}

StatusOr<std::string> RenderDrain(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "drain"));
  const bool draining = d.HasMember("draining") && d["draining"].IsBool() && d["draining"].GetBool();
  std::ostringstream out;
  out << (draining ? "draining: new requests get 503; " : "accepting requests; ") << Str(d, "queued") << " queued, "
      << Str(d, "running") << " running\n";
  return out.str();
}

StatusOr<std::string> RenderPreempt(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "preempt"));
  auto seconds = [&d](const char* key) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f s", d.HasMember(key) && d[key].IsNumber() ? d[key].GetDouble() : 0.0);
    return std::string(buf);
  };
  std::ostringstream out;
  if (!(d.HasMember("preempting") && d["preempting"].IsBool() && d["preempting"].GetBool())) {
    out << "not preempting\n";
    return out.str();
  }
  out << "preempting (notice from " << Str(d, "source") << "): new requests get 503; running ones finish until "
      << "the engine stops in " << seconds("seconds_to_stop") << ", the deadline is in "
      << seconds("seconds_to_deadline") << "; hearthd then exits 0 and a restart resumes the rest\n";
  return out.str();
}

StatusOr<std::string> RenderReload(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "reload"));
  std::ostringstream out;
  out << "applied: " << Str(d, "applied") << "\n";
  out << "need a restart: " << Str(d, "restart_required") << "\n";
  return out.str();
}

StatusOr<std::string> RenderMetrics(const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(MetricsSummary m, SummarizeMetrics(text));
  std::ostringstream out;
  out << "requests:";
  for (const auto& [status, n] : m.requests_by_status) out << " " << status << " " << n;
  if (m.requests_by_status.empty()) out << " none yet";
  out << "\n";
  char rate[32];
  std::snprintf(rate, sizeof(rate), "%.1f", m.tokens_per_second);
  out << "tokens: " << m.prompt_tokens << " prompt, " << m.generated_tokens << " generated (" << rate
      << " tok/s now)\n";
  out << "queue: " << m.queued_requests << " requests (" << m.queued_prompt_tokens << " prompt tokens), "
      << m.running_sequences << " running\n";
  out << "kv blocks: " << m.kv_blocks_used << " used, " << m.kv_blocks_free << " free of " << m.kv_blocks_total << "\n";
  out << "prewarm: " << m.prewarm_actions << " actions, " << m.prewarm_hits << " hits, " << m.prewarm_waste
      << " wasted\n";
  Table t({"LATENCY", "P50", "P90", "P99", "COUNT"});
  for (const LatencySummary& l : m.latency) {
    t.AddRow({l.name, Seconds(l.p50), Seconds(l.p90), Seconds(l.p99), std::to_string(l.count)});
  }
  out << "\n" << t.Render();
  return out.str();
}

StatusOr<std::string> MetricsJson(const std::string& text) {
  HEARTH_ASSIGN_OR_RETURN(MetricsSummary m, SummarizeMetrics(text));
  return MetricsSummaryJson(m) + "\n";
}

}  // namespace hearth::cli
