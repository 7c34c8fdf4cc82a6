#include "worker/run/download.hpp"

#include "common/base/file.hpp"
#include "common/client/http.hpp"
#include "worker/run/job_error.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace lava::worker::run {

using common::client::HttpCall;
using common::client::HttpResponse;
using common::client::form_encode;
using common::client::http_request;

namespace fs = std::filesystem;

namespace {

constexpr const char* kDigests[][2] = {{"md5sum", "md5"}, {"sha256sum", "sha256"}, {"sha512sum", "sha512"}};

std::string scheme_of(const std::string& url) {
    const auto colon = url.find("://");
    return colon == std::string::npos ? std::string() : url.substr(0, colon);
}

std::string hex(const unsigned char* data, unsigned size) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < size; ++i) {
        out.push_back(digits[data[i] >> 4]);
        out.push_back(digits[data[i] & 15]);
    }
    return out;
}

struct Digest {
    std::string key;  // md5sum, ...
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    std::string finish() {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned size = 0;
        EVP_DigestFinal_ex(ctx.get(), out, &size);
        return hex(out, size);
    }
};

// Where the bytes of a download go: the file and the digests, with progress
// lines in the log every 25 % (or every 5 s when the size is unknown).
struct Transfer {
    std::FILE* file = nullptr;
    std::vector<Digest>* digests = nullptr;
    std::uint64_t received = 0;
    JobLog* log = nullptr;
    int last_step = -1;
    std::chrono::steady_clock::time_point last_log = std::chrono::steady_clock::now();

    bool write(const char* data, std::size_t n) {
        if (std::fwrite(data, 1, n, file) != n) return false;
        for (auto& d : *digests) EVP_DigestUpdate(d.ctx.get(), data, n);
        received += n;
        return true;
    }
    void progress(std::uint64_t now, std::uint64_t total) {
        if (total > 0) {
            const int step = static_cast<int>(now * 4 / total);
            if (step > last_step && step < 4) {
                last_step = step;
                char text[96];
                std::snprintf(text, sizeof text, "progress %3d %% (%.1f MB)", step * 25, static_cast<double>(now) / 1e6);
                log->debug(text);
            }
        } else if (std::chrono::steady_clock::now() - last_log > std::chrono::seconds(5)) {
            last_log = std::chrono::steady_clock::now();
            char text[64];
            std::snprintf(text, sizeof text, "progress %.1f MB", static_cast<double>(now) / 1e6);
            log->debug(text);
        }
    }
};

HttpCall http_call(const DownloadRequest& request, const char* method, std::chrono::steady_clock::time_point deadline) {
    HttpCall call;
    call.method = method;
    call.url = request.url;
    call.deadline = deadline;
    for (const auto& [name, value] : request.headers) call.headers.emplace_back(name, value);
    return call;
}

std::string http_problem(const HttpResponse& r) {
    if (r.status == 0) return r.error;
    std::string reason = "HTTP " + std::to_string(r.status);
    if (!r.error.empty()) reason += " (" + r.error + ")";
    return reason;
}

