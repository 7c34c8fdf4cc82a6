#include "common/job/testdef.hpp"

#include "common/yaml/load.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <set>

namespace lava::common::job {
namespace {

using namespace schema;
using data::Value;

Schema results() {
    return any({literal("pass"), literal("fail"), literal("skip"), literal("unknown")});
}

}  // namespace

Fields testdef_fields(bool strict) {
    const MapOptions opts{!strict, {}};
    const Schema strings = list({str()});
    return {
        {required("metadata"),
         map({{required("format"), literal("Lava-Test Test Definition 1.0")},
              {required("name"), str()},
              {optional("description"), str()},
              {optional("environment"), strings},
              {optional("devices"), strings},
              {optional("maintainer"), strings},
              {optional("scope"), strings},
              {optional("os"), strings}},
             opts)},
        {optional("install"), map({{optional("deps"), strings},
                                   {optional(match("deps-.+")), strings},
                                   {optional("git-repos"), strings},
                                   {optional("keys"), strings},
                                   {optional("steps"), strings},
                                   {optional("sources"), strings}},
                                  opts)},
        {optional("parameters"), dict()},
        {optional("params"), dict()},
        {optional("parse"),
         map({{optional("fixupdict"), map({{optional(str()), results()}}, opts)}}, opts)},
        {optional("run"), map({{required("steps"), strings}}, opts)},
    };
}

std::optional<std::string> check_parse_pattern(const std::string& pattern) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> re(
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                      PCRE2_UTF | PCRE2_MULTILINE, &code, &offset, nullptr),
        &pcre2_code_free);
    if (!re) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(code, buf, sizeof buf);
        return "invalid regular expression at offset " + std::to_string(offset) + ": " +
               reinterpret_cast<const char*>(buf);
    }
    std::uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(re.get(), PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re.get(), PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(re.get(), PCRE2_INFO_NAMETABLE, &table);
    std::set<std::string> names;
    for (std::uint32_t i = 0; i < count; ++i) {
        names.insert(reinterpret_cast<const char*>(table + i * entry_size + 2));
    }
    std::string missing;
    for (const char* wanted : {"test_case_id", "result"}) {
        if (!names.contains(wanted)) missing += (missing.empty() ? "" : ", ") + std::string(wanted);
    }
    if (!missing.empty()) return "the pattern has no named group " + missing + " ((?P<name>...))";
    return std::nullopt;
}

Issues check_testdef(const Value& testdef) {
    Issues out;
    if (!testdef.is_dict()) {
        out.push_back(Issue{"", "a test definition must be a mapping", testdef.mark});
        return out;
    }
    // A standalone file tolerates extra keys (LAVA's testdef validate()).
    out = validate(map(testdef_fields(false), MapOptions{true, {}}), testdef);
    if (const Value* parse = testdef.find("parse"); parse && parse->is_dict()) {
        if (const Value* pattern = parse->find("pattern")) {
            if (!pattern->is_str()) {
                out.push_back(Issue{"parse.pattern", "expected a string", pattern->mark});
            } else if (auto problem = check_parse_pattern(pattern->as_str())) {
                out.push_back(Issue{"parse.pattern", *problem, pattern->mark});
            }
        }
    }
    return out;
}

TestdefCheck check_testdef_yaml(std::string_view yaml) {
    TestdefCheck result;
    auto doc = yaml::load_with_mark(yaml);
    if (!doc) {
        result.issues.push_back(Issue{"", "invalid YAML: " + doc.error().problem, doc.error().mark});
        return result;
    }
    result.document = std::move(*doc);
    result.issues = check_testdef(result.document);
    return result;
}

}  // namespace lava::common::job
