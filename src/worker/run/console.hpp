#pragma once
// lava-run's console engine: an expect-style conversation with a DUT over a
// byte stream (its serial console through a TCP port, or a connection
// command such as `telnet host port` run in a pty). Synchronous: lava-run
// drives one DUT, one action at a time, and every wait has a deadline.
//
// Every byte the DUT sends is reported, line by line, to `on_target`
// (LAVA's `target` log level; a partial line is reported when a pattern
// matches inside it, so prompts appear in the log), every text sent to
// `on_input` (level `input`). Patterns are PCRE2 (LAVA's are Python
// regexes); "\r\n" line ends and the `ESC[6n` busybox sends after its
// prompt are tolerated by callers' patterns, not rewritten here.

#include "common/base/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lava::worker::run {

enum class console_errc {
    kTimeout = 1,  // no pattern matched before the deadline
    kClosed,       // the DUT's side closed the stream
    kIo,           // connecting, spawning, reading or writing failed
    kPattern,      // a pattern does not compile
    kCanceled,     // the cancel descriptor became readable (the job is being canceled)
};
const boost::system::error_category& console_category() noexcept;
boost::system::error_code make_error_code(console_errc e) noexcept;

// A byte stream to a console: a file descriptor we own.
class Connection {
public:
    // TCP to host:port, TCP_NODELAY set.
    static Result<std::unique_ptr<Connection>> tcp(const std::string& host, std::uint16_t port);
    // `argv` run in a new session on a pty, its terminal raw (no local echo,
    // no CR/LF translation); the process is killed with its group on close.
    static Result<std::unique_ptr<Connection>> spawn(const std::vector<std::string>& argv);
    // Adopts a descriptor (tests: one end of a socketpair).
    static std::unique_ptr<Connection> adopt(int fd);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    int fd() const { return fd_; }

private:
    Connection(int fd, int pid) : fd_(fd), pid_(pid) {}
    int fd_;
    int pid_;  // a spawned connection command, or -1
};

struct ConsoleHooks {
    std::function<void(std::string_view line)> on_target;  // from the DUT, without "\r\n"
    std::function<void(std::string_view text)> on_input;   // sent to the DUT
    int cancel_fd = -1;  // readable = stop waiting (lava-run's signal pipe)
};

struct Match {
    std::size_t index = 0;   // which pattern
    std::string before;      // the output before the match
    std::string matched;     // the matched text
    std::vector<std::string> groups;  // capture groups ("" when unset)
    std::map<std::string, std::string> named;  // named groups ((?P<name>...) or (?<name>...))
};

class Console {
public:
    Console(std::unique_ptr<Connection> connection, ConsoleHooks hooks);
    ~Console();

    // Waits until one of `patterns` matches the output not yet consumed; the
    // output up to the end of the match is consumed. Earliest match wins;
    // at the same place, the first pattern.
    Result<Match> expect(const std::vector<std::string>& patterns, std::chrono::steady_clock::time_point deadline);
    Result<Match> expect(const std::vector<std::string>& patterns, std::chrono::milliseconds timeout) {
        return expect(patterns, std::chrono::steady_clock::now() + timeout);
    }
    // Sends text (with "\n" appended by sendline), a character at a time
    // with `char_delay` between them when not zero (slow UARTs, LAVA's
    // test_character_delay).
    Result<void> send(std::string_view text, std::chrono::milliseconds char_delay = {});
    Result<void> sendline(std::string_view line, std::chrono::milliseconds char_delay = {});

    // Whether the DUT's side closed the stream (a read saw its end).
    bool closed() const { return closed_; }

    // Output received and not consumed by a match.
    const std::string& pending() const { return buffer_; }

private:
    Result<void> read_some(std::chrono::steady_clock::time_point deadline);
    void flush_line();

    std::unique_ptr<Connection> connection_;
    ConsoleHooks hooks_;
    std::string buffer_;  // not yet consumed by a match
    std::string line_;    // received, not yet given to on_target
    bool continued_ = false;  // line_ continues a line reported at a match
    bool closed_ = false;
};

}  // namespace lava::worker::run

template <>
struct boost::system::is_error_code_enum<lava::worker::run::console_errc> : std::true_type {};
