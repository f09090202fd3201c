// SafetensorsWriter: header JSON (RapidJSON writer), then the tensors back to back.
#include "model/safetensors_writer.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace hearth::model {

void SafetensorsWriter::AddTensor(const std::string& name, SafetensorsDtype dtype,
                                  std::vector<uint64_t> shape, std::vector<uint8_t> data) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(data));
  AddTensor(name, dtype, std::move(shape), [shared]() -> StatusOr<std::vector<uint8_t>> { return *shared; });
}

void SafetensorsWriter::AddTensor(const std::string& name, SafetensorsDtype dtype,
                                  std::vector<uint64_t> shape, Producer producer) {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  tensors_.push_back({name, dtype, std::move(shape), n * SafetensorsDtypeSize(dtype), std::move(producer)});
}

std::string SafetensorsWriter::HeaderJson() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (!metadata_.empty()) {
    w.Key("__metadata__");
    w.StartObject();
    for (const auto& [k, v] : metadata_) {
      w.Key(k.c_str());
      w.String(v.c_str());
    }
    w.EndObject();
  }
  uint64_t offset = 0;
  for (const Pending& t : tensors_) {
    w.Key(t.name.c_str());
    w.StartObject();
    w.Key("dtype");
    w.String(SafetensorsDtypeName(t.dtype));
    w.Key("shape");
    w.StartArray();
    for (uint64_t d : t.shape) w.Uint64(d);
    w.EndArray();
    w.Key("data_offsets");
    w.StartArray();
    w.Uint64(offset);
    w.Uint64(offset + t.num_bytes);
    w.EndArray();
    w.EndObject();
    offset += t.num_bytes;
  }
  w.EndObject();
  std::string json = buf.GetString();
  json.resize(json.size() + (8 - json.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  return json;
}

Status SafetensorsWriter::EmitAll(const std::function<Status(const uint8_t*, size_t)>& sink) const {
  const std::string json = HeaderJson();
  const uint64_t len = json.size();
  uint8_t len_bytes[8];
  std::memcpy(len_bytes, &len, 8);
  HEARTH_RETURN_IF_ERROR(sink(len_bytes, 8));
  HEARTH_RETURN_IF_ERROR(sink(reinterpret_cast<const uint8_t*>(json.data()), json.size()));
  for (const Pending& t : tensors_) {
    HEARTH_ASSIGN_OR_RETURN(std::vector<uint8_t> data, t.producer());
    if (data.size() != t.num_bytes) {
      return Status::InvalidArgument("safetensors writer: tensor '" + t.name + "' has " +
                                     std::to_string(data.size()) + " bytes, expected " +
                                     std::to_string(t.num_bytes));
    }
    HEARTH_RETURN_IF_ERROR(sink(data.data(), data.size()));
  }
  return Status::Ok();
}

StatusOr<std::vector<uint8_t>> SafetensorsWriter::Serialize() const {
  std::vector<uint8_t> out;
  HEARTH_RETURN_IF_ERROR(EmitAll([&out](const uint8_t* p, size_t n) {
    out.insert(out.end(), p, p + n);
    return Status::Ok();
  }));
  return out;
}

Status SafetensorsWriter::WriteFile(const std::string& path) const {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  HEARTH_RETURN_IF_ERROR(EmitAll([&f, &path](const uint8_t* p, size_t n) {
    if (std::fwrite(p, 1, n, f.get()) != n) return Status::IOError("write failed: " + path);
    return Status::Ok();
  }));
  if (std::fclose(f.release()) != 0) return Status::IOError("close failed: " + path);
  return Status::Ok();
}

}  // namespace hearth::model
