// Finding tool calls in generated text, incrementally, in the wire formats Hearth reads
// (docs/api.md, "Tool calling"). One scanner serves a live stream (fed token by token) and a
// whole answer (fed at once), so a streamed call reassembles into exactly the non-streamed one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::daemon {

enum class ToolCallFormat : uint8_t {
  kNone,       // no tools: all text is content
  kJsonArray,  // Hearth's constrained format: [{"name": ..., "arguments": {...}}, ...] and nothing else
  kHermes,     // <tool_call>{"name": ..., "arguments": {...}}</tool_call> among content (Qwen, Hermes)
  kBareJson,   // the whole answer one {"name", "parameters"|"arguments"} object or an array of them
               // (Llama 3.x, Mistral's [TOOL_CALLS] once its special token is left out)
};

// "", "json_array", "hermes", "bare_json": the spelling stored with a request.
const char* ToolCallFormatName(ToolCallFormat format);
std::optional<ToolCallFormat> ParseToolCallFormat(std::string_view name);

// One piece of what the scanner found, in the order of the text.
struct ToolDelta {
  enum class Kind : uint8_t { kContent, kCallStart, kArguments };
  Kind kind = Kind::kContent;
  int32_t index = 0;  // the call's index (kCallStart, kArguments)
  std::string text;   // content, the function's name (kCallStart), or a fragment of arguments
};

class ToolCallScanner {
 public:
  explicit ToolCallScanner(ToolCallFormat format) : format_(format) {}

  // Appends what `text` completes. Whitespace at the end of content is held until more content
  // follows (and dropped at the end and before a call), so an answer of calls has no content.
  void Feed(std::string_view text, std::vector<ToolDelta>* out);
  // The end of the text: whatever was held back, as calls where it parses, else as content.
  void Finish(std::vector<ToolDelta>* out);
  int32_t num_calls() const { return num_calls_; }

 private:
  void FeedJsonArray(char c, std::vector<ToolDelta>* out);
  void EndArrayCall(std::vector<ToolDelta>* out);
  void FeedHermes(std::string_view text, std::vector<ToolDelta>* out);
  void Content(std::string_view text, std::vector<ToolDelta>* out);
  // Calls parsed from one JSON text (an object or an array of objects); false (nothing
  // emitted) when it is not that.
  bool EmitParsedCalls(std::string_view json, std::vector<ToolDelta>* out);

  const ToolCallFormat format_;
  int32_t num_calls_ = 0;
  std::string held_space_;  // whitespace-only content not yet emitted

  // kJsonArray: a JSON lexer over the array.
  int32_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  std::string token_;         // the string being read at call depth, quotes included
  std::string key_;           // the call object's current key
  bool after_colon_ = false;  // a value of key_ comes next
  std::string name_;
  bool call_open_ = false;        // inside a call object of the array
  bool call_started_ = false;     // kCallStart emitted for the current call
  bool arguments_given_ = false;  // the current call has an "arguments" key
  std::string arguments_;         // arguments read before the name came
  // Inside the "arguments" value: its own nesting, so its end is found.
  bool in_arguments_ = false;
  bool arguments_seen_ = false;  // a character of the value has come (leading blanks are skipped)
  int32_t arguments_depth_ = 0;
  bool arguments_in_string_ = false;
  bool arguments_escape_ = false;
  std::string pending_space_;  // whitespace inside arguments, passed on when more follows

  // kHermes and kBareJson: text not yet decided.
  std::string buffer_;
  bool in_tag_ = false;     // kHermes: inside <tool_call>
  bool decided_ = false;    // kBareJson: the first character has been seen
  bool bare_call_ = false;  // kBareJson: the answer started with { or [
};

// A whole answer's calls and content.
struct ParsedToolCall {
  std::string name;
  std::string arguments;  // JSON text
};
struct ParsedToolOutput {
  std::string content;
  std::vector<ParsedToolCall> calls;
};
ParsedToolOutput ParseToolOutput(ToolCallFormat format, std::string_view text);

// The id of a request's call `index`: the same for its stream, its answer and every replay.
std::string ToolCallId(uint64_t request_id, int32_t index);

}  // namespace hearth::daemon
