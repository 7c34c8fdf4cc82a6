#pragma once
// LAVA's job log lines (lava-protocols.md §1.6, §2.3): one record per line,
// a YAML flow mapping {"dt", "lvl", "msg"[, "ns"]} written as PyYAML's
// C dumper writes it with default_style='"' (keys sorted, every scalar
// double-quoted, non-strings as `! "14"`, non-ASCII escaped). lava-run
// writes them, the server stores them in output.yaml, clients read them.

#include "common/base/error.hpp"
#include "common/data/value.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava::proto {

// The levels a record may carry.
bool is_log_level(std::string_view lvl);

// A level as one byte ('0' + its position in LAVA's list: debug info warning
// error exception input target feedback results event), '?' for anything
// else; what the server's output.lvl holds per line.
char log_level_code(std::string_view lvl);
// The level a code stands for ("" for '?').
std::string_view log_level_name(char code);
// The level of one stored line ("- {...}"), whatever its form; "" if none.
std::string stored_line_level(std::string_view line);
// The record of one stored line ("- {...}"), whatever its form (the fast
// path for LAVA's own lines, else libyaml); nullopt if it is not one.
std::optional<common::data::Value> parse_stored_record(std::string_view line);

// One record as one line, without "- " and without the newline.
std::string dump_log_record(const common::data::Value& record);

// A double-quoted YAML scalar as libyaml's emitter writes it (no unicode).
std::string quote_log_string(std::string_view text);

struct LogLine {
    std::string text;             // the line as sent: "- {...}"
    std::string lvl;
    common::data::Value record;   // the parsed mapping (see parse_log_batch)
    const std::string& level() const { return lvl; }
};

// A `lines` field of a log upload: "- {...}\n- {...}" (no trailing newline
// needed). Every line must be one record, a mapping with a known string
// `lvl` and a `msg`; an error names the first bad line (1-based).
// `records`: kAll parses every record; kWhereNeeded leaves `record` None for
// plain text records (not results or event) that the fast path validated,
// which is what a server storing lines needs.
enum class Records { kAll, kWhereNeeded };
Result<std::vector<LogLine>> parse_log_batch(std::string_view lines, Records records = Records::kAll);

// The fast path of parse_log_batch for the common line: "- {" then "dt",
// "lvl", "msg" (and "ns") with double-quoted ASCII values, as LAVA's dumper
// writes text records. nullopt for anything else (which libyaml then reads);
// when it answers, it answers what libyaml would (fuzz/fuzz_logline checks).
std::optional<common::data::Value> parse_canonical_record(std::string_view line);
// The same check without building the record: its level, or nullopt.
std::optional<std::string> canonical_record_level(std::string_view line);

}  // namespace lava::proto
