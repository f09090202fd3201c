// Chat templates: turn a conversation into the prompt text a model was trained on. We do not
// run Jinja; the family is recognised from markers in the model's template and rendered by
// hand, including the default system prompt a template inserts (SmolLM2, Qwen2.5).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hearth::model {

enum class ChatTemplateFamily {
  kChatMl,   // <|im_start|>role\n...<|im_end|>\n (SmolLM2, Qwen)
  kLlama3,   // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  kMistral,  // [INST] user [/INST]assistant</s> (Mistral, Llama 2 without <<SYS>>)
  kLlama2,   // [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant </s><s>[INST] ...
};

const char* ChatTemplateFamilyName(ChatTemplateFamily family);

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" or "tool"
  std::string content;
};

class ChatTemplate {
 public:
  // Recognises the family of a Jinja template. Unimplemented when it is empty or not one we
  // know: callers report that only for chat requests (plain completions need no template).
  // `eos_text` is the end-of-sequence token's spelling, which some families write.
  static StatusOr<ChatTemplate> FromJinja(std::string_view source, std::string eos_text = "");

  // Renders `messages`; add_generation_prompt appends the header of an assistant turn. The
  // text has no BOS: tokenize it with add_special=true (adds BOS when the model wants one) and
  // parse_special=true. InvalidArgument for an unknown role, or roles out of order where the
  // family requires alternation (Mistral, Llama 2).
  StatusOr<std::string> Render(std::span<const ChatMessage> messages,
                               bool add_generation_prompt) const;

  ChatTemplateFamily family() const { return family_; }
  const std::string& default_system_prompt() const { return default_system_; }  // "" if none

 private:
  ChatTemplate(ChatTemplateFamily family, std::string default_system, std::string eos_text)
      : family_(family), default_system_(std::move(default_system)), eos_(std::move(eos_text)) {}

  StatusOr<std::string> RenderInstruct(std::span<const ChatMessage> messages) const;

  ChatTemplateFamily family_;
  std::string default_system_;
  std::string eos_;
};

}  // namespace hearth::model
