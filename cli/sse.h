// A parser for server-sent event streams (text/event-stream), fed in the
// pieces the network delivers: "id:" and "data:" fields, comments ignored, a
// blank line ends an event.
#pragma once

#include <string>
#include <vector>

namespace hearth::cli {

struct SseEvent {
  std::string id;    // empty when the event had none
  std::string data;  // data lines joined with '\n'
};

class SseParser {
 public:
  // Appends every event completed by these bytes to `out`.
  void Feed(const char* data, size_t n, std::vector<SseEvent>* out);

 private:
  void Line(const std::string& line, std::vector<SseEvent>* out);

  std::string partial_;  // an unfinished line
  SseEvent event_;
  bool has_data_ = false;
};

}  // namespace hearth::cli
