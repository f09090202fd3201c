#include "daemon/ops/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/check.h"

namespace hearth::daemon {
namespace {

bool ValidName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// HELP text escapes backslash and newline; label values also escape the double quote.
std::string Escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

void AppendSample(std::string* out, const std::string& name, const std::string& open_labels, double value) {
  *out += name;
  if (!open_labels.empty()) *out += open_labels + "}";
  *out += ' ';
  *out += FormatMetricValue(value);
  *out += '\n';
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  CHECK(ec == std::errc());
  return std::string(buf, end);
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  CHECK(start > 0 && factor > 1 && count > 0);
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) out.push_back(b);
  return out;
}

// --- MetricFamily ------------------------------------------------------------------------------

MetricFamily::MetricFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void MetricFamily::Render(std::string* out) const {
  *out += "# HELP " + name_ + " " + Escape(help_, /*quote=*/false) + "\n";
  *out += "# TYPE " + name_ + " " + type() + "\n";
  RenderSamples(out);
}

std::string MetricFamily::OpenLabels(const LabelValues& values) const {
  if (label_names_.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (i > 0) out += ',';
    out += label_names_[i] + "=\"" + Escape(values[i], /*quote=*/true) + "\"";
  }
  return out;
}

void MetricFamily::CheckArity(const LabelValues& values) const {
  CHECK_EQ(values.size(), label_names_.size())
      << "metric " << name_ << " takes " << label_names_.size() << " label values, got " << values.size();
}

// --- Counter and Gauge -------------------------------------------------------------------------

void Counter::Inc(const LabelValues& labels, double by) {
  CheckArity(labels);
  CHECK(by >= 0) << "counter " << name() << " decremented";
  std::lock_guard<std::mutex> lock(mu_);
  values_[labels] += by;
}

void Counter::SetTotal(const LabelValues& labels, double total) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  values_[labels] = total;
}

void Counter::FollowTotal(const LabelValues& labels, double total) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  auto [last, first] = followed_.try_emplace(labels, 0.0);
  values_[labels] += total >= last->second ? total - last->second : total;
  last->second = total;
}

double Counter::Value(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Counter::RenderSamples(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  // An unlabelled counter exists from the start: 0 until it moves.
  if (values_.empty() && !labelled()) AppendSample(out, name(), "", 0);
  for (const auto& [labels, value] : values_) AppendSample(out, name(), OpenLabels(labels), value);
}

void Gauge::Set(const LabelValues& labels, double value) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  values_[labels] = value;
}

void Gauge::Add(const LabelValues& labels, double by) {
  CheckArity(labels);
  std::lock_guard<std::mutex> lock(mu_);
  values_[labels] += by;
}

double Gauge::Value(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Gauge::RenderSamples(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (values_.empty() && !labelled()) AppendSample(out, name(), "", 0);
  for (const auto& [labels, value] : values_) AppendSample(out, name(), OpenLabels(labels), value);
}

// --- Histogram ---------------------------------------------------------------------------------

Histogram::Histogram(std::string name, std::string help, std::vector<double> upper_bounds,
                     std::vector<std::string> label_names)
    : MetricFamily(std::move(name), std::move(help), label_names), bounds_(std::move(upper_bounds)) {
  CHECK(!bounds_.empty()) << "histogram without buckets";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    CHECK(std::isfinite(bounds_[i])) << "histogram bucket bounds must be finite (+Inf is implicit)";
    CHECK(i == 0 || bounds_[i - 1] < bounds_[i]) << "histogram bucket bounds must increase";
  }
  CHECK(std::find(label_names.begin(), label_names.end(), "le") == label_names.end()) << "'le' is reserved";
}

void Histogram::Observe(const LabelValues& labels, double value) {
  CheckArity(labels);
  // The first bucket whose bound is >= value; past the last bound, the +Inf bucket.
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  std::lock_guard<std::mutex> lock(mu_);
  Child& c = children_[labels];
  if (c.counts.empty()) c.counts.assign(bounds_.size() + 1, 0);
  ++c.counts[bucket];
  c.sum += value;
  ++c.count;
}

Histogram::Snapshot Histogram::SnapshotOf(const Child& child) const {
  Snapshot s;
  s.cumulative.assign(bounds_.size() + 1, 0);
  uint64_t running = 0;
  for (size_t i = 0; i < child.counts.size(); ++i) {
    running += child.counts[i];
    s.cumulative[i] = running;
  }
  s.sum = child.sum;
  s.count = child.count;
  return s;
}

Histogram::Snapshot Histogram::Get(const LabelValues& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(labels);
  return SnapshotOf(it == children_.end() ? Child{} : it->second);
}

void Histogram::RenderSamples(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto render = [&](const LabelValues& labels, const Child& child) {
    const Snapshot s = SnapshotOf(child);
    const std::string open = OpenLabels(labels);
    const std::string le_prefix = (open.empty() ? "{" : open + ",") + "le=\"";
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      const std::string le = i < bounds_.size() ? FormatMetricValue(bounds_[i]) : "+Inf";
      *out +=
          name() + "_bucket" + le_prefix + le + "\"} " + FormatMetricValue(static_cast<double>(s.cumulative[i])) + "\n";
    }
    AppendSample(out, name() + "_sum", open, s.sum);
    AppendSample(out, name() + "_count", open, static_cast<double>(s.count));
  };
  if (children_.empty() && !labelled()) render({}, Child{});
  for (const auto& [labels, child] : children_) render(labels, child);
}

// --- MetricRegistry ----------------------------------------------------------------------------

void MetricRegistry::CheckNewFamily(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& label_names, bool counter) const {
  CHECK(ValidName(name, /*allow_colon=*/true)) << "bad metric name '" << name << "'";
  for (const std::string& l : label_names) {
    CHECK(ValidName(l, /*allow_colon=*/false) && l.rfind("__", 0) != 0) << "bad label name '" << l << "'";
  }
  for (const auto& f : families_) CHECK(f->name() != name) << "metric '" << name << "' added twice";
  CHECK(!help.empty()) << "metric '" << name << "' has no help text";
  const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
  CHECK(total == counter) << "metric '" << name << "': "
                          << (counter ? "a counter's name ends in _total" : "only a counter's name ends in _total");
}

Counter& MetricRegistry::AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNewFamily(name, help, label_names, /*counter=*/true);
  auto family = std::make_unique<Counter>(name, help, std::move(label_names));
  Counter& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Gauge& MetricRegistry::AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNewFamily(name, help, label_names, /*counter=*/false);
  auto family = std::make_unique<Gauge>(name, help, std::move(label_names));
  Gauge& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Histogram& MetricRegistry::AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<double> upper_bounds, std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNewFamily(name, help, label_names, /*counter=*/false);
  auto family = std::make_unique<Histogram>(name, help, std::move(upper_bounds), std::move(label_names));
  Histogram& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

std::string MetricRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& f : families_) f->Render(&out);
  return out;
}

}  // namespace hearth::daemon
