// systemd's notify protocol (common/base/notify): the datagrams a Type=notify
// unit's daemon sends, and the watchdog interval it reads.

#include "common/base/notify.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

namespace lava::common::notify {
namespace {

// systemd's end: a bound datagram socket named by $NOTIFY_SOCKET.
class NotifyTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = (std::filesystem::temp_directory_path() / ("lava-notify-" + std::to_string(std::random_device{}())))
                    .string();
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        timeval tv{2, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    }
    void TearDown() override {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        ::unsetenv("WATCHDOG_PID");
        ::close(fd_);
        std::filesystem::remove(path_);
    }
    std::string next() {
        char buffer[512];
        const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        return n < 0 ? std::string("(nothing)") : std::string(buffer, static_cast<std::size_t>(n));
    }
    std::string path_;
    int fd_ = -1;
};

TEST_F(NotifyTest, SendsTheMessagesSystemdReads) {
    EXPECT_TRUE(enabled());
    ready();
    EXPECT_EQ(next(), "READY=1");
    ready("serving on\nport 80");
    EXPECT_EQ(next(), "READY=1\nSTATUS=serving on port 80");  // a STATUS= is one line
    status("3 jobs running");
    EXPECT_EQ(next(), "STATUS=3 jobs running");
    watchdog();
    EXPECT_EQ(next(), "WATCHDOG=1");
    stopping();
    EXPECT_EQ(next(), "STOPPING=1");
}

TEST_F(NotifyTest, WatchdogIntervalIsHalfOfWhatSystemdAsks) {
    EXPECT_FALSE(watchdog_interval());
    ::setenv("WATCHDOG_USEC", "30000000", 1);
    EXPECT_EQ(watchdog_interval(), std::chrono::milliseconds(15000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    EXPECT_EQ(watchdog_interval(), std::chrono::milliseconds(15000));
    ::setenv("WATCHDOG_PID", "1", 1);  // another process's watchdog
    EXPECT_FALSE(watchdog_interval());
    ::unsetenv("WATCHDOG_PID");
    ::setenv("WATCHDOG_USEC", "soon", 1);
    EXPECT_FALSE(watchdog_interval());
    // The ticker sends once per interval, however often the loop turns.
    ::setenv("WATCHDOG_USEC", "60000000", 1);
    WatchdogTicker ticker;
    for (int i = 0; i < 100; ++i) ticker.tick();
    EXPECT_EQ(next(), "WATCHDOG=1");
    timeval tv{0, 200000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    EXPECT_EQ(next(), "(nothing)");
}

TEST(Notify, NothingOutsideSystemd) {
    ::unsetenv("NOTIFY_SOCKET");
    EXPECT_FALSE(enabled());
    ready("x");  // and no crash, no error
    watchdog();
}

}  // namespace
}  // namespace lava::common::notify
