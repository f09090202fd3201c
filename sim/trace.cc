#include "sim/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string_view>

namespace hearth::sim {
namespace {

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t pos = 0;
  while (true) {
    size_t end = line.find(',', pos);
    if (end == std::string_view::npos) {
      f.push_back(line.substr(pos));
      return f;
    }
    f.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
}

bool ParseInt(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "YYYY-MM-DD HH:MM:SS.fffffff" -> seconds since that day's midnight, days counted from the
// month (the traces span an hour; only differences matter).
bool ParseTimestamp(std::string_view s, double* out) {
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':') return false;
  int64_t day = 0, h = 0, m = 0, sec = 0;
  if (!ParseInt(s.substr(8, 2), &day) || !ParseInt(s.substr(11, 2), &h) || !ParseInt(s.substr(14, 2), &m) ||
      !ParseInt(s.substr(17, 2), &sec)) {
    return false;
  }
  double frac = 0;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() > 29) return false;
    int64_t digits = 0;
    if (!ParseInt(s.substr(20), &digits) || digits < 0) return false;
    frac = static_cast<double>(digits) / std::pow(10.0, static_cast<double>(s.size() - 20));
  }
  *out = static_cast<double>(((day * 24 + h) * 60 + m) * 60 + sec) + frac;
  return true;
}

Status LineError(size_t line, std::string_view what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + std::string(what));
}

}  // namespace

StatusOr<std::vector<TraceRow>> ParseAzureTrace(const std::string& text) {
  std::vector<TraceRow> rows;
  auto lines = SplitLines(text);
  double first = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    if (i == 0 && lines[i].starts_with("TIMESTAMP")) continue;
    auto f = SplitFields(lines[i]);
    if (f.size() != 3) return LineError(i + 1, "want 3 fields");
    double t = 0;
    int64_t ctx = 0, gen = 0;
    if (!ParseTimestamp(f[0], &t)) return LineError(i + 1, "bad timestamp");
    if (!ParseInt(f[1], &ctx) || !ParseInt(f[2], &gen) || ctx < 1 || gen < 1 || ctx > (1 << 20) || gen > (1 << 20)) {
      return LineError(i + 1, "token counts must be integers in [1, 1048576]");
    }
    if (rows.empty()) first = t;
    if (t < first + (rows.empty() ? 0 : rows.back().at_s)) return LineError(i + 1, "time goes backwards");
    rows.push_back({t - first, static_cast<int32_t>(ctx), static_cast<int32_t>(gen)});
  }
  if (rows.empty()) return Status::InvalidArgument("the trace has no rows");
  return rows;
}

StatusOr<std::vector<TraceRow>> LoadAzureTrace(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto rows = ParseAzureTrace(text);
  if (!rows.ok()) return Status::InvalidArgument(path + ": " + rows.status().message());
  return rows;
}

namespace {

double TraceSpan(const std::vector<TraceRow>& rows) {
  const double last = rows.back().at_s;
  return last + (rows.size() > 1 ? last / static_cast<double>(rows.size() - 1) : 1.0);
}

// Rows in [start, start + length) of the trace repeated end to end, times relative to start.
void AppendSegment(const std::vector<TraceRow>& rows, double start, double length, std::vector<TraceRow>* out) {
  const double span = TraceSpan(rows);
  start = std::fmod(start, span);
  for (double base = 0; base < start + length; base += span) {
    for (const TraceRow& r : rows) {
      const double t = base + r.at_s;
      if (t >= start && t < start + length) out->push_back({t - start, r.context_tokens, r.generated_tokens});
    }
  }
}

}  // namespace

StatusOr<std::vector<SimArrival>> MapArrivals(const std::vector<std::vector<TraceRow>>& traces, int32_t num_models,
                                              const MappingOptions& o) {
  if (traces.empty()) return Status::InvalidArgument("no trace");
  for (const auto& t : traces) {
    if (t.empty()) return Status::InvalidArgument("an empty trace");
  }
  if (num_models < 1) return Status::InvalidArgument("need at least one model");
  if (!(o.duration_s > 0) || !(o.total_rate > 0)) return Status::InvalidArgument("duration and rate must be positive");
  std::vector<double> shares(static_cast<size_t>(num_models));
  double sum = 0;
  for (int32_t i = 0; i < num_models; ++i) sum += shares[static_cast<size_t>(i)] = std::pow(i + 1.0, -o.alpha);
  std::vector<SimArrival> out;
  for (int32_t i = 0; i < num_models; ++i) {
    const auto& rows = traces[static_cast<size_t>(i) % traces.size()];
    const double span = TraceSpan(rows);
    const double compression = o.compression > 0 ? o.compression : span / o.duration_s;
    const double length = o.duration_s * compression;
    const double start = span * i / num_models;
    const int64_t want =
        std::max<int64_t>(1, std::llround(o.total_rate * shares[static_cast<size_t>(i)] / sum * o.duration_s));
    std::vector<TraceRow> seg;
    AppendSegment(rows, start, length, &seg);
    if (seg.empty()) continue;
    // Lay copies from other offsets over it until there are enough rows to draw from.
    const int64_t copies = (want + static_cast<int64_t>(seg.size()) - 1) / static_cast<int64_t>(seg.size());
    for (int64_t c = 1; c < copies; ++c) AppendSegment(rows, start + span * c / copies, length, &seg);
    std::stable_sort(seg.begin(), seg.end(), [](const TraceRow& a, const TraceRow& b) { return a.at_s < b.at_s; });
    // Exactly `want` indices, uniformly without replacement (a partial Fisher-Yates shuffle).
    std::mt19937_64 rng(o.seed * 1000003u + static_cast<uint64_t>(i));
    std::vector<uint32_t> idx(seg.size());
    for (size_t k = 0; k < idx.size(); ++k) idx[k] = static_cast<uint32_t>(k);
    const size_t take = std::min(idx.size(), static_cast<size_t>(want));
    for (size_t k = 0; k < take; ++k) {
      const size_t j = k + static_cast<size_t>(rng() % (idx.size() - k));
      std::swap(idx[k], idx[j]);
    }
    idx.resize(take);
    std::sort(idx.begin(), idx.end());
    for (uint32_t k : idx) {
      const TraceRow& r = seg[k];
      SimArrival a;
      a.at_ns = static_cast<int64_t>(std::llround(r.at_s / compression * 1e9));
      a.model = i;
      a.prompt_tokens = o.max_prompt_tokens > 0 ? std::min(r.context_tokens, o.max_prompt_tokens) : r.context_tokens;
      a.output_tokens = o.max_output_tokens > 0 ? std::min(r.generated_tokens, o.max_output_tokens) : r.generated_tokens;
      out.push_back(a);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const SimArrival& a, const SimArrival& b) {
    return a.at_ns != b.at_ns ? a.at_ns < b.at_ns : a.model < b.model;
  });
  return out;
}

