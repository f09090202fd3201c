#include "daemon/recovery.h"

#include "common/log.h"
#include "daemon/chunk_encoder.h"
#include "daemon/durable_params.h"
#include "daemon/output_decoder.h"
#include "daemon/store_token_committer.h"

namespace hearth::daemon {
namespace {

// A fresh entry for a stored request, encoding its stream as the API first did.
std::shared_ptr<RequestEntry> NewEntry(const store::StoredRequest& stored, const DurableParams& params,
                                       const model::Tokenizer* tokenizer) {
  RequestMeta meta{stored.model, params.chat ? "chat.completions" : "completions", params.stream,
                   static_cast<int32_t>(stored.prompt.size()), params.created};
  return RequestEntry::Create(meta, MakeChunkEncoder({params.chat, stored.model, params.created, params.logprobs,
                                                      params.include_usage, tokenizer}));
}

Status RecordFailed(store::RequestStore* store, uint64_t id, const Status& why) {
  const store::StatusChange change{id, store::RequestStatus::kFailed, "", "recovery: " + why.ToString()};
  return store->Commit({}, std::span<const store::StatusChange>(&change, 1), UnixMillis());
}

}  // namespace

StatusOr<RecoveryReport> RecoverUnfinished(store::RequestStore* store, EngineLoop* engine, RequestRegistry* registry) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<store::StoredRequest> unfinished, store->LoadUnfinished());
  RecoveryReport report;
  for (store::StoredRequest& stored : unfinished) {
    DurableParams params;
    Status st = DecodeDurableParams(stored.params, &params);
    const model::Tokenizer* tokenizer = engine->tokenizer(stored.model);
    if (st.ok() && !tokenizer) st = Status::NotFound("model '" + stored.model + "' is not loaded");
    std::shared_ptr<RequestEntry> entry;
    if (st.ok()) {
      entry = NewEntry(stored, params, tokenizer);
      GenerationRequest gen = std::move(params.gen);
      gen.model = stored.model;
      gen.prompt = stored.prompt;
      gen.id = stored.id;
      for (const store::StoredToken& t : stored.tokens) {
        CommittedToken& c = gen.committed.emplace_back();
        c.token = t.token;
        c.logprob = t.logprob;
        for (const store::StoredTop& top : t.top) c.top.push_back({top.token, top.logprob});
      }
      st = engine->Submit(std::move(gen), entry->Tee(nullptr)).status();
    }
    if (!st.ok()) {
      LogError("cannot resume a stored request").Kv("id", stored.id).Kv("error", st.ToString());
      HEARTH_RETURN_IF_ERROR(RecordFailed(store, stored.id, st));
      ++report.failed;
      continue;
    }
    registry->Add(stored.id, entry);
    ++report.resumed;
    report.replayed_tokens += static_cast<int64_t>(stored.tokens.size());
    report.prompt_tokens += static_cast<int64_t>(stored.prompt.size());
    LogInfo("request resumed").Kv("id", stored.id).Kv("committed_tokens", stored.tokens.size());
  }
  return report;
}

std::shared_ptr<RequestEntry> RebuildEnded(const store::StoredRequest& stored, const EngineLoop& engine) {
  if (!store::IsEnded(stored.status)) return nullptr;
  DurableParams params;
  const model::Tokenizer* tokenizer = engine.tokenizer(stored.model);
  if (!tokenizer || !DecodeDurableParams(stored.params, &params).ok()) return nullptr;
  StatusOr<OutputDecoder> output =
      OutputDecoder::Create(*tokenizer, params.gen.stop, engine.stop_token_ids(stored.model), params.gen.max_tokens);
  if (!output.ok()) return nullptr;
  std::shared_ptr<RequestEntry> entry = NewEntry(stored, params, tokenizer);
  std::shared_ptr<RequestSink> sink = entry->Tee(nullptr);
  for (const store::StoredToken& t : stored.tokens) {
    if (output->IsStopToken(t.token)) break;
    TokenEvent ev;
    ev.token = t.token;
    ev.logprob = t.logprob;
    for (const store::StoredTop& top : t.top) {
      StatusOr<std::string> text = tokenizer->Decode(std::span<const int32_t>(&top.token, 1));
      ev.top.push_back({top.token, top.logprob, text.ok() ? *text : std::string()});
    }
    bool stopped = false;
    ev.text = output->Token(t.token, &stopped);
    sink->OnToken(ev);
    if (stopped) break;
  }
  FinishEvent finish;
  switch (stored.status) {
    case store::RequestStatus::kCancelled:
      finish.finish_reason = "cancelled";
      finish.completion_tokens = output->num_generated();
      break;
    case store::RequestStatus::kFailed:
      finish.finish_reason = "error";
      finish.status = Status::Unavailable(stored.error);
      finish.completion_tokens = output->num_generated();
      break;
    default:
      finish.finish_reason = stored.finish_reason;
      finish.completion_tokens = static_cast<int32_t>(stored.tokens.size());
      finish.text = output->FinishText();
      break;
  }
  finish.prompt_tokens = static_cast<int32_t>(stored.prompt.size());
  sink->OnFinish(finish);
  entry->Attach(stored.id, nullptr);
  return entry;
}

}  // namespace hearth::daemon
