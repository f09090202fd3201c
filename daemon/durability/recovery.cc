#include "daemon/durability/recovery.h"

#include "common/log.h"
#include "daemon/anthropic/message_stream.h"
#include "daemon/openai/chunk_encoder.h"
#include "daemon/durability/durable_params.h"
#include "daemon/engine/output_decoder.h"
#include "daemon/durability/store_token_committer.h"

namespace hearth::daemon {
namespace {

// A fresh entry for a stored request, encoding its stream as the API first did.
std::shared_ptr<RequestEntry> NewEntry(const store::StoredRequest& stored, const DurableParams& params) {
  if (params.messages) {
    RequestMeta meta{stored.model,   "messages",     params.stream, static_cast<int32_t>(stored.prompt.size()),
                     params.created, params.logprobs};
    return RequestEntry::Create(
        meta, MakeMessageEncoder({stored.model, "", static_cast<int32_t>(stored.prompt.size()), params.gen.stop}));
  }
  RequestMeta meta{stored.model,   params.chat ? "chat.completions" : "completions",
                   params.stream,  static_cast<int32_t>(stored.prompt.size()),
                   params.created, params.logprobs, params.tool_format};
  ChunkEncoderOptions chunks{params.chat, stored.model, params.created, params.logprobs, params.include_usage};
  chunks.tool_format = ParseToolCallFormat(params.tool_format).value_or(ToolCallFormat::kNone);
  return RequestEntry::Create(meta, MakeChunkEncoder(std::move(chunks)));
}

// The store's rows back into the daemon's tokens, spelled by the model's tokenizer.
std::vector<GeneratedToken> CommittedTokens(const store::StoredRequest& stored, const model::Tokenizer& tokenizer) {
  std::vector<GeneratedToken> tokens;
  tokens.reserve(stored.tokens.size());
  for (const store::StoredToken& t : stored.tokens) tokens.push_back(MakeGeneratedToken(tokenizer, t));
  return tokens;
}

Status RecordFailed(store::RequestStore* store, uint64_t id, const Status& why) {
  const store::StatusChange change{id, store::RequestStatus::kFailed, "", "recovery: " + why.ToString()};
  return store->Commit({}, std::span<const store::StatusChange>(&change, 1), UnixMillis());
}

// The tokens that end a generation, as the worker reports them for a loaded model (its
// tokenizer comes from the same file): the model need not be loaded to rebuild its requests.
std::vector<int32_t> EndOfGenerationIds(const model::Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.IsEndOfGeneration(id)) ids.push_back(id);
  }
  return ids;
}

}  // namespace

StatusOr<RecoveryReport> RecoverUnfinished(store::RequestStore* store, Engine* engine, RequestRegistry* registry) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<store::StoredRequest> unfinished, store->LoadUnfinished());
  RecoveryReport report;
  for (store::StoredRequest& stored : unfinished) {
    DurableParams params;
    Status st = DecodeDurableParams(stored.params, &params);
    const model::Tokenizer* tokenizer = engine->tokenizer(stored.model);
    if (st.ok() && !tokenizer) st = Status::NotFound("model '" + stored.model + "' is not loaded");
    std::shared_ptr<RequestEntry> entry;
    if (st.ok()) {
      entry = NewEntry(stored, params);
      GenerationRequest gen = std::move(params.gen);
      gen.model = stored.model;
      gen.prompt = stored.prompt;
      gen.id = stored.id;
      gen.committed = CommittedTokens(stored, *tokenizer);
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

std::shared_ptr<RequestEntry> RebuildEnded(const store::StoredRequest& stored, const Engine& engine) {
  if (!store::IsEnded(stored.status)) return nullptr;
  DurableParams params;
  const model::Tokenizer* tokenizer = engine.tokenizer(stored.model);
  if (!tokenizer || !DecodeDurableParams(stored.params, &params).ok()) return nullptr;
  StatusOr<OutputDecoder> output =
      OutputDecoder::Create(*tokenizer, params.gen.stop,
                            RequestEndTokens(params.gen.sampling, EndOfGenerationIds(*tokenizer)),
                            params.gen.max_tokens);
  if (!output.ok()) return nullptr;
  std::shared_ptr<RequestEntry> entry = NewEntry(stored, params);
  std::shared_ptr<RequestSink> sink = entry->Tee(nullptr);
  // The same decoder run as the engine's replay of committed tokens (EngineLoop::ReplayCommitted).
  (void)output->Replay(CommittedTokens(stored, *tokenizer), [&](const TokenEvent& ev) { sink->OnToken(ev); });
  FinishEvent finish;
  switch (stored.status) {
    case store::RequestStatus::kCancelled:
      finish.finish_reason = FinishReason::kCancelled;
      finish.completion_tokens = output->num_generated();
      break;
    case store::RequestStatus::kFailed:
      finish.finish_reason = FinishReason::kError;
      finish.status = Status::Unavailable(stored.error);
      finish.completion_tokens = output->num_generated();
      break;
    default:
      if (!ParseFinishReason(stored.finish_reason, &finish.finish_reason)) {
        LogWarn("stored request has an unknown finish reason")
            .Kv("id", stored.id)
            .Kv("finish_reason", stored.finish_reason);
        return nullptr;
      }
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
