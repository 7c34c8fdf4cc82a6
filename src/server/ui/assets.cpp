#include "server/ui/assets.hpp"

#include "common/crypto/password.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace lava::server::ui {
namespace {

namespace jinja = common::jinja;

const EmbeddedFile* embedded(std::string_view path) {
    for (const auto& f : embedded_files()) {
        if (f.path == path) return &f;
    }
    return nullptr;
}

class EmbeddedLoader final : public jinja::Loader {
public:
    std::optional<Source> load(const std::string& name) const override {
        const EmbeddedFile* f = embedded("templates/" + name);
        if (!f) return std::nullopt;
        return Source{std::string(f->bytes), "templates/" + name};
    }
};

std::string content_type(const std::string& name) {
    const auto ext = std::filesystem::path(name).extension().string();
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".woff2") return "font/woff2";
    return "application/octet-stream";
}

// "ui.css" -> ("ui", ".css"); "log-view.js" -> ("log-view", ".js").
std::pair<std::string, std::string> stem_ext(const std::string& name) {
    const auto dot = name.find('.');
    if (dot == std::string::npos) return {name, ""};
    return {name.substr(0, dot), name.substr(dot)};
}

bool plain_name(const std::string& name) {
    if (name.empty() || name.front() == '.') return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) return false;
    }
    return name.find("..") == std::string::npos;
}

}  // namespace

Assets::Assets(std::string dir) : dir_(std::move(dir)) {
    if (dir_.empty()) embedded_urls_ = list_urls();
}

std::shared_ptr<const jinja::Loader> Assets::template_loader() const {
    if (dir_.empty()) return std::make_shared<EmbeddedLoader>();
    return std::make_shared<jinja::FileSystemLoader>(std::vector<std::string>{dir_ + "/templates"});
}

std::optional<std::string> Assets::read_static(const std::string& name, std::string& hash) const {
    if (!plain_name(name)) return std::nullopt;
    if (dir_.empty()) {
        const EmbeddedFile* f = embedded("static/" + name);
        if (!f) return std::nullopt;
        hash = std::string(f->hash);
        return std::string(f->bytes);
    }
    std::ifstream in(std::filesystem::path(dir_) / "static" / name, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream buf;
    buf << in.rdbuf();
    hash = common::crypto::sha256_hex(buf.str()).substr(0, 12);
    return buf.str();
}

std::optional<std::string> Assets::url(const std::string& name) const {
    std::string hash;
    if (!read_static(name, hash)) return std::nullopt;
    const auto [stem, ext] = stem_ext(name);
    return "/static/ui/" + stem + "." + hash + ext;
}

std::vector<std::pair<std::string, std::string>> Assets::urls() const {
    return dir_.empty() ? embedded_urls_ : list_urls();
}

std::vector<std::pair<std::string, std::string>> Assets::list_urls() const {
    std::vector<std::string> names;
    if (dir_.empty()) {
        for (const auto& f : embedded_files()) {
            if (f.path.rfind("static/", 0) == 0) names.emplace_back(f.path.substr(7));
        }
    } else {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(dir_) / "static", ec)) {
            if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
        }
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& name : names) {
        if (auto u = url(name)) out.emplace_back(name, *u);
    }
    return out;
}

std::optional<Assets::Static> Assets::find(const std::string& url_name) const {
    // <stem>.<hash><ext>: the hash is the second dot-separated part.
    const auto first = url_name.find('.');
    if (first == std::string::npos) return std::nullopt;
    const auto second = url_name.find('.', first + 1);
    if (second == std::string::npos) return std::nullopt;
    const std::string name = url_name.substr(0, first) + url_name.substr(second);
    const std::string asked = url_name.substr(first + 1, second - first - 1);
    std::string hash;
    auto bytes = read_static(name, hash);
    if (!bytes) return std::nullopt;
    // A stale hash (a page cached across an upgrade) still gets today's
    // file, but not for ever.
    return Static{std::move(*bytes), content_type(name), asked == hash};
}

}  // namespace lava::server::ui
