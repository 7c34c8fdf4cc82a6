// lava-run's console engine against in-process peers: a socketpair, a TCP
// listener and a command on a pty.

#include "worker/run/console.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace lava::worker::run {
namespace {

using namespace std::chrono_literals;

struct Pair {
    int peer = -1;
    std::vector<std::string> target;
    std::vector<std::string> input;
    std::unique_ptr<Console> console;

    Pair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        peer = fds[1];
        console = std::make_unique<Console>(Connection::adopt(fds[0]),
                                            ConsoleHooks{[this](std::string_view l) { target.emplace_back(l); },
                                                         [this](std::string_view t) { input.emplace_back(t); }});
    }
    ~Pair() {
        console.reset();
        if (peer >= 0) ::close(peer);
    }
    void dut(const std::string& bytes) { ASSERT_EQ(::write(peer, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size())); }
    std::string received() {
        char buf[256];
        const auto n = ::read(peer, buf, sizeof buf);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }
};

TEST(ConsoleTest, MatchesAPromptAndLogsEveryLine) {
    Pair p;
    p.dut("Linux version 6.1\r\nWelcome\r\nroot@dut:~# \x1b[6n");
    auto m = p.console->expect({R"(root@dut:~# (\x1b\[6n)?)"}, 5s);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->before, "Linux version 6.1\r\nWelcome\r\n");
    EXPECT_EQ(m->matched, "root@dut:~# \x1b[6n");
    // Whole lines as they came, "\r" dropped; the prompt once it matched.
    EXPECT_EQ(p.target, (std::vector<std::string>{"Linux version 6.1", "Welcome", "root@dut:~# \x1b[6n"}));
    EXPECT_TRUE(p.console->pending().empty());
}

TEST(ConsoleTest, TheEarliestMatchWinsAndTheFirstPatternAtATie) {
    Pair p;
    p.dut("aaa login: bbb Password: ");
    auto m = p.console->expect({"Password: ", "login: "}, 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->index, 1u);
    EXPECT_EQ(p.console->pending(), "bbb Password: ");
    m = p.console->expect({"b+ Password", "bbb"}, 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->index, 0u);  // both match at the same place
}

TEST(ConsoleTest, CaptureGroupsOfASignal) {
    Pair p;
    p.dut("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=boot RESULT=pass>\n");
    auto m = p.console->expect({R"(<LAVA_SIGNAL_(\S+) ([^>]+)>)", "(never)(here)"}, 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->groups, (std::vector<std::string>{"TESTCASE", "TEST_CASE_ID=boot RESULT=pass"}));
}

TEST(ConsoleTest, OutputSplitAcrossReadsStillMatches) {
    Pair p;
    p.dut("dut log");
    std::thread later([&] { p.dut("in: "); });
    auto m = p.console->expect({"dut login: "}, 5s);
    later.join();
    ASSERT_TRUE(m);
}

TEST(ConsoleTest, ADeadlineWithoutAMatchIsATimeout) {
    Pair p;
    p.dut("no prompt here");
    const auto start = std::chrono::steady_clock::now();
    auto m = p.console->expect({"root@dut"}, 100ms);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, console_errc::kTimeout);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
    EXPECT_EQ(p.console->pending(), "no prompt here");
}

TEST(ConsoleTest, TheDutLeavingIsClosedNotATimeout) {
    Pair p;
    p.dut("bye\n");
    ::close(p.peer);
    p.peer = -1;
    auto m = p.console->expect({"prompt"}, 5s);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, console_errc::kClosed);
    EXPECT_EQ(p.target, std::vector<std::string>{"bye"});
    // Writing to it is an error too, not SIGPIPE.
    EXPECT_FALSE(p.console->sendline("anyone?"));
}

TEST(ConsoleTest, SentTextReachesTheDutAndTheInputLog) {
    Pair p;
    ASSERT_TRUE(p.console->sendline("uname -a"));
    EXPECT_EQ(p.received(), "uname -a\n");
    ASSERT_TRUE(p.console->send("ab", 1ms));
    std::string got;
    while (got.size() < 2) got += p.received();
    EXPECT_EQ(got, "ab");
    EXPECT_EQ(p.input, (std::vector<std::string>{"uname -a\n", "ab"}));
}

TEST(ConsoleTest, ABadPatternIsAnErrorNamingIt) {
    Pair p;
    auto m = p.console->expect({"ok", "(unclosed"}, 1s);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, console_errc::kPattern);
    EXPECT_NE(m.error().message.find("(unclosed"), std::string::npos);
}

TEST(ConsoleTest, TcpConnectionsAndRefusals) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    const auto port = ntohs(addr.sin_port);
    auto connection = Connection::tcp("127.0.0.1", port);
    ASSERT_TRUE(connection) << connection.error().message;
    const int dut = ::accept(listener, nullptr, nullptr);
    ASSERT_GE(dut, 0);
    Console console(std::move(*connection), {});
    ASSERT_EQ(::write(dut, "=> ", 3), 3);
    EXPECT_TRUE(console.expect({"=> "}, 5s));
    ::close(dut);
    ::close(listener);
    // Nothing listens there any more.
    auto refused = Connection::tcp("127.0.0.1", port);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, console_errc::kIo);
}

TEST(ConsoleTest, AConnectionCommandOnAPty) {
    auto connection = Connection::spawn({"/bin/sh", "-c", "printf 'ready> '; read x; echo \"got:$x\"; sleep 60"});
    ASSERT_TRUE(connection) << connection.error().message;
    std::vector<std::string> lines;
    Console console(std::move(*connection), {[&](std::string_view l) { lines.emplace_back(l); }, {}});
    ASSERT_TRUE(console.expect({"ready> "}, 10s));
    ASSERT_TRUE(console.sendline("hello"));
    auto m = console.expect({"got:(\\w+)"}, 10s);
    ASSERT_TRUE(m) << console.pending();
    EXPECT_EQ(m->groups, std::vector<std::string>{"hello"});
    // Raw terminal: the line sent is not echoed back by the pty.
    EXPECT_EQ(m->before.find("hello"), std::string::npos);
}

TEST(ConsoleTest, AConnectionCommandThatCannotRun) {
    auto connection = Connection::spawn({"/nonexistent/telnet", "127.0.0.1", "1"});
    ASSERT_TRUE(connection);  // the fork worked; the command reports and exits
    Console console(std::move(*connection), {});
    auto m = console.expect({"never"}, 10s);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, console_errc::kClosed);
    EXPECT_NE(console.pending().find("cannot run /nonexistent/telnet"), std::string::npos);
}

}  // namespace
}  // namespace lava::worker::run
