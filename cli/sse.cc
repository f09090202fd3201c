#include "cli/sse.h"

namespace hearth::cli {

void SseParser::Feed(const char* data, size_t n, std::vector<SseEvent>* out) {
  for (size_t i = 0; i < n; ++i) {
    if (data[i] != '\n') {
      partial_.push_back(data[i]);
      continue;
    }
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    Line(partial_, out);
    partial_.clear();
  }
}

void SseParser::Line(const std::string& line, std::vector<SseEvent>* out) {
  if (line.empty()) {
    if (has_data_) out->push_back(std::move(event_));
    event_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // a comment (keep-alive)
  const size_t colon = line.find(':');
  const std::string field = line.substr(0, colon);
  std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.erase(0, 1);
  if (field == "data") {
    if (has_data_) event_.data.push_back('\n');
    event_.data += value;
    has_data_ = true;
  } else if (field == "id") {
    event_.id = value;
  }
}

}  // namespace hearth::cli
