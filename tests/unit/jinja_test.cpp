// The Jinja2 engine's API: errors name the template and line, missing
// templates are errors (not crashes), edited templates are re-read, and an
// Environment serves many threads. Byte-for-byte behaviour is checked against
// python3-jinja2 by tests/functional/test_jinja_conformance.py.

#include "common/jinja/jinja.hpp"

#include "common/base/limits.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace lava::common::jinja {
namespace {

using data::Dict;
using data::Value;

// Templates in memory whose version can be bumped, like an edited file.
class EditableLoader final : public Loader {
public:
    std::map<std::string, std::string> files;
    long long generation = 0;
    mutable std::atomic<int> loads{0};
    std::optional<Source> load(const std::string& name) const override {
        ++loads;
        auto it = files.find(name);
        if (it == files.end()) return std::nullopt;
        return Source{it->second, name};
    }
    std::optional<long long> version(const std::string&) const override { return generation; }
};

Result<std::string> render(const std::map<std::string, std::string>& files, const std::string& name,
                           Dict vars = {}) {
    Environment env(std::make_shared<MapLoader>(files));
    return env.render(name, vars);
}

TEST(Jinja, RendersWithVariables) {
    auto r = render({{"t", "{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}{{ missing }}"}}, "t",
                    {{Value("d"), Value(Dict{{Value("a"), Value(1)}, {Value("b"), Value(data::List{})}})}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, "a=1 b=[] ");
}

TEST(Jinja, SixLevelsOfInheritanceWithSuper) {
    std::map<std::string, std::string> files{{"l0", "[{% block b %}0{% endblock %}]"}};
    for (int i = 1; i <= 5; ++i) {
        files["l" + std::to_string(i)] = "{% extends 'l" + std::to_string(i - 1) + "' %}{% block b %}" +
                                         std::to_string(i) + "({{ super() }}){% endblock %}";
    }
    auto r = render(files, "l5");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, "[5(4(3(2(1(0)))))]");
}

TEST(Jinja, ErrorsNameTheTemplateAndLine) {
    auto syntax = render({{"dev.jinja2", "ok\n{% if %}\n"}}, "dev.jinja2");
    ASSERT_FALSE(syntax);
    EXPECT_EQ(syntax.error().message.rfind("dev.jinja2, line 2: ", 0), 0u) << syntax.error().message;
    // A runtime error inside a parent names the parent.
    auto runtime = render({{"child", "{% extends 'parent' %}"}, {"parent", "a\nb\n{{ x.y }}"}}, "child");
    ASSERT_FALSE(runtime);
    EXPECT_EQ(runtime.error().message, "parent, line 3: 'x' is undefined");
    auto unknown_tag = render({{"t", "{% call m() %}{% endcall %}"}}, "t");
    ASSERT_FALSE(unknown_tag);
    EXPECT_EQ(unknown_tag.error().message, "t, line 1: encountered unknown tag 'call'");
}

TEST(Jinja, MissingTemplatesAreErrors) {
    auto r = render({{"t", "{% extends 'gone' %}"}}, "t");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "t, line 1: template 'gone' not found");
    auto inc = render({{"t", "{% include 'gone' %}"}}, "t");
    ASSERT_FALSE(inc);
    EXPECT_NE(inc.error().message.find("template 'gone' not found"), std::string::npos);
    auto optional = render({{"t", "a{% include 'gone' ignore missing %}b"}}, "t");
    ASSERT_TRUE(optional);
    EXPECT_EQ(*optional, "ab");
    auto none = render({}, "nothing");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, errc::kNotFound);
}

TEST(Jinja, EditedTemplatesAreReparsedUnchangedOnesAreNot) {
    auto loader = std::make_shared<EditableLoader>();
    loader->files["t"] = "one";
    Environment env(loader);
    EXPECT_EQ(*env.render("t", {}), "one");
    EXPECT_EQ(*env.render("t", {}), "one");
    EXPECT_EQ(loader->loads.load(), 1);
    loader->files["t"] = "two";
    ++loader->generation;
    EXPECT_EQ(*env.render("t", {}), "two");
    EXPECT_EQ(loader->loads.load(), 2);
}

