#pragma once
// Typed settings for every lava-cpp program. A program owns a plain struct of
// settings; each module registers the keys it reads onto a SettingsLoader,
// bound to fields of that struct. One key `log_level` is, at once:
//   - a YAML key in the settings file      log_level: debug
//   - an environment variable              LAVA_LOG_LEVEL=debug
//   - a command-line flag                  --log-level debug
// Precedence: flag > environment > file > the field's initial value.
// The file (default e.g. /etc/lava-server/settings.yaml, overridable with
// --settings or LAVA_SETTINGS) may be absent when it is the default; a file
// given explicitly must exist. Unknown keys and bad values are errors that
// name the key and the file line. Used once at start-up, on the main thread.

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace lava {
struct InputLimits;
}

namespace lava::common::config {

// A bad settings file, flag or environment variable: one line for the user.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class SettingsLoader {
public:
    explicit SettingsLoader(std::string default_file);
    ~SettingsLoader();
    SettingsLoader(const SettingsLoader&) = delete;
    SettingsLoader& operator=(const SettingsLoader&) = delete;

    void add(std::string key, std::string* field, std::string help);
    void add(std::string key, int* field, std::string help, int min, int max);
    void add(std::string key, bool* field, std::string help);
    void add_choice(std::string key, std::string* field, std::string help,
                    std::vector<std::string> choices);

    // Registers --settings, --print-settings and one flag per key on
    // `app`. --print-settings yaml|markdown writes the reference (below) to
    // `out` and ends the parse like --help (CLI::Success).
    void attach(CLI::App& app, std::ostream& out);

    // Every key with its meaning and default, from the keys added so far
    // (call before load()):
    //   - sample_yaml(): a settings file where each key is commented out
    //     with its default, ready to install under /etc;
    //   - markdown(): a section of the admin guide.
    std::string sample_yaml(const std::string& program) const;
    std::string markdown(const std::string& program) const;

    // After `app` has parsed the command line: reads the settings file and
    // assigns every field by precedence. Throws ConfigError.
    void load();

    // A daemon's start: attach() (plus --version: `version`), parse argv,
    // load(). Nullopt to go on; else the exit code, the message printed
    // (--help and --version: 0; a bad flag: CLI11's; a bad setting:
    // "<program>: error: ..." and 2).
    std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const std::string& version);

    // The settings file that load() read, or "" when none was read.
    const std::string& file_read() const { return file_read_; }

private:
    struct Entry;
    void add_entry(std::string key, std::string help, std::string type_help, std::string default_text,
                   std::function<std::optional<std::string>(const std::string&)> assign);

    std::string default_file_;
    std::string settings_file_;
    CLI::Option* settings_option_ = nullptr;
    std::string file_read_;
    std::vector<std::unique_ptr<Entry>> entries_;
};

// "log_level" -> "LAVA_LOG_LEVEL"
std::string env_name(const std::string& key);

// The input limits (common/base/limits.hpp) as settings of a daemon that
// reads outside input; the daemon applies them with set_input_limits()
// once its settings are loaded.
void register_input_limits(SettingsLoader& loader, InputLimits& limits);

}  // namespace lava::common::config
