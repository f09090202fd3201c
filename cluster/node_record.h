// What a node publishes in etcd under its lease (docs/cluster.md, "What a node publishes"):
// what changes slowly, never its load. JSON under PREFIX/nodes/NAME. Read back from etcd it is
// untrusted input: DecodeNodeRecord checks every field and bound.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"

namespace hearth::cluster {

struct ModelPresence {
  std::string name;
  std::string state;               // "warm", "staged", "loading", "staging", "registered", "unloading"
  uint64_t bytes = 0;              // in the pool when warm
  double swap_in_seconds = 0;      // the last measured swap-in (0: none yet)
  // The node's forecast of the requests in flight it runs for the model, next window (average
  // and peak), and the batch size it measured for it (0: none yet). The leader sums them over
  // the nodes to count the model's replicas (scheduler/cluster_placement.h).
  double predicted_avg = 0;
  double predicted_peak = 0;
  int32_t batch_size = 0;
};

// Where a draining node's model goes (the migration plan): `node` loads it during the grace
// period, so the requests handed over find it warm.
struct Handoff {
  std::string model;
  std::string node;
};

struct NodeRecord {
  std::string name;       // letters, digits, '.', '_', '-'; 1..64
  std::string advertise;  // the URL peers and routers reach its API at: http://HOST:PORT
  std::string admin;      // its admin API's URL (empty: not advertised)
  std::string instance = "on-demand";  // or "spot"
  double price_per_hour = 0;
  uint64_t memory_budget_bytes = 0;  // per worker; 0: no limit
  uint64_t staged_budget_bytes = 0;
  int32_t workers = 1;
  int64_t lease_granted_at = 0;  // unix seconds: its lease's age is now minus this
  std::string version;
  // It takes no new work (a preemption notice, or an admin drain): routers send it nothing.
  bool draining = false;
  std::vector<Handoff> handoff;  // while draining: the migration plan's moves
  std::vector<ModelPresence> models;
};

// A valid node name (also the last part of its key).
bool ValidNodeName(std::string_view name);

std::string EncodeNodeRecord(const NodeRecord& record);
// The record's keys and values into an object `w` has open (the admin API adds its own keys).
void WriteNodeRecordFields(JsonWriter& w, const NodeRecord& record);
// InvalidArgument naming the first field that is missing, of the wrong type or out of bounds.
StatusOr<NodeRecord> DecodeNodeRecord(std::string_view json);

}  // namespace hearth::cluster
