#include "daemon/openai/tool_call_parser.h"

#include <rapidjson/document.h>

#include "common/json_writer.h"

namespace hearth::daemon {
namespace {

constexpr std::string_view kOpenTag = "<tool_call>";
constexpr std::string_view kCloseTag = "</tool_call>";

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Appends to the last delta when it is of the same kind and call, so a fed text gives few.
void Push(std::vector<ToolDelta>* out, ToolDelta::Kind kind, int32_t index, std::string_view text) {
  if (kind != ToolDelta::Kind::kCallStart && !out->empty() && out->back().kind == kind && out->back().index == index) {
    out->back().text.append(text);
    return;
  }
  out->push_back(ToolDelta{kind, index, std::string(text)});
}

// A JSON string literal's value; empty when it is not one.
std::string Unquote(const std::string& literal) {
  rapidjson::Document doc;
  doc.Parse(literal.data(), literal.size());
  if (doc.HasParseError() || !doc.IsString()) return "";
  return std::string(doc.GetString(), doc.GetStringLength());
}

std::string Compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// The length of the longest end of `s` that begins `tag` (a tag cut between two tokens).
size_t PartialTagAtEnd(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

const char* ToolCallFormatName(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kJsonArray:
      return "json_array";
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kBareJson:
      return "bare_json";
    case ToolCallFormat::kNone:
      break;
  }
  return "";
}

std::optional<ToolCallFormat> ParseToolCallFormat(std::string_view name) {
  for (ToolCallFormat f :
       {ToolCallFormat::kNone, ToolCallFormat::kJsonArray, ToolCallFormat::kHermes, ToolCallFormat::kBareJson}) {
    if (name == ToolCallFormatName(f)) return f;
  }
  return std::nullopt;
}

std::string ToolCallId(uint64_t request_id, int32_t index) {
  std::string id = "call_";
  id.append(std::to_string(request_id)).append("_").append(std::to_string(index));
  return id;
}

void ToolCallScanner::Content(std::string_view text, std::vector<ToolDelta>* out) {
  // Trailing whitespace waits for what follows it: none at the end, or before a call.
  size_t end = text.size();
  while (end > 0 && IsSpace(text[end - 1])) --end;
  if (end > 0) {
    held_space_.append(text.substr(0, end));
    Push(out, ToolDelta::Kind::kContent, 0, held_space_);
    held_space_.clear();
  }
  held_space_.append(text.substr(end));
}

bool ToolCallScanner::EmitParsedCalls(std::string_view json, std::vector<ToolDelta>* out) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return false;
  std::vector<const rapidjson::Value*> objects;
  if (doc.IsObject()) {
    objects.push_back(&doc);
  } else if (doc.IsArray() && !doc.Empty()) {
    for (const rapidjson::Value& v : doc.GetArray()) objects.push_back(&v);
  } else {
    return false;
  }
  std::vector<ParsedToolCall> calls;
  for (const rapidjson::Value* v : objects) {
    if (!v->IsObject()) return false;
    auto name = v->FindMember("name");
    if (name == v->MemberEnd() || !name->value.IsString() || name->value.GetStringLength() == 0) return false;
    ParsedToolCall call{std::string(name->value.GetString(), name->value.GetStringLength()), "{}"};
    auto args = v->FindMember("arguments");
    if (args == v->MemberEnd()) args = v->FindMember("parameters");  // Llama 3.x's name
    if (args != v->MemberEnd()) {
      if (args->value.IsObject()) {
        call.arguments = Compact(args->value);
      } else if (args->value.IsString()) {  // some models write the arguments as a JSON string
        call.arguments.assign(args->value.GetString(), args->value.GetStringLength());
      } else {
        return false;
      }
    }
    calls.push_back(std::move(call));
  }
  for (ParsedToolCall& call : calls) {
    Push(out, ToolDelta::Kind::kCallStart, num_calls_, call.name);
    Push(out, ToolDelta::Kind::kArguments, num_calls_, call.arguments);
    ++num_calls_;
  }
  return true;
}

// --- kJsonArray: [{"name": "f", "arguments": {...}}, ...] ------------------------------------
// A JSON lexer that knows three depths: the array (1), a call object (2), and inside its
// "arguments" value, whose text is passed on as it comes.

void ToolCallScanner::FeedJsonArray(char c, std::vector<ToolDelta>* out) {
  const int32_t index = num_calls_;
  // `c` with the whitespace held before it.
  auto argument = [&](char ch) {
    pending_space_.push_back(ch);
    if (call_started_) {
      Push(out, ToolDelta::Kind::kArguments, index - 1, pending_space_);
    } else {
      arguments_.append(pending_space_);
    }
    pending_space_.clear();
  };
  if (in_arguments_) {
    const bool top = arguments_depth_ == 0;
    if (arguments_in_string_) {
      argument(c);
      if (arguments_escape_) {
        arguments_escape_ = false;
      } else if (c == '\\') {
        arguments_escape_ = true;
      } else if (c == '"') {
        arguments_in_string_ = false;
        if (top) in_arguments_ = false;
      }
      return;
    }
    if (IsSpace(c)) {
      if (!arguments_seen_) return;
      if (top) {  // after a scalar value
        in_arguments_ = false;
        return;
      }
      pending_space_.push_back(c);
      return;
    }
    if (top && arguments_seen_ && (c == ',' || c == '}')) {
      in_arguments_ = false;  // a scalar ended; the call object goes on below
    } else {
      arguments_seen_ = true;
      argument(c);
      if (c == '"') {
        arguments_in_string_ = true;
      } else if (c == '{' || c == '[') {
        ++arguments_depth_;
      } else if (c == '}' || c == ']') {
        if (--arguments_depth_ <= 0) {
          arguments_depth_ = 0;
          in_arguments_ = false;
        }
      }
      return;
    }
  }
  if (in_string_) {
    if (depth_ == 2 && call_open_) token_.push_back(c);
    if (escape_) {
      escape_ = false;
    } else if (c == '\\') {
      escape_ = true;
    } else if (c == '"') {
      in_string_ = false;
      if (depth_ == 2 && call_open_) {
        if (!after_colon_) {
          key_ = Unquote(token_);
        } else {
          if (key_ == "name" && !call_started_) {
            name_ = Unquote(token_);
            if (!name_.empty()) {
              Push(out, ToolDelta::Kind::kCallStart, num_calls_, name_);
              ++num_calls_;
              call_started_ = true;
              if (!arguments_.empty()) Push(out, ToolDelta::Kind::kArguments, num_calls_ - 1, arguments_);
              arguments_.clear();
            }
          }
          after_colon_ = false;
        }
      }
    }
    return;
  }
  switch (c) {
    case '"':
      in_string_ = true;
      token_.assign(1, '"');
      return;
    case '{':
    case '[':
      ++depth_;
      if (depth_ == 2 && c == '{') {
        call_open_ = true;
        key_.clear();
        name_.clear();
        after_colon_ = false;
        call_started_ = false;
        arguments_given_ = false;
        arguments_.clear();
      }
      return;
    case '}':
    case ']':
      if (depth_ == 2 && call_open_) EndArrayCall(out);
      if (depth_ > 0) --depth_;
      return;
    case ':':
      if (depth_ == 2 && call_open_) {
        after_colon_ = true;
        if (key_ == "arguments" && !arguments_given_) {
          in_arguments_ = true;
          arguments_given_ = true;
          arguments_seen_ = false;
          arguments_depth_ = 0;
          arguments_in_string_ = false;
          arguments_escape_ = false;
          pending_space_.clear();
          after_colon_ = false;
        }
      }
      return;
    case ',':
      if (depth_ == 2) after_colon_ = false;
      return;
    default:
      return;  // whitespace, and values of other keys
  }
}

void ToolCallScanner::EndArrayCall(std::vector<ToolDelta>* out) {
  call_open_ = false;
  if (!call_started_) return;  // no name: not a call
  if (!arguments_given_) Push(out, ToolDelta::Kind::kArguments, num_calls_ - 1, "{}");
  call_started_ = false;
}

// --- kHermes: <tool_call>{...}</tool_call> among content -------------------------------------

void ToolCallScanner::FeedHermes(std::string_view text, std::vector<ToolDelta>* out) {
  buffer_.append(text);
  while (true) {
    if (!in_tag_) {
      const size_t open = buffer_.find(kOpenTag);
      if (open != std::string::npos) {
        Content(std::string_view(buffer_).substr(0, open), out);
        buffer_.erase(0, open + kOpenTag.size());
        in_tag_ = true;
        continue;
      }
      const size_t keep = PartialTagAtEnd(buffer_, kOpenTag);
      Content(std::string_view(buffer_).substr(0, buffer_.size() - keep), out);
      buffer_.erase(0, buffer_.size() - keep);
      return;
    }
    const size_t close = buffer_.find(kCloseTag);
    if (close == std::string::npos) return;
    const std::string body = buffer_.substr(0, close);
    buffer_.erase(0, close + kCloseTag.size());
    in_tag_ = false;
    if (!EmitParsedCalls(Trim(body), out)) {
      std::string raw(kOpenTag);
      raw.append(body).append(kCloseTag);
      Content(raw, out);
    }
  }
}

void ToolCallScanner::Feed(std::string_view text, std::vector<ToolDelta>* out) {
  switch (format_) {
    case ToolCallFormat::kNone:
      Content(text, out);
      return;
    case ToolCallFormat::kJsonArray:
      for (char c : text) FeedJsonArray(c, out);
      return;
    case ToolCallFormat::kHermes:
      FeedHermes(text, out);
      return;
    case ToolCallFormat::kBareJson:
      if (decided_ && !bare_call_) return Content(text, out);
      buffer_.append(text);
      if (!decided_) {
        const std::string_view t = Trim(buffer_);
        if (t.empty()) return;
        decided_ = true;
        bare_call_ = t.front() == '{' || t.front() == '[';
        if (!bare_call_) {
          Content(buffer_, out);
          buffer_.clear();
        }
      }
      return;
  }
}

void ToolCallScanner::Finish(std::vector<ToolDelta>* out) {
  if (format_ == ToolCallFormat::kHermes && in_tag_) {
    // The model ended inside a tag (often before writing the close tag).
    if (!EmitParsedCalls(Trim(buffer_), out)) {
      std::string raw(kOpenTag);
      raw.append(buffer_);
      Content(raw, out);
    }
  } else if (format_ == ToolCallFormat::kBareJson && bare_call_) {
    if (!EmitParsedCalls(Trim(buffer_), out)) Content(buffer_, out);
  } else {
    Content(buffer_, out);
  }
  buffer_.clear();
  in_tag_ = false;
  held_space_.clear();  // whitespace around calls is not content
}

ParsedToolOutput ParseToolOutput(ToolCallFormat format, std::string_view text) {
  ToolCallScanner scanner(format);
  std::vector<ToolDelta> deltas;
  scanner.Feed(text, &deltas);
  scanner.Finish(&deltas);
  ParsedToolOutput out;
  for (ToolDelta& d : deltas) {
    switch (d.kind) {
      case ToolDelta::Kind::kContent:
        out.content.append(d.text);
        break;
      case ToolDelta::Kind::kCallStart:
        out.calls.push_back({std::move(d.text), ""});
        break;
      case ToolDelta::Kind::kArguments:
        if (d.index >= 0 && static_cast<size_t>(d.index) < out.calls.size())
          out.calls[d.index].arguments.append(d.text);
        break;
    }
  }
  return out;
}

}  // namespace hearth::daemon
