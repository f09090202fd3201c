// A small Prometheus client: counters, gauges and histograms with labels, safe to update from
// any thread, rendered in the text exposition format (version 0.0.4) that Prometheus scrapes.
//
// A family is one metric name with fixed label names; each distinct tuple of label values is a
// child with its own value. Families render in registration order, children sorted by their
// label values, so the text is deterministic (tests compare it byte for byte).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::daemon {

using LabelValues = std::vector<std::string>;  // one per label name, in the family's order

class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~MetricFamily() = default;
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  const std::string& name() const { return name_; }
  // Appends "# HELP", "# TYPE" and every sample line.
  void Render(std::string* out) const;

 protected:
  virtual const char* type() const = 0;
  virtual void RenderSamples(std::string* out) const = 0;
  // `{a="x",b="y"` without the closing brace (empty when there are no labels), so that a
  // histogram can append its `le`.
  std::string OpenLabels(const LabelValues& values) const;
  bool labelled() const { return !label_names_.empty(); }
  // CHECKs that `values` has one entry per label name.
  void CheckArity(const LabelValues& values) const;

 private:
  // Constant after construction.
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// A value that only goes up (requests served, tokens generated).
class Counter final : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  void Inc(const LabelValues& labels = {}, double by = 1);  // CHECKs by >= 0
  // Mirrors a monotonic total kept elsewhere (the engine's token count, say).
  void SetTotal(const LabelValues& labels, double total);
  // Follows a total kept elsewhere that may start again from 0 (a model's prefix-cache counts
  // when it is loaded again): adds what it grew by since the last call, all of it after a
  // restart, so that this counter never goes down.
  void FollowTotal(const LabelValues& labels, double total);
  double Value(const LabelValues& labels = {}) const;

 private:
  const char* type() const override { return "counter"; }
  void RenderSamples(std::string* out) const override;

  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;    // GUARDED_BY(mu_)
  std::map<LabelValues, double> followed_;  // GUARDED_BY(mu_): FollowTotal's last total
};

// A value that goes up and down (queue depth, free KV blocks).
class Gauge final : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;
  void Set(const LabelValues& labels, double value);
  void Set(double value) { Set({}, value); }
  void Add(const LabelValues& labels, double by);
  double Value(const LabelValues& labels = {}) const;

 private:
  const char* type() const override { return "gauge"; }
  void RenderSamples(std::string* out) const override;

  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;  // GUARDED_BY(mu_)
};

// Observations counted into buckets by upper bound (cumulative on output, with +Inf), plus
// their sum and count.
class Histogram final : public MetricFamily {
 public:
  // `upper_bounds` strictly increasing, finite; +Inf is implicit. No label may be called "le".
  Histogram(std::string name, std::string help, std::vector<double> upper_bounds,
            std::vector<std::string> label_names = {});
  void Observe(const LabelValues& labels, double value);
  void Observe(double value) { Observe({}, value); }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // [num_bounds + 1], the last one is +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Get(const LabelValues& labels = {}) const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  struct Child {
    std::vector<uint64_t> counts;  // [num_bounds + 1], not cumulative
    double sum = 0;
    uint64_t count = 0;
  };
  const char* type() const override { return "histogram"; }
  void RenderSamples(std::string* out) const override;
  Snapshot SnapshotOf(const Child& child) const;

  const std::vector<double> bounds_;  // constant after construction

  mutable std::mutex mu_;
  std::map<LabelValues, Child> children_;  // GUARDED_BY(mu_)
};

// Owns families and renders them. Adding is for set-up: it CHECKs a valid, unused name, a HELP
// text, and the suffix rules `promtool check metrics` lints (a counter's name ends in _total, no
// other's does), so that a misnamed family fails the first test that builds it. Updating and
// rendering are thread-safe.
class MetricRegistry {
 public:
  Counter& AddCounter(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  Gauge& AddGauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help, std::vector<double> upper_bounds,
                          std::vector<std::string> label_names = {});

  // The exposition text, every family in the order added.
  std::string Render() const;

 private:
  // REQUIRES(mu_)
  void CheckNewFamily(const std::string& name, const std::string& help, const std::vector<std::string>& label_names,
                      bool counter) const;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MetricFamily>> families_;  // GUARDED_BY(mu_); never removed
};

// The exposition's number format: integers without a fraction, +Inf, -Inf, NaN, otherwise the
// shortest text that reads back as the same double.
std::string FormatMetricValue(double value);

// Buckets growing by `factor` from `start`: start, start*factor, ... (`count` of them).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

}  // namespace hearth::daemon
