#include "common/base/notify.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace lava::common::notify {
namespace {

void send(const std::string& message) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path) return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::size_t length = std::strlen(path);
    if (length >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, path, length);
    if (path[0] == '@') addr.sun_path[0] = '\0';  // the abstract namespace
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
    // A notification that cannot be sent is dropped: the service manager
    // then treats the daemon as it would a silent one.
    while (::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr),
                    size) < 0 &&
           errno == EINTR) {
    }
    ::close(fd);
}

// A STATUS= value is one line.
std::string one_line(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    return out;
}

// The test-only stall (see ready()): set by SIGUSR2.
std::atomic<bool> g_stall{false};

void on_stall_signal(int) { g_stall.store(true); }

void arm_test_stall() {
    const char* armed = std::getenv("LAVA_TEST_WATCHDOG_STALL");
    if (!armed || std::string_view(armed) != "1") return;
    struct sigaction sa {};
    sa.sa_handler = on_stall_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGUSR2, &sa, nullptr);
}

}  // namespace

bool enabled() {
    const char* path = std::getenv("NOTIFY_SOCKET");
    return path && *path;
}

void ready(std::string_view status) {
    arm_test_stall();
    send(status.empty() ? std::string("READY=1") : "READY=1\nSTATUS=" + one_line(status));
}

void status(std::string_view text) { send("STATUS=" + one_line(text)); }

void stopping() { send("STOPPING=1"); }

void watchdog() {
    // The loop that would send this ping stops turning for good (tests only).
    while (g_stall.load()) ::pause();
    send("WATCHDOG=1");
}

std::optional<std::chrono::milliseconds> watchdog_interval() {
    const char* usec = std::getenv("WATCHDOG_USEC");
    if (!usec || !*usec) return std::nullopt;
    if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid) {
        if (std::strtol(pid, nullptr, 10) != static_cast<long>(::getpid())) return std::nullopt;
    }
    char* end = nullptr;
    const unsigned long long us = std::strtoull(usec, &end, 10);
    if (*end != '\0' || us == 0) return std::nullopt;
    return std::chrono::milliseconds(std::max<unsigned long long>(1, us / 2000));
}

}  // namespace lava::common::notify
