// The stream of a request with n > 1 choices. Each choice is an engine request of its own (its
// own id, registry entry and replayable n=1 stream); a ChoiceStream fans their events into the
// one OpenAI stream the client asked for: chunks under the first choice's id, each with its
// choice's index, a finish chunk per choice, and one usage chunk after the last finish.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/openai/chunk_encoder.h"
#include "daemon/engine/engine.h"
#include "daemon/requests/request_entry.h"

namespace hearth::daemon {

class ChoiceStream : public std::enable_shared_from_this<ChoiceStream> {
 public:
  // `options` as for one request's chunks (choice_index is set per choice); include_usage
  // asks for the one usage chunk of the whole stream.
  static std::shared_ptr<ChoiceStream> Create(const ChunkEncoderOptions& options, int32_t num_choices);

  // The sink for choice `index`'s engine request (events may arrive before Begin).
  std::shared_ptr<RequestSink> Sink(int32_t index);
  // Once every choice is submitted: chunks are named after `response_id` (chatcmpl-<id>), the
  // chat role chunks go out, then whatever arrived before.
  void Begin(uint64_t response_id);

  // The chunks after number `after` (numbered from 1); waits up to `wait` when there are none
  // yet. `done` once every choice finished (then the usage chunk is out) or one failed (its
  // error is the last chunk).
  EventsRead Read(uint64_t after, std::chrono::milliseconds wait) const;
  // Every choice's request has ended (a failed choice ends the stream before the others end).
  bool ended() const;

 private:
  class ChoiceSink;
  struct PendingEvent {
    int32_t index = 0;
    bool is_finish = false;
    TokenEvent token;
    FinishEvent finish;
  };

  ChoiceStream(const ChunkEncoderOptions& options, int32_t num_choices);
  void OnEvent(PendingEvent event);
  void Encode(const PendingEvent& event);  // REQUIRES(mu_)
  bool DoneLocked() const { return begun_ && (failed_ || num_finished_ == num_choices_); }

  // Constant after construction.
  const ChunkEncoderOptions options_;
  const int32_t num_choices_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::unique_ptr<EventEncoder>> encoders_;  // GUARDED_BY(mu_): [num_choices]
  bool begun_ = false;                                   // GUARDED_BY(mu_)
  uint64_t response_id_ = 0;                             // GUARDED_BY(mu_)
  std::vector<PendingEvent> pending_;                    // GUARDED_BY(mu_): events before Begin
  std::vector<std::string> events_;                      // GUARDED_BY(mu_): chunk k is number k + 1
  int32_t num_ended_ = 0;     // GUARDED_BY(mu_): finish events received, whatever their reason
  int32_t num_finished_ = 0;  // GUARDED_BY(mu_): choices encoded as finished (stop or length)
  bool failed_ = false;       // GUARDED_BY(mu_): a choice failed or was cancelled
  Usage usage_;               // GUARDED_BY(mu_): prompt once, completion tokens summed
};

}  // namespace hearth::daemon
