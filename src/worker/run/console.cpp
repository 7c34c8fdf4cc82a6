#include "worker/run/console.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

namespace lava::worker::run {
namespace {

class ConsoleCategory : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "console"; }
    std::string message(int ev) const override {
        switch (static_cast<console_errc>(ev)) {
            case console_errc::kTimeout: return "timed out";
            case console_errc::kClosed: return "the connection closed";
            case console_errc::kIo: return "input/output error";
            case console_errc::kPattern: return "invalid pattern";
            case console_errc::kCanceled: return "canceled";
        }
        return "console error";
    }
};

Error fail(console_errc e, std::string message) { return make_error(e, std::move(message)); }

std::string errno_text() { return std::strerror(errno); }

struct Compiled {
    std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code{nullptr, pcre2_code_free};
};

}  // namespace

const boost::system::error_category& console_category() noexcept {
    static const ConsoleCategory category;
    return category;
}

boost::system::error_code make_error_code(console_errc e) noexcept {
    return {static_cast<int>(e), console_category()};
}

// ---------------------------------------------------------------- Connection

Result<std::unique_ptr<Connection>> Connection::tcp(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const auto service = std::to_string(port);
    if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        return fail(console_errc::kIo, "cannot resolve " + host + ": " + gai_strerror(rc));
    }
    std::string last = "no address";
    for (auto* a = found; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            freeaddrinfo(found);
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return std::unique_ptr<Connection>(new Connection(fd, -1));
        }
        last = errno_text();
        ::close(fd);
    }
    freeaddrinfo(found);
    return fail(console_errc::kIo, "cannot connect to " + host + ":" + service + ": " + last);
}

Result<std::unique_ptr<Connection>> Connection::spawn(const std::vector<std::string>& argv) {
    if (argv.empty()) return fail(console_errc::kIo, "empty connection command");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int master = -1;
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0) return fail(console_errc::kIo, "cannot open a pty: " + errno_text());
    if (pid == 0) {
        // The child: a raw terminal, then the command (its own session: forkpty).
        termios t{};
        if (::tcgetattr(STDIN_FILENO, &t) == 0) {
            ::cfmakeraw(&t);
            ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
        }
        ::signal(SIGPIPE, SIG_DFL);  // lava-run ignores it; its children must not
        ::execvp(args[0], args.data());
        const std::string msg = std::string("cannot run ") + args[0] + ": " + std::strerror(errno) + "\n";
        (void)!::write(STDERR_FILENO, msg.data(), msg.size());
        ::_exit(127);
    }
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    return std::unique_ptr<Connection>(new Connection(master, pid));
}

std::unique_ptr<Connection> Connection::adopt(int fd) { return std::unique_ptr<Connection>(new Connection(fd, -1)); }

Connection::~Connection() {
    ::close(fd_);
    if (pid_ > 0) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

// ---------------------------------------------------------------- Console

Console::Console(std::unique_ptr<Connection> connection, ConsoleHooks hooks)
    : connection_(std::move(connection)), hooks_(std::move(hooks)) {}

Console::~Console() { flush_line(); }

void Console::flush_line() {
    while (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) return;
    if (hooks_.on_target) hooks_.on_target(line_);
    line_.clear();
    // What is left of this line is often only its "\r\n": not a line of its own.
    continued_ = true;
}

Result<void> Console::read_some(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        // Rounded up: poll() must not wake before the deadline.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return fail(console_errc::kTimeout, "timed out");
        pollfd p[2] = {{connection_->fd(), POLLIN, 0}, {hooks_.cancel_fd, POLLIN, 0}};
        const nfds_t count = hooks_.cancel_fd >= 0 ? 2 : 1;
        const int rc = ::poll(p, count, static_cast<int>(std::min<long long>(left.count(), 1000 * 60 * 60)));
        if (rc < 0) {
            if (errno == EINTR) continue;
            return fail(console_errc::kIo, "poll: " + errno_text());
        }
        if (rc == 0) continue;  // the deadline check above ends the wait
        if (count == 2 && p[1].revents != 0) return fail(console_errc::kCanceled, "canceled");
        char data[4096];
        const ssize_t n = ::read(connection_->fd(), data, sizeof data);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            // A pty whose other side is gone reads EIO: the end of the stream.
            if (errno == EIO) {
                closed_ = true;
                return fail(console_errc::kClosed, "the connection closed");
            }
            return fail(console_errc::kIo, "read: " + errno_text());
        }
        if (n == 0) {
            closed_ = true;
            return fail(console_errc::kClosed, "the connection closed");
        }
        buffer_.append(data, static_cast<std::size_t>(n));
        if (!hooks_.on_target) return {};
        for (ssize_t i = 0; i < n; ++i) {
            if (data[i] == '\n') {
                while (!line_.empty() && line_.back() == '\r') line_.pop_back();
                if (!line_.empty() || !continued_) hooks_.on_target(line_);
                line_.clear();
                continued_ = false;
            } else {
                line_.push_back(data[i]);
            }
        }
        return {};
    }
}

