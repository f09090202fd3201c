// systemd's service notification protocol (sd_notify(3)) without libsystemd:
// a datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
// $NOTIFY_SOCKET. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/status.h"

namespace hearth {

// Sends `state` (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET. Ok and
// nothing sent when the variable is unset; an error when it is set but the
// message cannot be delivered.
Status SdNotify(std::string_view state);

// The watchdog interval systemd expects pings within ($WATCHDOG_USEC, when
// $WATCHDOG_PID is unset or names this process); nullopt when off.
std::optional<std::chrono::microseconds> SdWatchdogInterval();

}  // namespace hearth
