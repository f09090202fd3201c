#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth {
namespace {

TEST(JsonWriterTest, WriteStringEscapesAndKeepsLength) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  WriteString(w, "a\"b\\c\n");
  WriteString(w, std::string("x\0y", 3));
  WriteString(w, std::string_view("abcdef").substr(1, 2));  // not NUL-terminated
  w.EndArray();
  EXPECT_EQ(std::string(buf.GetString()), R"(["a\"b\\c\n","x\u0000y","bc"])");
}

TEST(JsonWriterTest, JsonQuote) {
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote("caf\xC3\xA9 \"q\""), "\"caf\xC3\xA9 \\\"q\\\"\"");
}

}  // namespace
}  // namespace hearth
