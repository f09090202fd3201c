// GGUF v2/v3 parser. Layout: magic "GGUF", u32 version, u64 tensor count, u64 kv count,
// kv pairs, tensor infos, padding to `general.alignment`, then the tensor data section.
#include "model/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

#include "common/regular_file.h"

namespace hearth::model {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;  // nested arrays deeper than this are rejected (stack bound)
constexpr uint64_t kDefaultAlignment = 32;

Status Corrupt(uint64_t offset, const std::string& msg) {
  return Status::Corruption("gguf: " + msg + " (at offset " + std::to_string(offset) + ")");
}

// Strict UTF-8 check (no overlongs, no surrogates, max U+10FFFF).
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (s.size() - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Size in bytes of a fixed-size value type; 0 for string and array.
uint64_t FixedSize(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32: return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64: return 8;
    default: return 0;
  }
}

// Smallest encoding of one value of type t: bounds element counts before allocating.
uint64_t MinEncodedSize(GgufValueType t) {
  if (t == GgufValueType::kString) return 8;   // u64 length
  if (t == GgufValueType::kArray) return 12;   // u32 type + u64 count
  return FixedSize(t);
}

bool IsKnownValueType(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::kFloat64); }

// A bounds-checked cursor over the file bytes.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return data_ + pos_; }

  template <typename T>
  Status Read(T* out, const char* what) {
    if (remaining() < sizeof(T)) return Corrupt(pos_, std::string("truncated reading ") + what);
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status Skip(uint64_t n, const std::string& what) {
    if (remaining() < n) return Corrupt(pos_, "truncated reading " + what);
    pos_ += n;
    return Status::Ok();
  }

  Status ReadString(std::string_view* out, const std::string& what) {
    uint64_t len = 0;
    HEARTH_RETURN_IF_ERROR(Read(&len, "string length"));
    if (len > remaining()) {
      return Corrupt(pos_ - 8, what + ": string length " + std::to_string(len) +
                                   " exceeds the " + std::to_string(remaining()) +
                                   " bytes left in the file");
    }
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  uint64_t pos_ = 0;
};

}  // namespace

class GgufFile::Parser {
 public:
  Parser(GgufFile* file) : f_(file), cur_(file->base_, file->size_) {}

  Status Run() {
    HEARTH_RETURN_IF_ERROR(ParseHeader());
    HEARTH_RETURN_IF_ERROR(ParseMetadata());
    HEARTH_RETURN_IF_ERROR(ReadAlignment());
    HEARTH_RETURN_IF_ERROR(ParseTensorInfos());
    return PlaceTensorData();
  }

 private:
  Status ParseHeader() {
    uint32_t magic = 0;
    HEARTH_RETURN_IF_ERROR(cur_.Read(&magic, "magic"));
    if (magic != kMagic) return Corrupt(0, "not a GGUF file (bad magic)");
    HEARTH_RETURN_IF_ERROR(cur_.Read(&f_->version_, "version"));
    if (f_->version_ == 1) {
      return Status::Unimplemented("gguf: version 1 files are not supported; convert to v3");
    }
    if (f_->version_ != 2 && f_->version_ != 3) {
      return Corrupt(4, "unsupported GGUF version " + std::to_string(f_->version_));
    }
    HEARTH_RETURN_IF_ERROR(cur_.Read(&num_tensors_, "tensor count"));
    return cur_.Read(&num_kvs_, "metadata kv count");
  }

