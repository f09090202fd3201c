#include "store/model_store.h"

#include "store/statement.h"

namespace hearth::store {
namespace {

StoredModel ReadRow(Stmt& q) { return {q.ColText(0), q.ColText(1), q.ColInt(2) != 0, q.ColInt(3)}; }

}  // namespace

StatusOr<std::vector<StoredModel>> ModelStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_->handle(), "SELECT name, path, pinned, added_at FROM models ORDER BY name");
  HEARTH_RETURN_IF_ERROR(q.status());
  std::vector<StoredModel> out;
  for (;;) {
    HEARTH_ASSIGN_OR_RETURN(bool row, q.Next());
    if (!row) break;
    out.push_back(ReadRow(q));
  }
  return out;
}

StatusOr<std::optional<StoredModel>> ModelStore::Get(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_->handle(), "SELECT name, path, pinned, added_at FROM models WHERE name = ?");
  HEARTH_RETURN_IF_ERROR(q.status());
  q.Text(1, name);
  HEARTH_ASSIGN_OR_RETURN(bool row, q.Next());
  if (!row) return std::optional<StoredModel>();
  return std::optional<StoredModel>(ReadRow(q));
}

Status ModelStore::Put(const StoredModel& model) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt put(db_->handle(), "INSERT OR REPLACE INTO models(name, path, pinned, added_at) VALUES(?, ?, ?, ?)");
  HEARTH_RETURN_IF_ERROR(put.status());
  return put.Text(1, model.name).Text(2, model.path).Int(3, model.pinned ? 1 : 0).Int(4, model.added_at).Run();
}

Status ModelStore::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt del(db_->handle(), "DELETE FROM models WHERE name = ?");
  HEARTH_RETURN_IF_ERROR(del.status());
  HEARTH_RETURN_IF_ERROR(del.Text(1, name).Run());
  if (sqlite3_changes(db_->handle()) == 0) return Status::NotFound("no stored model '" + name + "'");
  return Status::Ok();
}

}  // namespace hearth::store
