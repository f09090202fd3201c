// safetensors parsing: header JSON via RapidJSON, then strict checks of every entry.
#include "model/safetensors.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "common/regular_file.h"

namespace hearth::model {
namespace {

using rapidjson::Value;

struct DtypeEntry {
  const char* name;
  SafetensorsDtype dtype;
  uint32_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {"BOOL", SafetensorsDtype::kBool, 1}, {"U8", SafetensorsDtype::kU8, 1},
    {"I8", SafetensorsDtype::kI8, 1},     {"U16", SafetensorsDtype::kU16, 2},
    {"I16", SafetensorsDtype::kI16, 2},   {"F16", SafetensorsDtype::kF16, 2},
    {"BF16", SafetensorsDtype::kBF16, 2}, {"U32", SafetensorsDtype::kU32, 4},
    {"I32", SafetensorsDtype::kI32, 4},   {"F32", SafetensorsDtype::kF32, 4},
    {"U64", SafetensorsDtype::kU64, 8},   {"I64", SafetensorsDtype::kI64, 8},
    {"F64", SafetensorsDtype::kF64, 8},   {"F8_E4M3", SafetensorsDtype::kF8_E4M3, 1},
    {"F8_E5M2", SafetensorsDtype::kF8_E5M2, 1},
};

Status Bad(const std::string& msg) { return Status::Corruption("safetensors: " + msg); }

Status ParseEntry(const std::string& name, const Value& v, SafetensorsTensorInfo* t) {
  const std::string ctx = "tensor '" + name + "': ";
  if (!v.IsObject()) return Bad(ctx + "entry is not an object");
  auto dt = v.FindMember("dtype");
  if (dt == v.MemberEnd() || !dt->value.IsString()) return Bad(ctx + "missing string 'dtype'");
  const DtypeEntry* entry = nullptr;
  for (const DtypeEntry& e : kDtypes) {
    if (std::string_view(dt->value.GetString(), dt->value.GetStringLength()) == e.name) entry = &e;
  }
  if (!entry) return Bad(ctx + "unknown dtype '" + dt->value.GetString() + "'");
  t->name = name;
  t->dtype = entry->dtype;
  auto sh = v.FindMember("shape");
  if (sh == v.MemberEnd() || !sh->value.IsArray()) return Bad(ctx + "missing array 'shape'");
  if (sh->value.Size() > 8) return Bad(ctx + "more than 8 dims");
  t->num_elements = 1;
  for (const Value& d : sh->value.GetArray()) {
    if (!d.IsUint64()) return Bad(ctx + "a dim is not a non-negative integer");
    const uint64_t dim = d.GetUint64();
    if (dim != 0 && t->num_elements > std::numeric_limits<uint64_t>::max() / dim) {
      return Bad(ctx + "product of dims overflows");
    }
    t->num_elements *= dim;
    t->shape.push_back(dim);
  }
  if (t->num_elements > std::numeric_limits<uint64_t>::max() / entry->size) {
    return Bad(ctx + "byte size overflows");
  }
  t->num_bytes = t->num_elements * entry->size;
  auto off = v.FindMember("data_offsets");
  if (off == v.MemberEnd() || !off->value.IsArray() || off->value.Size() != 2 ||
      !off->value[0].IsUint64() || !off->value[1].IsUint64()) {
    return Bad(ctx + "'data_offsets' is not [begin, end]");
  }
  const uint64_t begin = off->value[0].GetUint64(), end = off->value[1].GetUint64();
  if (begin > end) return Bad(ctx + "data_offsets begin > end");
  if (end - begin != t->num_bytes) {
    return Bad(ctx + "data_offsets span " + std::to_string(end - begin) + " bytes but shape x dtype needs " +
               std::to_string(t->num_bytes));
  }
  t->offset = begin;
  return Status::Ok();
}

Status ParseMetadata(const Value& v, std::map<std::string, std::string>* out) {
  if (!v.IsObject()) return Bad("__metadata__ is not an object");
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    if (!it->value.IsString()) return Bad("__metadata__ value of '" + std::string(it->name.GetString()) + "' is not a string");
    std::string key(it->name.GetString(), it->name.GetStringLength());
    if (!out->emplace(key, std::string(it->value.GetString(), it->value.GetStringLength())).second) {
      return Bad("duplicate __metadata__ key '" + key + "'");
    }
  }
  return Status::Ok();
}

}  // namespace

