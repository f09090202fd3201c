// A Jinja template, parsed once and rendered many times: the public face of this folder.
// Supports the subset of Jinja that model chat templates use (docs/models.md lists it), with
// the environment Hugging Face transformers renders chat templates in: trim_blocks,
// lstrip_blocks, loop controls, and the globals raise_exception and strftime_now.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "model/jinja/value.h"

namespace hearth::model::jinja {

struct Stmt;

class Template {
 public:
  // InvalidArgument "line N: ..." on a syntax error or a tag outside the subset.
  static StatusOr<Template> Parse(std::string_view source);

  // Renders with `variables` (messages, tools, bos_token, ...) plus the built-in globals
  // range, namespace, dict, raise_exception and strftime_now (formatting `now`, local time).
  // InvalidArgument "line N: ..." when the template fails or raises, or exceeds a limit.
  StatusOr<std::string> Render(const std::unordered_map<std::string, Value>& variables,
                               std::time_t now) const;

 private:
  explicit Template(std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body)
      : body_(std::move(body)) {}
  std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;  // shared: copies are cheap
};

}  // namespace hearth::model::jinja
