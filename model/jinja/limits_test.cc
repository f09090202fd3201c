// Hostile templates end in an error naming the limit, never a crash, a hang or unbounded memory.
#include <gtest/gtest.h>

#include <string>

#include "model/jinja/template.h"

namespace hearth::model::jinja {
namespace {

std::string Error(const std::string& src) {
  auto t = Template::Parse(src);
  if (!t.ok()) return t.status().message();
  auto out = t->Render({}, 0);
  return out.ok() ? "rendered " + std::to_string(out->size()) + " bytes" : out.status().message();
}

bool Has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

TEST(LimitsTest, DeepNesting) {
  EXPECT_TRUE(Has(Error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"), "nested too deeply"));
  EXPECT_TRUE(Has(Error("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}"), "nested too deeply"));
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  EXPECT_TRUE(Has(Error(ifs), "nested too deeply"));
  EXPECT_TRUE(Has(Error("{{ " + std::string(5000, '-') + "1 }}"), "nested too deeply"));
  EXPECT_TRUE(Has(Error("{{ " + std::string(5000, '!') + " }}"), "unexpected character"));
  // Nesting built at run time rather than in the source.
  EXPECT_TRUE(Has(Error("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}"),
                  "nested too deeply"));
}

TEST(LimitsTest, HugeLoopsAndValues) {
  EXPECT_TRUE(Has(Error("{% for i in range(1000000000) %}{% endfor %}"), "list longer than the limit"));
  EXPECT_TRUE(Has(Error("{% for i in range(90000) %}{% for j in range(90000) %}{% endfor %}{% endfor %}"), "too many steps"));
  EXPECT_TRUE(Has(Error("{% for i in range(90000) %}{% if i > 1 and i < 0 %}{% endif %}{% endfor %}"), "rendered"));
  EXPECT_TRUE(Has(Error("{{ 'x' * 1000000000 }}"), "longer than the limit"));
  EXPECT_TRUE(Has(Error("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
                  "longer than the limit"));
  EXPECT_TRUE(Has(Error("{% for i in range(100000) %}{{ 'y' * 2000 }}{% endfor %}"), "output longer than the limit"));
  EXPECT_TRUE(Has(Error("{{ [1] * 1000000000 }}"), "list longer than the limit"));
  EXPECT_TRUE(Has(Error("{{ 2 ** 100 }}"), "integer overflow"));
}

TEST(LimitsTest, SelfRecursiveMacros) {
  EXPECT_TRUE(Has(Error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "nested too deeply"));
  EXPECT_TRUE(Has(Error("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(0) }}"), "nested too deeply"));
  // Fan-out recursion within the depth limit still stops at the step limit.
  EXPECT_TRUE(Has(Error("{% macro f(n) %}{% if n < 19 %}{{ f(n + 1) }}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}"),
                  "too many steps"));
}

}  // namespace
}  // namespace hearth::model::jinja
