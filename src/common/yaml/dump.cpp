#include "common/yaml/dump.hpp"

#include "common/yaml/load.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>

namespace lava::common::yaml {
namespace {

using data::Kind;
using data::Value;

// A float as YAML 1.1 reads it back: PyYAML needs a '.' ("1.0e+20", not "1e+20").
std::string yaml_float(double d) {
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
    std::string s = data::python_float_repr(d);
    const auto e = s.find('e');
    if (e != std::string::npos && s.find('.') == std::string::npos) s.insert(e, ".0");
    return s;
}

void emit(YAML::Emitter& out, const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined:
        case Kind::kNone: out << YAML::Null; return;
        case Kind::kBool: out << (v.as_bool() ? "true" : "false"); return;
        case Kind::kInt: out << v.as_int(); return;
        case Kind::kFloat: out << yaml_float(v.as_number()); return;
        case Kind::kDate: out << v.date_text(); return;
        case Kind::kStr: {
            const std::string& s = v.as_str();
            auto back = resolve_plain(s);
            const bool plain_safe = back && back->is_str() && back->as_str() == s;
            if (!plain_safe) out << YAML::DoubleQuoted;
            out << s;
            return;
        }
        case Kind::kList:
        case Kind::kTuple:
            out << YAML::BeginSeq;
            for (const auto& item : v.as_list()) emit(out, item);
            out << YAML::EndSeq;
            return;
        case Kind::kDict:
            out << YAML::BeginMap;
            for (const auto& [k, val] : v.as_dict()) {
                out << YAML::Key;
                emit(out, k);
                out << YAML::Value;
                emit(out, val);
            }
            out << YAML::EndMap;
            return;
    }
}

}  // namespace

std::string dump(const Value& v) {
    YAML::Emitter out;
    out.SetIndent(2);
    emit(out, v);
    std::string text = out.c_str();
    if (!text.empty() && text.back() != '\n') text += '\n';
    return text;
}

}  // namespace lava::common::yaml
