#pragma once
// Downloads for deploy actions (lava-protocols.md §7.2, image URL objects):
// http, https (common/client) and file URLs, checksums over the bytes as
// downloaded (md5sum, sha256sum, sha512sum), then decompression (gz, xz,
// bz2, zstd, zip) or tar extraction through libarchive. Blocking, on
// lava-run's main thread; failures throw JobFailure.

#include "worker/run/job_log.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lava::worker::run {

struct DownloadRequest {
    std::string url;
    std::string compression;  // "" (none), gz, xz, bz2, zstd, zip
    std::string archive;      // "" or tar
    std::map<std::string, std::string> checksums;  // md5sum / sha256sum / sha512sum -> hex
    std::map<std::string, std::string> headers;
};

struct Downloaded {
    std::string path;  // the file (or, for archive: tar, the directory)
    std::uint64_t size = 0;  // bytes downloaded
};

// The file name a URL downloads to: its last path segment without the
// compression suffix ("rootfs.img.xz" with xz -> "rootfs.img").
std::string download_filename(const std::string& url, const std::string& compression);

// Checks what validate can check without downloading: a supported scheme,
// compression, archive and checksum names. "" when fine, else the problem.
std::string check_download_request(const DownloadRequest& request);

// Whether the URL answers (HTTP HEAD, or the file exists); "" when it does,
// else why not.
std::string check_url_reachable(const DownloadRequest& request, std::chrono::seconds timeout);

// Downloads into `dir` (created). Throws JobFailure: kInfrastructure when the
// transfer fails or a checksum differs, kLAVATimeout at `deadline`,
// kCanceled when `canceled` becomes true.
Downloaded download(const DownloadRequest& request, const std::string& dir,
                    std::chrono::steady_clock::time_point deadline, JobLog& log, const std::atomic<bool>& canceled);

}  // namespace lava::worker::run