const char* SafetensorsDtypeName(SafetensorsDtype dtype) {
  for (const DtypeEntry& e : kDtypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "unknown";
}

uint32_t SafetensorsDtypeSize(SafetensorsDtype dtype) {
  for (const DtypeEntry& e : kDtypes) {
    if (e.dtype == dtype) return e.size;
  }
  return 0;
}

Status SafetensorsFile::ParseHeader(std::string_view json, uint64_t data_size) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return Bad("header JSON invalid at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
               rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Bad("header is not a JSON object");
  bool seen_metadata = false;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string name(it->name.GetString(), it->name.GetStringLength());
    if (name == "__metadata__") {
      if (seen_metadata) return Bad("duplicate __metadata__");
      seen_metadata = true;
      HEARTH_RETURN_IF_ERROR(ParseMetadata(it->value, &metadata_));
      continue;
    }
    if (name.empty()) return Bad("empty tensor name");
    SafetensorsTensorInfo t;
    HEARTH_RETURN_IF_ERROR(ParseEntry(name, it->value, &t));
    tensors_.push_back(std::move(t));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!index_.emplace(tensors_[i].name, i).second) return Bad("duplicate tensor name '" + tensors_[i].name + "'");
  }
  // The byte ranges, sorted, must tile [0, data_size) with no gap and no overlap.
  std::vector<SafetensorsTensorInfo*> order;
  for (auto& t : tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->num_bytes < b->num_bytes;
  });
  uint64_t expected = 0;
  for (SafetensorsTensorInfo* t : order) {
    if (t->offset != expected) {
      return Bad("tensor '" + t->name + "' starts at " + std::to_string(t->offset) + ", expected " +
                 std::to_string(expected) + (t->offset < expected ? " (overlap)" : " (gap)"));
    }
    if (t->num_bytes > data_size - t->offset) {
      return Bad("tensor '" + t->name + "' ends past the end of the data (" + std::to_string(data_size) + " bytes)");
    }
    expected = t->offset + t->num_bytes;
  }
  if (expected != data_size) {
    return Bad("tensors cover " + std::to_string(expected) + " bytes but the data section has " +
               std::to_string(data_size));
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Parse(const uint8_t* data, size_t size) {
  if (size < 8) return Bad("file is shorter than the 8-byte header length");
  uint64_t header_len;
  std::memcpy(&header_len, data, 8);
  if (header_len > kMaxHeaderBytes) return Bad("header length " + std::to_string(header_len) + " exceeds 100 MB");
  if (header_len > size - 8) return Bad("header length " + std::to_string(header_len) + " runs past the end of the file");
  if (header_len == 0 || data[8] != '{') return Bad("header does not start with '{'");
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->base_ = data;
  f->size_ = size;
  const uint64_t data_start = 8 + header_len;
  std::string_view json(reinterpret_cast<const char*>(data + 8), header_len);
  HEARTH_RETURN_IF_ERROR(f->ParseHeader(json, size - data_start));
  for (auto& t : f->tensors_) t.data = data + data_start + t.offset;
  return f;
}

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(RegularFile file, OpenRegularFile(path));
  const int fd = file.fd;
  if (file.size < 8) {
    ::close(fd);
    return Status::Corruption(path + ": safetensors: shorter than 8 bytes");
  }
  const size_t size = file.size;
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);
  if (map == MAP_FAILED) return Status::IOError("cannot mmap " + path + ": " + std::strerror(map_err));
  auto parsed = Parse(static_cast<const uint8_t*>(map), size);
  if (!parsed.ok()) {
    ::munmap(map, size);
    return parsed.status().WithContext(path);
  }
  std::unique_ptr<SafetensorsFile> f = std::move(parsed).value();
  f->mapping_ = map;
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(mapping_, size_);
}

const SafetensorsTensorInfo* SafetensorsFile::FindTensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace hearth::model
