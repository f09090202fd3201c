// Each model's load history (the forecaster's input, docs/models.md "Forecast"): one row per
// model per closed window, so that a restart keeps the history.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace hearth::store {

struct LoadWindow {
  std::string model;
  int64_t start_s = 0;  // unix seconds, a multiple of `seconds`
  int64_t seconds = 0;  // the window's length
  double avg = 0;       // requests in flight, time-weighted over the window
  double peak = 0;      // the most in flight at once
  int64_t arrivals = 0;
};

class LoadHistoryStore {
 public:
  explicit LoadHistoryStore(Database* db) : db_(db) {}

  // Writes the windows in one transaction (a window written again replaces the first).
  Status Put(const std::vector<LoadWindow>& windows);
  // The model's windows from `since_s` on, oldest first, at most `limit` (the newest ones).
  StatusOr<std::vector<LoadWindow>> List(const std::string& model, int64_t since_s, int64_t limit);
  // Drops windows that started before `before_s`.
  Status Prune(int64_t before_s);

 private:
  Database* const db_;
  std::mutex mu_;
};

}  // namespace hearth::store
