// Each family's layout follows its published template; see
// model/testdata/tokenizer/chat_templates.json for the reference renderings we test against.
#include "model/chat_template.h"

#include <initializer_list>

#include "model/unicode.h"

namespace hearth::model {
namespace {

// Joins pieces with append(): GCC 12 raises a false -Wrestrict on chains of operator+.
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

bool Contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

// The default system prompt a ChatML template writes as a literal, e.g.
// '<|im_start|>system\nYou are a helpful AI assistant named SmolLM...<|im_end|>\n'.
// The newline may be a real one or the two characters "\n" of a Jinja string escape.
std::string FindDefaultSystemPrompt(std::string_view source) {
  constexpr std::string_view kOpen = "<|im_start|>system";
  for (size_t at = source.find(kOpen); at != std::string_view::npos;
       at = source.find(kOpen, at + 1)) {
    std::string_view rest = source.substr(at + kOpen.size());
    if (rest.starts_with("\\n")) {
      rest.remove_prefix(2);
    } else if (rest.starts_with("\n")) {
      rest.remove_prefix(1);
    } else {
      continue;
    }
    const size_t end = rest.find("<|im_end|>");
    if (end == std::string_view::npos || end == 0) continue;
    const std::string_view text = rest.substr(0, end);
    if (text.find_first_of("'\"{}+") != std::string_view::npos) continue;  // not a literal
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
        out.push_back('\n');
        ++i;
      } else {
        out.push_back(text[i]);
      }
    }
    return out;
  }
  return "";
}

// Jinja's `trim` filter: Python's str.strip(), which removes Unicode whitespace.
std::string Trim(std::string_view s) {
  const DecodedText d = DecodeUtf8(s);
  auto space = [](uint32_t cp) { return IsWhitespace(cp) || (cp >= 0x1C && cp <= 0x1F); };
  size_t b = 0, e = d.cps.size();
  while (b < e && space(d.cps[b])) ++b;
  while (e > b && space(d.cps[e - 1])) --e;
  return std::string(s.substr(d.offsets[b], d.offsets[e] - d.offsets[b]));
}

Status CheckRoles(std::span<const ChatMessage> messages) {
  for (const ChatMessage& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
      return Status::InvalidArgument("unknown chat role '" + m.role +
                                     "' (expected system, user, assistant or tool)");
    }
  }
  return Status::Ok();
}

std::string RenderChatMl(std::span<const ChatMessage> messages, const std::string& default_system,
                         bool add_generation_prompt) {
  std::string out;
  if (!messages.empty() && messages[0].role != "system" && !default_system.empty()) {
    out += Cat({"<|im_start|>system\n", default_system, "<|im_end|>\n"});
  }
  for (const ChatMessage& m : messages) {
    out += Cat({"<|im_start|>", m.role, "\n", m.content, "<|im_end|>\n"});
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string RenderLlama3(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    // Llama 3.1+ templates call the tool role "ipython".
    const std::string& role = m.role == "tool" ? std::string("ipython") : m.role;
    out += Cat({"<|start_header_id|>", role, "<|end_header_id|>\n\n", Trim(m.content), "<|eot_id|>"});
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

}  // namespace

const char* ChatTemplateFamilyName(ChatTemplateFamily family) {
  switch (family) {
    case ChatTemplateFamily::kChatMl: return "chatml";
    case ChatTemplateFamily::kLlama3: return "llama3";
    case ChatTemplateFamily::kMistral: return "mistral";
    case ChatTemplateFamily::kLlama2: return "llama2";
  }
  return "?";
}

StatusOr<ChatTemplate> ChatTemplate::FromJinja(std::string_view source, std::string eos_text) {
  if (Contains(source, "<|im_start|>")) {
    return ChatTemplate(ChatTemplateFamily::kChatMl, FindDefaultSystemPrompt(source),
                        std::move(eos_text));
  }
  if (Contains(source, "<|start_header_id|>")) {
    return ChatTemplate(ChatTemplateFamily::kLlama3, "", std::move(eos_text));
  }
  if (Contains(source, "[INST]")) {
    const auto family =
        Contains(source, "<<SYS>>") ? ChatTemplateFamily::kLlama2 : ChatTemplateFamily::kMistral;
    return ChatTemplate(family, "", eos_text.empty() ? "</s>" : std::move(eos_text));
  }
  if (source.empty()) return Status::Unimplemented("the model has no chat template");
  return Status::Unimplemented("unsupported chat template (known: ChatML, Llama 3, Mistral/Llama 2)");
}

StatusOr<std::string> ChatTemplate::Render(std::span<const ChatMessage> messages,
                                           bool add_generation_prompt) const {
  HEARTH_RETURN_IF_ERROR(CheckRoles(messages));
  switch (family_) {
    case ChatTemplateFamily::kChatMl:
      return RenderChatMl(messages, default_system_, add_generation_prompt);
    case ChatTemplateFamily::kLlama3:
      return RenderLlama3(messages, add_generation_prompt);
    case ChatTemplateFamily::kMistral:
    case ChatTemplateFamily::kLlama2:
      return RenderInstruct(messages);  // the next turn always starts after [/INST]
  }
  return Status::Internal("unknown chat template family");
}

// [INST] families: turns must go user, assistant, user, ... after an optional system message,
// which Llama 2 wraps in <<SYS>> and Mistral prepends to the first user message.
StatusOr<std::string> ChatTemplate::RenderInstruct(std::span<const ChatMessage> messages) const {
  std::string system;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    messages = messages.subspan(1);
  }
  const bool llama2 = family_ == ChatTemplateFamily::kLlama2;
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool user_turn = i % 2 == 0;
    if ((m.role == "user") != user_turn || (!user_turn && m.role != "assistant")) {
      return Status::InvalidArgument(
          "this model's chat template needs roles to alternate user/assistant after an "
          "optional system message");
    }
    if (user_turn) {
      std::string content = llama2 ? Trim(m.content) : m.content;
      if (i == 0 && !system.empty()) {
        content = llama2 ? Cat({"<<SYS>>\n", system, "\n<</SYS>>\n\n", content})
                         : Cat({system, "\n\n", content});
      }
      if (llama2 && i > 0) out += "<s>";  // Llama 2's BOS opens every later turn
      out += Cat({"[INST] ", content, " [/INST]"});
    } else {
      out += llama2 ? Cat({" ", Trim(m.content), " ", eos_}) : Cat({m.content, eos_});
    }
  }
  return out;
}

}  // namespace hearth::model
