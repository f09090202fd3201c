// config.json parsing with RapidJSON; every field is type- and range-checked.
#include "model/hf_config.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/regular_file.h"

namespace hearth::model {
namespace {

using rapidjson::Value;

// The shortest decimal that reads back as the same float: 1e-05, not 9.99999974e-06.
double ShortestDouble(float f) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), f);
  return std::strtod(std::string(buf, res.ptr).c_str(), nullptr);
}

Status Bad(const std::string& msg) { return Status::InvalidArgument("config.json: " + msg); }

// A required or optional unsigned field that fits in uint32.
StatusOr<uint32_t> U32Field(const Value& obj, const char* name, std::optional<uint32_t> fallback) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    if (fallback) return *fallback;
    return Bad(std::string("missing '") + name + "'");
  }
  if (!it->value.IsUint()) return Bad(std::string("'") + name + "' is not a non-negative 32-bit integer");
  return it->value.GetUint();
}

StatusOr<float> FloatField(const Value& obj, const char* name, std::optional<float> fallback) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    if (fallback) return *fallback;
    return Bad(std::string("missing '") + name + "'");
  }
  if (!it->value.IsNumber()) return Bad(std::string("'") + name + "' is not a number");
  return static_cast<float>(it->value.GetDouble());
}

StatusOr<bool> BoolField(const Value& obj, const char* name, bool fallback) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsBool()) return Bad(std::string("'") + name + "' is not a boolean");
  return it->value.GetBool();
}

Status ParseRopeScaling(const Value& root, RopeScaling* rs) {
  auto it = root.FindMember("rope_scaling");
  if (it == root.MemberEnd() || it->value.IsNull()) return Status::Ok();
  const Value& v = it->value;
  if (!v.IsObject()) return Bad("'rope_scaling' is not an object");
  auto type_it = v.FindMember("rope_type");
  if (type_it == v.MemberEnd()) type_it = v.FindMember("type");
  if (type_it == v.MemberEnd() || !type_it->value.IsString()) return Bad("rope_scaling has no rope_type");
  const std::string type = type_it->value.GetString();
  if (type == "default") return Status::Ok();
  HEARTH_ASSIGN_OR_RETURN(rs->factor, FloatField(v, "factor", std::nullopt));
  if (type == "linear") {
    rs->type = RopeScalingType::kLinear;
    return Status::Ok();
  }
  if (type != "llama3") return Status::Unimplemented("config.json: rope_scaling type '" + type + "' is not supported");
  rs->type = RopeScalingType::kLlama3;
  HEARTH_ASSIGN_OR_RETURN(rs->low_freq_factor, FloatField(v, "low_freq_factor", 1.0f));
  HEARTH_ASSIGN_OR_RETURN(rs->high_freq_factor, FloatField(v, "high_freq_factor", 4.0f));
  HEARTH_ASSIGN_OR_RETURN(rs->original_max_position_embeddings,
                          U32Field(v, "original_max_position_embeddings", 8192u));
  return Status::Ok();
}

}  // namespace

StatusOr<LlamaConfig> LlamaConfigFromHfJson(std::string_view json) {
  rapidjson::Document doc;
  // Iterative parsing: deeply nested input cannot overflow the stack.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return Bad(std::string("invalid JSON at offset ") + std::to_string(doc.GetErrorOffset()) + ": " +
               rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Bad("top level is not an object");
  auto mt = doc.FindMember("model_type");
  if (mt == doc.MemberEnd() || !mt->value.IsString()) return Bad("missing 'model_type'");
  const std::string model_type = mt->value.GetString();
  LlamaConfig c;
  if (model_type == "llama" || model_type == "mistral") {
    c.arch = "llama";
  } else if (model_type == "qwen2") {
    c.arch = "qwen2";
  } else {
    return Status::Unimplemented("config.json: model_type '" + model_type +
                                 "' is not supported (supported: llama, mistral, qwen2)");
  }
  HEARTH_ASSIGN_OR_RETURN(c.vocab_size, U32Field(doc, "vocab_size", std::nullopt));
  HEARTH_ASSIGN_OR_RETURN(c.hidden, U32Field(doc, "hidden_size", std::nullopt));
  HEARTH_ASSIGN_OR_RETURN(c.num_layers, U32Field(doc, "num_hidden_layers", std::nullopt));
  HEARTH_ASSIGN_OR_RETURN(c.num_heads, U32Field(doc, "num_attention_heads", std::nullopt));
  HEARTH_ASSIGN_OR_RETURN(c.num_kv_heads, U32Field(doc, "num_key_value_heads", c.num_heads));
  HEARTH_ASSIGN_OR_RETURN(c.ffn_hidden, U32Field(doc, "intermediate_size", std::nullopt));
  if (c.num_heads == 0) return Bad("num_attention_heads is 0");
  if (!doc.HasMember("head_dim") && c.hidden % c.num_heads != 0) {
    return Bad("hidden_size is not a multiple of num_attention_heads");
  }
  HEARTH_ASSIGN_OR_RETURN(c.head_dim, U32Field(doc, "head_dim", c.hidden / c.num_heads));
  HEARTH_ASSIGN_OR_RETURN(c.rms_norm_eps, FloatField(doc, "rms_norm_eps", 1e-6f));
  HEARTH_ASSIGN_OR_RETURN(c.rope_theta, FloatField(doc, "rope_theta", 10000.0f));
  HEARTH_ASSIGN_OR_RETURN(c.context_length, U32Field(doc, "max_position_embeddings", std::nullopt));
  HEARTH_ASSIGN_OR_RETURN(c.tied_embeddings, BoolField(doc, "tie_word_embeddings", false));
  HEARTH_ASSIGN_OR_RETURN(c.qkv_bias, BoolField(doc, "attention_bias", c.arch == "qwen2"));
  HEARTH_RETURN_IF_ERROR(ParseRopeScaling(doc, &c.rope_scaling));
  c.rope_style = RopeStyle::kNeox;
  HEARTH_RETURN_IF_ERROR(c.Validate());
  return c;
}

