// REST v0.2 system/ endpoints and token/ (lava-protocols.md §4.2).

#include "server/web/app.hpp"

#include <nlohmann/json.hpp>

namespace lava::server::web {

void add_system_routes(App& app) {
    app.route("GET", "/api/v0.2/system/version/", [](Call&) {
        return json_response(200, {{"version", LAVA_PROTOCOL_VERSION}});
    });
    app.route("GET", "/api/v0.2/system/whoami/", [](Call& call) {
        return json_response(200, {{"user", call.who.user ? call.who.user->username : ""}});
    });
    app.route("GET", "/api/v0.2/system/master_config/", [](Call& call) {
        return json_response(200, {{"EVENT_TOPIC", call.app.settings().web.event_topic},
                                   {"EVENT_SOCKET", call.app.settings().web.publisher_url},
                                   {"EVENT_NOTIFICATION", true},
                                   {"LOG_SIZE_LIMIT", 10}});
    });
    app.route("GET", "/api/v0.2/system/", [](Call&) { return json_response(200, nlohmann::json::object()); });
    // username + password -> a token. LAVA answers with the user's first
    // token; lava-cpp keeps only tokens' hashes, so each call creates one
    // (docs/security.md).
    app.route("POST", "/api/v0.2/token/", [](Call& call) {
        const auto username = call.field("username");
        const auto password = call.field("password");
        nlohmann::json missing = nlohmann::json::object();
        if (!username || username->empty()) missing["username"] = {"This field is required."};
        if (!password || password->empty()) missing["password"] = {"This field is required."};
        if (!missing.empty()) return json_response(400, missing);
        store::UserRepository users(call.tx);
        if (!users.authenticate(*username, *password)) {
            return json_response(400, {{"non_field_errors", {"Unable to log in with provided credentials."}}});
        }
        auto token = store::TokenRepository(call.tx).create(*username, "api/v0.2/token/", std::nullopt);
        if (!token) return rest_detail(500, token.error().message);
        return json_response(200, {{"token", token->secret}});
    }, Access::kAnyone);
}

}  // namespace lava::server::web
