#include "daemon/durability/request_journal.h"

#include "common/log.h"
#include "daemon/durability/store_token_committer.h"

namespace hearth::daemon {

StatusOr<uint64_t> RequestJournal::Record(const DurableParams& params, const std::vector<int32_t>& prompt,
                                          const std::string& idempotency_key) {
  store::NewRequest r;
  r.id = ids_->Next();
  r.idempotency_key = idempotency_key;
  r.model = params.gen.model;
  r.kind = params.chat ? "chat" : "completion";
  r.params = EncodeDurableParams(params);
  r.prompt = prompt;
  r.created_ms = UnixMillis();
  HEARTH_RETURN_IF_ERROR(store_->Insert(r));
  return r.id;
}

void RequestJournal::Forget(uint64_t id) {
  Status st = store_->Delete(id);
  if (!st.ok()) LogWarn("cannot forget a refused request").Kv("id", id).Kv("error", st.ToString());
}

}  // namespace hearth::daemon
