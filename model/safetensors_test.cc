#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "model/safetensors_writer.h"

namespace hearth::model {
namespace {

std::vector<uint8_t> SmallFile() {
  SafetensorsWriter w;
  w.SetMetadata("format", "pt");
  w.AddTensor("a", SafetensorsDtype::kF32, {2, 3}, std::vector<uint8_t>(24, 1));
  w.AddTensor("b", SafetensorsDtype::kBF16, {4}, std::vector<uint8_t>(8, 2));
  w.AddTensor("c", SafetensorsDtype::kI64, {}, std::vector<uint8_t>(8, 3));
  return *w.Serialize();
}

// A file with a hand-written header and `data_bytes` zero bytes of data.
std::vector<uint8_t> Raw(const std::string& header, size_t data_bytes) {
  std::string s(8, '\0');
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i, len >>= 8) s[i] = static_cast<char>(len & 0xFF);
  s += header;
  s.append(data_bytes, '\0');
  return std::vector<uint8_t>(s.begin(), s.end());
}

void ExpectError(const std::vector<uint8_t>& bytes, std::string_view needle) {
  auto f = SafetensorsFile::Parse(bytes.data(), bytes.size());
  ASSERT_FALSE(f.ok()) << "expected an error mentioning " << needle;
  EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status().ToString();
}

TEST(SafetensorsTest, RoundTrip) {
  auto bytes = SmallFile();
  auto f = SafetensorsFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ((*f)->tensors().size(), 3u);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  const SafetensorsTensorInfo* b = (*f)->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, SafetensorsDtype::kBF16);
  EXPECT_EQ(b->shape, (std::vector<uint64_t>{4}));
  EXPECT_EQ(b->num_bytes, 8u);
  EXPECT_EQ(b->data[0], 2);
  const SafetensorsTensorInfo* c = (*f)->FindTensor("c");
  EXPECT_EQ(c->num_elements, 1u);  // a scalar
  EXPECT_EQ(c->data + 8, bytes.data() + bytes.size());
  EXPECT_EQ((*f)->FindTensor("zz"), nullptr);
}

TEST(SafetensorsTest, EveryPrefixFails) {
  auto bytes = SmallFile();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    EXPECT_FALSE(SafetensorsFile::Parse(prefix.data(), prefix.size()).ok()) << n;
  }
}

TEST(SafetensorsTest, RejectsMalformedHeaders) {
  std::vector<uint8_t> huge(16, 0);
  const uint64_t big = uint64_t{1} << 40;
  std::memcpy(huge.data(), &big, 8);
  ExpectError(huge, "exceeds 100 MB");
  ExpectError(std::vector<uint8_t>{10, 0, 0, 0, 0, 0, 0, 0, '{'}, "past the end");
  ExpectError(Raw("[]", 0), "start with '{'");
  ExpectError(Raw("{\"a\":", 0), "JSON invalid");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "past the end");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "span 8 bytes");
  ExpectError(Raw("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype 'Q4'");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "dim");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8),
              "overflow");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "begin > end");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8), "data_offsets");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16), "cover 8 bytes");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap");
  ExpectError(Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16), "duplicate");
  ExpectError(Raw("{\"__metadata__\":{\"k\":1}}", 0), "__metadata__");
  ExpectError(Raw("{\"\xff\":1}", 0), "JSON invalid");
  ExpectError(Raw(std::string(50000, '[') , 0), "start with");
  ExpectError(Raw("{\"a\":" + std::string(50000, '['), 0), "JSON invalid");
  // Integer dtypes parse with sizes checked.
  auto ok = Raw("{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}", 11);
  EXPECT_TRUE(SafetensorsFile::Parse(ok.data(), ok.size()).ok());
}

TEST(SafetensorsTest, ModelDirectoryWithShards) {
  const auto dir = std::filesystem::temp_directory_path() / ("hearth_st_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SafetensorsWriter s1, s2;
  s1.AddTensor("x", SafetensorsDtype::kF32, {2}, std::vector<uint8_t>(8, 1));
  s2.AddTensor("y", SafetensorsDtype::kF16, {2}, std::vector<uint8_t>(4, 2));
  ASSERT_TRUE(s1.WriteFile((dir / "a.safetensors").string()).ok());
  ASSERT_TRUE(s2.WriteFile((dir / "b.safetensors").string()).ok());
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"metadata":{},"weight_map":{"x":"a.safetensors","y":"b.safetensors"}})";
  auto m = SafetensorsModel::Open(dir.string());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->num_shards(), 2u);
  EXPECT_EQ((*m)->tensors().size(), 2u);
  ASSERT_NE((*m)->FindTensor("y"), nullptr);
  EXPECT_EQ((*m)->FindTensor("y")->data[0], 2);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map":{"x":"../a.safetensors"}})";
  EXPECT_FALSE(SafetensorsModel::Open(dir.string()).ok());
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map":{"z":"a.safetensors"}})";
  EXPECT_FALSE(SafetensorsModel::Open(dir.string()).ok());
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(SafetensorsModel::Open(dir.string()).status().IsNotFound());
}

}  // namespace
}  // namespace hearth::model