TEST(Jinja, AnEnvironmentServesManyThreads) {
    Environment env(std::make_shared<MapLoader>(std::map<std::string, std::string>{
        {"base", "{% block b %}{% endblock %}:{{ n }}"},
        {"child", "{% extends 'base' %}{% block b %}{{ n * 2 }}{% endblock %}"}}));
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                const int n = t * 1000 + i;
                auto r = env.render("child", {{Value("n"), Value(n)}});
                if (!r || *r != std::to_string(2 * n) + ":" + std::to_string(n)) ++wrong;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(Jinja, RenderSource) {
    Environment env(std::make_shared<MapLoader>(std::map<std::string, std::string>{{"p", "<{% block x %}{% endblock %}>"}}));
    auto r = env.render_source("{% extends 'p' %}{% block x %}{{ 1 + 1 }}{% endblock %}", {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, "<2>");
}

// Each hostile template fails with the limit it passed named, instead of
// recursing until the stack overflows, allocating until the process dies or
// looping for hours.
std::string failure(const std::map<std::string, std::string>& files, const std::string& name = "t") {
    auto r = render(files, name);
    if (r) return "rendered " + std::to_string(r->size()) + " bytes";
    return r.error().message;
}

// Autoescape (the web UI's templates): each expected text is what
// python3-jinja2 3.1 renders with autoescape=True, trim_blocks=True.
TEST(JinjaAutoescape, EscapesAsJinja2WithMarkupSafe) {
    const std::map<std::string, std::string> files{
        {"base.html", "<t>{% block b %}<b>{{ x }}</b>{% endblock %}</t>"},
        {"child.html", "{% extends \"base.html\" %}{% block b %}[{{ super() }}]{% endblock %}"},
        {"inc.html", "<i>{{ x }}</i>"},
    };
    const std::string esc = "&lt;s&gt;&amp;&#39;&#34;";
    const std::vector<std::pair<std::string, std::string>> cases{
        {"{{ x }}", esc},
        {"{{ x|safe }}", "<s>&'\""},
        {"{{ x|e }}", esc},
        {"{{ x|e|e }}", esc},
        {"{{ x|escape }}", esc},
        {"{{ x|safe ~ x }}", "<s>&'\"" + esc},
        {"{{ x ~ x }}", esc + esc},
        {"{{ \"<a>\"|safe + x }}", "<a>" + esc},
        {"{{ x + \"<a>\"|safe }}", esc + "<a>"},
        {"{{ x|safe|upper }}", "<S>&'\""},
        {"{{ x|upper }}", "&lt;S&gt;&amp;&#39;&#34;"},
        {"{{ \"<p>\"|safe|replace(\"p\", x) }}", "<" + esc + ">"},
        {"{% set y %}<u>{{ x }}</u>{% endset %}{{ y }}", "<u>" + esc + "</u>"},
        {"{% filter upper %}<em>{{ x }}</em>{% endfilter %}", "<EM>&LT;S&GT;&AMP;&#39;&#34;</EM>"},
        {"{% include \"inc.html\" %}", "<i>" + esc + "</i>"},
        {"{{ [x] }}", "[&#39;&lt;s&gt;&amp;\\&#39;&#34;&#39;]"},
        {"{{ 5 }}{{ none }}", "5None"},
        {"{% block c %}<c>{{ x }}</c>{% endblock %}{{ self.c() }}", "<c>" + esc + "</c><c>" + esc + "</c>"},
        {"{{ x|safe|length }}", "6"},
        {"{{ (x|safe)[0] }}{{ (x|safe)[1:3] }}{{ x[0] }}", "<s>&lt;"},
        {"{{ '/a b?c=\u00e9&<'|urlencode }}|{{ {'a b':'c/d', 'x':1}|urlencode }}|{{ [('k','v w')]|urlencode }}|"
         "{{ 5|urlencode }}",
         "/a%20b%3Fc%3D%C3%A9%26%3C|a+b=c%2Fd&amp;x=1|k=v+w|5"},
    };
    Environment env(std::make_shared<MapLoader>(files), Environment::Options{.autoescape = true});
    ASSERT_TRUE(env.autoescape());
    const Dict vars{{Value("x"), Value("<s>&'\"")}};
    for (const auto& [source, expected] : cases) {
        auto r = env.render_source(source, vars);
        ASSERT_TRUE(r) << source << ": " << r.error().message;
        EXPECT_EQ(*r, expected) << source;
    }
    auto child = env.render("child.html", {{Value("x"), Value("<s>")}});
    ASSERT_TRUE(child) << child.error().message;
    EXPECT_EQ(*child, "<t>[<b>&lt;s&gt;</b>]</t>");
}

// Without autoescape (LAVA's templates) nothing changes: {{ }} prints as it
// is, |e still escapes, and `~` does not look at marks (Jinja2's str_join).
TEST(JinjaAutoescape, OffByDefault) {
    Environment env(std::make_shared<MapLoader>(std::map<std::string, std::string>{}));
    EXPECT_FALSE(env.autoescape());
    const Dict vars{{Value("x"), Value("<s>")}};
    auto r = env.render_source("{{ x }} {{ x|safe }} {{ x|e }} {{ x|e ~ x }} {{ x|e + x }}", vars);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, "<s> <s> &lt;s&gt; &lt;s&gt;<s> &lt;s&gt;&lt;s&gt;");
}

// Macros (the web UI's rows, badges and pagers): each expected text is what
// python3-jinja2 3.1 renders, with and without autoescape.
TEST(JinjaMacros, AsJinja2) {
    const std::map<std::string, std::string> files{
        {"m.html", "{% set greeting = 'hi' %}{% macro badge(s, cls='x') %}<b class=\"{{ cls }}\">{{ greeting }} "
                   "{{ s }}</b>{% endmacro %}{% macro pair(a, b) %}{{ a }}|{{ b }}{% endmacro %}"},
    };
    const std::string x = "<s>&'\"";
    const std::string esc = "&lt;s&gt;&amp;&#39;&#34;";
    struct Case {
        std::string source, html, plain;
    };
    const std::vector<Case> cases{
        {"{% macro m(a, b=2) %}[{{ a }},{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=4, a=5) }}{{ m() }}",
         "[1,2][1,3][5,4][,2]", "[1,2][1,3][5,4][,2]"},
        {"{% macro m(a) %}<i>{{ a }}</i>{% endmacro %}{{ m(x) }}{{ m(x|safe) }}",
         "<i>" + esc + "</i><i>" + x + "</i>", "<i>" + x + "</i><i>" + x + "</i>"},
        {"{% import 'm.html' as ui %}{{ ui.badge(x) }}{{ ui.badge('y', cls='c') }}",
         "<b class=\"x\">hi " + esc + "</b><b class=\"c\">hi y</b>",
         "<b class=\"x\">hi " + x + "</b><b class=\"c\">hi y</b>"},
        {"{% from 'm.html' import badge, pair as p %}{{ badge(1) }}{{ p(x, 2) }}{{ greeting }}",
         "<b class=\"x\">hi 1</b>" + esc + "|2", "<b class=\"x\">hi 1</b>" + x + "|2"},
        {"{% set v = 7 %}{% macro m() %}{{ v }}{{ x }}{% endmacro %}{% for x in [1] %}{{ m() }}{% endfor %}",
         "7" + esc, "7" + x},
        {"{% macro m(n) %}{% if n > 0 %}{{ n }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(3) }}", "321", "321"},
        {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(x) ~ x }}", esc + esc, x + x},
        {"{% macro m(a, b=a ~ '!') %}{{ b }}{% endmacro %}{{ m('q') }}", "q!", "q!"},
        {"{% macro m() %}<p>{% endmacro %}{% set y = m() %}{{ y }}{{ m()|upper }}", "<p><P>", "<p><P>"},
        {"{% from 'm.html' import nope %}", "", ""},
    };
    for (const bool html : {true, false}) {
        Environment env(std::make_shared<MapLoader>(files), Environment::Options{.autoescape = html});
        for (const auto& c : cases) {
            auto r = env.render_source(c.source, {{Value("x"), Value(x)}});
            ASSERT_TRUE(r) << c.source << ": " << r.error().message;
            EXPECT_EQ(*r, html ? c.html : c.plain) << c.source << (html ? " (autoescape)" : "");
        }
    }
}

