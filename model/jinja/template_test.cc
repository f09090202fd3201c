#include "model/jinja/template.h"

#include <gtest/gtest.h>

namespace hearth::model::jinja {
namespace {

// Renders `src` with the variables of the JSON object `vars`; errors come back as "ERROR: ...".
std::string Render(std::string_view src, std::string_view vars = "{}") {
  auto t = Template::Parse(src);
  if (!t.ok()) return "ERROR: " + t.status().message();
  auto v = ParseJson(vars);
  EXPECT_TRUE(v.ok());
  std::unordered_map<std::string, Value> m;
  for (const auto& [k, e] : v->as_dict().items) m[k] = e;
  auto out = t->Render(m, 0);
  return out.ok() ? *out : "ERROR: " + out.status().message();
}

struct Case {
  const char* src;
  const char* vars;
  const char* want;
};

// Each expectation is what jinja2 3.1 renders (trim_blocks, lstrip_blocks).
TEST(TemplateTest, Expressions) {
  const Case cases[] = {
      {"{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}", "{}", "7|3|-4|2|3.5|1024"},
      {"{{ 'a' ~ 1 ~ none }}|{{ 'ab' * 3 }}|{{ [1] + [2] }}", "{}", "a1None|ababab|[1, 2]"},
      {"{{ x if x else 'no' }}|{{ 'yes' if true }}|{{ y if false }}", "{\"x\": 0}", "no|yes|"},
      {"{{ s[1:] }}|{{ s[::-1] }}|{{ s[-2:] }}|{{ l[1:3] }}|{{ l[-1] }}", "{\"s\": \"héllo\", \"l\": [1,2,3,4]}", "éllo|olléh|lo|[2, 3]|4"},
      {"{{ d.a }}|{{ d['a'] }}|{{ d.missing }}|{{ d.get('missing', 'dflt') }}|{{ d.get('z') }}", "{\"d\": {\"a\": 1}}", "1|1||dflt|None"},
      {"{{ 'x' in 'axb' }}|{{ 2 in [1, 2] }}|{{ 'a' in d }}|{{ 3 not in [1] }}", "{\"d\": {\"a\": 1}}", "True|True|True|True"},
      {"{{ 1 < 2 and 'b' > 'a' }}|{{ 0 or 'z' }}|{{ not none }}|{{ True == true }}", "{}", "True|z|True|True"},
      {"{{ {'k': [1, 'two', none, true, 1.5]} }}", "{}", "{'k': [1, 'two', None, True, 1.5]}"},
      {"{{ '  x  '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'a b  c'.split() }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}", "{}",
       "x|['a', 'b']|['a', 'b', 'c']|ABab"},
      {"{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'hello world'.title() }}", "{}",
       "True|True|bXb|Hello World"},
      {"{{ d.items() | list }}|{{ d.keys() | list }}|{{ d.values() | list }}", "{\"d\": {\"a\": 1, \"b\": 2}}",
       "[['a', 1], ['b', 2]]|['a', 'b']|[1, 2]"},
  };
  for (const Case& c : cases) EXPECT_EQ(Render(c.src, c.vars), c.want) << c.src;
}

TEST(TemplateTest, Filters) {
  const Case cases[] = {
      {"{{ ' a '|trim }}|{{ 'ab'|upper }}|{{ l|length }}|{{ 'héllo'|length }}|{{ l|first }}|{{ l|last }}", "{\"l\": [3,1,2]}", "a|AB|3|5|3|2"},
      {"{{ l|join(', ') }}|{{ l|sort|list }}|{{ l|reverse|list }}|{{ l|sort(reverse=true)|join }}", "{\"l\": [3,1,2]}", "3, 1, 2|[1, 2, 3]|[2, 1, 3]|321"},
      {"{{ x|default('d') }}|{{ ''|default('d', true) }}|{{ 0|d('z') }}", "{}", "d|d|0"},
      {"{{ '3'|int + 1 }}|{{ '2.5'|float }}|{{ 'x'|int }}|{{ 2.7|int }}|{{ 2.5|round }}|{{ -3|abs }}|{{ 3.14159|round(2) }}", "{}", "4|2.5|0|2|2.0|3|3.14"},
      {"{{ v|tojson }}", "{\"v\": {\"a\": \"é<\", \"b\": [1, 2.0]}}", "{\"a\": \"é<\", \"b\": [1, 2.0]}"},
      {"{{ v|tojson(indent=2) }}", "{\"v\": {\"a\": [1]}}", "{\n  \"a\": [\n    1\n  ]\n}"},
      {"{{ m|selectattr('role', 'equalto', 'user')|map(attribute='c')|list }}|{{ m|rejectattr('c')|list|length }}",
       "{\"m\": [{\"role\": \"user\", \"c\": \"a\"}, {\"role\": \"x\", \"c\": \"\"}]}", "['a']|1"},
      {"{{ ['a', 'A', 'b']|unique|list }}|{{ 'hello WORLD'|title }}|{{ 'hello WORLD'|capitalize }}", "{}", "['a', 'b']|Hello World|Hello world"},
      {"{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}", "{}", "a\n  b\n\n  c|  a\n  b"},
      {"{{ d|dictsort }}|{{ d|items|list }}", "{\"d\": {\"b\": 1, \"a\": 2}}", "[['a', 2], ['b', 1]]|[['b', 1], ['a', 2]]"},
      {"{{ none|selectattr('type', 'equalto', 'x')|list|length }}|{{ none|map(attribute='a')|list }}", "{}", "0|[]"},
      {"{{ 'a-b'|replace('-', '+') }}|{{ 1|string ~ 'x' }}|{{ [1,2]|sum }}|{{ ['b','a']|min }}", "{}", "a+b|1x|3|a"},
  };
  for (const Case& c : cases) EXPECT_EQ(Render(c.src, c.vars), c.want) << c.src;
}

TEST(TemplateTest, Tests) {
  const Case cases[] = {
      {"{{ x is defined }}{{ x is undefined }}{{ n is none }}{{ n is not none }}", "{\"n\": null}", "FalseTrueTrueFalse"},
      {"{{ 's' is string }}{{ 1 is number }}{{ {} is mapping }}{{ [] is iterable }}{{ 'x' is sequence }}", "{}", "TrueTrueTrueTrueTrue"},
      {"{{ true is boolean }}{{ true is true }}{{ 0 is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby(3) }}", "{}", "TrueTrueFalseTrueTrueTrue"},
      {"{{ 1 is eq 1 }}{{ 'a' is in 'abc' }}{{ 2 is gt(1) }}", "{}", "TrueTrueTrue"},
  };
  for (const Case& c : cases) EXPECT_EQ(Render(c.src, c.vars), c.want) << c.src;
}

TEST(TemplateTest, Statements) {
  const Case cases[] = {
      {"{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }},{% endfor %}",
       "{\"l\": [\"a\", \"b\"]}", "10TrueFalse22,21FalseTrue21,"},
      {"{% for x in [] %}a{% else %}empty{% endfor %}", "{}", "empty"},
      {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}", "{\"d\": {\"a\": 1, \"b\": 2}}", "a=1;b=2;ab"},
      {"{% for x in range(10) if x is odd %}{{ x }}{% if loop.last %}!{% endif %}{% endfor %}", "{}", "13579!"},
      {"{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", "{}", "013"},
      {"{% set ns = namespace(n=0) %}{% for x in range(3) %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", "{}", "3"},
      {"{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}", "{}", "1"},
      {"{% if false %}a{% elif 1 %}b{% else %}c{% endif %}", "{}", "b"},
      {"{% set b %}in {{ 1 }}{% endset %}[{{ b }}]", "{}", "[in 1]"},
      {"{% filter upper %} a{{ 'b' }} {% endfilter %}|{% filter replace('x', 'y') %}xx{% endfilter %}", "{}", " AB |yy"},
      {"{% macro m(a, b='d') %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, b=2) }}", "{}", "1-d 1-2"},
      {"{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}", "{}", "<in>"},
      {"{#- comment -#}\n  {%- for x in [1, 2] %}\n    {{- x }}\n  {%- endfor %}\n", "{}", "12"},
      {"{% if true %}\n  yes\n{% endif %}\n", "{}", "  yes\n"},
  };
  for (const Case& c : cases) EXPECT_EQ(Render(c.src, c.vars), c.want) << c.src;
}

TEST(TemplateTest, UndefinedBehavesAsJinja) {
  EXPECT_EQ(Render("[{{ x }}]{{ x|length }}{% for a in x %}no{% endfor %}{% if not x %}f{% endif %}"), "[]0f");
  EXPECT_EQ(Render("{{ d.a is defined }}{{ d.a.b is defined }}", "{\"d\": {}}").substr(0, 6), "ERROR:");
  EXPECT_EQ(Render("{{ d.a is defined }}", "{\"d\": {}}"), "False");
  EXPECT_EQ(Render("{{ x.y }}"), "ERROR: line 1: 'x' is undefined");
  EXPECT_EQ(Render("{{ x + 1 }}"), "ERROR: line 1: 'x' is undefined");
  EXPECT_EQ(Render("{{ none.y }}|{{ 'ab'.y }}"), "|");
}

TEST(TemplateTest, ErrorsNameTheLine) {
  EXPECT_EQ(Render("a\n{{ raise_exception('bad roles') }}"), "ERROR: line 2: the template raised an error: bad roles");
  EXPECT_EQ(Render("\n\n{% if x %}"), "ERROR: line 3: missing {% endif %} (the template ended)");
  EXPECT_EQ(Render("{% foo %}"), "ERROR: line 1: unsupported tag 'foo'");
  EXPECT_EQ(Render("{{ x|nosuchfilter }}"), "ERROR: line 1: unknown filter 'nosuchfilter'");
  EXPECT_EQ(Render("{{ 1 / 0 }}"), "ERROR: line 1: division by zero");
  EXPECT_EQ(Render("{{ 'a' + 1 }}"), "ERROR: line 1: unsupported operand types for +: 'string' and 'integer'");
  EXPECT_EQ(Render("{% set x.y = 1 %}", "{\"x\": {}}"), "ERROR: line 1: cannot assign attribute on 'x' (not a namespace())");
}

TEST(TemplateTest, StrftimeNowFormatsTheGivenTime) {
  auto t = Template::Parse("{{ strftime_now('%Y') }}");
  ASSERT_TRUE(t.ok());
  auto out = t->Render({}, 1735732800);  // 2025-01-01 12:00 UTC: the same year in every zone
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "2025");
}

}  // namespace
}  // namespace hearth::model::jinja
