// SafetensorsModel: one model.safetensors, or shards named by model.safetensors.index.json.
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/regular_file.h"
#include "model/safetensors.h"

namespace hearth::model {
namespace {

// An index or config file; far larger than any real one is refused unread.
StatusOr<std::string> ReadText(const std::string& path) { return ReadRegularFile(path, 256u << 20); }

// Shard names come from an untrusted file: plain file names only, no paths.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

StatusOr<std::set<std::string>> ShardsFromIndex(const std::string& index_path,
                                                std::vector<std::pair<std::string, std::string>>* map) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, ReadText(index_path));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::Corruption(index_path + ": invalid JSON");
  auto wm = doc.FindMember("weight_map");
  if (wm == doc.MemberEnd() || !wm->value.IsObject()) return Status::Corruption(index_path + ": no weight_map object");
  std::set<std::string> shards;
  for (auto it = wm->value.MemberBegin(); it != wm->value.MemberEnd(); ++it) {
    if (!it->value.IsString()) return Status::Corruption(index_path + ": weight_map value is not a string");
    std::string shard = it->value.GetString();
    if (!IsPlainFileName(shard)) return Status::Corruption(index_path + ": bad shard file name '" + shard + "'");
    map->emplace_back(it->name.GetString(), shard);
    shards.insert(shard);
  }
  return shards;
}

}  // namespace

StatusOr<std::unique_ptr<SafetensorsModel>> SafetensorsModel::Open(const std::string& dir) {
  auto model = std::make_unique<SafetensorsModel>();
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  std::error_code ec;
  if (std::filesystem::exists(single, ec)) {
    HEARTH_ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(single));
    model->shards_.push_back(std::move(f));
    return model;
  }
  if (!std::filesystem::exists(index, ec)) {
    return Status::NotFound(dir + ": no model.safetensors or model.safetensors.index.json");
  }
  std::vector<std::pair<std::string, std::string>> weight_map;
  HEARTH_ASSIGN_OR_RETURN(std::set<std::string> shards, ShardsFromIndex(index, &weight_map));
  std::map<std::string, const SafetensorsFile*> by_name;
  for (const std::string& shard : shards) {
    HEARTH_ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(dir + "/" + shard));
    by_name[shard] = f.get();
    model->shards_.push_back(std::move(f));
  }
  for (const auto& [tensor, shard] : weight_map) {
    if (!by_name[shard]->FindTensor(tensor)) {
      return Status::Corruption(index + ": tensor '" + tensor + "' is not in shard " + shard);
    }
  }
  std::set<std::string_view> seen;
  for (const auto& f : model->shards_) {
    for (const auto& t : f->tensors()) {
      if (!seen.insert(t.name).second) return Status::Corruption(dir + ": tensor '" + t.name + "' is in two shards");
    }
  }
  return model;
}

const SafetensorsTensorInfo* SafetensorsModel::FindTensor(std::string_view name) const {
  for (const auto& f : shards_) {
    if (const SafetensorsTensorInfo* t = f->FindTensor(name)) return t;
  }
  return nullptr;
}

std::vector<const SafetensorsTensorInfo*> SafetensorsModel::tensors() const {
  std::vector<const SafetensorsTensorInfo*> out;
  for (const auto& f : shards_) {
    for (const auto& t : f->tensors()) out.push_back(&t);
  }
  return out;
}

}  // namespace hearth::model