TEST(JinjaMacros, ErrorsNameTheMacro) {
    const std::map<std::string, std::string> files{{"m.html", "{% macro a() %}{% endmacro %}"}};
    Environment env(std::make_shared<MapLoader>(files), Environment::Options{.autoescape = true});
    const std::vector<std::pair<std::string, std::string>> cases{
        {"{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "macro 'm' takes not more than 1 argument(s)"},
        {"{% macro m(a) %}{% endmacro %}{{ m(z=1) }}", "macro 'm' takes no keyword argument 'z'"},
        {"{% macro m(a) %}{% endmacro %}{{ m(1, a=1) }}", "macro 'm' takes no keyword argument 'a'"},
        {"{% import 'm.html' as ui %}{{ ui.nope(1) }}", "has no macro 'nope'"},
        {"{% macro m(a=1, b) %}{% endmacro %}", "non-default argument follows default argument"},
        {"{% macro m(a) %}{% endmacro %}{{ m(1) }}{% endmacro %}", "line 1"},
        {"{% import 'missing.html' as ui %}", "template 'missing.html' not found"},
        // Recursion without end stops at the nesting limit, not the stack.
        {"{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "jinja_max_depth"},
    };
    for (const auto& [source, expected] : cases) {
        auto r = env.render_source(source, {});
        ASSERT_FALSE(r) << source;
        EXPECT_NE(r.error().message.find(expected), std::string::npos) << source << ": " << r.error().message;
    }
    // A macro calling itself twice per level is bounded by the work budget.
    auto r = env.render_source("{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}"
                               "{{ m(60) }}",
                               {});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("jinja_max_iterations"), std::string::npos) << r.error().message;
}

TEST(JinjaLimits, EachHostileTemplateNamesItsLimit) {
    auto nested = [](const std::string& open, const std::string& inner, const std::string& close, int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s += open;
        s += inner;
        for (int i = 0; i < n; ++i) s += close;
        return s;
    };
    auto repeated = [](const std::string& part, int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s += part;
        return s;
    };
    const std::vector<std::pair<std::map<std::string, std::string>, const char*>> cases = {
        {{{"t", "{{ range(10**12)|length }}"}}, "jinja_max_range"},
        {{{"t", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"}},
         "jinja_max_iterations"},
        {{{"t", "{{ range(100000)|list|unique|length }}"}}, "jinja_max_iterations"},
        {{{"t", "{{ [1] * 10**12 }}"}}, "jinja_max_iterations"},
        {{{"t", "{{ 'x' * 10**12 }}"}}, "jinja_max_output_bytes"},
        {{{"t", "{% set x = 'x' * 1000000 %}" + repeated("{% set x = x ~ x %}", 8) + "{{ x|length }}"}},
         "jinja_max_output_bytes"},
        {{{"t", "{% set x = 'x' * 1000000 %}{{ [x] * 50 }}"}}, "jinja_max_output_bytes"},
        {{{"t", "{{ 'a'|replace('a', 'b' * 1000000)|replace('b', 'c' * 100) }}"}}, "jinja_max_output_bytes"},
        {{{"t", "{{ 'a\nb\nc'|indent(10**12) }}"}}, "jinja_max_output_bytes"},
        {{{"t", "{% for i in range(20000) %}{{ 'y' * 1000 }}{% endfor %}"}}, "jinja_max_output_bytes"},
        {{{"t", "a{% include 't' %}"}}, "jinja_max_depth"},
        {{{"t", "{% extends 'u' %}"}, {"u", "{% extends 't' %}"}}, "jinja_max_depth"},
        {{{"t", "{% block b %}{{ self.b() }}{% endblock %}"}}, "jinja_max_depth"},
        {{{"t", "{{ " + nested("(", "1", ")", 100000) + " }}"}}, "jinja_max_depth"},
        {{{"t", "{{ " + nested("[", "1", "]", 100000) + " }}"}}, "jinja_max_depth"},
        {{{"t", "{{ 1" + repeated(" + 1", 100000) + " }}"}}, "jinja_max_depth"},
        {{{"t", "{{ x" + repeated("|string", 100000) + " }}"}}, "jinja_max_depth"},
        {{{"t", "{{ x" + repeated(".y", 100000) + " }}"}}, "jinja_max_depth"},
        {{{"t", "{{ " + repeated("not ", 100000) + "x }}"}}, "jinja_max_depth"},
        {{{"t", "{{ " + repeated("-", 100000) + "1 }}"}}, "jinja_max_depth"},
        {{{"t", nested("{% if true %}", "x", "{% endif %}", 10000)}}, "jinja_max_depth"},
        {{{"t", "{% set x = 1 %}" + repeated("{% set x = [x] %}", 1000) + "{{ x }}"}}, "jinja_max_depth"},
        {{{"t", std::string(2 << 20, 'x')}}, "jinja_max_template_bytes"},
    };
    for (const auto& [files, limit] : cases) {
        const std::string got = failure(files);
        EXPECT_NE(got.find(limit), std::string::npos) << files.at("t").substr(0, 80) << " -> " << got;
    }
}

TEST(JinjaLimits, IntegerOverflowIsAnErrorNotUndefinedBehaviour) {
    for (const char* expr : {"9223372036854775807 + 1", "-9223372036854775807 - 2", "4611686018427387904 * 2",
                             "(-9223372036854775807 - 1) // -1", "2 ** 64", "3 ** 1000000000000",
                             "(-9223372036854775807 - 1)|abs", "1e300|int", "-(-9223372036854775807 - 1)"}) {
        const std::string got = failure({{"t", std::string("{{ ") + expr + " }}"}});
        EXPECT_NE(got.find("integer overflow"), std::string::npos) << expr << " -> " << got;
    }
    EXPECT_NE(failure({{"t", "{{ 'abc'[1:'x'] }}"}}).find("slice indices must be integers"), std::string::npos);
}

TEST(JinjaLimits, OrdinaryArithmeticAndRangesAreUnchanged) {
    const std::vector<std::pair<const char*, const char*>> cases = {
        {"{{ 2 ** 62 }}", "4611686018427387904"},
        {"{{ 3 ** 0 }},{{ 0 ** 5 }},{{ (-1) ** 99 }},{{ 2 ** -1 }}", "1,0,-1,0.5"},
        {"{{ 7 % -3 }},{{ -7 % 3 }},{{ -7 // 2 }},{{ 7 // -2 }},{{ 5 % -1 }}", "-2,2,-4,-4,0"},
        {"{{ range(10, 0, -3)|list }}", "[10, 7, 4, 1]"},
        {"{{ range(0, 10, 3)|list }}", "[0, 3, 6, 9]"},
        {"{{ range(5, 5)|list }}{{ range(5, 0)|list }}", "[][]"},
        {"{{ range(9223372036854775806, 9223372036854775807)|list }}", "[9223372036854775806]"},
        {"{{ 'ab' * 3 }}{{ [1, 2] * 2 }}{{ 'x' * -1 }}", "ababab[1, 2, 1, 2]"},
        // Found by tools/fuzz: ten billion copies of nothing took minutes.
        {"{{ [] * 10**10 }}{{ '' * 10**10 }}{{ () * 10**18 }}", "[]()"},
        {"{{ 'abcdef'[-100:2] }}{{ [1, 2, 3][-2:] }}", "ab[2, 3]"},
        {"{{ [[1, [2]], {'a': (3,)}] }}", "[[1, [2]], {'a': (3,)}]"},
        {"{{ [1, 2, 1]|unique|list }}{{ [1, 2] == [1, 2.0] }}{{ {'a': [1]} == {'a': [1]} }}", "[1, 2]TrueTrue"},
    };
    for (const auto& [tpl, want] : cases) {
        auto r = render({{"t", tpl}}, "t");
        ASSERT_TRUE(r) << tpl << ": " << r.error().message;
        EXPECT_EQ(*r, want) << tpl;
    }
}

// The limits come from the process's InputLimits: a daemon's settings.
TEST(JinjaLimits, LimitsFollowTheProcessSettings) {
    const InputLimits saved = input_limits();
    InputLimits tight = saved;
    tight.jinja_max_range = 10;
    tight.jinja_max_output_bytes = 100;
    set_input_limits(tight);
    EXPECT_NE(failure({{"t", "{{ range(11)|list }}"}}).find("range() of more items than 10 (jinja_max_range)"),
              std::string::npos);
    EXPECT_EQ(*render({{"t", "{{ range(10)|length }}"}}, "t"), "10");
    EXPECT_NE(failure({{"t", "{{ 'x' * 101 }}"}}).find("more text than 100 bytes (jinja_max_output_bytes)"),
              std::string::npos);
    set_input_limits(saved);
}

}  // namespace
}  // namespace lava::common::jinja