// config.json files are a few KiB; far larger than any real one is refused unread.
constexpr size_t kMaxConfigBytes = 16u << 20;

StatusOr<LlamaConfig> LlamaConfigFromHfDir(const std::string& dir) {
  const std::string path = dir + "/config.json";
  HEARTH_ASSIGN_OR_RETURN(std::string text, ReadRegularFile(path, kMaxConfigBytes));
  auto c = LlamaConfigFromHfJson(text);
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

std::string LlamaConfigToHfJson(const LlamaConfig& c, const HfConfigExtras& extras) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const bool qwen = c.arch == "qwen2";
  w.StartObject();
  w.Key("architectures");
  w.StartArray();
  w.String(qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
  w.EndArray();
  w.Key("model_type"); w.String(qwen ? "qwen2" : "llama");
  w.Key("vocab_size"); w.Uint(c.vocab_size);
  w.Key("hidden_size"); w.Uint(c.hidden);
  w.Key("intermediate_size"); w.Uint(c.ffn_hidden);
  w.Key("num_hidden_layers"); w.Uint(c.num_layers);
  w.Key("num_attention_heads"); w.Uint(c.num_heads);
  w.Key("num_key_value_heads"); w.Uint(c.num_kv_heads);
  w.Key("head_dim"); w.Uint(c.head_dim);
  w.Key("hidden_act"); w.String("silu");
  w.Key("max_position_embeddings"); w.Uint(c.context_length);
  w.Key("rms_norm_eps"); w.Double(ShortestDouble(c.rms_norm_eps));
  w.Key("rope_theta"); w.Double(ShortestDouble(c.rope_theta));
  w.Key("tie_word_embeddings"); w.Bool(c.tied_embeddings);
  if (!qwen) {
    w.Key("attention_bias"); w.Bool(c.qkv_bias);
    w.Key("mlp_bias"); w.Bool(false);
  }
  w.Key("rope_scaling");
  if (c.rope_scaling.type == RopeScalingType::kNone) {
    w.Null();
  } else {
    w.StartObject();
    w.Key("rope_type"); w.String(RopeScalingTypeName(c.rope_scaling.type));
    w.Key("factor"); w.Double(ShortestDouble(c.rope_scaling.factor));
    if (c.rope_scaling.type == RopeScalingType::kLlama3) {
      w.Key("low_freq_factor"); w.Double(ShortestDouble(c.rope_scaling.low_freq_factor));
      w.Key("high_freq_factor"); w.Double(ShortestDouble(c.rope_scaling.high_freq_factor));
      w.Key("original_max_position_embeddings"); w.Uint(c.rope_scaling.original_max_position_embeddings);
    }
    w.EndObject();
  }
  w.Key("torch_dtype"); w.String(extras.torch_dtype.c_str());
  if (extras.bos_token_id) { w.Key("bos_token_id"); w.Int64(*extras.bos_token_id); }
  if (extras.eos_token_id) { w.Key("eos_token_id"); w.Int64(*extras.eos_token_id); }
  w.EndObject();
  return buf.GetString();
}

}  // namespace hearth::model
