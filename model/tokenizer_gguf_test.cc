// Conformance with llama.cpp on the real SmolLM2 vocabulary (fixtures from
// scripts/make-tokenizer-fixtures.py) and loader errors on synthetic GGUF files.
#include "model/tokenizer_gguf.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>

#include "model/chat_template.h"
#include "model/gguf_test_util.h"
#include "model/gguf_writer.h"

namespace hearth::model {
namespace {

struct Fixture {
  std::string text;
  bool special = true;
  std::vector<int32_t> ids;
};

std::vector<Fixture> ReadFixtures(const std::string& path) {
  std::vector<Fixture> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError() || !d.IsObject()) {
      ADD_FAILURE() << "bad fixture line: " << line;
      continue;
    }
    Fixture f;
    f.text.assign(d["text"].GetString(), d["text"].GetStringLength());
    f.special = d["special"].GetBool();
    for (const auto& v : d["ids"].GetArray()) f.ids.push_back(v.GetInt());
    out.push_back(std::move(f));
  }
  return out;
}

class SmolLM2TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = testing::FindSmolLM2Path();
    if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set HEARTH_MODEL_PATH)";
    auto t = LoadTokenizerFromGguf(path);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tokenizer_ = std::move(t).value();
  }
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(SmolLM2TokenizerTest, MatchesLlamaCpp) {
  const auto fixtures = ReadFixtures(testing::TestdataDir() + "/tokenizer/smollm2.jsonl");
  ASSERT_GE(fixtures.size(), 500u);
  int mismatches = 0;
  for (const Fixture& f : fixtures) {
    const std::vector<int32_t> ids = tokenizer_->Encode(f.text, false, f.special);
    if (ids != f.ids && ++mismatches <= 10) {
      ADD_FAILURE() << "ids differ from llama.cpp for '" << f.text << "' (special=" << f.special
                    << ")";
    }
    auto back = tokenizer_->Decode(ids, {.render_special = true});
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, f.text);
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(SmolLM2TokenizerTest, Metadata) {
  const Tokenizer& t = *tokenizer_;
  EXPECT_EQ(t.vocab_size(), 49152);
  EXPECT_EQ(t.kind(), TokenizerKind::kBytePair);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.eot_id(), 2);
  EXPECT_FALSE(t.add_bos());
  EXPECT_EQ(t.token_text(1), "<|im_start|>");
  EXPECT_TRUE(t.IsEndOfGeneration(2));
  EXPECT_TRUE(t.IsEndOfGeneration(0));
  EXPECT_NE(t.chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(t.Encode("Hello", true, true), t.Encode("Hello", false, true));  // no BOS added
}

TEST_F(SmolLM2TokenizerTest, ChatTemplateFromTheFile) {
  auto tmpl = ChatTemplate::FromJinja(tokenizer_->chat_template(),
                                      tokenizer_->token_text(tokenizer_->eos_id()));
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
  const std::vector<ChatMessage> messages = {{"user", "Hi"}};
  const std::vector<int32_t> ids = tokenizer_->Encode(*tmpl->Render(messages, true), true, true);
  EXPECT_EQ(ids.front(), 1);  // <|im_start|>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 2);  // <|im_end|> after system and user
}

// The tokenizer parses its template once; rendering it gives what a fresh parse gives.
TEST_F(SmolLM2TokenizerTest, ChatTemplateParsedOnceRendersAsAFreshParse) {
  const StatusOr<ChatTemplate>& cached = tokenizer_->chat();
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  auto fresh = ChatTemplate::FromJinja(tokenizer_->chat_template(), tokenizer_->token_text(tokenizer_->eos_id()));
  ASSERT_TRUE(fresh.ok());
  const std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."},
                                             {"user", "Name a colour."}};
  EXPECT_EQ(*cached->Render(messages, true, "", 0), *fresh->Render(messages, true, "", 0));
  EXPECT_EQ(&tokenizer_->chat(), &cached);  // the same object every time
}

TEST_F(SmolLM2TokenizerTest, LongText) {
  std::string text;
  while (text.size() < 10000) text += "The quick brown fox, 1234 jumps; über 中文 😀.\n";
  const std::vector<int32_t> ids = tokenizer_->Encode(text, false, false);
  EXPECT_LT(ids.size(), text.size() / 2);
  EXPECT_EQ(*tokenizer_->Decode(ids), text);
}

// A minimal byte-level tokenizer in GGUF form, for loader error cases.
GgufWriter MinimalWriter() {
  GgufWriter w;
  w.AddString("tokenizer.ggml.model", "gpt2");
  w.AddString("tokenizer.ggml.pre", "smollm");
  w.AddStringArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
  w.AddStringArray("tokenizer.ggml.merges", {"a b"});
  w.AddUint32("tokenizer.ggml.eos_token_id", 2);
  return w;
}

StatusOr<std::unique_ptr<Tokenizer>> Load(const GgufWriter& w, std::vector<uint8_t>* keep) {
  auto bytes = w.Serialize();
  if (!bytes.ok()) return bytes.status();
  *keep = std::move(bytes).value();
  HEARTH_ASSIGN_OR_RETURN(auto file, GgufFile::Parse(keep->data(), keep->size()));
  return LoadTokenizerFromGguf(*file);
}

TEST(TokenizerGgufTest, LoadsMinimalFile) {
  std::vector<uint8_t> keep;
  auto t = Load(MinimalWriter(), &keep);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Encode("ab", false, false), (std::vector<int32_t>{2}));
  EXPECT_EQ((*t)->eos_id(), 2);
  EXPECT_EQ((*t)->bos_id(), -1);
}

TEST(TokenizerGgufTest, Errors) {
  std::vector<uint8_t> keep;
  {
    GgufWriter w;
    w.AddStringArray("tokenizer.ggml.tokens", {"a"});
    const Status st = Load(w, &keep).status();
    EXPECT_TRUE(st.IsCorruption());
    EXPECT_NE(st.message().find("tokenizer.ggml.model"), std::string::npos) << st.ToString();
  }
  {
    GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddStringArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
    w.AddStringArray("tokenizer.ggml.merges", {"ab"});  // no separator
    const Status st = Load(w, &keep).status();
    EXPECT_TRUE(st.IsCorruption()) << st.ToString();
    EXPECT_NE(st.message().find("merge 0"), std::string::npos) << st.ToString();
  }
  {
    GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddStringArray("tokenizer.ggml.tokens", {"a", "b"});
    w.AddStringArray("tokenizer.ggml.merges", {"a c"});
    const Status st = Load(w, &keep).status();
    EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  }
  {
    GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddStringArray("tokenizer.ggml.tokens", {"a", "b"});
    w.AddUint32("tokenizer.ggml.bos_token_id", 7);
    EXPECT_TRUE(Load(w, &keep).status().IsCorruption());
  }
  {
    GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddStringArray("tokenizer.ggml.tokens", {});
    EXPECT_TRUE(Load(w, &keep).status().IsCorruption());
  }
  {
    GgufWriter w;
    w.AddString("tokenizer.ggml.model", "wordpiece");
    w.AddStringArray("tokenizer.ggml.tokens", {"a"});
    EXPECT_EQ(Load(w, &keep).status().code(), Status::Code::kUnimplemented);
  }
  {
    GgufWriter w;
    w.AddString("tokenizer.ggml.model", "gpt2");
    w.AddUint32("tokenizer.ggml.tokens", 5);  // wrong type
    EXPECT_FALSE(Load(w, &keep).ok());
  }
}

}  // namespace
}  // namespace hearth::model
