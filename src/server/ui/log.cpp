// A job's log for the viewer (docs/adr/0011-web-ui.md, points 9-11):
//   GET /scheduler/job/<id>/log_lines?start=&end=[&levels=a,b]
//     lines [start, end) (at most 5,000), decoded; with `levels`, of the
//     lines at those levels only (output.lvl says which), each with its
//     number `n` in the whole log;
//   GET /scheduler/job/<id>/log_search?q=<regex>&from=<n>&dir=next|prev[&levels=]
//     the numbers of the lines whose message matches (PCRE2, JIT), in
//     order from `from`, at most 1,000 a call (or 5 s of searching), and
//     where to go on from; a pattern that backtracks without end is refused;
//   GET /scheduler/job/<id>/pipeline?from=<n>
//     the actions' start and end lines, with their timeouts and durations.
// Lines are numbered from 0 here; the page shows them from 1.

#include "server/ui/ui.hpp"

#include "common/base/text.hpp"
#include "common/proto/logline.hpp"
#include "common/proto/states.hpp"
#include "server/store/job_output.hpp"
#include "server/web/json.hpp"

#include <nlohmann/json.hpp>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>

namespace lava::server::ui {
namespace {

constexpr std::uint64_t kMaxLines = 5000;
constexpr std::size_t kMaxMatches = 1000;
constexpr std::uint64_t kSearchBlock = 65536;  // lines read at a time
constexpr std::uint64_t kRegexBlock = 8192;     // lines matched between two looks at the clock
constexpr std::uint32_t kMatchLimit = 100000;   // PCRE2 steps (and depth) per line
constexpr auto kSearchBudget = std::chrono::seconds(5);

std::optional<std::uint64_t> line_param(const Call& call, const std::string& name) {
    const auto v = call.query(name);
    if (!v) return std::nullopt;
    if (*v == "0") return 0;
    const auto n = parse_id(*v);
    return n ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(*n)) : std::nullopt;
}

// The `levels` parameter as a table of level codes, or nullopt for all.
Result<std::optional<std::array<bool, 256>>> level_filter(const Call& call) {
    const auto v = call.query("levels");
    if (!v || v->empty()) return std::optional<std::array<bool, 256>>{};
    std::array<bool, 256> wanted{};
    for (const auto& name : split(*v, ',')) {
        const char code = proto::log_level_code(name);
        if (code == '?') return make_error(errc::kInvalidArgument, "levels: unknown level '" + name + "'");
        wanted[static_cast<unsigned char>(code)] = true;
    }
    return std::optional<std::array<bool, 256>>(wanted);
}

// The job in the path and its committed log, if the caller may see it.
struct JobLog {
    store::Job job;
    store::LogExtent extent;
    store::JobOutput output;
};
std::optional<JobLog> job_log(Call& call) {
    auto job = visible_job(call);
    if (!job) return std::nullopt;
    const auto e = store::JobRepository(call.tx).log_extent(job->id);
    store::JobOutput output(call.app.settings().web.job_output, job->id, job->submit_time);
    return JobLog{std::move(*job), store::LogExtent{e.lines, e.bytes}, std::move(output)};
}

// The message of a stored line as the viewer shows it: the text of a text
// record (read in place when it has no escapes), else the msg as JSON.
std::string_view message_text(std::string_view line, std::string& scratch) {
    constexpr std::string_view kKey = "\"msg\": \"";
    if (const auto at = line.find(kKey); at != std::string_view::npos) {
        const auto begin = at + kKey.size();
        const auto end = line.find_first_of("\"\\", begin);
        if (end != std::string_view::npos && line[end] == '"') return line.substr(begin, end - begin);
    }
    const auto record = proto::parse_stored_record(line);
    const Value* msg = record && record->is_dict() ? record->find("msg") : nullptr;
    if (!msg) return line;
    scratch = msg->is_str() ? msg->as_str() : web::to_json(*msg).dump();
    return scratch;
}

nlohmann::json decode_line(std::uint64_t n, std::string_view line) {
    const auto record = proto::parse_stored_record(line);
    nlohmann::json out = nlohmann::json::object();
    out["n"] = n;
    if (!record || !record->is_dict()) {
        out["lvl"] = "unparsed";
        out["msg"] = to_valid_utf8(std::string(line));
        return out;
    }
    for (const char* key : {"dt", "lvl", "msg", "ns"}) {
        if (const Value* v = record->find(key)) out[key] = web::to_json(*v);
    }
    return out;
}

HttpResponse json(Call& call, int status, const nlohmann::json& body) {
    HttpResponse r = web::json_response(status, body);
    secure_headers(r, call.who.authenticated());
    return r;
}

HttpResponse log_lines(Call& call) {
    auto log = job_log(call);
    if (!log) return web::rest_detail(404, "Not found.");
    const auto filter = level_filter(call);
    if (!filter) return web::rest_detail(400, filter.error().message);
    // The lines a row index counts: all, or those at the chosen levels.
    std::vector<std::uint64_t> numbers;
    std::uint64_t total = log->extent.lines;
    const std::uint64_t start = line_param(call, "start").value_or(0);
    std::uint64_t end = std::max(start, line_param(call, "end").value_or(start + 200));
    end = std::min(end, start + kMaxLines);
    if (*filter) {
        const std::string codes = log->output.levels(log->extent);
        const auto& wanted = **filter;
        total = 0;
        for (std::uint64_t i = 0; i < codes.size(); ++i) {
            if (!wanted[static_cast<unsigned char>(codes[i])]) continue;
            if (total >= start && total < end) numbers.push_back(i);
            ++total;
        }
    } else {
        for (std::uint64_t i = start; i < std::min(end, total); ++i) numbers.push_back(i);
    }
    nlohmann::json lines = nlohmann::json::array();
    const auto texts = log->output.read_lines(log->extent, numbers);
    for (std::size_t i = 0; i < texts.size(); ++i) lines.push_back(decode_line(numbers[i], texts[i]));
    return json(call, 200, {{"job", log->job.id},
                            {"state", std::string(proto::display(log->job.state))},
                            {"total", total},
                            {"lines_in_log", log->extent.lines},
                            {"start", std::min(start, total)},
                            {"lines", std::move(lines)}});
}

HttpResponse log_search(Call& call) {
    auto log = job_log(call);
    if (!log) return web::rest_detail(404, "Not found.");
    const auto filter = level_filter(call);
    if (!filter) return web::rest_detail(400, filter.error().message);
    const std::string pattern = call.query("q").value_or("");
    if (pattern.empty() && !*filter) return web::rest_detail(400, "q: a regular expression (or levels) is required");
    const bool backwards = call.query("dir") == std::optional<std::string>("prev");
    const std::uint64_t lines = log->extent.lines;
    const std::uint64_t from = std::min(line_param(call, "from").value_or(backwards ? lines : 0), lines);

    using Code = std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)>;
    Code re(nullptr, pcre2_code_free);
    if (!pattern.empty()) {
        // Smart case: a pattern with a capital letter is matched as written.
        const bool caseless = std::none_of(pattern.begin(), pattern.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
        int code = 0;
        PCRE2_SIZE offset = 0;
        re.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                               PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (caseless ? PCRE2_CASELESS : 0), &code, &offset,
                               nullptr));
        if (!re) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(code, message, sizeof message);
            return web::rest_detail(400, "q: " + std::string(reinterpret_cast<const char*>(message)) + " at offset " +
                                             std::to_string(offset));
        }
        pcre2_jit_compile(re.get(), PCRE2_JIT_COMPLETE);  // the interpreter when JIT is not available
    }
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
        re ? pcre2_match_data_create_from_pattern(re.get(), nullptr) : nullptr, pcre2_match_data_free);
    // Anyone who may see a job may search its log: a pattern that backtracks
    // without end is stopped per line (match and depth limits), and a search
    // stops after kSearchBudget with where to go on from.
    std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> limits(
        pcre2_match_context_create(nullptr), pcre2_match_context_free);
    pcre2_set_match_limit(limits.get(), kMatchLimit);
    pcre2_set_depth_limit(limits.get(), kMatchLimit);
    const auto deadline = std::chrono::steady_clock::now() + kSearchBudget;
    std::optional<std::uint64_t> too_hard;  // the line a pattern gave up on
    const std::string codes = *filter ? log->output.levels(log->extent) : std::string();
    auto wanted = [&](std::uint64_t n) {
        return !*filter || (n < codes.size() && (**filter)[static_cast<unsigned char>(codes[n])]);
    };
    std::vector<std::uint64_t> matches;
    std::optional<std::uint64_t> next;  // where to go on, when there may be more
    std::string scratch;
    auto scan = [&](std::uint64_t block_start, std::uint64_t block_end) {
        // Lines [block_start, block_end), in the search's direction; false once enough were found.
        std::string text;
        if (re) {
            auto t = log->output.read(log->extent, block_start, block_end);
            if (t) text = std::move(*t);
        }
        std::vector<std::uint64_t> block;
        std::size_t pos = 0;
        for (std::uint64_t n = block_start; n < block_end; ++n) {
            std::string_view line;
            if (re) {
                auto nl = text.find('\n', pos);
                if (nl == std::string::npos) nl = text.size();
                line = std::string_view(text).substr(pos, nl - pos);
                pos = nl + 1;
            }
            if (!wanted(n)) continue;
            if (re) {
                const auto msg = message_text(line, scratch);
                const int rc = pcre2_match(re.get(), reinterpret_cast<PCRE2_SPTR>(msg.data()), msg.size(), 0, 0,
                                           data.get(), limits.get());
                if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT) {
                    too_hard = n;
                    return false;
                }
                if (rc < 0) continue;
            }
            block.push_back(n);
        }
        if (backwards) std::reverse(block.begin(), block.end());
        for (const auto n : block) {
            if (matches.size() == kMaxMatches) {
                next = n;
                return false;
            }
            matches.push_back(n);
        }
        return true;
    };
    // Blocks of lines in the search's direction; out of time between two,
    // the answer says where to go on from.
    const std::uint64_t block = re ? kRegexBlock : kSearchBlock;
    bool partial = false;
    if (backwards) {
        for (std::uint64_t end = from; end > 0;) {
            if (std::chrono::steady_clock::now() > deadline) {
                next = end;
                partial = true;
                break;
            }
            const std::uint64_t begin = end > block ? end - block : 0;
            if (!scan(begin, end)) break;
            end = begin;
        }
    } else {
        for (std::uint64_t begin = from; begin < lines; begin += block) {
            if (std::chrono::steady_clock::now() > deadline) {
                next = begin;
                partial = true;
                break;
            }
            if (!scan(begin, std::min(lines, begin + block))) break;
        }
    }
    if (too_hard) {
        return web::rest_detail(400, "q: the pattern backtracks too much (on line " + std::to_string(*too_hard + 1) +
                                         "): make it simpler");
    }
    return json(call, 200, {{"job", log->job.id},
                            {"lines_in_log", lines},
                            {"matches", matches},
                            {"partial", partial},
                            {"next", next ? nlohmann::json(*next) : nlohmann::json(nullptr)}});
}