Result<Match> Console::expect(const std::vector<std::string>& patterns, std::chrono::steady_clock::time_point deadline) {
    std::vector<Compiled> compiled(patterns.size());
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        int code = 0;
        PCRE2_SIZE offset = 0;
        compiled[i].code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(patterns[i].data()), patterns[i].size(), 0,
                                             &code, &offset, nullptr));
        if (!compiled[i].code) {
            PCRE2_UCHAR text[256];
            pcre2_get_error_message(code, text, sizeof text);
            return fail(console_errc::kPattern, "pattern '" + patterns[i] + "' at " + std::to_string(offset) + ": " +
                                                    reinterpret_cast<const char*>(text));
        }
    }
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
        pcre2_match_data_create(32, nullptr), pcre2_match_data_free);
    for (;;) {
        // The earliest match in what is pending; the first pattern wins a tie.
        std::optional<std::size_t> best;
        PCRE2_SIZE best_start = 0;
        for (std::size_t i = 0; i < compiled.size(); ++i) {
            const int rc = pcre2_match(compiled[i].code.get(), reinterpret_cast<PCRE2_SPTR>(buffer_.data()),
                                       buffer_.size(), 0, 0, data.get(), nullptr);
            if (rc < 0) continue;
            const auto* ov = pcre2_get_ovector_pointer(data.get());
            if (!best || ov[0] < best_start) {
                best = i;
                best_start = ov[0];
            }
        }
        if (best) {
            pcre2_match(compiled[*best].code.get(), reinterpret_cast<PCRE2_SPTR>(buffer_.data()), buffer_.size(), 0, 0,
                        data.get(), nullptr);
            const auto* ov = pcre2_get_ovector_pointer(data.get());
            const auto pairs = pcre2_get_ovector_count(data.get());
            Match m;
            m.index = *best;
            m.before = buffer_.substr(0, ov[0]);
            m.matched = buffer_.substr(ov[0], ov[1] - ov[0]);
            std::uint32_t groups = 0;
            pcre2_pattern_info(compiled[*best].code.get(), PCRE2_INFO_CAPTURECOUNT, &groups);
            for (std::uint32_t g = 1; g <= groups && g < pairs; ++g) {
                m.groups.push_back(ov[2 * g] == PCRE2_UNSET ? std::string()
                                                            : buffer_.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
            }
            std::uint32_t names = 0;
            PCRE2_SPTR table = nullptr;
            std::uint32_t entry_size = 0;
            pcre2_pattern_info(compiled[*best].code.get(), PCRE2_INFO_NAMECOUNT, &names);
            pcre2_pattern_info(compiled[*best].code.get(), PCRE2_INFO_NAMETABLE, &table);
            pcre2_pattern_info(compiled[*best].code.get(), PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
            for (std::uint32_t n = 0; n < names; ++n) {
                const auto* e = table + n * entry_size;
                const std::size_t g = (static_cast<std::size_t>(e[0]) << 8) | e[1];
                if (g >= 1 && g <= m.groups.size()) m.named[reinterpret_cast<const char*>(e + 2)] = m.groups[g - 1];
            }
            buffer_.erase(0, ov[1]);
            flush_line();  // the matched prompt, in the log now
            return m;
        }
        if (auto r = read_some(deadline); !r) return r.error();
    }
}

Result<void> Console::send(std::string_view text, std::chrono::milliseconds char_delay) {
    if (hooks_.on_input) hooks_.on_input(text);
    const std::size_t step = char_delay.count() > 0 ? 1 : text.size();
    for (std::size_t done = 0; done < text.size();) {
        const auto* at = text.data() + done;
        const auto size = std::min(step, text.size() - done);
        // A socket whose peer left must not raise SIGPIPE; a pty is no socket.
        ssize_t n = ::send(connection_->fd(), at, size, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = ::write(connection_->fd(), at, size);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return fail(errno == EPIPE || errno == EIO ? console_errc::kClosed : console_errc::kIo,
                        "write: " + errno_text());
        }
        done += static_cast<std::size_t>(n);
        if (char_delay.count() > 0 && done < text.size()) std::this_thread::sleep_for(char_delay);
    }
    return {};
}

Result<void> Console::sendline(std::string_view line, std::chrono::milliseconds char_delay) {
    return send(std::string(line) + "\n", char_delay);
}

}  // namespace lava::worker::run
