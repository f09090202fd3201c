#include "daemon/openai/embeddings_request.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstring>

#include "common/base64.h"

namespace hearth::daemon {
namespace {

EmbeddingsRequest Parse(const std::string& body) {
  EmbeddingsRequest r;
  auto e = ParseEmbeddingsRequest(body, &r);
  EXPECT_FALSE(e.has_value()) << body << ": " << (e ? e->message : "");
  return r;
}

ApiError Refused(const std::string& body) {
  EmbeddingsRequest r;
  auto e = ParseEmbeddingsRequest(body, &r);
  EXPECT_TRUE(e.has_value()) << body;
  return e.value_or(ApiError{});
}

TEST(EmbeddingsRequestTest, EveryInputShape) {
  EmbeddingsRequest one = Parse(R"({"model":"m","input":"hello"})");
  EXPECT_EQ(one.model, "m");
  ASSERT_EQ(one.inputs.size(), 1u);
  EXPECT_FALSE(one.inputs[0].is_tokens);
  EXPECT_EQ(one.inputs[0].text, "hello");
  EXPECT_FALSE(one.base64);
  EXPECT_EQ(one.pooling, Pooling::kMean);
  EXPECT_FALSE(one.dimensions.has_value());

  EmbeddingsRequest strings = Parse(R"({"model":"m","input":["a","b","c"]})");
  ASSERT_EQ(strings.inputs.size(), 3u);
  EXPECT_EQ(strings.inputs[2].text, "c");

  EmbeddingsRequest tokens = Parse(R"({"model":"m","input":[1,2,3]})");
  ASSERT_EQ(tokens.inputs.size(), 1u);
  EXPECT_TRUE(tokens.inputs[0].is_tokens);
  EXPECT_EQ(tokens.inputs[0].tokens, (std::vector<int32_t>{1, 2, 3}));

  EmbeddingsRequest lists = Parse(R"({"model":"m","input":[[1,2],[3]]})");
  ASSERT_EQ(lists.inputs.size(), 2u);
  EXPECT_EQ(lists.inputs[1].tokens, (std::vector<int32_t>{3}));
}

TEST(EmbeddingsRequestTest, OptionsAreRead) {
  EmbeddingsRequest r =
      Parse(R"({"model":"m","input":"x","encoding_format":"base64","dimensions":576,"pooling":"last","user":"u"})");
  EXPECT_TRUE(r.base64);
  EXPECT_EQ(r.dimensions, 576);
  EXPECT_EQ(r.pooling, Pooling::kLast);
  EXPECT_FALSE(Parse(R"({"model":"m","input":"x","encoding_format":"float","pooling":"mean"})").base64);
}

TEST(EmbeddingsRequestTest, BadInputIsRefusedNamingTheField) {
  EXPECT_EQ(Refused(R"({"input":"x"})").param, "model");
  EXPECT_EQ(Refused(R"({"model":"m"})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":""})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":[]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":["a",""]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":[[]]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":[-1]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":[1.5]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":[4294967296]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":["a",[1]]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":[[1],"a"]})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":{"a":1}})").param, "input");
  EXPECT_EQ(Refused(R"({"model":"m","input":"x","encoding_format":"int8"})").param, "encoding_format");
  EXPECT_EQ(Refused(R"({"model":"m","input":"x","dimensions":0})").param, "dimensions");
  EXPECT_EQ(Refused(R"({"model":"m","input":"x","dimensions":"8"})").param, "dimensions");
  EXPECT_EQ(Refused(R"({"model":"m","input":"x","pooling":"cls"})").param, "pooling");
  EXPECT_EQ(Refused(R"({"model":"m","input":"x","user":3})").param, "user");
  EXPECT_EQ(Refused(R"({"model":"m","input":"x","temperature":1})").param, "temperature");  // not this endpoint's
  EXPECT_EQ(Refused(R"({"model":"m","input":"x","bogus":1})").param, "bogus");
  EXPECT_EQ(Refused(R"([1,2])").param, "");
  EXPECT_EQ(Refused(R"({"model":"m",)").param, "");
}

TEST(EmbeddingsRequestTest, InputCountIsBounded) {
  std::string body = R"({"model":"m","input":[)";
  for (size_t i = 0; i <= kMaxEmbeddingInputs; ++i) body += i == 0 ? "\"a\"" : ",\"a\"";
  body += "]}";
  EXPECT_EQ(Refused(body).param, "input");
  EmbeddingsRequest r;
  const std::string at_limit = body.substr(0, body.size() - 6) + "]}";  // one "a" fewer
  EXPECT_FALSE(ParseEmbeddingsRequest(at_limit, &r).has_value());
  EXPECT_EQ(r.inputs.size(), kMaxEmbeddingInputs);
  // One list of token ids is one input, however long (the context bounds it).
  std::string ids = R"({"model":"m","input":[1)";
  for (size_t i = 0; i <= kMaxEmbeddingInputs; ++i) ids += ",1";
  EmbeddingsRequest one = Parse(ids + "]}");
  ASSERT_EQ(one.inputs.size(), 1u);
  EXPECT_EQ(one.inputs[0].tokens.size(), kMaxEmbeddingInputs + 2);
}

// The plain reference: Python's base64.b64encode(struct.pack('<2f', 1.0, -2.5)).
TEST(EmbeddingsRequestTest, Base64IsLittleEndianFloat32) {
  const std::vector<float> v = {1.0f, -2.5f};
  EXPECT_EQ(EmbeddingBase64(v), "AACAPwAAIMA=");
  const std::vector<float> odd = {0.1f, -0.0f, 3.4028235e38f, 1e-45f, 0.33333334f};
  StatusOr<std::string> bytes = Base64Decode(EmbeddingBase64(odd));
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(bytes->size(), odd.size() * 4);
  std::vector<float> back(odd.size());
  std::memcpy(back.data(), bytes->data(), bytes->size());  // this machine is little-endian
  for (size_t i = 0; i < odd.size(); ++i) EXPECT_EQ(std::memcmp(&back[i], &odd[i], 4), 0) << i;
}

TEST(EmbeddingsRequestTest, ResponseShapeAndFloatsReadBackExactly) {
  const std::vector<std::vector<float>> e = {{0.6f, -0.8f}, {0.1f, 0.33333334f}};
  rapidjson::Document doc;
  doc.Parse(EmbeddingsResponseJson("smol", e, false, 7).c_str());
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["object"].GetString(), "list");
  EXPECT_STREQ(doc["model"].GetString(), "smol");
  EXPECT_EQ(doc["usage"]["prompt_tokens"].GetInt(), 7);
  EXPECT_EQ(doc["usage"]["total_tokens"].GetInt(), 7);
  ASSERT_EQ(doc["data"].Size(), 2u);
  for (rapidjson::SizeType i = 0; i < 2; ++i) {
    const auto& d = doc["data"][i];
    EXPECT_STREQ(d["object"].GetString(), "embedding");
    EXPECT_EQ(d["index"].GetUint(), i);
    ASSERT_EQ(d["embedding"].Size(), 2u);
    for (rapidjson::SizeType j = 0; j < 2; ++j) EXPECT_EQ(static_cast<float>(d["embedding"][j].GetDouble()), e[i][j]);
  }
  doc.Parse(EmbeddingsResponseJson("smol", e, true, 7).c_str());
  EXPECT_EQ(std::string(doc["data"][1]["embedding"].GetString()), EmbeddingBase64(e[1]));
}

}  // namespace
}  // namespace hearth::daemon
