#include "cli/views.h"

#include <rapidjson/document.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

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

std::string Seconds(double s) {
  char buf[32];
  if (std::isnan(s)) return "-";
  if (s < 1) std::snprintf(buf, sizeof(buf), "%.0f ms", s * 1000);
  else std::snprintf(buf, sizeof(buf), "%.2f s", s);
  return buf;
}

// One sample line of the Prometheus text format.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool ParseSample(const std::string& line, Sample* s) {
  if (line.empty() || line[0] == '#') return false;
  size_t i = line.find_first_of("{ ");
  if (i == std::string::npos) return false;
  s->name = line.substr(0, i);
  s->labels.clear();
  if (line[i] == '{') {
    const size_t end = line.find('}', i);
    if (end == std::string::npos) return false;
    std::string body = line.substr(i + 1, end - i - 1);
    size_t p = 0;
    while (p < body.size()) {
      const size_t eq = body.find('=', p);
      if (eq == std::string::npos || eq + 1 >= body.size() || body[eq + 1] != '"') return false;
      const size_t close = body.find('"', eq + 2);
      if (close == std::string::npos) return false;
      s->labels[body.substr(p, eq - p)] = body.substr(eq + 2, close - eq - 2);
      p = close + 1;
      if (p < body.size() && body[p] == ',') ++p;
    }
    i = end + 1;
  }
  try {
    const std::string v = line.substr(i);
    s->value = v.find("Inf") != std::string::npos ? INFINITY : std::stod(v);
  } catch (...) {
    return false;
  }
  return true;
}

// The q-quantile of a histogram from its cumulative buckets (summed over
// labels), interpolated linearly inside the bucket, as Prometheus does.
double Quantile(const std::map<double, double>& buckets, double q) {
  if (buckets.empty()) return NAN;
  const double total = buckets.rbegin()->second;
  if (total <= 0) return NAN;
  const double rank = q * total;
  double prev_le = 0, prev_count = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return prev_le;
      return prev_le + (le - prev_le) * (count > prev_count ? (rank - prev_count) / (count - prev_count) : 1.0);
    }
    prev_le = le;
    prev_count = count;
  }
  return prev_le;
}

}  // namespace

StatusOr<std::string> RenderStatus(const std::string& status_json) {
  rapidjson::Document d;
  d.Parse(status_json.c_str());
  if (d.HasParseError() || !d.IsObject()) return Status::Corruption("daemon sent a status that is not a JSON object");
  std::ostringstream out;
  out << "hearthd " << Str(d, "version") << "  pid " << Str(d, "pid") << "  up " << Str(d, "uptime_s") << "s  listen "
      << Str(d, "listen") << "\n\n";
  Table workers({"WORKER", "PID", "BACKEND", "DEVICE", "ALIVE"});
  if (d.HasMember("workers") && d["workers"].IsArray()) {
    for (const auto& w : d["workers"].GetArray()) {
      workers.AddRow({Str(w, "id"), Str(w, "pid"), Str(w, "backend"), Str(w, "device"), Str(w, "alive")});
    }
  }
  out << workers.Render() << "\n";
  Table models({"MODEL", "STATE", "PATH"});
  if (d.HasMember("models") && d["models"].IsArray()) {
    for (const auto& m : d["models"].GetArray()) models.AddRow({Str(m, "name"), Str(m, "state"), Str(m, "path")});
  }
  out << models.Render();
  return out.str();
}

StatusOr<std::string> RenderModels(const std::string& json) {
  HEARTH_ASSIGN_OR_RETURN(rapidjson::Document d, Parse(json, "models"));
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* data, DataArray(d, "models"));
  Table t({"MODEL", "STATE", "WORKER", "PINNED", "LOADS", "SWAPS", "REQUESTS", "MIB", "STAGED_MIB", "CONTEXT",
           "PATH"});
  auto u64 = [](const rapidjson::Value& m, const char* key) -> uint64_t {
    return m.HasMember(key) && m[key].IsUint64() ? m[key].GetUint64() : 0;
  };
  for (const auto& m : data->GetArray()) {
    const std::string swaps = Str(m, "swap_ins") + "/" + Str(m, "swap_outs");
    t.AddRow({Str(m, "name"), Str(m, "state"), Str(m, "worker"), Str(m, "pinned"), Str(m, "loads"), swaps,
              Str(m, "active_requests"), std::to_string(u64(m, "bytes") >> 20),
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
  if (d.HasMember("error") && d["error"].IsObject()) out << "error: " << Str(d["error"], "message") << "\n";
  else if (d.HasMember("error") && d["error"].IsString()) out << "error: " << d["error"].GetString() << "\n";
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
  std::map<std::string, double> sums;                                // name -> sum over labels
  std::map<std::string, double> by_status;                           // hearth_requests_total by status
  std::map<std::string, std::map<double, double>> hist;              // histogram -> le -> count
  std::istringstream in(text);
  std::string line;
  Sample s;
  int samples = 0;
  while (std::getline(in, line)) {
    if (!ParseSample(line, &s)) continue;
    ++samples;
    sums[s.name] += s.value;
    if (s.name == "hearth_requests_total") by_status[s.labels["status"]] += s.value;
    const std::string suffix = "_bucket";
    if (s.name.size() > suffix.size() && s.name.compare(s.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        s.labels.count("le")) {
      const std::string& le = s.labels["le"];
      hist[s.name.substr(0, s.name.size() - suffix.size())][le == "+Inf" ? INFINITY : std::stod(le)] += s.value;
    }
  }
  if (samples == 0) return Status::Corruption("the daemon's /metrics answer has no samples");
  auto get = [&](const char* name) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", sums[name]);
    return std::string(buf);
  };
  std::ostringstream out;
  out << "requests:";
  for (const auto& [status, n] : by_status) out << " " << status << " " << static_cast<int64_t>(n);
  if (by_status.empty()) out << " none yet";
  out << "\n";
  out << "tokens: " << get("hearth_prompt_tokens_total") << " prompt, " << get("hearth_generated_tokens_total")
      << " generated";
  char rate[32];
  std::snprintf(rate, sizeof(rate), "%.1f", sums["hearth_generation_tokens_per_second"]);
  out << " (" << rate << " tok/s now)\n";
  out << "queue: " << get("hearth_queued_requests") << " requests (" << get("hearth_queued_prompt_tokens")
      << " prompt tokens), " << get("hearth_running_sequences") << " running\n";
  out << "kv blocks: " << get("hearth_kv_blocks_used") << " used, " << get("hearth_kv_blocks_free") << " free of "
      << get("hearth_kv_blocks_total") << "\n";
  Table t({"LATENCY", "P50", "P90", "P99", "COUNT"});
  const std::pair<const char*, const char*> rows[] = {{"queue", "hearth_request_queue_seconds"},
                                                      {"ttft", "hearth_time_to_first_token_seconds"},
                                                      {"tpot", "hearth_time_per_output_token_seconds"},
                                                      {"end to end", "hearth_request_duration_seconds"}};
  for (const auto& [label, name] : rows) {
    const auto& b = hist[name];
    t.AddRow({label, Seconds(Quantile(b, 0.5)), Seconds(Quantile(b, 0.9)), Seconds(Quantile(b, 0.99)),
              b.empty() ? "0" : std::to_string(static_cast<int64_t>(b.rbegin()->second))});
  }
  out << "\n" << t.Render();
  return out.str();
}

}  // namespace hearth::cli
