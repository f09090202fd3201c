#include "daemon/api/choice_stream.h"

#include "daemon/requests/request_id_text.h"

#include "daemon/openai/openai_response.h"

namespace hearth::daemon {

class ChoiceStream::ChoiceSink : public RequestSink {
 public:
  ChoiceSink(std::shared_ptr<ChoiceStream> stream, int32_t index) : stream_(std::move(stream)), index_(index) {}

  void OnToken(const TokenEvent& event) override {
    PendingEvent e;
    e.index = index_;
    e.token = event;
    stream_->OnEvent(std::move(e));
  }
  void OnFinish(const FinishEvent& event) override {
    PendingEvent e;
    e.index = index_;
    e.is_finish = true;
    e.finish = event;
    stream_->OnEvent(std::move(e));
  }

 private:
  const std::shared_ptr<ChoiceStream> stream_;
  const int32_t index_;
};

std::shared_ptr<ChoiceStream> ChoiceStream::Create(const ChunkEncoderOptions& options, int32_t num_choices) {
  return std::shared_ptr<ChoiceStream>(new ChoiceStream(options, num_choices));
}

ChoiceStream::ChoiceStream(const ChunkEncoderOptions& options, int32_t num_choices)
    : options_(options), num_choices_(num_choices) {
  for (int32_t i = 0; i < num_choices; ++i) {
    ChunkEncoderOptions choice = options;
    choice.choice_index = i;
    choice.include_usage = false;  // one usage chunk for all choices, below
    encoders_.push_back(MakeChunkEncoder(std::move(choice)));
  }
}

std::shared_ptr<RequestSink> ChoiceStream::Sink(int32_t index) {
  return std::make_shared<ChoiceSink>(shared_from_this(), index);
}

void ChoiceStream::Begin(uint64_t response_id) {
  std::lock_guard<std::mutex> lock(mu_);
  response_id_ = response_id;
  begun_ = true;
  for (auto& encoder : encoders_) encoder->Begin(response_id, &events_);
  for (const PendingEvent& e : pending_) Encode(e);
  pending_.clear();
  cv_.notify_all();
}

void ChoiceStream::OnEvent(PendingEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (event.is_finish) ++num_ended_;
  if (!begun_) {
    pending_.push_back(std::move(event));
  } else {
    Encode(event);
  }
  cv_.notify_all();
}

void ChoiceStream::Encode(const PendingEvent& e) {
  if (failed_ || num_finished_ == num_choices_) return;  // the stream already ended
  EventEncoder& encoder = *encoders_[static_cast<size_t>(e.index)];
  if (!e.is_finish) return encoder.Token(e.token, &events_);
  encoder.Finish(e.finish, &events_);
  if (!IsCompleted(e.finish.finish_reason)) {
    failed_ = true;  // the encoder wrote the error: the stream ends with it
    return;
  }
  usage_.prompt_tokens = e.finish.prompt_tokens;
  usage_.completion_tokens += e.finish.completion_tokens;
  if (e.index == 0) usage_.cached_tokens = e.finish.cached_tokens;
  if (++num_finished_ == num_choices_ && options_.include_usage) {
    const ResponseMeta meta{(options_.chat ? "chatcmpl-" : "cmpl-") + RequestIdText(options_.id_scope, response_id_), options_.created,
                            options_.model};
    events_.push_back(UsageChunk(meta, options_.chat, usage_));
  }
}

EventsRead ChoiceStream::Read(uint64_t after, std::chrono::milliseconds wait) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [&] { return (begun_ && events_.size() > after) || DoneLocked(); });
  EventsRead read;
  if (!begun_) return read;
  for (uint64_t i = after; i < events_.size(); ++i) read.events.push_back({i + 1, events_[i]});
  read.done = DoneLocked();
  return read;
}

bool ChoiceStream::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return num_ended_ == num_choices_;
}

}  // namespace hearth::daemon
