#include "server/web/results_export.hpp"

#include "common/proto/json.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"
#include "server/events/events.hpp"
#include "server/web/json.hpp"

#include <fstream>
#include <sstream>

namespace lava::server::web {
namespace {

using common::data::Value;

// str(datetime) of an aware UTC time: "2026-11-30 10:00:00.123456+00:00".
std::string str_utc(const std::string& t) {
    std::string s = events::event_datetime(t);
    if (s.size() > 10 && s[10] == 'T') s[10] = ' ';
    return s;
}

std::string csv_cell(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
}

// csv.DictWriter(quoting=QUOTE_ALL): a header, then one row per item.
std::string csv(const std::vector<std::string>& fields, const std::vector<Value>& rows) {
    std::string out;
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_cell(fields[i]);
    out += "\r\n";
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            const auto* v = row.find(fields[i]);
            out += (i ? "," : "") + csv_cell(!v ? "" : v->is_str() ? v->as_str() : v->repr());
        }
        out += "\r\n";
    }
    return out;
}

std::string yaml_list(common::data::List rows) {
    return rows.empty() ? "[]\n" : common::yaml::dump(Value(std::move(rows)));
}

Value export_suite(const store::TestSuite& s) {
    return Value(common::data::Dict{{Value("name"), Value(s.name)},
                                    {Value("job"), Value(std::to_string(s.job_id))},
                                    {Value("id"), Value(std::to_string(s.id))}});
}

}  // namespace

// The metadata of a case as LAVA's action_metadata (YAML), or None.
common::data::Value case_metadata(const store::TestCase& c) {
    if (!c.metadata || c.metadata->empty()) return {};
    auto v = common::yaml::load(*c.metadata);
    return v ? *v : common::data::Value();
}

// LAVA's export_testcase: every value a string (metadata: a mapping).
common::data::Value export_case(const store::TestCase& c, std::int64_t job_id) {
    using common::data::Value;
    Value md = case_metadata(c);
    if (!md.is_dict()) md = Value(common::data::Dict{});
    // `extra` names a YAML file: its items, as a list of one-key mappings.
    if (const Value* extra = md.find("extra"); extra && extra->is_str()) {
        std::ifstream in(extra->as_str());
        if (in) {
            std::ostringstream text;
            text << in.rdbuf();
            common::data::List items;
            if (auto parsed = common::yaml::load(text.str()); parsed && parsed->is_dict()) {
                for (const auto& kv : parsed->as_dict()) items.push_back(Value(common::data::Dict{kv}));
            }
            common::data::Dict replaced;
            for (const auto& [k, v] : md.as_dict()) replaced.emplace_back(k, k.str() == "extra" ? Value(items) : v);
            md = Value(std::move(replaced));
        }
    }
    const Value* level = md.find("level");
    return Value(common::data::Dict{
        {Value("name"), Value(c.name)},
        {Value("job"), Value(std::to_string(job_id))},
        {Value("suite"), Value(c.suite)},
        {Value("result"), Value(std::string(proto::display(c.result)))},
        {Value("measurement"), Value(c.measurement.value_or("None"))},
        {Value("unit"), Value(c.units)},
        {Value("level"), level ? *level : Value("")},
        {Value("url"), Value("/results/testcase/" + std::to_string(c.id))},
        {Value("id"), Value(std::to_string(c.id))},
        {Value("logged"), Value(str_utc(c.logged))},
        {Value("log_start_line"), Value(c.start_log_line && *c.start_log_line ? std::to_string(*c.start_log_line) : "")},
        {Value("log_end_line"), Value(c.end_log_line && *c.end_log_line ? std::to_string(*c.end_log_line) : "")},
        {Value("metadata"), md},
    });
}

std::string cases_csv(const std::vector<store::TestCase>& cases, std::int64_t job_id) {
    static const std::vector<std::string> fields = {"job",      "suite",   "result", "measurement", "unit",
                                                    "duration", "timeout", "logged", "level",       "metadata",
                                                    "url",      "name",    "id",     "log_start_line", "log_end_line"};
    std::vector<Value> rows;
    for (const auto& c : cases) rows.push_back(export_case(c, job_id));
    return csv(fields, rows);
}

std::string cases_yaml(const std::vector<store::TestCase>& cases, std::int64_t job_id) {
    common::data::List rows;
    for (const auto& c : cases) rows.push_back(export_case(c, job_id));
    return yaml_list(std::move(rows));
}

std::string suites_csv(const std::vector<store::TestSuite>& suites) {
    std::vector<Value> rows;
    for (const auto& s : suites) rows.push_back(export_suite(s));
    return csv({"name", "job", "id"}, rows);
}

std::string suites_yaml(const std::vector<store::TestSuite>& suites) {
    common::data::List rows;
    for (const auto& s : suites) rows.push_back(export_suite(s));
    return yaml_list(std::move(rows));
}

std::vector<std::pair<std::string, std::string>> metadata_items(const std::string& metadata_json) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto meta = proto::parse_json(metadata_json);
    if (!meta.is_object()) return out;
    for (const auto& [k, v] : meta.items()) out.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    return out;
}

}  // namespace lava::server::web