StatusOr<std::vector<SpotTraceEvent>> ParseSpotTrace(const std::string& text) {
  std::vector<SpotTraceEvent> events;
  auto lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    auto f = SplitFields(lines[i]);
    if (f.size() != 3) return LineError(i + 1, "want TIME_MS,add|remove,NODE");
    SpotTraceEvent e;
    if (!ParseInt(f[0], &e.at_ms) || e.at_ms < 0) return LineError(i + 1, "bad time");
    if (f[1] == "add") {
      e.add = true;
    } else if (f[1] != "remove") {
      return LineError(i + 1, "want add or remove");
    }
    e.node = std::string(f[2]);
    if (!events.empty() && e.at_ms < events.back().at_ms) return LineError(i + 1, "time goes backwards");
    events.push_back(std::move(e));
  }
  if (events.empty()) return Status::InvalidArgument("the spot trace has no events");
  return events;
}

StatusOr<std::vector<SpotTraceEvent>> LoadSpotTrace(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto events = ParseSpotTrace(text);
  if (!events.ok()) return Status::InvalidArgument(path + ": " + events.status().message());
  return events;
}

std::vector<SpotChange> StepSpotTrace(const std::vector<SpotTraceEvent>& events, double start_s, double compression,
                                      double duration_s, int32_t fleet_spot_nodes) {
  std::vector<SpotChange> changes;
  const double end_s = start_s + duration_s * compression;
  int32_t live = 0;
  int32_t fleet = fleet_spot_nodes;
  for (size_t i = 0; i < events.size(); ++i) {
    const int32_t before = live;
    live = std::max(0, live + (events[i].add ? 1 : -1));
    const double t = static_cast<double>(events[i].at_ms) / 1e3;
    if (t <= start_s || t >= end_s || live == before) continue;
    const int32_t delta = live > before ? 1 : -1;
    if (fleet + delta < 1 || fleet + delta > fleet_spot_nodes) continue;
    fleet += delta;
    changes.push_back({static_cast<int64_t>(std::llround((t - start_s) / compression * 1e9)), delta});
  }
  return changes;
}

std::vector<SpotChange> ScaleSpotTrace(const std::vector<SpotTraceEvent>& events, double start_s, double compression,
                                       double duration_s, int32_t fleet_spot_nodes, int32_t* initial_nodes) {
  // The live count after each event; events at one instant are applied together.
  std::vector<std::pair<double, int32_t>> counts;  // (trace seconds, live count)
  int32_t live = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    live += events[i].add ? 1 : -1;
    if (live < 0) live = 0;
    const double t = static_cast<double>(events[i].at_ms) / 1e3;
    if (!counts.empty() && counts.back().first == t) {
      counts.back().second = live;
    } else {
      counts.push_back({t, live});
    }
  }
  const double end_s = start_s + duration_s * compression;
  int32_t at_start = 0;
  int32_t max_count = 0;
  for (const auto& [t, c] : counts) {
    if (t <= start_s) at_start = c;
    if (t <= end_s) max_count = std::max(max_count, c);
  }
  max_count = std::max({max_count, at_start, 1});
  auto scaled = [&](int32_t c) {
    return static_cast<int32_t>(std::llround(static_cast<double>(c) * fleet_spot_nodes / max_count));
  };
  *initial_nodes = scaled(at_start);
  std::vector<SpotChange> changes;
  int32_t current = *initial_nodes;
  for (const auto& [t, c] : counts) {
    if (t <= start_s || t >= end_s) continue;
    const int32_t target = scaled(c);
    if (target == current) continue;
    changes.push_back({static_cast<int64_t>(std::llround((t - start_s) / compression * 1e9)), target - current});
    current = target;
  }
  return changes;
}

}  // namespace hearth::sim