// One of lava-run's action lines: "start: <level> <name> (timeout HH:MM:SS) [ns]"
// or "end: <level> <name> (duration HH:MM:SS) [ns]".
struct ActionLine {
    bool start = false;
    std::string_view level, name, time;  // time: "00:10:00"
};
std::optional<ActionLine> action_line(std::string_view msg) {
    const bool start = msg.rfind("start: ", 0) == 0;
    if (!start && msg.rfind("end: ", 0) != 0) return std::nullopt;
    const auto rest = msg.substr(start ? 7 : 5);
    const auto space = rest.find(' ');
    const auto paren = rest.find(" (");
    if (space == std::string_view::npos || paren == std::string_view::npos || paren < space) return std::nullopt;
    const auto close = rest.find(')', paren);
    if (close == std::string_view::npos) return std::nullopt;
    const auto inside = rest.substr(paren + 2, close - paren - 2);  // "timeout 00:10:00"
    const auto word = inside.find(' ');
    if (word == std::string_view::npos) return std::nullopt;
    return ActionLine{start, rest.substr(0, space), rest.substr(space + 1, paren - space - 1), inside.substr(word + 1)};
}

// The pipeline as lava-run logs it: "start: 1.2 name (timeout 00:10:00) [ns]"
// and "end: 1.2 name (duration 00:00:03) [ns]" (info for the top level,
// debug below), from line `from` on; the page builds the tree and extends it
// as the job goes.
HttpResponse pipeline(Call& call) {
    auto log = job_log(call);
    if (!log) return web::rest_detail(404, "Not found.");
    const std::uint64_t lines = log->extent.lines;
    const std::uint64_t from = std::min(line_param(call, "from").value_or(0), lines);
    const std::string codes = log->output.levels(log->extent);
    const char info = proto::log_level_code("info");
    const char debug = proto::log_level_code("debug");
    nlohmann::json events = nlohmann::json::array();
    std::string scratch;
    for (std::uint64_t begin = from; begin < lines; begin += kSearchBlock) {
        const std::uint64_t end = std::min(lines, begin + kSearchBlock);
        bool any = false;
        for (std::uint64_t n = begin; n < end; ++n) any = any || codes[n] == info || codes[n] == debug;
        if (!any) continue;
        const auto text = log->output.read(log->extent, begin, end);
        if (!text) break;
        std::size_t pos = 0;
        for (std::uint64_t n = begin; n < end && pos <= text->size(); ++n) {
            auto nl = text->find('\n', pos);
            if (nl == std::string::npos) nl = text->size();
            const std::string_view line = std::string_view(*text).substr(pos, nl - pos);
            pos = nl + 1;
            if (codes[n] != info && codes[n] != debug) continue;
            const auto a = action_line(message_text(line, scratch));
            if (!a) continue;
            nlohmann::json e = {{"kind", a->start ? "start" : "end"},
                                {"n", n},
                                {"level", std::string(a->level)},
                                {"name", std::string(a->name)},
                                {a->start ? "timeout" : "duration", std::string(a->time)}};
            if (const auto at = line.find("\"dt\": \""); at != std::string_view::npos) {
                const auto quote = line.find('"', at + 7);
                if (quote != std::string_view::npos) e["dt"] = std::string(line.substr(at + 7, quote - at - 7));
            }
            events.push_back(std::move(e));
        }
    }
    return json(call, 200, {{"job", log->job.id},
                            {"state", std::string(proto::display(log->job.state))},
                            {"events", std::move(events)},
                            {"next", lines}});
}

}  // namespace

