// The standard process_* metrics (what Prometheus client libraries export) for hearthd itself,
// read from /proc on each scrape.
#pragma once

#include <string>

#include "common/status.h"

namespace hearth::daemon {

struct ProcessSample {
  double cpu_seconds = 0;     // user + system time
  double resident_bytes = 0;  // RSS
  double virtual_bytes = 0;
  double start_time_seconds = 0;  // Unix time the process started
  double open_fds = 0;
  double max_fds = 0;  // the soft RLIMIT_NOFILE
};

// From the text of /proc/<pid>/stat, the boot time (/proc/stat's btime) and the system's clock
// ticks per second and page size. Leaves open_fds and max_fds alone.
Status ParseProcStat(const std::string& stat, double boot_time_seconds, double ticks_per_second, double page_size,
                     ProcessSample* out);

// This process's sample (/proc/self).
StatusOr<ProcessSample> ReadProcessSample();

}  // namespace hearth::daemon
