#include "common/base/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace lava {

namespace fs = std::filesystem;

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool write_file_atomic(const std::string& path, std::string_view text, mode_t mode) {
    const std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return false;
    bool ok = ::fchmod(fd, mode) == 0;  // the umask may have taken bits away
    for (std::size_t done = 0; ok && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) ok = false;
        done += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    ok = ::close(fd) == 0 && ok;
    if (ok) ok = std::rename(tmp.c_str(), path.c_str()) == 0;
    if (!ok) ::unlink(tmp.c_str());
    return ok;
}

std::string relative_path_problem(std::string_view path) {
    if (path.empty()) return "is empty";
    if (path.find('\0') != std::string_view::npos) return "contains a NUL byte";
    if (path.front() == '/') return "is an absolute path: it must be relative to its directory";
    for (std::size_t start = 0; start <= path.size();) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        if (path.substr(start, end - start) == "..") return "contains '..': it must stay inside its directory";
        start = end + 1;
    }
    return {};
}

std::string file_name_problem(std::string_view name) {
    if (auto problem = relative_path_problem(name); !problem.empty()) return problem;
    if (name.find('/') != std::string_view::npos) return "contains '/': it must be a single file name";
    if (name == ".") return "is '.': it must name a file";
    return {};
}

Result<std::string> path_inside(const std::string& base, std::string_view relative) {
    if (auto problem = relative_path_problem(relative); !problem.empty()) {
        return make_error(errc::kInvalidArgument, "'" + std::string(relative) + "' " + problem);
    }
    const std::string joined = base + "/" + std::string(relative);
    std::error_code ec;
    const fs::path root = fs::weakly_canonical(base, ec);
    const fs::path target = ec ? fs::path() : fs::weakly_canonical(joined, ec);
    if (ec) return make_error(errc::kInvalidArgument, "cannot resolve '" + std::string(relative) + "': " + ec.message());
    // Component by component: "/a/bc" is not inside "/a/b".
    auto r = root.begin();
    auto t = target.begin();
    for (; r != root.end() && !r->empty(); ++r, ++t) {
        if (t == target.end() || *r != *t) {
            return make_error(errc::kInvalidArgument,
                              "'" + std::string(relative) + "' leads out of its directory through a symbolic link");
        }
    }
    return joined;
}

}  // namespace lava
