// The Jinja2 engine's API: errors name the template and line, missing
// templates are errors (not crashes), edited templates are re-read, and an
// Environment serves many threads. Byte-for-byte behaviour is checked against
// python3-jinja2 by tests/functional/test_jinja_conformance.py.

#include "common/jinja/jinja.hpp"

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
    auto unknown_tag = render({{"t", "{% macro m() %}{% endmacro %}"}}, "t");
    ASSERT_FALSE(unknown_tag);
    EXPECT_EQ(unknown_tag.error().message, "t, line 1: encountered unknown tag 'macro'");
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

}  // namespace
}  // namespace lava::common::jinja
