#include "common/config/settings.hpp"

#include "common/base/limits.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace lava::common::config {

struct SettingsLoader::Entry {
    std::string key;
    std::string help;
    std::string type_help;
    std::string default_text;  // the field's value when it was added
    // Parses and assigns a textual value; returns an error text or nullopt.
    std::function<std::optional<std::string>(const std::string&)> assign;
    std::string cli_value;  // filled by CLI11 from the flag or the environment
    CLI::Option* option = nullptr;
};

namespace {

std::optional<bool> parse_bool(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
    if (text == "false" || text == "no" || text == "off" || text == "0") return false;
    return std::nullopt;
}

std::optional<long> parse_long(const std::string& text) {
    if (text.empty()) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
    return v;
}

std::string flag_name(const std::string& key) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    return flag;
}

}  // namespace

std::string env_name(const std::string& key) {
    std::string env = "LAVA_" + key;
    std::transform(env.begin(), env.end(), env.begin(), [](unsigned char c) {
        return c == '-' ? '_' : static_cast<char>(std::toupper(c));
    });
    return env;
}

SettingsLoader::SettingsLoader(std::string default_file)
    : default_file_(std::move(default_file)), settings_file_(default_file_) {}

SettingsLoader::~SettingsLoader() = default;

void SettingsLoader::add_entry(std::string key, std::string help, std::string type_help, std::string default_text,
                               std::function<std::optional<std::string>(const std::string&)> assign) {
    auto e = std::make_unique<Entry>();
    e->key = std::move(key);
    e->help = std::move(help);
    e->type_help = std::move(type_help);
    e->default_text = std::move(default_text);
    e->assign = std::move(assign);
    entries_.push_back(std::move(e));
}

void SettingsLoader::add(std::string key, std::string* field, std::string help) {
    add_entry(std::move(key), std::move(help), "TEXT", *field, [field](const std::string& v) {
        *field = v;
        return std::optional<std::string>{};
    });
}

void SettingsLoader::add(std::string key, int* field, std::string help, int min, int max) {
    add_entry(std::move(key), std::move(help), "INT", std::to_string(*field), [field, min, max](const std::string& v) {
        const auto n = parse_long(v);
        if (!n || *n < min || *n > max) {
            return std::optional<std::string>(
                fmt::format("'{}' is not an integer between {} and {}", v, min, max));
        }
        *field = static_cast<int>(*n);
        return std::optional<std::string>{};
    });
}

void SettingsLoader::add(std::string key, bool* field, std::string help) {
    add_entry(std::move(key), std::move(help), "BOOL", *field ? "true" : "false", [field](const std::string& v) {
        const auto b = parse_bool(v);
        if (!b) return std::optional<std::string>(fmt::format("'{}' is not a boolean", v));
        *field = *b;
        return std::optional<std::string>{};
    });
}

void SettingsLoader::add_choice(std::string key, std::string* field, std::string help,
                                std::vector<std::string> choices) {
    std::string type_help = fmt::format("{{{}}}", fmt::join(choices, ","));
    add_entry(std::move(key), std::move(help), std::move(type_help), *field,
              [field, choices = std::move(choices)](const std::string& v) {
                  if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
                      return std::optional<std::string>(fmt::format(
                          "'{}' is not one of: {}", v, fmt::join(choices, ", ")));
                  }
                  *field = v;
                  return std::optional<std::string>{};
              });
}

void SettingsLoader::attach(CLI::App& app, std::ostream& out) {
    settings_option_ = app.add_option("--settings", settings_file_,
                                      "Settings file (YAML); default " + default_file_)
                           ->envname("LAVA_SETTINGS")
                           ->group("Settings");
    // Runs while parsing, before requirements are checked, like --version.
    app.add_option_function<std::string>(
           "--print-settings",
           [this, &app, &out](const std::string& format) {
               out << (format == "markdown" ? markdown(app.get_name()) : sample_yaml(app.get_name()));
               throw CLI::Success();
           },
           "Print every setting with its default: a commented settings file (yaml) or the admin guide's "
           "section (markdown), and exit")
        ->check(CLI::IsMember({"yaml", "markdown"}))
        ->type_name("{yaml,markdown}")
        ->group("Settings");
    for (auto& e : entries_) {
        e->option = app.add_option(flag_name(e->key), e->cli_value,
                                   e->help + " [" + env_name(e->key) + "]")
                        ->envname(env_name(e->key))
                        ->type_name(e->type_help)
                        ->group("Settings");
    }
}

std::optional<int> SettingsLoader::parse_command_line(CLI::App& app, int argc, char** argv,
                                                     const std::string& version) {
    attach(app, std::cout);
    app.set_version_flag("--version", version);
    try {
        app.parse(argc, argv);
        load();
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const ConfigError& e) {
        std::cerr << app.get_name() << ": error: " << e.what() << "\n";
        return 2;
    }
    return std::nullopt;
}

