#include "daemon/ops/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace hearth::daemon {
namespace {

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Status ParseProcStat(const std::string& stat, double boot_time_seconds, double ticks_per_second, double page_size,
                     ProcessSample* out) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. Field 3 (state) is the first after it.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return Status::Corruption("no ')' in /proc stat");
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3
  for (std::string f; in >> f;) fields.push_back(f);
  auto field = [&](size_t n) { return std::stod(fields[n - 3]); };
  if (fields.size() < 24 - 2) return Status::Corruption("short /proc stat: " + std::to_string(fields.size() + 2));
  try {
    out->cpu_seconds = (field(14) + field(15)) / ticks_per_second;  // utime + stime
    out->start_time_seconds = boot_time_seconds + field(22) / ticks_per_second;
    out->virtual_bytes = field(23);
    out->resident_bytes = field(24) * page_size;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("bad /proc stat field: ") + e.what());
  }
  return Status::Ok();
}

StatusOr<ProcessSample> ReadProcessSample() {
  HEARTH_ASSIGN_OR_RETURN(std::string stat, ReadText("/proc/self/stat"));
  HEARTH_ASSIGN_OR_RETURN(std::string system, ReadText("/proc/stat"));
  const size_t btime = system.find("\nbtime ");
  if (btime == std::string::npos) return Status::Corruption("no btime in /proc/stat");
  ProcessSample sample;
  HEARTH_RETURN_IF_ERROR(ParseProcStat(stat, std::stod(system.substr(btime + 7)),
                                       static_cast<double>(sysconf(_SC_CLK_TCK)),
                                       static_cast<double>(sysconf(_SC_PAGESIZE)), &sample));
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) {
    ++sample.open_fds;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) sample.max_fds = static_cast<double>(limit.rlim_cur);
  return sample;
}

}  // namespace hearth::daemon
