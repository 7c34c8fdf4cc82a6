#pragma once
// A Jinja2 template engine with Jinja2's semantics for what LAVA's device-type
// templates and device dictionaries use (lava-protocols.md §8.3), configured
// as LAVA configures Jinja2: trim_blocks on, lstrip_blocks off, autoescape off,
// default Undefined (prints as ""), keep_trailing_newline off.
//
// Supported: {% extends %} chains of any depth, {% block %} with super() and
// self.<block>(), {% set %} (top-level sets of a child are visible to its
// parents), {% if/elif/else %}, {% for %} (tuple unpacking, else, loop.*),
// {% filter %} blocks, {% include %}, {% raw %}, comments, whitespace control
// {%- -%}; expressions with Python literals and operators, inline if/else,
// subscripts, attribute access, .get()/.items()/.keys()/.values() and common
// str methods; the filters and tests listed in builtins.cpp.
//
// An Environment is safe to share between threads: parsed templates are
// cached immutably behind a mutex.

#include "common/base/error.hpp"
#include "common/data/value.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lava::common::jinja {

// Finds template sources by name.
class Loader {
public:
    struct Source {
        std::string text;
        std::string filename;  // for error messages
    };
    virtual ~Loader() = default;
    virtual std::optional<Source> load(const std::string& name) const = 0;
    // A token that changes when the template changes (e.g. its mtime), so
    // cached parses are refreshed; nullopt when templates never change.
    virtual std::optional<long long> version(const std::string& /*name*/) const { return std::nullopt; }
};

// Looks up templates in a list of directories, the first match winning.
class FileSystemLoader final : public Loader {
public:
    explicit FileSystemLoader(std::vector<std::string> search_path);
    std::optional<Source> load(const std::string& name) const override;
    std::optional<long long> version(const std::string& name) const override;
    const std::vector<std::string>& search_path() const { return search_path_; }

private:
    std::vector<std::string> search_path_;
};

// Templates held in memory (tests, and templates stored in the database).
class MapLoader final : public Loader {
public:
    explicit MapLoader(std::map<std::string, std::string> templates)
        : templates_(std::move(templates)) {}
    std::optional<Source> load(const std::string& name) const override;

private:
    std::map<std::string, std::string> templates_;
};

struct Template;  // parsed form, internal

struct EnvironmentOptions {
    // Jinja2's autoescape, for HTML pages: {{ }} escapes what it prints
    // unless it is a safe string (made by |safe, |e, a block, super(),
    // a {% set %} block, or `~`/`+` with a safe operand, which escape the
    // other side), as Jinja2 with MarkupSafe does. Off for LAVA's
    // device-type templates.
    bool autoescape = false;
};

class Environment {
public:
    using Options = EnvironmentOptions;

    explicit Environment(std::shared_ptr<const Loader> loader, Options options = {});
    ~Environment();

    bool autoescape() const { return options_.autoescape; }

    // Renders the template `name` with `vars` as its variables. Errors name
    // the template and line: "qemu.jinja2, line 12: 'x' is undefined".
    Result<std::string> render(const std::string& name, const data::Dict& vars) const;
    // Renders template source text; `name` is used in messages and may be
    // extended or included by other templates only if the loader has it.
    Result<std::string> render_source(const std::string& source, const data::Dict& vars,
                                      const std::string& name = "<string>") const;

    // The parsed template `name` (cached); for internal use by the renderer.
    std::shared_ptr<const Template> get(const std::string& name) const;

private:
    std::shared_ptr<const Loader> loader_;
    Options options_;
    mutable std::mutex mutex_;
    struct Cached {
        std::shared_ptr<const Template> tpl;
        std::optional<long long> version;
    };
    mutable std::map<std::string, Cached> cache_;
};

// A template syntax or runtime error, with where it happened.
struct TemplateError {
    std::string template_name;
    int line = 0;
    std::string message;
    std::string to_string() const;
};

}  // namespace lava::common::jinja
