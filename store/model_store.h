// The model registry's durable half (issue 8): models added through the admin API, with their
// pin, survive a restart. Models from [models] in the configuration are not written here
// unless an admin action (pin, unpin) touches them.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace hearth::store {

struct StoredModel {
  std::string name;
  std::string path;  // a GGUF file
  bool pinned = false;
  int64_t added_at = 0;  // unix seconds
};

class ModelStore {
 public:
  explicit ModelStore(Database* db) : db_(db) {}

  // Every stored model, by name.
  StatusOr<std::vector<StoredModel>> List();
  StatusOr<std::optional<StoredModel>> Get(const std::string& name);
  // Inserts the model, or replaces the row stored under its name.
  Status Put(const StoredModel& model);
  // NotFound when no row has that name.
  Status Remove(const std::string& name);

 private:
  Database* const db_;
  std::mutex mu_;
};

}  // namespace hearth::store
