// GgufWriter: encodes metadata eagerly, tensor data lazily at write time.
#include "model/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace hearth::model {
namespace {

template <typename T>
void AppendLe(std::vector<uint8_t>* out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->insert(out->end(), b, b + sizeof(T));
}

uint32_t Tag(GgufValueType t) { return static_cast<uint32_t>(t); }

uint64_t ElemSize(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8: case GgufValueType::kInt8: case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16: case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32: case GgufValueType::kInt32: case GgufValueType::kFloat32: return 4;
    default: return 8;
  }
}

// Encodes a value's body (what follows its type tag).
void EncodeValue(std::vector<uint8_t>* out, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::kUint8: AppendLe<uint8_t>(out, static_cast<uint8_t>(v.u64)); return;
    case GgufValueType::kInt8: AppendLe<int8_t>(out, static_cast<int8_t>(v.i64)); return;
    case GgufValueType::kUint16: AppendLe<uint16_t>(out, static_cast<uint16_t>(v.u64)); return;
    case GgufValueType::kInt16: AppendLe<int16_t>(out, static_cast<int16_t>(v.i64)); return;
    case GgufValueType::kUint32: AppendLe<uint32_t>(out, static_cast<uint32_t>(v.u64)); return;
    case GgufValueType::kInt32: AppendLe<int32_t>(out, static_cast<int32_t>(v.i64)); return;
    case GgufValueType::kUint64: AppendLe<uint64_t>(out, v.u64); return;
    case GgufValueType::kInt64: AppendLe<int64_t>(out, v.i64); return;
    case GgufValueType::kFloat32: AppendLe<float>(out, static_cast<float>(v.f64)); return;
    case GgufValueType::kFloat64: AppendLe<double>(out, v.f64); return;
    case GgufValueType::kBool: AppendLe<uint8_t>(out, v.b ? 1 : 0); return;
    case GgufValueType::kString: AppendGgufString(out, v.str); return;
    case GgufValueType::kArray: break;
  }
  AppendU32(out, Tag(v.elem_type));
  AppendU64(out, v.count);
  if (v.elem_type == GgufValueType::kString) {
    for (std::string_view s : v.strings) AppendGgufString(out, s);
  } else if (v.elem_type == GgufValueType::kArray) {
    for (const GgufValue& item : v.items) EncodeValue(out, item);
  } else {
    out->insert(out->end(), v.raw, v.raw + v.count * ElemSize(v.elem_type));
  }
}

}  // namespace

void AppendU32(std::vector<uint8_t>* out, uint32_t v) { AppendLe(out, v); }
void AppendU64(std::vector<uint8_t>* out, uint64_t v) { AppendLe(out, v); }
void AppendGgufString(std::vector<uint8_t>* out, std::string_view s) {
  AppendU64(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

void GgufWriter::AddKey(std::string_view key, uint32_t type) {
  AppendGgufString(&kv_bytes_, key);
  AppendU32(&kv_bytes_, type);
  ++num_kvs_;
}

void GgufWriter::SetAlignment(uint32_t alignment) {
  alignment_ = alignment;
  AddUint32("general.alignment", alignment);
}

#define HEARTH_SCALAR_ADDER(Name, CType, Enum)                     \
  void GgufWriter::Name(std::string_view key, CType v) {           \
    AddKey(key, Tag(GgufValueType::Enum));                         \
    AppendLe<CType>(&kv_bytes_, v);                                \
  }
HEARTH_SCALAR_ADDER(AddUint8, uint8_t, kUint8)
HEARTH_SCALAR_ADDER(AddInt8, int8_t, kInt8)
HEARTH_SCALAR_ADDER(AddUint16, uint16_t, kUint16)
HEARTH_SCALAR_ADDER(AddInt16, int16_t, kInt16)
HEARTH_SCALAR_ADDER(AddUint32, uint32_t, kUint32)
HEARTH_SCALAR_ADDER(AddInt32, int32_t, kInt32)
HEARTH_SCALAR_ADDER(AddUint64, uint64_t, kUint64)
HEARTH_SCALAR_ADDER(AddInt64, int64_t, kInt64)
HEARTH_SCALAR_ADDER(AddFloat32, float, kFloat32)
HEARTH_SCALAR_ADDER(AddFloat64, double, kFloat64)
#undef HEARTH_SCALAR_ADDER

void GgufWriter::AddBool(std::string_view key, bool v) {
  AddKey(key, Tag(GgufValueType::kBool));
  AppendLe<uint8_t>(&kv_bytes_, v ? 1 : 0);
}

void GgufWriter::AddString(std::string_view key, std::string_view v) {
  AddKey(key, Tag(GgufValueType::kString));
  AppendGgufString(&kv_bytes_, v);
}

void GgufWriter::AddStringArray(std::string_view key, const std::vector<std::string>& v) {
  AddKey(key, Tag(GgufValueType::kArray));
  AppendU32(&kv_bytes_, Tag(GgufValueType::kString));
  AppendU64(&kv_bytes_, v.size());
  for (const std::string& s : v) AppendGgufString(&kv_bytes_, s);
}

template <typename T>
static void AddNumericArray(std::vector<uint8_t>* out, GgufValueType elem, const std::vector<T>& v) {
  AppendU32(out, Tag(elem));
  AppendU64(out, v.size());
  for (T x : v) AppendLe<T>(out, x);
}

void GgufWriter::AddFloat32Array(std::string_view key, const std::vector<float>& v) {
  AddKey(key, Tag(GgufValueType::kArray));
  AddNumericArray(&kv_bytes_, GgufValueType::kFloat32, v);
}
void GgufWriter::AddInt32Array(std::string_view key, const std::vector<int32_t>& v) {
  AddKey(key, Tag(GgufValueType::kArray));
  AddNumericArray(&kv_bytes_, GgufValueType::kInt32, v);
}
void GgufWriter::AddUint32Array(std::string_view key, const std::vector<uint32_t>& v) {
  AddKey(key, Tag(GgufValueType::kArray));
  AddNumericArray(&kv_bytes_, GgufValueType::kUint32, v);
}

void GgufWriter::AddValue(std::string_view key, const GgufValue& v) {
  AddKey(key, Tag(v.type));
  EncodeValue(&kv_bytes_, v);
}

void GgufWriter::AddRaw(std::string_view key, uint32_t type, const std::vector<uint8_t>& encoded) {
  AddKey(key, type);
  kv_bytes_.insert(kv_bytes_.end(), encoded.begin(), encoded.end());
}

void GgufWriter::AddTensor(std::string_view name, kernels::GgmlType type, std::vector<uint64_t> dims,
                           std::vector<uint8_t> data) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(data));
  AddTensor(name, type, std::move(dims),
            [shared]() -> StatusOr<std::vector<uint8_t>> { return *shared; });
}