  Status ParseMetadata() {
    constexpr uint64_t kMinKvBytes = 8 + 4 + 1;  // key length, value type, smallest value
    if (num_kvs_ > cur_.remaining() / kMinKvBytes) {
      return Corrupt(16, "metadata kv count " + std::to_string(num_kvs_) +
                             " cannot fit in the file");
    }
    // No reserve(num_kvs_): an entry is far larger in memory than its smallest encoding,
    // so entries are only allocated as they are actually parsed.
    for (uint64_t i = 0; i < num_kvs_; ++i) {
      const uint64_t at = cur_.pos();
      std::string_view key;
      HEARTH_RETURN_IF_ERROR(cur_.ReadString(&key, "metadata key #" + std::to_string(i)));
      if (key.empty()) return Corrupt(at, "empty metadata key");
      if (!IsValidUtf8(key)) return Corrupt(at, "metadata key #" + std::to_string(i) + " is not valid UTF-8");
      uint32_t type = 0;
      HEARTH_RETURN_IF_ERROR(cur_.Read(&type, "metadata value type"));
      GgufKeyValue kv;
      kv.key = std::string(key);
      HEARTH_RETURN_IF_ERROR(ParseValue(type, 0, kv.key, &kv.value));
      f_->metadata_.push_back(std::move(kv));
    }
    // Index after the vector stops growing so the string_view keys stay valid.
    for (size_t i = 0; i < f_->metadata_.size(); ++i) {
      if (!f_->key_index_.emplace(f_->metadata_[i].key, i).second) {
        return Status::Corruption("gguf: duplicate metadata key '" + f_->metadata_[i].key + "'");
      }
    }
    return Status::Ok();
  }

  Status ParseValue(uint32_t raw_type, int depth, const std::string& key, GgufValue* out) {
    if (!IsKnownValueType(raw_type)) {
      return Corrupt(cur_.pos() - 4, "key '" + key + "': unknown value type " + std::to_string(raw_type));
    }
    out->type = static_cast<GgufValueType>(raw_type);
    switch (out->type) {
      case GgufValueType::kString: return cur_.ReadString(&out->str, "key '" + key + "'");
      case GgufValueType::kArray: return ParseArray(depth, key, out);
      default: return ParseScalar(key, out);
    }
  }

  Status ParseScalar(const std::string& key, GgufValue* out) {
    const uint64_t at = cur_.pos();
    const uint64_t n = FixedSize(out->type);
    if (cur_.remaining() < n) return Corrupt(at, "truncated value of key '" + key + "'");
    const uint8_t* p = cur_.here();
    HEARTH_RETURN_IF_ERROR(cur_.Skip(n, "value"));
    int8_t i8; int16_t i16; int32_t i32; uint16_t u16; uint32_t u32; float f32;
    switch (out->type) {
      case GgufValueType::kUint8: out->u64 = p[0]; break;
      case GgufValueType::kInt8: std::memcpy(&i8, p, 1); out->i64 = i8; break;
      case GgufValueType::kUint16: std::memcpy(&u16, p, 2); out->u64 = u16; break;
      case GgufValueType::kInt16: std::memcpy(&i16, p, 2); out->i64 = i16; break;
      case GgufValueType::kUint32: std::memcpy(&u32, p, 4); out->u64 = u32; break;
      case GgufValueType::kInt32: std::memcpy(&i32, p, 4); out->i64 = i32; break;
      case GgufValueType::kUint64: std::memcpy(&out->u64, p, 8); break;
      case GgufValueType::kInt64: std::memcpy(&out->i64, p, 8); break;
      case GgufValueType::kFloat32: std::memcpy(&f32, p, 4); out->f64 = f32; break;
      case GgufValueType::kFloat64: std::memcpy(&out->f64, p, 8); break;
      case GgufValueType::kBool:
        if (p[0] > 1) return Corrupt(at, "key '" + key + "': bool value " + std::to_string(p[0]) + " is not 0 or 1");
        out->b = p[0] != 0;
        break;
      default: CHECK(false) << "not a scalar type";
    }
    return Status::Ok();
  }

