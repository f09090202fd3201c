// hearth-bench-chat-template: the time a chat request spends turning its messages into prompt
// text, with the template parsed on every request (as before) and parsed once per model (the
// tokenizer's chat()). Reads the template from a GGUF file (default: SmolLM2), or from a Jinja
// file (--template, e.g. model/jinja/testdata/templates/llama3.1.jinja), and renders a
// four-message conversation. Prints JSON on stdout: microseconds per request, median of rounds.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/tokenizer_gguf.h"

namespace hearth::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Median over `rounds` of the mean microseconds of `iterations` calls of `fn`.
template <typename Fn>
double MedianMicros(int rounds, int iterations, Fn fn) {
  std::vector<double> means;
  for (int r = 0; r < rounds; ++r) {
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < iterations; ++i) fn();
    means.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / iterations);
  }
  std::sort(means.begin(), means.end());
  return means[means.size() / 2];
}

int Run(const std::string& path, const std::string& template_path, int rounds, int iterations) {
  auto file = model::GgufFile::Open(path);
  if (!file.ok()) return std::fprintf(stderr, "%s\n", file.status().ToString().c_str()), 1;
  auto tokenizer = model::LoadTokenizerFromGguf(**file);
  if (!tokenizer.ok()) return std::fprintf(stderr, "%s\n", tokenizer.status().ToString().c_str()), 1;
  const model::Tokenizer& tok = **tokenizer;
  std::string source = tok.chat_template();
  if (!template_path.empty()) {
    std::ifstream in(template_path);
    if (!in) return std::fprintf(stderr, "cannot read %s\n", template_path.c_str()), 1;
    std::stringstream text;
    text << in.rdbuf();
    source = text.str();
  }
  const std::vector<model::ChatMessage> messages = {{"system", "You are a helpful assistant."},
                                                    {"user", "What is the capital of France?"},
                                                    {"assistant", "The capital of France is Paris."},
                                                    {"user", "And of Italy?"}};
  const std::string eos = tok.eos_id() >= 0 ? tok.token_text(tok.eos_id()) : "";
  // What the tokenizer keeps (chat()): the template parsed once.
  const auto once = model::ChatTemplate::FromJinja(source, eos);
  if (!once.ok()) return std::fprintf(stderr, "%s\n", once.status().ToString().c_str()), 1;
  size_t bytes = 0;  // keeps the work observable
  const double parse_and_render = MedianMicros(rounds, iterations, [&] {
    auto tmpl = model::ChatTemplate::FromJinja(source, eos);
    bytes += tmpl->Render(messages, true)->size();
  });
  const double render_only = MedianMicros(rounds, iterations, [&] { bytes += once->Render(messages, true)->size(); });
  std::printf(
      "{\"model\": \"%s\", \"template\": \"%s\", \"template_bytes\": %zu, \"rounds\": %d, \"iterations\": %d, "
      "\"parse_and_render_us\": %.2f, \"render_only_us\": %.2f, \"speedup\": %.2f, \"rendered_bytes\": %zu}\n",
      path.c_str(), template_path.empty() ? "the model's" : template_path.c_str(), source.size(), rounds, iterations, parse_and_render, render_only,
      parse_and_render / render_only, bytes);
  return 0;
}

}  // namespace
}  // namespace hearth::bench

int main(int argc, char** argv) {
  CLI::App app{"per-request chat template cost: parsed every request versus parsed once per model"};
  std::string path = "/root/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::string template_path;
  int rounds = 7, iterations = 2000;
  app.add_option("--model", path, "GGUF file whose chat template is rendered");
  app.add_option("--template", template_path, "a Jinja file to render instead of the model's template");
  app.add_option("--rounds", rounds, "rounds (the median is reported)")->check(CLI::PositiveNumber);
  app.add_option("--iterations", iterations, "requests per round")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  return hearth::bench::Run(path, template_path, rounds, iterations);
}