void GgufWriter::AddTensor(std::string_view name, kernels::GgmlType type, std::vector<uint64_t> dims,
                           TensorProducer producer) {
  CHECK(!dims.empty()) << "tensor " << name << " needs at least one dim";
  tensors_.push_back({std::string(name), type, std::move(dims), 0, std::move(producer)});
}

static uint64_t PadTo(uint64_t n, uint64_t a) { return (a - n % a) % a; }

StatusOr<std::vector<uint8_t>> GgufWriter::Header() const {
  std::vector<uint8_t> out;
  AppendU32(&out, 0x46554747);  // "GGUF"
  AppendU32(&out, version_);
  AppendU64(&out, tensors_.size());
  AppendU64(&out, num_kvs_);
  out.insert(out.end(), kv_bytes_.begin(), kv_bytes_.end());
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    uint64_t rows = 1;
    for (size_t i = 1; i < t.dims.size(); ++i) rows *= t.dims[i];
    HEARTH_ASSIGN_OR_RETURN(uint64_t row_bytes, GgmlRowBytes(t.type, t.dims.empty() ? 0 : t.dims[0]));
    AppendGgufString(&out, t.name);
    AppendU32(&out, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) AppendU64(&out, d);
    AppendU32(&out, static_cast<uint32_t>(t.type));
    AppendU64(&out, offset);
    offset += row_bytes * rows;
    offset += PadTo(offset, alignment_);
  }
  out.resize(out.size() + PadTo(out.size(), alignment_), 0);
  return out;
}

Status GgufWriter::EmitData(const std::function<Status(const uint8_t*, size_t)>& sink) const {
  static const uint8_t kZeros[64] = {};
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const PendingTensor& t = tensors_[i];
    HEARTH_ASSIGN_OR_RETURN(std::vector<uint8_t> data, t.producer());
    uint64_t rows = 1;
    for (size_t k = 1; k < t.dims.size(); ++k) rows *= t.dims[k];
    HEARTH_ASSIGN_OR_RETURN(uint64_t row_bytes, GgmlRowBytes(t.type, t.dims[0]));
    if (data.size() != row_bytes * rows) {
      return Status::InvalidArgument("gguf writer: tensor '" + t.name + "' has " +
                                     std::to_string(data.size()) + " bytes, expected " +
                                     std::to_string(row_bytes * rows));
    }
    HEARTH_RETURN_IF_ERROR(sink(data.data(), data.size()));
    // Pad between tensors only: the file ends where the last tensor's data ends.
    if (i + 1 < tensors_.size()) {
      for (uint64_t pad = PadTo(data.size(), alignment_); pad > 0;) {
        const uint64_t n = pad < sizeof(kZeros) ? pad : sizeof(kZeros);
        HEARTH_RETURN_IF_ERROR(sink(kZeros, n));
        pad -= n;
      }
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<uint8_t>> GgufWriter::Serialize() const {
  HEARTH_ASSIGN_OR_RETURN(std::vector<uint8_t> out, Header());
  HEARTH_RETURN_IF_ERROR(EmitData([&out](const uint8_t* p, size_t n) {
    out.insert(out.end(), p, p + n);
    return Status::Ok();
  }));
  return out;
}

Status GgufWriter::WriteFile(const std::string& path) const {
  HEARTH_ASSIGN_OR_RETURN(std::vector<uint8_t> header, Header());
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  auto sink = [&f, &path](const uint8_t* p, size_t n) {
    if (std::fwrite(p, 1, n, f.get()) != n) return Status::IOError("write failed: " + path);
    return Status::Ok();
  };
  HEARTH_RETURN_IF_ERROR(sink(header.data(), header.size()));
  HEARTH_RETURN_IF_ERROR(EmitData(sink));
  if (std::fclose(f.release()) != 0) return Status::IOError("close failed: " + path);
  return Status::Ok();
}

}  // namespace hearth::model
