#include "worker/run/command.hpp"

#include "worker/run/job_error.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace lava::worker::run {

CommandResult run_command(const std::vector<std::string>& argv, const std::string& cwd,
                          std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& canceled,
                          JobLog& log) {
    if (argv.empty()) fail(ErrorType::kBug, "empty command");
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) fail(ErrorType::kInfrastructure, "pipe: " + std::string(std::strerror(errno)));
    std::string joined;
    for (const auto& a : argv) joined += (joined.empty() ? "" : " ") + a;
    log.debug("Calling: " + joined);

    // A fork rather than posix_spawn: the child needs a new process group and a cwd.
    const pid_t pid = ::fork();
    if (pid < 0) fail(ErrorType::kInfrastructure, "fork: " + std::string(std::strerror(errno)));
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::dup2(pipe_fds[1], STDERR_FILENO);
        const int null = ::open("/dev/null", O_RDONLY);
        if (null >= 0) ::dup2(null, STDIN_FILENO);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::signal(SIGPIPE, SIG_DFL);  // lava-run ignores it; its children must not
        ::execvp(args[0], args.data());
        const std::string msg = "cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
        (void)!::write(STDERR_FILENO, msg.data(), msg.size());
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    CommandResult result;
    std::string line;
    bool timed_out = false;
    bool was_canceled = false;
    for (;;) {
        if (canceled.load()) {
            was_canceled = true;
            break;
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{pipe_fds[0], POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
        if (rc < 0 && errno != EINTR) break;
        if (rc <= 0) continue;
        char buffer[4096];
        const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        result.output.append(buffer, static_cast<std::size_t>(n));
        for (ssize_t i = 0; i < n; ++i) {
            if (buffer[i] == '\n') {
                log.debug(line);
                line.clear();
            } else {
                line.push_back(buffer[i]);
            }
        }
    }
    if (!line.empty()) log.debug(line);
    ::close(pipe_fds[0]);
    if (timed_out || was_canceled) ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (was_canceled) fail(ErrorType::kCanceled, joined + " canceled");
    if (timed_out) fail(ErrorType::kLAVATimeout, joined + " timed out");
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (result.exit_code == 127) fail(ErrorType::kInfrastructure, "cannot run " + argv[0]);
    return result;
}

std::vector<std::string> split_command(const std::string& text) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else if (c == '\'') {
            in_word = true;
            for (++i; i < text.size() && text[i] != '\''; ++i) word.push_back(text[i]);
        } else if (c == '"') {
            in_word = true;
            for (++i; i < text.size() && text[i] != '"'; ++i) {
                if (text[i] == '\\' && i + 1 < text.size() &&
                    (text[i + 1] == '"' || text[i + 1] == '\\' || text[i + 1] == '$' || text[i + 1] == '`')) {
                    ++i;
                }
                word.push_back(text[i]);
            }
        } else if (c == '\\' && i + 1 < text.size()) {
            in_word = true;
            word.push_back(text[++i]);
        } else {
            in_word = true;
            word.push_back(c);
        }
    }
    if (in_word) words.push_back(std::move(word));
    return words;
}

std::string shell_quote(const std::string& text) {
    if (text.empty()) return "''";
    bool safe = true;
    for (const char c : text) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("@%+=:,./-_", c))) safe = false;
    }
    if (safe) return text;
    std::string out = "'";
    for (const char c : text) {
        if (c == '\'') {
            out += "'\"'\"'";
        } else {
            out.push_back(c);
        }
    }
    return out + "'";
}

}  // namespace lava::worker::run
