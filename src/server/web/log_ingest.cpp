#include "server/web/log_ingest.hpp"

#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"

#include <algorithm>
#include <regex>

namespace lava::server::web {
namespace {

using common::data::Dict;
using common::data::Value;

constexpr std::size_t kMetadataLimit = 4096;

std::optional<proto::TestResult> result_of(const Value& v) {
    if (!v.is_str()) return std::nullopt;
    const auto& s = v.as_str();
    if (s == "pass") return proto::TestResult::kPass;
    if (s == "fail") return proto::TestResult::kFail;
    if (s == "skip") return proto::TestResult::kSkip;
    if (s == "unknown") return proto::TestResult::kUnknown;
    return std::nullopt;
}

// PyYAML dumps mappings with sorted keys.
Value sorted(const Value& v) {
    if (v.is_dict()) {
        Dict d;
        for (const auto& [k, val] : v.as_dict()) d.emplace_back(k, sorted(val));
        std::stable_sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.first.str() < b.first.str(); });
        return Value(std::move(d));
    }
    if (v.is_list()) {
        common::data::List l;
        for (const auto& item : v.as_list()) l.push_back(sorted(item));
        return Value(std::move(l));
    }
    return v;
}

Value merged(const Value& base, const Value& extra) {
    if (!base.is_dict() || !extra.is_dict()) return extra;
    Value out = base;
    for (const auto& [k, v] : extra.as_dict()) out = common::data::with_item(out, k.str(), v);
    return out;
}

// urllib.parse.quote(name) == name: letters, digits and "_.-~/".
bool quote_safe(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || c == '/';
    });
}

// LAVA's create_metadata_store: `extra` (with a level) goes to
// metadata/<definition>-<case>-<level>.yaml, merged into what is there.
std::optional<std::string> store_extra(const Value& msg, const store::JobOutput& output) {
    const Value* extra = msg.find("extra");
    const Value* level = msg.find("level");
    if (!extra || !level || level->is_none()) return std::nullopt;
    const std::string name = "metadata/" + msg.find("definition")->str() + "-" + msg.find("case")->str() + "-" +
                             level->str() + ".yaml";
    if (name.find("..") != std::string::npos) return std::nullopt;  // never outside the output directory
    Value data = *extra;
    if (auto existing = output.read_file(name)) {
        if (auto parsed = common::yaml::load(*existing); parsed && parsed->is_dict()) data = merged(*parsed, *extra);
    }
    output.write_file(name, common::yaml::dump(sorted(data)));
    return (output.dir() / name).string();
}

}  // namespace

std::optional<std::string> decimal_text(const Value& v) {
    std::string text;
    if (v.is_bool()) return std::nullopt;
    if (v.is_int() || v.is_float()) {
        text = v.repr();
    } else if (v.is_str()) {
        text = v.as_str();
        text.erase(0, text.find_first_not_of(" \t"));
        text.erase(text.find_last_not_of(" \t") + 1);
    } else {
        return std::nullopt;
    }
    static const std::regex re(R"(^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$)");
    if (!std::regex_match(text, re)) return std::nullopt;
    // numeric(30, 10): fewer than 10^20 in magnitude.
    try {
        if (std::abs(std::stod(text)) >= 1e20) return std::nullopt;
    } catch (const std::exception&) {
        return std::nullopt;
    }
    return text;
}

MappedResult map_result(std::int64_t job_id, const Value& msg_in, const store::JobOutput& output) {
    MappedResult out;
    if (!msg_in.is_dict()) {
        out.failure_note = "[" + std::to_string(job_id) + "] " + msg_in.repr() + " is not a dictionary";
        return out;
    }
    // starttc/endtc are the case's log lines, not part of its metadata.
    Dict kept;
    std::optional<std::int64_t> start;
    std::optional<std::int64_t> end;
    for (const auto& [k, v] : msg_in.as_dict()) {
        const std::string key = k.str();
        if (key == "starttc" || key == "endtc") {
            if (v.is_int() && !v.is_bool() && v.as_int() >= 0) (key == "starttc" ? start : end) = v.as_int();
            continue;
        }
        kept.emplace_back(k, v);
    }
    Value msg(std::move(kept));
    if (!msg.find("definition") || !msg.find("case") || !msg.find("result")) {
        out.failure_note = "Missing some keys (\"definition\", \"case\" or \"result\") in " + msg.repr();
        return out;
    }
    if (msg.find("extra")) {
        const auto file = store_extra(msg, output);
        msg = common::data::with_item(msg, "extra", file ? Value(*file) : Value());
    }
    std::string metadata = common::yaml::dump(sorted(msg));
    if (metadata.size() > kMetadataLimit) {
        out.failure_note = "[" + std::to_string(job_id) + "] Result metadata is too long. " + metadata;
        Dict stripped{{Value("case"), *msg.find("case")},
                      {Value("definition"), *msg.find("definition")},
                      {Value("result"), *msg.find("result")}};
        if (const Value* et = msg.find("error_type")) stripped.emplace_back(Value("error_type"), *et);
        metadata = common::yaml::dump(sorted(Value(std::move(stripped))));
        if (metadata.size() > kMetadataLimit) metadata.clear();
    }
    const auto result = result_of(*msg.find("result"));
    if (!result) return out;  // LAVA logs and drops an unrecognised result

    store::NewTestCase c;
    c.suite = msg.find("definition")->str();
    if (const Value* set = msg.find("set")) {
        if (quote_safe(set->str())) {
            c.set = set->str();
        } else {
            out.failure_note = "Invalid testset name '" + set->str() + "', ignoring.";
        }
    }
    c.name = msg.find("case")->str();
    c.name.erase(0, c.name.find_first_not_of(" \t\r\n"));
    c.name.erase(c.name.find_last_not_of(" \t\r\n") + 1);
    c.result = *result;
    c.metadata = metadata;
    if (c.suite == "lava") {
        if (const Value* duration = msg.find("duration"); duration && !duration->is_none()) {
            c.measurement = decimal_text(*duration);
            if (!c.measurement) return out;
            c.units = "seconds";
        }
    } else {
        if (const Value* m = msg.find("measurement"); m && !m->is_none()) {
            c.measurement = decimal_text(*m);
            if (!c.measurement) return out;  // LAVA: decimal.InvalidOperation, case dropped
        }
        if (const Value* units = msg.find("units")) c.units = units->str();
        c.start_log_line = start;
        c.end_log_line = end;
    }
    out.test_case = std::move(c);
    return out;
}

}  // namespace lava::server::web
