#include "common/worker_protocol.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace hearth::wire {
namespace {

Status WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("write to worker socket: ") + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Reads exactly `size` bytes; a clean EOF before the first byte is Unavailable.
Status ReadAll(int fd, uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("read from worker socket: ") + std::strerror(errno));
    }
    if (n == 0) return Status::Unavailable("peer closed the worker socket");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status WriteFrame(int fd, MessageType type, const std::vector<uint8_t>& payload) {
  if (payload.size() > kMaxFrameBytes) return Status::InvalidArgument("frame too large");
  uint8_t header[5];
  uint32_t len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) header[i] = static_cast<uint8_t>(len >> (8 * i));
  header[4] = static_cast<uint8_t>(type);
  HEARTH_RETURN_IF_ERROR(WriteAll(fd, header, sizeof(header)));
  return WriteAll(fd, payload.data(), payload.size());
}

StatusOr<Frame> ReadFrame(int fd) {
  uint8_t header[5];
  HEARTH_RETURN_IF_ERROR(ReadAll(fd, header, sizeof(header)));
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(header[i]) << (8 * i);
  if (len > kMaxFrameBytes) return Status::Corruption("worker frame length " + std::to_string(len) + " exceeds limit");
  Frame frame{static_cast<MessageType>(header[4]), std::vector<uint8_t>(len)};
  HEARTH_RETURN_IF_ERROR(ReadAll(fd, frame.payload.data(), len));
  return frame;
}

void PayloadWriter::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PayloadWriter::U64(uint64_t v) {
  for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PayloadWriter::Str(const std::string& s) {
  U32(static_cast<uint32_t>(s.size()));
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

StatusOr<uint32_t> PayloadReader::U32() {
  if (bytes_.size() - pos_ < 4) return Status::Corruption("payload truncated reading u32");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(bytes_[pos_ + i]) << (8 * i);
  pos_ += 4;
  return v;
}

StatusOr<int32_t> PayloadReader::I32() {
  HEARTH_ASSIGN_OR_RETURN(uint32_t v, U32());
  return static_cast<int32_t>(v);
}

StatusOr<uint64_t> PayloadReader::U64() {
  if (bytes_.size() - pos_ < 8) return Status::Corruption("payload truncated reading u64");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
  pos_ += 8;
  return v;
}

StatusOr<std::string> PayloadReader::Str() {
  HEARTH_ASSIGN_OR_RETURN(uint32_t len, U32());
  if (bytes_.size() - pos_ < len) return Status::Corruption("payload truncated reading string");
  std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
  pos_ += len;
  return s;
}

std::vector<uint8_t> EncodeHello(const WorkerHello& hello) {
  PayloadWriter w;
  w.U32(hello.protocol_version);
  w.I32(hello.pid);
  w.Str(hello.backend);
  w.Str(hello.device);
  return w.Take();
}

StatusOr<WorkerHello> DecodeHello(const std::vector<uint8_t>& payload) {
  PayloadReader r(payload);
  WorkerHello h;
  HEARTH_ASSIGN_OR_RETURN(h.protocol_version, r.U32());
  HEARTH_ASSIGN_OR_RETURN(h.pid, r.I32());
  HEARTH_ASSIGN_OR_RETURN(h.backend, r.Str());
  HEARTH_ASSIGN_OR_RETURN(h.device, r.Str());
  if (!r.AtEnd()) return Status::Corruption("trailing bytes after hello");
  return h;
}

}  // namespace hearth::wire