Value current_action(Call& call, const store::Job& job) {
    const auto e = store::JobRepository(call.tx).log_extent(job.id);
    const store::LogExtent extent{e.lines, e.bytes};
    if (extent.lines == 0) return Value();
    const store::JobOutput output(call.app.settings().web.job_output, job.id, job.submit_time);
    const std::string codes = output.levels(extent);
    const char info = proto::log_level_code("info");
    const char debug = proto::log_level_code("debug");
    // The last few hundred info/debug lines (found in output.lvl), newest
    // first: the newest "start:" whose "end:" is not among them.
    std::vector<std::uint64_t> numbers;
    for (std::uint64_t n = codes.size(); n > 0 && numbers.size() < 400; --n) {
        if (codes[n - 1] == info || codes[n - 1] == debug) numbers.push_back(n - 1);
    }
    std::reverse(numbers.begin(), numbers.end());
    const auto texts = output.read_lines(extent, numbers);
    std::set<std::string> ended;
    std::string scratch;
    for (std::size_t i = texts.size(); i > 0; --i) {
        const auto a = action_line(message_text(texts[i - 1], scratch));
        if (!a) continue;
        const std::string level(a->level);
        if (!a->start) {
            ended.insert(level);
            continue;
        }
        if (ended.count(level)) continue;
        return Obj()
            .set("level", Value(level))
            .set("name", Value(std::string(a->name)))
            .set("line", Value(static_cast<long long>(numbers[i - 1])));
    }
    return Value();
}

// LAVA's "plain log": the stored log as text, streamed (any size), shown
// by the browser itself (the page's log without JavaScript).
HttpResponse plain_log(Call& call) {
    auto log = job_log(call);
    if (!log) return web::rest_detail(404, "Not found.");
    const auto range = log->output.range(log->extent, 0, std::nullopt);
    HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    secure_headers(r, call.who.authenticated());
    if (!range || range->length == 0) return r;
    r.file_path = range->file.string();
    r.file_offset = range->offset;
    r.file_length = range->length;
    return r;
}

void add_log_routes(web::App& app) {
    app.route("GET", "/scheduler/job/{id}/log_file/plain", plain_log);
    app.route("GET", "/scheduler/job/{id}/log_lines", log_lines);
    app.route("GET", "/scheduler/job/{id}/log_search", log_search);
    app.route("GET", "/scheduler/job/{id}/pipeline", pipeline);
}

}  // namespace lava::server::ui