void SettingsLoader::load() {
    const bool explicit_file = settings_option_ != nullptr && settings_option_->count() > 0;
    YAML::Node root;
    std::error_code ec;
    if (!settings_file_.empty() && std::filesystem::exists(settings_file_, ec)) {
        try {
            root = YAML::LoadFile(settings_file_);
        } catch (const YAML::Exception& ex) {
            throw ConfigError(fmt::format("{}:{}:{}: invalid YAML: {}", settings_file_,
                                          ex.mark.line + 1, ex.mark.column + 1, ex.msg));
        }
        file_read_ = settings_file_;
    } else if (explicit_file) {
        throw ConfigError(fmt::format("settings file '{}' does not exist", settings_file_));
    }

    if (root && !root.IsNull() && !root.IsMap()) {
        throw ConfigError(fmt::format("{}:{}: the settings file must be a mapping of key: value",
                                      settings_file_, root.Mark().line + 1));
    }

    // File values first, for keys that neither a flag nor the environment set.
    if (root && root.IsMap()) {
        for (const auto& kv : root) {
            const std::string key = kv.first.as<std::string>();
            const int line = kv.first.Mark().line + 1;
            auto it = std::find_if(entries_.begin(), entries_.end(),
                                   [&](const auto& e) { return e->key == key; });
            if (it == entries_.end()) {
                std::vector<std::string> known;
                for (const auto& e : entries_) known.push_back(e->key);
                throw ConfigError(fmt::format("{}:{}: unknown setting '{}' (known: {})",
                                              settings_file_, line, key, fmt::join(known, ", ")));
            }
            Entry& e = **it;
            if (!kv.second.IsScalar()) {
                throw ConfigError(fmt::format("{}:{}: setting '{}' must be a single value",
                                              settings_file_, line, key));
            }
            if (e.option != nullptr && e.option->count() > 0) continue;
            if (auto err = e.assign(kv.second.Scalar())) {
                throw ConfigError(fmt::format("{}:{}: setting '{}': {}", settings_file_, line,
                                              key, *err));
            }
        }
    }

    // Then flags and environment variables, which win.
    for (auto& e : entries_) {
        if (e->option == nullptr || e->option->count() == 0) continue;
        if (auto err = e->assign(e->cli_value)) {
            throw ConfigError(fmt::format("{} (or {}): {}", flag_name(e->key), env_name(e->key), *err));
        }
    }
}

namespace {

// A default as a YAML scalar that reads back as the same text.
std::string yaml_scalar(const std::string& text) {
    const bool plain = !text.empty() && text.find_first_of(":#'\"{}[],&*!|>%@`\\\n") == std::string::npos &&
                       text.front() != ' ' && text.back() != ' ' && text.front() != '-' && text.front() != '?';
    if (plain) return text;
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') quoted += '\\';
        if (c == '\n') {
            quoted += "\\n";
            continue;
        }
        quoted += c;
    }
    return quoted + "\"";
}

std::string markdown_cell(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '|') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::string SettingsLoader::sample_yaml(const std::string& program) const {
    std::string out = fmt::format(
        "# {}: settings. Every key is shown commented out with its default;\n"
        "# uncomment a line to change it. Each key is also the flag --key-name and\n"
        "# the environment variable LAVA_KEY_NAME (e.g. in /etc/default/{}); the\n"
        "# flag wins over the environment, which wins over this file.\n"
        "# Reference: /usr/share/doc/lava-cpp-server/admin/settings.md\n",
        program, program);
    for (const auto& e : entries_) {
        out += fmt::format("\n# {} [{}]\n#{}: {}\n", e->help, e->type_help, e->key, yaml_scalar(e->default_text));
    }
    return out;
}

std::string SettingsLoader::markdown(const std::string& program) const {
    std::string out = fmt::format(
        "## {}\n\nFile: `{}` (or `--settings FILE`, `LAVA_SETTINGS`).\n\n"
        "| Key | Default | Type | Meaning |\n|---|---|---|---|\n",
        program, default_file_);
    for (const auto& e : entries_) {
        const std::string shown = e->default_text.empty() ? "*(empty)*" : "`" + markdown_cell(e->default_text) + "`";
        out += fmt::format("| `{}` | {} | {} | {} |\n", e->key, shown, markdown_cell(e->type_help),
                           markdown_cell(e->help));
    }
    return out;
}

}  // namespace lava::common::config

namespace lava::common::config {

void register_input_limits(SettingsLoader& loader, InputLimits& l) {
    constexpr int kMax = 1 << 30;
    loader.add("yaml_max_depth", &l.yaml_max_depth, "YAML: collections nested deeper are refused", 1, 10000);
    loader.add("yaml_max_nodes", &l.yaml_max_nodes,
               "YAML: documents with more nodes (each alias use counted as a copy) are refused", 1, kMax);
    loader.add("json_max_depth", &l.json_max_depth, "JSON: arrays and objects nested deeper are refused", 1, 10000);
    loader.add("json_max_nodes", &l.json_max_nodes, "JSON: documents with more values are refused", 1, kMax);
    loader.add("xmlrpc_max_depth", &l.xmlrpc_max_depth, "XML-RPC: arrays and structs nested deeper are refused", 1,
               10000);
    loader.add("jinja_max_template_bytes", &l.jinja_max_template_bytes, "Jinja2: longest template source (bytes)",
               1, kMax);
    loader.add("jinja_max_depth", &l.jinja_max_depth,
               "Jinja2: deepest nesting of statements, expressions, values, includes and block calls", 1, 10000);
    loader.add("jinja_max_range", &l.jinja_max_range, "Jinja2: most items of one range()", 1, kMax);
    loader.add("jinja_max_iterations", &l.jinja_max_iterations,
               "Jinja2: most loop iterations and item operations in one render", 1, kMax);
    loader.add("jinja_max_output_bytes", &l.jinja_max_output_bytes,
               "Jinja2: most text one render produces or builds (bytes)", 1, kMax);
    loader.add("websocket_max_message_bytes", &l.websocket_max_message_bytes,
               "Largest WebSocket message read (bytes)", 1, kMax);
    loader.add("zmq_max_message_bytes", &l.zmq_max_message_bytes, "Largest ZMQ message read (bytes)", 1, kMax);
}

}  // namespace lava::common::config