  Status ParseArray(int depth, const std::string& key, GgufValue* out) {
    if (depth >= kMaxArrayDepth) return Corrupt(cur_.pos(), "key '" + key + "': arrays nested too deeply");
    uint32_t elem = 0;
    HEARTH_RETURN_IF_ERROR(cur_.Read(&elem, "array element type"));
    if (!IsKnownValueType(elem)) {
      return Corrupt(cur_.pos() - 4, "key '" + key + "': unknown array element type " + std::to_string(elem));
    }
    out->elem_type = static_cast<GgufValueType>(elem);
    HEARTH_RETURN_IF_ERROR(cur_.Read(&out->count, "array length"));
    const uint64_t min_size = MinEncodedSize(out->elem_type);
    if (out->count > cur_.remaining() / min_size) {
      return Corrupt(cur_.pos() - 8, "key '" + key + "': array of " + std::to_string(out->count) + " " +
                                         GgufValueTypeName(out->elem_type) + " cannot fit in the file");
    }
    if (out->elem_type == GgufValueType::kString) {
      out->strings.resize(out->count);
      for (auto& s : out->strings) HEARTH_RETURN_IF_ERROR(cur_.ReadString(&s, "key '" + key + "' element"));
      return Status::Ok();
    }
    if (out->elem_type == GgufValueType::kArray) {
      for (uint64_t i = 0; i < out->count; ++i) {
        GgufValue item;
        HEARTH_RETURN_IF_ERROR(ParseValue(static_cast<uint32_t>(GgufValueType::kArray), depth + 1, key, &item));
        out->items.push_back(std::move(item));
      }
      return Status::Ok();
    }
    out->raw = cur_.here();
    const uint64_t at = cur_.pos();
    HEARTH_RETURN_IF_ERROR(cur_.Skip(out->count * min_size, "array of key '" + key + "'"));
    if (out->elem_type == GgufValueType::kBool) {
      for (uint64_t i = 0; i < out->count; ++i) {
        if (out->raw[i] > 1) return Corrupt(at + i, "key '" + key + "': bool element is not 0 or 1");
      }
    }
    return Status::Ok();
  }

  Status ReadAlignment() {
    const GgufValue* v = f_->Find("general.alignment");
    if (!v) return Status::Ok();
    auto a = f_->GetUint("general.alignment");
    if (!a.ok()) return a.status();
    if (*a == 0 || (*a & (*a - 1)) != 0 || *a > (uint64_t{1} << 30)) {
      return Status::Corruption("gguf: general.alignment " + std::to_string(*a) +
                                " is not a power of two in [1, 2^30]");
    }
    f_->alignment_ = *a;
    return Status::Ok();
  }

  Status ParseTensorInfos() {
    constexpr uint64_t kMinInfoBytes = 8 + 4 + 8 + 4 + 8;  // name len, n_dims, 1 dim, type, offset
    if (num_tensors_ > cur_.remaining() / kMinInfoBytes) {
      return Corrupt(8, "tensor count " + std::to_string(num_tensors_) + " cannot fit in the file");
    }
    for (uint64_t i = 0; i < num_tensors_; ++i) {
      GgufTensorInfo t;
      HEARTH_RETURN_IF_ERROR(ParseTensorInfo(&t));
      f_->tensors_.push_back(std::move(t));
    }
    for (size_t i = 0; i < f_->tensors_.size(); ++i) {
      if (!f_->tensor_index_.emplace(f_->tensors_[i].name, i).second) {
        return Status::Corruption("gguf: duplicate tensor name '" + f_->tensors_[i].name + "'");
      }
    }
    return Status::Ok();
  }

