#include "daemon/anthropic/messages_response.h"

#include "common/json_writer.h"
#include "daemon/anthropic/anthropic_error.h"

namespace hearth::daemon {
namespace {

std::string Done(const rapidjson::StringBuffer& buf) { return std::string(buf.GetString(), buf.GetSize()); }

void WriteOptionalString(JsonWriter& w, const std::optional<std::string>& s) {
  if (s) {
    WriteString(w, *s);
  } else {
    w.Null();
  }
}

// The message object; `finished` false gives the shape message_start carries.
void WriteMessage(JsonWriter& w, const MessageOutput& out, bool finished) {
  w.StartObject();
  w.Key("id");
  WriteString(w, out.id);
  w.Key("type");
  w.String("message");
  w.Key("role");
  w.String("assistant");
  w.Key("content");
  w.StartArray();
  if (finished) {
    w.StartObject();
    w.Key("type");
    w.String("text");
    w.Key("text");
    WriteString(w, out.text);
    w.EndObject();
  }
  w.EndArray();
  w.Key("model");
  WriteString(w, out.model);
  w.Key("stop_reason");
  if (finished) {
    w.String(StopReason(out.finish_reason, out.stop_sequence));
  } else {
    w.Null();
  }
  w.Key("stop_sequence");
  WriteOptionalString(w, finished ? out.stop_sequence : std::nullopt);
  w.Key("usage");
  w.StartObject();
  w.Key("input_tokens");
  w.Int(out.input_tokens);
  w.Key("output_tokens");
  w.Int(finished ? out.output_tokens : 0);
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::optional<std::string> MatchedStopSequence(std::string_view raw, const std::vector<std::string>& stop_sequences) {
  std::optional<std::string> best;
  size_t best_end = std::string_view::npos;
  for (const std::string& s : stop_sequences) {
    const size_t at = raw.find(s);
    if (at == std::string_view::npos || s.empty()) continue;
    if (at + s.size() < best_end) {
      best_end = at + s.size();
      best = s;
    }
  }
  return best;
}

const char* StopReason(FinishReason reason, const std::optional<std::string>& stop_sequence) {
  if (reason == FinishReason::kLength) return "max_tokens";
  return stop_sequence ? "stop_sequence" : "end_turn";
}

std::string MessageJson(const MessageOutput& out) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteMessage(w, out, /*finished=*/true);
  return Done(buf);
}

std::string MessageStartEvent(const MessageOutput& out) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("type");
  w.String("message_start");
  w.Key("message");
  WriteMessage(w, out, /*finished=*/false);
  w.EndObject();
  return Done(buf);
}

std::string ContentBlockStartEvent() {
  return R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})";
}

std::string PingEvent() { return R"({"type":"ping"})"; }

std::string TextDeltaEvent(std::string_view text) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("type");
  w.String("content_block_delta");
  w.Key("index");
  w.Int(0);
  w.Key("delta");
  w.StartObject();
  w.Key("type");
  w.String("text_delta");
  w.Key("text");
  WriteString(w, text);
  w.EndObject();
  w.EndObject();
  return Done(buf);
}

std::string ContentBlockStopEvent() { return R"({"type":"content_block_stop","index":0})"; }

std::string MessageDeltaEvent(FinishReason reason, const std::optional<std::string>& stop_sequence,
                              int32_t output_tokens) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("type");
  w.String("message_delta");
  w.Key("delta");
  w.StartObject();
  w.Key("stop_reason");
  w.String(StopReason(reason, stop_sequence));
  w.Key("stop_sequence");
  WriteOptionalString(w, reason == FinishReason::kLength ? std::nullopt : stop_sequence);
  w.EndObject();
  w.Key("usage");
  w.StartObject();
  w.Key("output_tokens");
  w.Int(output_tokens);
  w.EndObject();
  w.EndObject();
  return Done(buf);
}

std::string MessageStopEvent() { return R"({"type":"message_stop"})"; }

std::string ErrorEvent(const ApiError& error) { return AnthropicErrorBody(ToAnthropicError(error)); }

std::string FormatMessageEvent(std::string_view data) {
  // Every event this file builds starts {"type":"NAME", written without spaces.
  constexpr std::string_view kPrefix = R"({"type":")";
  std::string_view type = "message";
  if (data.substr(0, kPrefix.size()) == kPrefix) {
    const size_t end = data.find('"', kPrefix.size());
    if (end != std::string_view::npos) type = data.substr(kPrefix.size(), end - kPrefix.size());
  }
  std::string out = "event: ";
  out.append(type).append("\ndata: ").append(data).append("\n\n");
  return out;
}

}  // namespace hearth::daemon
