#include "store/load_history.h"

#include <algorithm>

#include "store/statement.h"

namespace hearth::store {

Status LoadHistoryStore::Put(const std::vector<LoadWindow>& windows) {
  if (windows.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  HEARTH_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE;"));
  for (const LoadWindow& w : windows) {
    Stmt put(db_->handle(),
             "INSERT OR REPLACE INTO load_windows(model, start_s, seconds, avg, peak, arrivals) "
             "VALUES(?, ?, ?, ?, ?, ?)");
    Status st = put.status();
    if (st.ok()) {
      st = put.Text(1, w.model)
               .Int(2, w.start_s)
               .Int(3, w.seconds)
               .Real(4, w.avg)
               .Real(5, w.peak)
               .Int(6, w.arrivals)
               .Run();
    }
    if (!st.ok()) {
      (void)db_->Exec("ROLLBACK;");
      return st;
    }
  }
  return db_->Exec("COMMIT;");
}

StatusOr<std::vector<LoadWindow>> LoadHistoryStore::List(const std::string& model, int64_t since_s, int64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_->handle(),
         "SELECT model, start_s, seconds, avg, peak, arrivals FROM load_windows WHERE model = ? AND start_s >= ? "
         "ORDER BY start_s DESC LIMIT ?");
  HEARTH_RETURN_IF_ERROR(q.status());
  q.Text(1, model).Int(2, since_s).Int(3, limit);
  std::vector<LoadWindow> out;
  for (;;) {
    HEARTH_ASSIGN_OR_RETURN(bool row, q.Next());
    if (!row) break;
    out.push_back({q.ColText(0), q.ColInt(1), q.ColInt(2), q.ColReal(3), q.ColReal(4), q.ColInt(5)});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Status LoadHistoryStore::Prune(int64_t before_s) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt del(db_->handle(), "DELETE FROM load_windows WHERE start_s < ?");
  HEARTH_RETURN_IF_ERROR(del.status());
  return del.Int(1, before_s).Run();
}

}  // namespace hearth::store
