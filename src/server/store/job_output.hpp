#pragma once
// A job's output directory in LAVA's layout (lava-protocols.md §1.6):
// <root>/<YYYY>/<MM>/<DD>/<id>/ (by submit date, UTC), or the legacy
// <root>/job-<id>/ when it exists. It holds output.yaml (the log, one
// "- {...}" record per line) and output.idx (native-endian uint64 byte
// offsets of each line start), plus the files the server writes for the job.
// lava-cpp adds output.lvl: one byte per line, its level's code
// (proto::log_level_code), so the web UI filters and finds levels in a
// file 1/100th of the log's size (docs/adr/0011-web-ui.md, point 10).
//
// The database is the log's commit point: test_jobs.log_lines/log_bytes
// say how much of the files is committed. An upload truncates whatever lies
// past them (the tail of an upload whose transaction did not commit) before
// appending, so a retried batch never stores a line twice. Readers use the
// committed counts and never read past them. Not thread-safe per job: the
// caller holds the job's row lock while writing.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava::server::store {

// The files lava-server keeps with a job sent to a worker (the worker API
// writes them; XML-RPC's scheduler.jobs.configuration and the web UI read
// them), in LAVA's order; lava-run's description.yaml comes at the end.
inline constexpr std::array<const char*, 5> kConfigurationFiles{"job.yaml", "device.yaml", "dispatcher.yaml",
                                                                "env.yaml", "env-dut.yaml"};

struct LogExtent {
    std::uint64_t lines = 0;
    std::uint64_t bytes = 0;
};

class JobOutput {
public:
    // `submit_time`: ISO 8601 UTC ("2026-11-30T09:21:16.238000").
    JobOutput(const std::filesystem::path& root, std::int64_t job_id, const std::string& submit_time);

    const std::filesystem::path& dir() const { return dir_; }

    // Lines in output.idx (0 when there is no log).
    std::uint64_t indexed_lines() const;

    // Cuts the files back to `committed` and appends `lines` (each without
    // its newline); returns the new extent. Files shorter than `committed`
    // (data lost outside our control) are cut to their last whole line and
    // the append goes on from there: the extent returned is then less than
    // committed + lines. Throws std::system_error on I/O errors.
    // `levels`: each line's level code when the caller knows them (else
    // they are read from the lines).
    LogExtent append(const LogExtent& committed, const std::vector<std::string_view>& lines,
                     std::string_view levels = {});

    // The level code of every committed line (output.lvl). A log stored
    // without it (before lava-cpp wrote it, or by LAVA) is indexed on the
    // first call, in one pass.
    std::string levels(const LogExtent& committed) const;

    // Bytes of lines [start, end) within `committed` (end: the last line when
    // absent or past it); nullopt when there is no log at all.
    std::optional<std::string> read(const LogExtent& committed, std::uint64_t start,
                                    std::optional<std::uint64_t> end) const;
    // The text of each of `numbers` (committed lines, ascending; others are
    // skipped), without newlines.
    std::vector<std::string> read_lines(const LogExtent& committed, const std::vector<std::uint64_t>& numbers) const;
    // The byte range of lines [start, end), for streaming.
    struct Range {
        std::filesystem::path file;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    std::optional<Range> range(const LogExtent& committed, std::uint64_t start,
                               std::optional<std::uint64_t> end) const;

    // Writes (replaces) a file in the output directory, creating it.
    void write_file(const std::string& name, std::string_view content) const;
    std::optional<std::string> read_file(const std::string& name) const;

private:
    std::uint64_t offset_of(std::uint64_t line) const;

    std::filesystem::path dir_;
};

}  // namespace lava::server::store
