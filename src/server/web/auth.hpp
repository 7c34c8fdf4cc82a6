#pragma once
// Who a request is from (lava-protocols.md §3.1, §4.1). Each API family has
// its own credentials; all end in the same users, tokens and sessions:
// - REST: `Authorization: Token <secret>`, else the session cookie;
// - XML-RPC: `Authorization: Basic base64(username:token)`, else the session
//   cookie;
// - browser sessions: `sessionid` (the secret; only its hash is stored) and
//   `csrftoken`. A request authenticated by the cookie may write only when
//   it presents the session's CSRF token (X-CSRFToken header or the
//   csrfmiddlewaretoken form field), so another site cannot write in the
//   user's name.
// The worker API authenticates workers and jobs itself (worker_api.cpp).

#include "common/db/pool.hpp"
#include "common/net/http.hpp"
#include "server/store/users.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace lava::server::web {

// Which credentials a route takes.
enum class Credentials {
    kRest,
    kXmlRpc,
    kNone,  // the route authenticates its callers itself (worker API, sign-in)
};

struct AuthResult {
    std::optional<store::Principal> user;  // nullopt: anonymous
    // Set when the credentials are refused: the response to send instead.
    std::optional<common::net::HttpResponse> denied;
};

AuthResult authenticate(common::db::Tx& tx, const common::net::HttpRequest& request, Credentials kind);

using common::net::request_cookie;

// `next` when it is a path on this site, else `fallback` (never "//host" or
// "http://...": no open redirect).
std::string local_target(const std::optional<std::string>& next, const std::string& fallback = "/");

}  // namespace lava::server::web
