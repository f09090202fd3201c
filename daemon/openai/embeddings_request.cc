// /v1/embeddings bodies; see embeddings_request.h.
#include "daemon/openai/embeddings_request.h"

#include <rapidjson/document.h>

#include <bit>
#include <cstring>
#include <limits>

#include "common/base64.h"
#include "common/json_parse.h"
#include "common/json_writer.h"
#include "daemon/openai/request_fields.h"
#include "daemon/openai/request_json.h"

namespace hearth::daemon {
namespace {

using rapidjson::Value;
using Error = std::optional<ApiError>;

// An array of token ids; `where` names it in errors.
Error ParseTokens(const Value& v, const std::string& where, std::vector<int32_t>* out) {
  if (v.Empty()) return BadParam("input", where + " is an empty list of tokens");
  out->reserve(v.Size());
  for (const Value& t : v.GetArray()) {
    if (!t.IsInt64() || t.GetInt64() < 0 || t.GetInt64() > std::numeric_limits<int32_t>::max()) {
      return BadParam("input", where + " must hold non-negative integer token ids");
    }
    out->push_back(static_cast<int32_t>(t.GetInt64()));
  }
  return std::nullopt;
}

Error ParseInput(const Value& doc, std::vector<EmbeddingInput>* out) {
  const Value* input = JsonField(doc, "input");
  if (!input) return BadParam("input", "input is required");
  if (input->IsString()) {
    if (input->GetStringLength() == 0) return BadParam("input", "input must not be an empty string");
    out->push_back({false, std::string(input->GetString(), input->GetStringLength()), {}});
    return std::nullopt;
  }
  if (!input->IsArray()) return BadParam("input", "input must be a string, an array of strings or an array of token ids");
  if (input->Empty()) return BadParam("input", "input must not be an empty array");
  const Value& first = (*input)[0];
  if (first.IsNumber()) {  // one list of token ids (its length is bounded by the context, later)
    EmbeddingInput one{true, "", {}};
    if (auto e = ParseTokens(*input, "input", &one.tokens)) return e;
    out->push_back(std::move(one));
    return std::nullopt;
  }
  if (input->Size() > kMaxEmbeddingInputs) {
    return BadParam("input", "input has " + std::to_string(input->Size()) + " items; at most " +
                            std::to_string(kMaxEmbeddingInputs) + " are allowed");
  }
  out->reserve(input->Size());
  for (rapidjson::SizeType i = 0; i < input->Size(); ++i) {
    const Value& item = (*input)[i];
    const std::string where = "input[" + std::to_string(i) + "]";
    if (item.IsString() && first.IsString()) {
      if (item.GetStringLength() == 0) return BadParam("input", where + " must not be an empty string");
      out->push_back({false, std::string(item.GetString(), item.GetStringLength()), {}});
    } else if (item.IsArray() && first.IsArray()) {
      EmbeddingInput one{true, "", {}};
      if (auto e = ParseTokens(item, where, &one.tokens)) return e;
      out->push_back(std::move(one));
    } else {
      return BadParam("input", where + ": input must be all strings or all arrays of token ids");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ParseEmbeddingsRequest(std::string_view body, EmbeddingsRequest* out) {
  rapidjson::Document doc;
  const JsonParse parsed = ParseJson(body, &doc);
  if (!parsed.ok()) return BadParam("", "the request body is " + parsed.message);
  if (!doc.IsObject()) return BadParam("", "the request body must be a JSON object");
  if (auto e = CheckRequestFields(ApiEndpoint::kEmbeddings, doc)) return e;
  const Value* model = JsonField(doc, "model");
  if (!model) return BadParam("model", "model is required");
  if (!model->IsString() || model->GetStringLength() == 0) return BadParam("model", "model must be a non-empty string");
  out->model.assign(model->GetString(), model->GetStringLength());
  if (auto e = ParseInput(doc, &out->inputs)) return e;
  if (const Value* format = JsonField(doc, "encoding_format")) {
    const std::string_view f =
        format->IsString() ? std::string_view(format->GetString(), format->GetStringLength()) : "";
    if (f != "float" && f != "base64") return BadParam("encoding_format", "encoding_format must be \"float\" or \"base64\"");
    out->base64 = f == "base64";
  }
  if (const Value* dims = JsonField(doc, "dimensions")) {
    if (!dims->IsInt() || dims->GetInt() < 1) return BadParam("dimensions", "dimensions must be a positive integer");
    out->dimensions = dims->GetInt();
  }
  if (const Value* pooling = JsonField(doc, "pooling")) {
    std::optional<Pooling> p;
    if (pooling->IsString()) p = PoolingFromName(std::string_view(pooling->GetString(), pooling->GetStringLength()));
    if (!p) return BadParam("pooling", "pooling must be \"mean\" or \"last\"");
    out->pooling = *p;
  }
  if (const Value* user = JsonField(doc, "user"); user && !user->IsString()) return BadParam("user", "user must be a string");
  return std::nullopt;
}

std::string EmbeddingBase64(std::span<const float> values) {
  std::string bytes(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits = std::bit_cast<uint32_t>(values[i]);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + static_cast<size_t>(b)] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return Base64Encode(bytes);
}

std::string EmbeddingsResponseJson(const std::string& model, const std::vector<std::vector<float>>& embeddings,
                                   bool base64, int64_t prompt_tokens) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("object");
  w.String("list");
  w.Key("data");
  w.StartArray();
  for (size_t i = 0; i < embeddings.size(); ++i) {
    w.StartObject();
    w.Key("object");
    w.String("embedding");
    w.Key("index");
    w.Uint64(i);
    w.Key("embedding");
    if (base64) {
      WriteString(w, EmbeddingBase64(embeddings[i]));
    } else {
      w.StartArray();
      for (float v : embeddings[i]) w.Double(static_cast<double>(v));  // shortest text that reads back as v
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("model");
  WriteString(w, model);
  w.Key("usage");
  w.StartObject();
  w.Key("prompt_tokens");
  w.Int64(prompt_tokens);
  w.Key("total_tokens");
  w.Int64(prompt_tokens);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace hearth::daemon