// Copies the single stream of a compressed file (or the first member of a
// zip) to `out`, or extracts a tar into the directory `out`.
std::string unpack(const std::string& in, const std::string& out, const DownloadRequest& request) {
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    if (request.archive == "tar") {
        archive_read_support_format_tar(a.get());
        archive_read_support_format_gnutar(a.get());
    } else if (request.compression == "zip") {
        archive_read_support_format_zip(a.get());
    } else {
        archive_read_support_format_raw(a.get());
    }
    if (archive_read_open_filename(a.get(), in.c_str(), 1 << 16) != ARCHIVE_OK) {
        return archive_error_string(a.get()) ? archive_error_string(a.get()) : "cannot open";
    }
    archive_entry* entry = nullptr;
    if (request.archive == "tar") {
        fs::create_directories(out);
        std::unique_ptr<archive, decltype(&archive_write_free)> disk(archive_write_disk_new(), archive_write_free);
        // Permissions but never set-id bits (lava-run runs as root: cleared
        // below), nothing through a symbolic link, no ".."; owners are ours.
        archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                                       ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                       ARCHIVE_EXTRACT_SECURE_SYMLINKS);
        for (;;) {
            const int rc = archive_read_next_header(a.get(), &entry);
            if (rc == ARCHIVE_EOF) break;
            if (rc != ARCHIVE_OK) return archive_error_string(a.get());
            // Entries stay inside `out` (we prefix the absolute path ourselves).
            const char* raw_name = archive_entry_pathname(entry);
            const std::string name = raw_name ? raw_name : "";
            if (auto problem = relative_path_problem(name); !problem.empty()) {
                return "entry '" + name + "' " + problem;
            }
            const auto type = archive_entry_filetype(entry);
            if (!archive_entry_hardlink(entry) && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
                return "entry '" + name + "' is a device, FIFO or socket: not extracted";
            }
            archive_entry_set_perm(entry, archive_entry_perm(entry) & 0777);  // no setuid, setgid or sticky bit
            const std::string path = out + "/" + name;
            archive_entry_set_pathname(entry, path.c_str());
            if (const char* link = archive_entry_hardlink(entry)) {
                if (auto problem = relative_path_problem(link); !problem.empty()) {
                    return std::string("hard link '") + name + "' to '" + link + "' " + problem;
                }
                archive_entry_set_hardlink(entry, (out + "/" + link).c_str());
            }
            if (archive_read_extract2(a.get(), entry, disk.get()) != ARCHIVE_OK) {
                return archive_error_string(a.get()) ? archive_error_string(a.get()) : "extraction failed";
            }
        }
        return {};
    }
    if (archive_read_next_header(a.get(), &entry) != ARCHIVE_OK) {
        return archive_error_string(a.get()) ? archive_error_string(a.get()) : "empty archive";
    }
    std::FILE* file = std::fopen(out.c_str(), "we");
    if (!file) return "cannot write " + out;
    char buffer[1 << 16];
    for (;;) {
        const la_ssize_t n = archive_read_data(a.get(), buffer, sizeof buffer);
        if (n == 0) break;
        if (n < 0 || std::fwrite(buffer, 1, static_cast<std::size_t>(n), file) != static_cast<std::size_t>(n)) {
            std::fclose(file);
            return n < 0 && archive_error_string(a.get()) ? archive_error_string(a.get()) : "write failed";
        }
    }
    std::fclose(file);
    return {};
}

}  // namespace

std::string download_filename(const std::string& url, const std::string& compression) {
    std::string path = url;
    if (const auto q = path.find_first_of("?#"); q != std::string::npos) path.resize(q);
    std::string name = path.substr(path.find_last_of('/') + 1);
    if (!file_name_problem(name).empty()) name = "download";  // "", "." or ".."
    static const std::map<std::string, std::vector<std::string>> suffixes = {
        {"gz", {".gz", ".tgz"}}, {"xz", {".xz"}}, {"bz2", {".bz2"}}, {"zstd", {".zst", ".zstd"}}, {"zip", {".zip"}}};
    if (const auto it = suffixes.find(compression); it != suffixes.end()) {
        for (const auto& suffix : it->second) {
            if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
                name.resize(name.size() - suffix.size());
                if (suffix == ".tgz") name += ".tar";
                break;
            }
        }
    }
    return name;
}

std::string check_download_request(const DownloadRequest& request) {
    const auto scheme = scheme_of(request.url);
    if (scheme != "http" && scheme != "https" && scheme != "file") {
        return "unsupported URL scheme '" + scheme + "' in " + request.url + " (http, https or file)";
    }
    static const std::vector<std::string> compressions = {"", "gz", "xz", "bz2", "zstd", "zip"};
    if (std::find(compressions.begin(), compressions.end(), request.compression) == compressions.end()) {
        return "unsupported compression '" + request.compression + "' (gz, xz, bz2, zstd or zip)";
    }
    if (!request.archive.empty() && request.archive != "tar") {
        return "unsupported archive '" + request.archive + "' (tar)";
    }
    for (const auto& [key, value] : request.checksums) {
        bool known = false;
        for (const auto& d : kDigests) known = known || key == d[0];
        if (!known) return "unknown checksum " + key;
        if (value.empty()) return key + " is empty";
    }
    return {};
}

