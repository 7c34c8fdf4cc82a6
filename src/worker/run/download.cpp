#include "worker/run/download.hpp"

#include "worker/run/job_error.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace lava::worker::run {

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

struct Transfer {
    std::FILE* file = nullptr;
    std::vector<Digest>* digests = nullptr;
    std::uint64_t received = 0;
    std::chrono::steady_clock::time_point deadline;
    const std::atomic<bool>* canceled = nullptr;
    bool timed_out = false;
    JobLog* log = nullptr;
    int last_step = -1;  // progress logged every 25 %
    std::chrono::steady_clock::time_point last_log = std::chrono::steady_clock::now();
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (std::fwrite(data, 1, n, t->file) != n) return 0;
    for (auto& d : *t->digests) EVP_DigestUpdate(d.ctx.get(), data, n);
    t->received += n;
    return n;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->canceled->load()) return 1;
    if (std::chrono::steady_clock::now() >= t->deadline) {
        t->timed_out = true;
        return 1;
    }
    if (total > 0) {
        const int step = static_cast<int>(now * 4 / total);
        if (step > t->last_step && step < 4) {
            t->last_step = step;
            char text[96];
            std::snprintf(text, sizeof text, "progress %3d %% (%.1f MB)", step * 25, static_cast<double>(now) / 1e6);
            t->log->debug(text);
        }
    } else if (std::chrono::steady_clock::now() - t->last_log > std::chrono::seconds(5)) {
        t->last_log = std::chrono::steady_clock::now();
        char text[64];
        std::snprintf(text, sizeof text, "progress %.1f MB", static_cast<double>(now) / 1e6);
        t->log->debug(text);
    }
    return 0;
}

using Curl = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using Headers = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

Curl make_curl(const DownloadRequest& request, Headers& headers) {
    Curl curl(curl_easy_init(), curl_easy_cleanup);
    curl_easy_setopt(curl.get(), CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "lava-cpp lava-run");
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 60L);
    for (const auto& [name, value] : request.headers) {
        headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));
    }
    if (headers) curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    return curl;
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
        archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                                       ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                       ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                       ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
        for (;;) {
            const int rc = archive_read_next_header(a.get(), &entry);
            if (rc == ARCHIVE_EOF) break;
            if (rc != ARCHIVE_OK) return archive_error_string(a.get());
            const std::string path = out + "/" + archive_entry_pathname(entry);
            archive_entry_set_pathname(entry, path.c_str());
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
    if (name.empty()) name = "download";
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
    Headers headers(nullptr, curl_slist_free_all);
    auto curl = make_curl(request, headers);
    curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(curl.get());
    if (rc == CURLE_OK) return {};
    return error[0] ? error : curl_easy_strerror(rc);
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
    transfer.deadline = deadline;
    transfer.canceled = &canceled;
    transfer.log = &log;

    log.info("downloading " + request.url);
    const auto started = std::chrono::steady_clock::now();
    Headers headers(nullptr, curl_slist_free_all);
    auto curl = make_curl(request, headers);
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &transfer);
    const CURLcode rc = curl_easy_perform(curl.get());
    std::fclose(transfer.file);
    if (rc != CURLE_OK) {
        std::error_code ec;
        fs::remove(raw_path, ec);
        if (canceled.load()) fail(ErrorType::kCanceled, "download of " + request.url + " canceled");
        if (transfer.timed_out) fail(ErrorType::kLAVATimeout, "download of " + request.url + " timed out");
        fail(ErrorType::kInfrastructure,
             "Unable to download " + request.url + ": " + (error[0] ? error : curl_easy_strerror(rc)));
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
        const auto problem = unpack(raw_path, final_path, request);
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

std::string file_digest(const std::string& path, const std::string& algorithm) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_get_digestbyname(algorithm.c_str()), nullptr);
    std::FILE* file = std::fopen(path.c_str(), "rbe");
    if (!file) return {};
    char buffer[1 << 16];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;) EVP_DigestUpdate(ctx.get(), buffer, n);
    std::fclose(file);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    EVP_DigestFinal_ex(ctx.get(), out, &size);
    return hex(out, size);
}

}  // namespace lava::worker::run
