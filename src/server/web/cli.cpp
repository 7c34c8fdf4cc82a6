#include "server/web/cli.hpp"

#include "common/base/text.hpp"
#include "common/config/settings.hpp"
#include "server/manage/manage.hpp"
#include "server/web/serve.hpp"
#include "server/web/settings.hpp"

#include <CLI/CLI.hpp>

namespace lava::server::web {

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    constexpr const char* kProgram = "lava-server";
    CLI::App app("lava-server: the lava-cpp server", kProgram);
    ServerSettings settings;
    common::config::SettingsLoader loader("/etc/lava-server/settings.yaml");
    common::log::register_settings(loader, settings.log);
    common::db::register_settings(loader, settings.db);
    register_settings(loader, settings.web);
    common::config::register_input_limits(loader, settings.limits);
    loader.attach(app, out);
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("lava-cpp ") + LAVA_CPP_VERSION + " (LAVA protocol " +
                                          LAVA_PROTOCOL_VERSION + ")");
    auto* manage_cmd = app.add_subcommand("manage", "Administer the lab's database and files");
    manage::Commands manage(*manage_cmd);
    auto* serve_cmd = app.add_subcommand(
        "serve", "Serve the REST API, XML-RPC and the worker API over HTTP");
    serve_cmd->fallthrough();

    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
        // --help and --version arrive as "errors" with exit code 0.
        if (e.get_exit_code() == 0) return app.exit(e, out, err);
        err << kProgram << ": " << e.what() << "\n";
        err << "Run with --help for more information.\n";
        return 2;
    }
    try {
        loader.load();
    } catch (const common::config::ConfigError& e) {
        err << kProgram << ": error: " << e.what() << "\n";
        return 2;
    }
    if (auto problem = common::log::init(settings.log)) {
        err << kProgram << ": error: " << *problem << "\n";
        return 1;
    }
    set_input_limits(settings.limits);
    if (serve_cmd->parsed()) return serve(settings, err);
    manage::LabSettings lab{loader.file_read(), settings.web.dispatcher_config,
                            split(settings.web.device_template_dirs, ':', false), settings.web.job_output,
                            settings.web.websocket_upstream};
    return manage.run(settings.db, lab, out, err);
}

}  // namespace lava::server::web