std::string check_url_reachable(const DownloadRequest& request, std::chrono::seconds timeout) {
    if (scheme_of(request.url) == "file") {
        const std::string path = request.url.substr(7);
        std::error_code ec;
        return fs::is_regular_file(path, ec) ? std::string() : "no such file: " + path;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto r = http_request(http_call(request, "HEAD", deadline));
    if (r.status == 405 || r.status == 501) {
        // No HEAD here: a GET that stops at the first byte.
        auto call = http_call(request, "GET", deadline);
        call.on_body = [](const char*, std::size_t) { return false; };
        r = http_request(call);
    }
    if (r.status == 200) return {};
    return http_problem(r);
}

Downloaded download(const DownloadRequest& request, const std::string& dir,
                    std::chrono::steady_clock::time_point deadline, JobLog& log, const std::atomic<bool>& canceled) {
    if (const auto problem = check_download_request(request); !problem.empty()) fail(ErrorType::kJob, problem);
    fs::create_directories(dir);
    const std::string name = download_filename(request.url, request.compression);
    const std::string final_path = dir + "/" + name;
    const bool unpacking = !request.compression.empty() || request.archive == "tar";
    const std::string raw_path = unpacking ? final_path + ".download" : final_path;

    std::vector<Digest> digests;
    for (const auto& d : kDigests) {
        if (!request.checksums.count(d[0])) continue;
        Digest digest;
        digest.key = d[0];
        EVP_DigestInit_ex(digest.ctx.get(), EVP_get_digestbyname(d[1]), nullptr);
        digests.push_back(std::move(digest));
    }
    Transfer transfer;
    transfer.file = std::fopen(raw_path.c_str(), "we");
    if (!transfer.file) fail(ErrorType::kInfrastructure, "cannot write " + raw_path);
    transfer.digests = &digests;
    transfer.log = &log;

    log.info("downloading " + request.url);
    const auto started = std::chrono::steady_clock::now();
    std::string problem;
    bool timed_out = false;
    if (scheme_of(request.url) == "file") {
        const std::string source = request.url.substr(7);
        std::FILE* in = std::fopen(source.c_str(), "rbe");
        if (!in) {
            problem = "cannot open " + source;
        } else {
            std::error_code size_ec;
            const auto total = fs::file_size(source, size_ec);
            char buffer[1 << 16];
            for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, in)) > 0;) {
                if (canceled.load()) break;
                if (std::chrono::steady_clock::now() >= deadline) {
                    timed_out = true;
                    break;
                }
                if (!transfer.write(buffer, n)) {
                    problem = "cannot write " + raw_path;
                    break;
                }
                transfer.progress(transfer.received, size_ec ? 0 : total);
            }
            std::fclose(in);
        }
    } else {
        auto call = http_call(request, "GET", deadline);
        call.on_body = [&](const char* data, std::size_t n) { return transfer.write(data, n); };
        call.on_progress = [&](std::uint64_t now, std::uint64_t total) {
            if (canceled.load()) return false;
            transfer.progress(now, total);
            return true;
        };
        const auto r = http_request(call);
        timed_out = r.timed_out;
        if (r.status != 200 || !r.error.empty()) problem = http_problem(r);
    }
    std::fclose(transfer.file);
    if (canceled.load() || timed_out || !problem.empty()) {
        std::error_code ec;
        fs::remove(raw_path, ec);
        if (canceled.load()) fail(ErrorType::kCanceled, "download of " + request.url + " canceled");
        if (timed_out) fail(ErrorType::kLAVATimeout, "download of " + request.url + " timed out");
        fail(ErrorType::kInfrastructure, "Unable to download " + request.url + ": " + problem);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char text[160];
    std::snprintf(text, sizeof text, "%.1f MB downloaded in %.2f s (%.2f MB/s)", transfer.received / 1e6, seconds,
                  seconds > 0 ? transfer.received / 1e6 / seconds : 0.0);
    log.info(text);

    for (auto& d : digests) {
        const std::string got = d.finish();
        const std::string& want = request.checksums.at(d.key);
        log.info(d.key + ": " + got);
        if (got != want) {
            std::error_code ec;
            fs::remove(raw_path, ec);
            fail(ErrorType::kInfrastructure,
                 d.key + " of '" + name + "' does not match: expected " + want + ", got " + got);
        }
    }
    if (unpacking) {
        problem = unpack(raw_path, final_path, request);
        std::error_code ec;
        fs::remove(raw_path, ec);
        if (!problem.empty()) {
            fail(ErrorType::kInfrastructure, "Unable to " + std::string(request.archive == "tar" ? "extract " : "decompress ") +
                                                 request.url + ": " + problem);
        }
        log.debug("unpacked to " + final_path);
    }
    return Downloaded{final_path, transfer.received};
}

}  // namespace lava::worker::run