  Status ParseTensorInfo(GgufTensorInfo* t) {
    const uint64_t at = cur_.pos();
    std::string_view name;
    HEARTH_RETURN_IF_ERROR(cur_.ReadString(&name, "tensor name"));
    if (name.empty()) return Corrupt(at, "empty tensor name");
    if (!IsValidUtf8(name)) return Corrupt(at, "tensor name is not valid UTF-8");
    t->name = std::string(name);
    const std::string ctx = "tensor '" + t->name + "'";
    uint32_t num_dims = 0;
    HEARTH_RETURN_IF_ERROR(cur_.Read(&num_dims, "tensor dim count"));
    if (num_dims == 0 || num_dims > kMaxDims) {
      return Corrupt(at, ctx + ": " + std::to_string(num_dims) + " dims (must be 1..4)");
    }
    t->dims.resize(num_dims);
    t->num_elements = 1;
    for (uint64_t& d : t->dims) {
      HEARTH_RETURN_IF_ERROR(cur_.Read(&d, "tensor dim"));
      if (d == 0) return Corrupt(at, ctx + ": a dim is 0");
      if (t->num_elements > std::numeric_limits<uint64_t>::max() / d) {
        return Corrupt(at, ctx + ": product of dims overflows");
      }
      t->num_elements *= d;
    }
    uint32_t type = 0;
    HEARTH_RETURN_IF_ERROR(cur_.Read(&type, "tensor type"));
    t->type = static_cast<kernels::GgmlType>(type);
    HEARTH_RETURN_IF_ERROR(cur_.Read(&t->offset, "tensor offset"));
    auto row_bytes = GgmlRowBytes(t->type, t->dims[0]);
    if (!row_bytes.ok()) return Corrupt(at, ctx + ": " + row_bytes.status().message());
    const uint64_t num_rows = t->num_elements / t->dims[0];
    if (*row_bytes != 0 && num_rows > std::numeric_limits<uint64_t>::max() / *row_bytes) {
      return Corrupt(at, ctx + ": byte size overflows");
    }
    t->num_bytes = *row_bytes * num_rows;
    if (t->offset % f_->alignment_ != 0) {
      return Corrupt(at, ctx + ": data offset " + std::to_string(t->offset) +
                             " is not a multiple of the alignment " + std::to_string(f_->alignment_));
    }
    return Status::Ok();
  }

  Status PlaceTensorData() {
    const uint64_t a = f_->alignment_;
    const uint64_t end_of_infos = cur_.pos();
    const uint64_t size = f_->size_;
    uint64_t data_offset = end_of_infos + (a - end_of_infos % a) % a;
    if (data_offset > size) {
      if (!f_->tensors_.empty()) return Corrupt(end_of_infos, "file ends before the data section");
      data_offset = size;  // a tensor-less file needs no trailing padding
    }
    f_->data_offset_ = data_offset;
    const uint64_t data_size = size - data_offset;
    for (GgufTensorInfo& t : f_->tensors_) {
      if (t.offset > data_size || t.num_bytes > data_size - t.offset) {
        return Status::Corruption("gguf: tensor '" + t.name + "' data [" + std::to_string(t.offset) +
                                  ", +" + std::to_string(t.num_bytes) +
                                  ") ends past the end of the data section (" +
                                  std::to_string(data_size) + " bytes)");
      }
      t.data = f_->base_ + data_offset + t.offset;
    }
    return CheckNoOverlap();
  }

  Status CheckNoOverlap() const {
    std::vector<const GgufTensorInfo*> order;
    order.reserve(f_->tensors_.size());
    for (const auto& t : f_->tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(),
              [](const GgufTensorInfo* x, const GgufTensorInfo* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      const GgufTensorInfo& prev = *order[i - 1];
      if (order[i]->offset < prev.offset + prev.num_bytes) {
        return Status::Corruption("gguf: tensors '" + prev.name + "' and '" + order[i]->name +
                                  "' overlap in the data section");
      }
    }
    return Status::Ok();
  }

  GgufFile* f_;
  Cursor cur_;
  uint64_t num_tensors_ = 0;
  uint64_t num_kvs_ = 0;
};

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(const uint8_t* data, size_t size) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->base_ = data;
  f->size_ = size;
  Parser parser(f.get());
  HEARTH_RETURN_IF_ERROR(parser.Run());
  return f;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(RegularFile file, OpenRegularFile(path));
  const int fd = file.fd;
  const size_t size = file.size;
  if (size == 0) {
    ::close(fd);
    return Status::Corruption(path + ": gguf: file is empty");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (map == MAP_FAILED) return Status::IOError("cannot mmap " + path + ": " + std::strerror(map_err));
  auto parsed = Parse(static_cast<const uint8_t*>(map), size);
  if (!parsed.ok()) {
    ::munmap(map, size);
    return parsed.status().WithContext(path);
  }
  std::unique_ptr<GgufFile> f = std::move(parsed).value();
  f->mapping_ = map;
  return f;
}

GgufFile::~GgufFile() {
  if (mapping_) ::munmap(mapping_, size_);
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

}  // namespace hearth::model
