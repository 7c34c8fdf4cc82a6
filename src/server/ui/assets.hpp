#pragma once
// The web UI's templates and static files (docs/adr/0011-web-ui.md, point 3):
// compiled into lava-server (cmake/EmbedUi.cmake), or read from a directory
// (the `ui_dir` setting) for whoever edits them. Static files are served at
// /static/ui/<stem>.<hash>.<ext>, so a page always names the exact bytes it
// was written for and browsers may cache them for ever.

#include "common/jinja/jinja.hpp"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lava::server::ui {

// One file of src/server/ui, as the build embedded it.
struct EmbeddedFile {
    std::string_view path;   // "templates/base.html", "static/ui.css"
    std::string_view bytes;
    std::string_view hash;   // first 12 hex digits of its SHA-256
};
std::span<const EmbeddedFile> embedded_files();  // generated

class Assets {
public:
    // `dir` empty: the embedded files; else src/server/ui's layout on disk.
    explicit Assets(std::string dir);

    // The templates, for a jinja::Environment.
    std::shared_ptr<const common::jinja::Loader> template_loader() const;

    // "ui.css" -> "/static/ui/ui.<hash>.css" (nullopt: no such file).
    std::optional<std::string> url(const std::string& name) const;
    // Every static file's name and URL.
    std::vector<std::pair<std::string, std::string>> urls() const;

    struct Static {
        std::string bytes;
        std::string content_type;
        bool immutable;  // the URL's hash matched: cache for ever
    };
    // The file a /static/ui/ URL's last segment names (nullopt: none).
    std::optional<Static> find(const std::string& url_name) const;

private:
    std::optional<std::string> read_static(const std::string& name, std::string& hash) const;
    std::vector<std::pair<std::string, std::string>> list_urls() const;

    std::string dir_;
    // The embedded files' URLs, made once (every page names them); from a
    // directory they are made again on each call, as its files may change.
    std::vector<std::pair<std::string, std::string>> embedded_urls_;
};

}  // namespace lava::server::ui
