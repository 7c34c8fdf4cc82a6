#pragma once
// systemd's service notification protocol (sd_notify(3)), written over the
// socket in $NOTIFY_SOCKET: a Type=notify unit is "started" when its daemon
// says READY=1 (once it really serves), shows its STATUS= text in `systemctl
// status`, and is restarted when it stops sending WATCHDOG=1 within
// WatchdogSec=. Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
// Thread-safe (each call is one datagram).

#include <chrono>
#include <optional>
#include <string_view>

namespace lava::common::notify {

// Whether a service manager listens ($NOTIFY_SOCKET is set).
bool enabled();

// READY=1, with a STATUS= text when given. For tests of the watchdog, when
// $LAVA_TEST_WATCHDOG_STALL is 1 it also arms SIGUSR2: after that signal the
// next WATCHDOG=1 blocks its caller, the daemon's loop, for good, so systemd
// must kill and restart the daemon (tests/system/units).
void ready(std::string_view status = {});
void status(std::string_view text);
void stopping();
// WATCHDOG=1: "the event loop is alive".
void watchdog();

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC when it is meant for
// this process ($WATCHDOG_PID absent or ours); nullopt without a watchdog.
std::optional<std::chrono::milliseconds> watchdog_interval();

// WATCHDOG=1 from a daemon's own loop: tick() on every turn of the loop
// sends it when watchdog_interval() has passed since the last one, so a
// loop that stops turning stops the pings and systemd restarts the daemon.
// One per loop (not thread-safe).
class WatchdogTicker {
public:
    WatchdogTicker() : interval_(watchdog_interval()) {}
    void tick() {
        if (!interval_) return;
        const auto now = std::chrono::steady_clock::now();
        if (now < next_) return;
        watchdog();
        next_ = now + *interval_;
    }

private:
    std::optional<std::chrono::milliseconds> interval_;
    std::chrono::steady_clock::time_point next_{};
};

}  // namespace lava::common::notify
