// libFuzzer target: the Jinja2 engine (common/jinja) that renders device
// dictionaries and device-type templates an administrator, or anyone
// through devices/validate/, submits.
// Properties: no crash, stack overflow, unbounded loop or allocation on any
// template; a render either succeeds within the limits or fails with a
// message. The limits are set low so that each input runs fast; what is
// tested is that they are checked, not their values. With autoescape (the
// web UI's mode), a variable's '<' never reaches the output unescaped: the
// output has a '<' only if the template has one or says "safe".
#include "common/base/limits.hpp"
#include "common/jinja/jinja.hpp"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

const lava::common::jinja::Environment& environment(bool autoescape) {
    // Templates the input can extend and include, as LAVA's device types do.
    const auto loader = [] {
        return std::make_shared<lava::common::jinja::MapLoader>(std::map<std::string, std::string>{
            {"base.jinja2", "{% block head %}h{% endblock %}\n{% set x = x | default(1) %}"
                            "{% block body %}{{ x }}{% for i in range(3) %}{{ i }}{% endfor %}{% endblock %}"},
            {"qemu.jinja2", "{% extends 'base.jinja2' %}{% block body %}{{ super() }}q{{ arch }}{% endblock %}"},
            {"inc.jinja2", "[{{ x }}{{ html }}]"}});
    };
    static const lava::common::jinja::Environment plain(loader());
    static const lava::common::jinja::Environment html(loader(), {.autoescape = true});
    return autoescape ? html : plain;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    lava::InputLimits limits;
    limits.jinja_max_iterations = 20000;
    limits.jinja_max_output_bytes = 1 << 20;
    limits.jinja_max_range = 1000;
    limits.jinja_max_template_bytes = 64 << 10;
    lava::set_input_limits(limits);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using lava::common::data::Dict;
    using lava::common::data::List;
    using lava::common::data::Value;
    static const Dict vars = {{Value("arch"), Value("amd64")},
                              {Value("n"), Value(3)},
                              {Value("items"), Value(List{Value(1), Value("a"), Value(2.5)})},
                              {Value("d"), Value(Dict{{Value("k"), Value("v")}})},
                              {Value("html"), Value("<b>'&\"")}};
    const std::string source(reinterpret_cast<const char*>(data), size);
    const auto max_output = static_cast<std::size_t>(lava::input_limits().jinja_max_output_bytes);
    for (const bool autoescape : {false, true}) {
        auto r = environment(autoescape).render_source(source, vars);
        if (!r && r.error().message.empty()) std::abort();
        if (r && r->size() > max_output) std::abort();
        if (autoescape && r && r->find('<') != std::string::npos && source.find('<') == std::string::npos &&
            source.find("safe") == std::string::npos) {
            std::abort();
        }
    }
    return 0;
}
