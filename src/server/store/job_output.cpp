#include "server/store/job_output.hpp"

#include "common/proto/logline.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace lava::server::store {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLog = "output.yaml";
constexpr const char* kIndex = "output.idx";
constexpr const char* kLevels = "output.lvl";

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

// An open file descriptor, closed on scope exit.
class Fd {
public:
    Fd(const fs::path& path, int flags, bool missing_ok = false) : path_(path) {
        fd_ = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
        if (fd_ < 0 && !(missing_ok && errno == ENOENT)) fail("cannot open", path);
    }
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    explicit operator bool() const { return fd_ >= 0; }
    int get() const { return fd_; }

    std::uint64_t size() const {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) fail("cannot stat", path_);
        return static_cast<std::uint64_t>(st.st_size);
    }
    void truncate(std::uint64_t size) const {
        if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("cannot truncate", path_);
    }
    void write_all(const char* data, std::size_t n, std::uint64_t at) const {
        while (n > 0) {
            const auto w = ::pwrite(fd_, data, n, static_cast<off_t>(at));
            if (w < 0) {
                if (errno == EINTR) continue;
                fail("cannot write", path_);
            }
            data += w;
            n -= static_cast<std::size_t>(w);
            at += static_cast<std::uint64_t>(w);
        }
    }
    void read_all(char* data, std::size_t n, std::uint64_t at) const {
        while (n > 0) {
            const auto r = ::pread(fd_, data, n, static_cast<off_t>(at));
            if (r < 0) {
                if (errno == EINTR) continue;
                fail("cannot read", path_);
            }
            if (r == 0) {
                errno = EIO;
                fail("short read from", path_);
            }
            data += r;
            n -= static_cast<std::size_t>(r);
            at += static_cast<std::uint64_t>(r);
        }
    }

private:
    fs::path path_;
    int fd_ = -1;
};

// "2026-11-30T..." -> "2026/11/30"
fs::path date_dirs(const std::string& iso) {
    if (iso.size() < 10) return "unknown-date";
    return fs::path(iso.substr(0, 4)) / iso.substr(5, 2) / iso.substr(8, 2);
}

}  // namespace

JobOutput::JobOutput(const fs::path& root, std::int64_t job_id, const std::string& submit_time) {
    const fs::path legacy = root / ("job-" + std::to_string(job_id));
    std::error_code ec;
    dir_ = fs::exists(legacy, ec) ? legacy : root / date_dirs(submit_time) / std::to_string(job_id);
}

std::uint64_t JobOutput::indexed_lines() const {
    Fd idx(dir_ / kIndex, O_RDONLY, true);
    return idx ? idx.size() / sizeof(std::uint64_t) : 0;
}

std::uint64_t JobOutput::offset_of(std::uint64_t line) const {
    Fd idx(dir_ / kIndex, O_RDONLY);
    std::uint64_t offset = 0;
    idx.read_all(reinterpret_cast<char*>(&offset), sizeof offset, line * sizeof offset);
    return offset;
}

LogExtent JobOutput::append(const LogExtent& committed, const std::vector<std::string_view>& lines,
                            std::string_view levels) {
    fs::create_directories(dir_);
    Fd log(dir_ / kLog, O_RDWR | O_CREAT);
    Fd idx(dir_ / kIndex, O_RDWR | O_CREAT);
    // Drop an uncommitted tail.
    LogExtent base = committed;
    if (log.size() > base.bytes) log.truncate(base.bytes);
    if (idx.size() > base.lines * sizeof(std::uint64_t)) idx.truncate(base.lines * sizeof(std::uint64_t));
    if (log.size() < base.bytes || idx.size() < base.lines * sizeof(std::uint64_t)) {
        // The files lost data (deleted, or a crash of the machine before they
        // reached the disk): keep the whole lines that are left and go on
        // from there, rather than refusing this job's log forever.
        std::uint64_t n = idx.size() / sizeof(std::uint64_t);
        auto offset = [&](std::uint64_t line) {
            std::uint64_t o = 0;
            idx.read_all(reinterpret_cast<char*>(&o), sizeof o, line * sizeof o);
            return o;
        };
        while (n > 0 && offset(n - 1) >= log.size()) --n;
        std::uint64_t bytes = 0;
        if (n > 0) {
            const std::uint64_t last = offset(n - 1);
            std::string tail(log.size() - last, '\0');
            log.read_all(tail.data(), tail.size(), last);
            if (tail.empty() || tail.back() != '\n' || tail.find('\n') != tail.size() - 1) {
                --n;  // a partial last line goes too
                bytes = last;
            } else {
                bytes = log.size();
            }
        }
        log.truncate(bytes);
        idx.truncate(n * sizeof(std::uint64_t));
        base = LogExtent{n, bytes};
    }
    const std::uint64_t index_bytes = base.lines * sizeof(std::uint64_t);
    std::string text;
    std::vector<std::uint64_t> offsets;
    offsets.reserve(lines.size());
    std::uint64_t at = base.bytes;
    for (const auto& line : lines) {
        offsets.push_back(at + text.size());
        text.append(line);
        text += '\n';
    }
    log.write_all(text.data(), text.size(), at);
    idx.write_all(reinterpret_cast<const char*>(offsets.data()), offsets.size() * sizeof(std::uint64_t),
                  index_bytes);
    // The level index follows when it is complete up to here; otherwise it
    // is rebuilt by levels() when someone reads it.
    Fd lvl(dir_ / kLevels, O_RDWR | O_CREAT);
    if (lvl.size() >= base.lines) {
        if (lvl.size() > base.lines) lvl.truncate(base.lines);
        std::string codes;
        if (levels.size() == lines.size()) {
            codes.assign(levels);
        } else {
            codes.reserve(lines.size());
            for (const auto& line : lines) codes += proto::log_level_code(proto::stored_line_level(line));
        }
        lvl.write_all(codes.data(), codes.size(), base.lines);
    }
    return LogExtent{base.lines + lines.size(), base.bytes + text.size()};
}

