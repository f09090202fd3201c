// One structured line per event on stderr (journald picks it up):
//   ts=2026-11-26T11:45:10.123Z level=info msg="worker started" pid=42
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace hearth {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(std::string_view name, LogLevel* level);

// Collects `key=value` fields and writes the line when destroyed.
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view msg);
  ~LogLine();
  template <typename T>
  LogLine& Kv(std::string_view key, const T& value) {
    if (enabled_) {
      std::ostringstream v;
      v << value;
      Field(key, v.str());
    }
    return *this;
  }

 private:
  void Field(std::string_view key, const std::string& value);
  bool enabled_;
  std::string line_;
};

inline LogLine LogDebug(std::string_view msg) { return LogLine(LogLevel::kDebug, msg); }
inline LogLine LogInfo(std::string_view msg) { return LogLine(LogLevel::kInfo, msg); }
inline LogLine LogWarn(std::string_view msg) { return LogLine(LogLevel::kWarn, msg); }
inline LogLine LogError(std::string_view msg) { return LogLine(LogLevel::kError, msg); }

}  // namespace hearth
