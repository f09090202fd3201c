// A generated token's way from the worker's reply to the client's chunks, with SmolLM2's real
// tokenizer: the engine loop spells each token once (MakeGeneratedToken), the one chunk builder
// writes it, and a special token reads the same ("<|im_end|>", the same bytes) whether it is
// the chosen token or one of the alternatives in top_logprobs, in chat and completions chunks.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "daemon/openai/chunk_encoder.h"
#include "daemon/engine/engine_loop.h"
#include "daemon/requests/request_entry.h"
#include "model/tokenizer_gguf.h"
#include "tests/model_path.h"

namespace hearth::daemon {
namespace {

// Answers every sequence that wants a token with the next reply of its script.
class ScriptedWorker : public WorkerConnection {
 public:
  ScriptedWorker(int32_t vocab_size, std::vector<wire::SampledTokenInfo> script)
      : vocab_size_(vocab_size), script_(std::move(script)) {}

  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request) override {
    wire::ModelInfo info;
    info.name = request.name;
    info.vocab_size = vocab_size_;
    info.context_length = 2048;
    info.num_kv_blocks = 64;
    info.block_size = 16;
    // No stop token: the special token the script picks is shown, as an ordinary one is.
    return info;
  }
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override {
    wire::StepReply reply;
    for (const wire::StepSequence& s : request.seqs) {
      if (!s.want_logits) continue;
      wire::SampledTokenInfo t = script_[next_++ % script_.size()];
      t.request_id = s.request_id;
      reply.sampled.push_back(std::move(t));
    }
    return reply;
  }

 private:
  const int32_t vocab_size_;
  const std::vector<wire::SampledTokenInfo> script_;
  size_t next_ = 0;
};

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

std::string BytesOf(const rapidjson::Value& bytes) {
  std::string out;
  for (const auto& b : bytes.GetArray()) out.push_back(static_cast<char>(b.GetInt()));
  return out;
}

class TokenEventsTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!testing::DefaultModelPresent()) GTEST_SKIP() << "no model at " << testing::DefaultModelPath();
    auto tok = model::LoadTokenizerFromGguf(testing::DefaultModelPath());
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tokenizer_ = std::shared_ptr<const model::Tokenizer>(std::move(tok).value());
  }

  // The chunks of one request with logprobs (top 2) whose tokens are `script`, in order.
  std::vector<std::string> Chunks(const std::vector<wire::SampledTokenInfo>& script) {
    const bool chat = GetParam();
    ScriptedWorker worker(tokenizer_->vocab_size(), script);
    EngineLoop loop(&worker);
    StatusOr<wire::ModelInfo> info = worker.LoadModel({"smol", "", 0});
    EXPECT_TRUE(info.ok());
    EXPECT_TRUE(loop.AddModel(*info, tokenizer_).ok());
    loop.Start();
    GenerationRequest r;
    r.model = "smol";
    r.prompt = tokenizer_->Encode("Say hi.", true, false);
    r.max_tokens = static_cast<int32_t>(script.size());
    r.sampling.num_logprobs = 2;
    auto entry = RequestEntry::Create({"smol", chat ? "chat.completions" : "completions", true, 3, 1, true},
                                      MakeChunkEncoder({chat, "smol", 1, /*logprobs=*/true, false}));
    StatusOr<uint64_t> id = loop.Submit(std::move(r), entry->Tee(nullptr));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    entry->Attach(*id, nullptr);
    EXPECT_TRUE(entry->WaitDone(std::chrono::seconds(30)));
    std::vector<std::string> chunks;
    for (const RecordedEvent& e : entry->Read(0, std::chrono::milliseconds(0)).events) chunks.push_back(e.data);
    return chunks;
  }

  std::shared_ptr<const model::Tokenizer> tokenizer_;
};

TEST_P(TokenEventsTest, SpecialTokenReadsTheSameChosenAndAsAnAlternative) {
  const std::optional<int32_t> im_end = tokenizer_->TokenId("<|im_end|>");
  const std::optional<int32_t> hello = tokenizer_->TokenId("Hello");
  ASSERT_TRUE(im_end && hello);
  // "Hello" with <|im_end|> as the runner-up, then <|im_end|> itself with "Hello" behind it.
  wire::SampledTokenInfo first{0, *hello, -0.1f, {{*hello, -0.1f}, {*im_end, -2.5f}}};
  wire::SampledTokenInfo second{0, *im_end, -0.2f, {{*im_end, -0.2f}, {*hello, -1.5f}}};
  const std::vector<std::string> chunks = Chunks({first, second});

  // Each token is one content chunk (logprobs on); chat starts with the role chunk.
  const size_t at = GetParam() ? 1 : 0;
  ASSERT_GE(chunks.size(), at + 2);
  auto a = Parse(chunks[at]);
  auto b = Parse(chunks[at + 1]);
  if (GetParam()) {
    const auto& alt = a["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1];
    const auto& chosen = b["choices"][0]["logprobs"]["content"][0];
    EXPECT_STREQ(chosen["token"].GetString(), "<|im_end|>");
    EXPECT_STREQ(alt["token"].GetString(), chosen["token"].GetString());
    EXPECT_EQ(BytesOf(alt["bytes"]), BytesOf(chosen["bytes"]));
    EXPECT_EQ(BytesOf(chosen["bytes"]), "<|im_end|>");
    EXPECT_STREQ(b["choices"][0]["logprobs"]["content"][0]["top_logprobs"][1]["token"].GetString(), "Hello");
  } else {
    const auto& top = a["choices"][0]["logprobs"]["top_logprobs"][0];
    EXPECT_STREQ(b["choices"][0]["logprobs"]["tokens"][0].GetString(), "<|im_end|>");
    ASSERT_TRUE(top.HasMember("<|im_end|>")) << chunks[at];
    EXPECT_NEAR(top["<|im_end|>"].GetDouble(), -2.5, 1e-6);
    EXPECT_EQ(top.MemberCount(), 2u) << chunks[at];  // the alternative is not an empty key
  }
}

INSTANTIATE_TEST_SUITE_P(ChatAndCompletions, TokenEventsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Chat" : "Completions"; });

}  // namespace
}  // namespace hearth::daemon