std::optional<JobOutput::Range> JobOutput::range(const LogExtent& committed, std::uint64_t start,
                                                 std::optional<std::uint64_t> end) const {
    std::error_code ec;
    if (committed.lines == 0 && !fs::exists(dir_ / kLog, ec)) return std::nullopt;
    Range r{dir_ / kLog, 0, 0};
    if (start >= committed.lines) return r;
    const std::uint64_t last = end && *end < committed.lines ? *end : committed.lines;
    if (last <= start) return r;
    r.offset = start == 0 ? 0 : offset_of(start);
    const std::uint64_t stop = last == committed.lines ? committed.bytes : offset_of(last);
    r.length = stop > r.offset ? stop - r.offset : 0;
    return r;
}

std::optional<std::string> JobOutput::read(const LogExtent& committed, std::uint64_t start,
                                           std::optional<std::uint64_t> end) const {
    const auto r = range(committed, start, end);
    if (!r) return std::nullopt;
    std::string out(r->length, '\0');
    if (r->length > 0) Fd(r->file, O_RDONLY).read_all(out.data(), out.size(), r->offset);
    return out;
}

std::vector<std::string> JobOutput::read_lines(const LogExtent& committed,
                                               const std::vector<std::uint64_t>& numbers) const {
    std::vector<std::string> out;
    if (numbers.empty()) return out;
    Fd log(dir_ / kLog, O_RDONLY, true);
    Fd idx(dir_ / kIndex, O_RDONLY, true);
    if (!log || !idx) return out;
    auto offset = [&](std::uint64_t line) {
        if (line >= committed.lines) return committed.bytes;
        std::uint64_t o = 0;
        idx.read_all(reinterpret_cast<char*>(&o), sizeof o, line * sizeof o);
        return o;
    };
    out.reserve(numbers.size());
    for (const auto n : numbers) {
        if (n >= committed.lines) continue;
        const std::uint64_t from = offset(n);
        const std::uint64_t to = offset(n + 1);
        std::string text(to > from ? to - from : 0, '\0');
        if (!text.empty()) log.read_all(text.data(), text.size(), from);
        if (!text.empty() && text.back() == '\n') text.pop_back();
        out.push_back(std::move(text));
    }
    return out;
}

std::string JobOutput::levels(const LogExtent& committed) const {
    std::string out;
    Fd lvl(dir_ / kLevels, O_RDONLY, true);
    const std::uint64_t have = lvl ? std::min<std::uint64_t>(lvl.size(), committed.lines) : 0;
    out.resize(have);
    if (have > 0) lvl.read_all(out.data(), out.size(), 0);
    if (have == committed.lines) return out;
    // The missing part, from the log itself, a block of lines at a time.
    constexpr std::uint64_t kBlock = 65536;
    for (std::uint64_t from = have; from < committed.lines; from += kBlock) {
        const auto text = read(committed, from, std::min(committed.lines, from + kBlock));
        if (!text) break;
        std::size_t pos = 0;
        while (pos < text->size()) {
            auto nl = text->find('\n', pos);
            if (nl == std::string::npos) nl = text->size();
            out += proto::log_level_code(proto::stored_line_level(std::string_view(*text).substr(pos, nl - pos)));
            pos = nl + 1;
        }
    }
    out.resize(committed.lines, '?');
    // Kept for next time (another reader or the next upload may do the
    // same at once: they write the same bytes).
    try {
        Fd w(dir_ / kLevels, O_WRONLY | O_CREAT);
        w.write_all(out.data() + have, out.size() - have, have);
    } catch (const std::system_error&) {
        // A read-only output directory: indexed again next time.
    }
    return out;
}

void JobOutput::write_file(const std::string& name, std::string_view content) const {
    fs::create_directories((dir_ / name).parent_path());
    Fd f(dir_ / name, O_WRONLY | O_CREAT | O_TRUNC);
    f.write_all(content.data(), content.size(), 0);
}

std::optional<std::string> JobOutput::read_file(const std::string& name) const {
    Fd f(dir_ / name, O_RDONLY, true);
    if (!f) return std::nullopt;
    std::string out(f.size(), '\0');
    if (!out.empty()) f.read_all(out.data(), out.size(), 0);
    return out;
}

}  // namespace lava::server::store
