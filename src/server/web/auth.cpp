#include "server/web/auth.hpp"

#include "common/base/base64.hpp"
#include "common/base/text.hpp"
#include "common/crypto/password.hpp"
#include "server/web/app.hpp"

#include <algorithm>

namespace lava::server::web {
namespace {

using common::net::HttpRequest;
using common::net::HttpResponse;

constexpr std::string_view kSessionCookie = "sessionid";
constexpr std::string_view kCsrfCookie = "csrftoken";

HttpResponse plain(int status, std::string text) {
    HttpResponse r;
    r.status = status;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::move(text);
    return r;
}

bool safe_method(const HttpRequest& request) {
    return request.method == "GET" || request.method == "HEAD" || request.method == "OPTIONS" ||
           request.method == "TRACE";
}

// The CSRF token a cookie-authenticated write presents.
std::string presented_csrf(const HttpRequest& request) {
    const auto header = request.header("x-csrftoken");
    if (!header.empty()) return std::string(header);
    if (request.header("content-type").find("application/x-www-form-urlencoded") != std::string_view::npos) {
        for (const auto& [k, v] : common::net::parse_form(request.body)) {
            if (k == "csrfmiddlewaretoken") return v;
        }
    }
    return {};
}

// The session's user, when the cookie names a live session and, for a write,
// the request carries the session's CSRF token. `csrf_ok` tells which.
std::optional<store::Principal> session_user(common::db::Tx& tx, const HttpRequest& request, bool& csrf_ok) {
    csrf_ok = true;
    const auto key = request_cookie(request, kSessionCookie);
    if (!key) return std::nullopt;
    auto session = store::SessionRepository(tx).find(*key);
    if (!session) return std::nullopt;
    if (!safe_method(request)) {
        csrf_ok = common::crypto::constant_time_equal(presented_csrf(request), session->csrf_token);
    }
    return std::move(session->user);
}

// REST: DRF's TokenAuthentication, then SessionAuthentication (which
// enforces CSRF). LAVA lists session authentication first, so refusals are
// 403 without a challenge.
AuthResult rest(common::db::Tx& tx, const HttpRequest& request) {
    AuthResult out;
    const auto header = request.header("authorization");
    const auto space = header.find(' ');
    const std::string scheme(header.substr(0, space));
    if (scheme == "Token" || scheme == "token") {
        const std::string secret = space == std::string_view::npos ? "" : to_valid_utf8(header.substr(space + 1));
        if (secret.empty() || secret.find(' ') != std::string::npos) {
            out.denied = rest_detail(403, "Invalid token header. No credentials provided.");
            return out;
        }
        auto owner = store::TokenRepository(tx).owner(secret);
        if (!owner) {
            out.denied = rest_detail(403, "Invalid token.");
        } else if (!owner->is_active) {
            out.denied = rest_detail(403, "User inactive or deleted.");
        } else {
            out.user = std::move(owner);
        }
        return out;
    }
    bool csrf_ok = true;
    out.user = session_user(tx, request, csrf_ok);
    if (!csrf_ok) {
        out.user.reset();
        out.denied = rest_detail(403, "CSRF Failed: CSRF token missing or incorrect.");
    }
    return out;
}

// XML-RPC (linaro_django_xmlrpc): Basic only; a refused token is 401 with
// a challenge, a malformed header 400. Without a header: the session, whose
// writes need the CSRF token too (every XML-RPC call is a POST), else
// anonymous.
AuthResult xmlrpc(common::db::Tx& tx, const HttpRequest& request) {
    AuthResult out;
    if (request.headers.end() ==
        std::find_if(request.headers.begin(), request.headers.end(),
                     [](const auto& h) { return h.first == "authorization"; })) {
        bool csrf_ok = true;
        auto user = session_user(tx, request, csrf_ok);
        if (user && csrf_ok) out.user = std::move(user);
        return out;
    }
    const auto header = request.header("authorization");
    const auto space = header.find(' ');
    if (space == std::string_view::npos) {
        out.denied = plain(400, "Invalid HTTP_AUTHORIZATION header");
        return out;
    }
    if (header.substr(0, space) != "Basic") {
        out.denied = plain(400, "Unsupported HTTP_AUTHORIZATION header, only Basic scheme is supported");
        return out;
    }
    const auto decoded = base64_decode(header.substr(space + 1));
    if (!decoded || to_valid_utf8(*decoded) != *decoded) {
        out.denied = plain(400, "Corrupted HTTP_AUTHORIZATION header, bad base64 encoding");
        return out;
    }
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) {
        out.denied = plain(400, "Corrupted HTTP_AUTHORIZATION header, no user:pass");
        return out;
    }
    store::TokenRepository tokens(tx);
    auto owner = tokens.owner(decoded->substr(0, colon), decoded->substr(colon + 1));
    if (!owner) {
        out.denied = plain(401, "Invalid token");
        out.denied->headers.emplace_back("WWW-Authenticate", "Basic realm=\"XML-RPC Authentication token\"");
        return out;
    }
    // An inactive user is known but anonymous to the methods (they refuse
    // what needs authentication with fault 401).
    if (owner->is_active) out.user = std::move(owner);
    return out;
}

std::string cookie_header(std::string_view name, const std::string& value, long max_age, bool http_only,
                          bool secure) {
    std::string c(name);
    c += '=' + value + "; Path=/; SameSite=Lax; Max-Age=" + std::to_string(max_age);
    if (http_only) c += "; HttpOnly";
    if (secure) c += "; Secure";
    return c;
}


// The sign-in page without the web UI.
HttpResponse plain_login_page(const std::string& next, const std::string& error, const std::string& csrf) {
    std::string body =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign in - LAVA</title></head><body>\n"
        "<h1>Sign in</h1>\n";
    if (!error.empty()) body += "<p class=\"error\">" + html_escape(error) + "</p>\n";
    body += "<form method=\"post\" action=\"/accounts/login/\">\n"
            "<label>Username <input name=\"username\" autofocus required></label>\n"
            "<label>Password <input name=\"password\" type=\"password\" required></label>\n"
            "<input type=\"hidden\" name=\"next\" value=\"" + html_escape(next) + "\">\n"
            "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"" + html_escape(csrf) + "\">\n"
            "<button type=\"submit\">Sign in</button>\n</form>\n</body></html>\n";
    return plain(200, std::move(body));
}

// The sign-in form's CSRF token: the csrftoken cookie, made when missing
// (Django's double-submit check: another site can neither read the cookie
// nor set the form field to it, so it cannot sign a browser in as someone).
struct LoginCsrf {
    std::string token;
    bool fresh = false;
};
LoginCsrf login_csrf(const HttpRequest& request) {
    auto cookie = request_cookie(request, kCsrfCookie);
    if (cookie && cookie->size() >= 32) return {*cookie, false};
    return {common::crypto::random_string(48), true};
}

HttpResponse login_page(Call& call, const std::string& next, const std::string& error, int status = 200) {
    const auto csrf = login_csrf(call.request);
    HttpResponse r = call.app.login_page() ? call.app.login_page()(call, next, error, csrf.token)
                                           : plain_login_page(next, error, csrf.token);
    if (status != 200 && r.status == 200) r.status = status;
    if (csrf.fresh) {
        r.headers.emplace_back("Set-Cookie", cookie_header(kCsrfCookie, csrf.token, 365L * 24 * 3600, false,
                                                           call.app.settings().web.session_cookie_secure));
    }
    return r;
}

}  // namespace

std::string local_target(const std::optional<std::string>& next, const std::string& fallback) {
    if (!next || next->empty() || (*next)[0] != '/' || next->rfind("//", 0) == 0 ||
        next->find('\\') != std::string::npos) {
        return fallback;
    }
    return *next;
}

AuthResult authenticate(common::db::Tx& tx, const HttpRequest& request, Credentials kind) {
    switch (kind) {
        case Credentials::kRest: return rest(tx, request);
        case Credentials::kXmlRpc: return xmlrpc(tx, request);
        case Credentials::kNone: break;
    }
    return {};
}

void add_account_routes(App& app) {
    app.route("GET", "/accounts/login/", [](Call& call) {
        return login_page(call, local_target(call.query("next")), "");
    }, Access::kAnyone, Credentials::kNone);
    // username + password -> a session: the sessionid cookie (HttpOnly) and
    // the csrftoken cookie the page's scripts send back as X-CSRFToken.
    app.route("POST", "/accounts/login/", [](Call& call) {
        const std::string next = local_target(call.field("next") ? call.field("next") : call.query("next"));
        const auto form_token = call.field("csrfmiddlewaretoken");
        const auto cookie_token = request_cookie(call.request, kCsrfCookie);
        if (!form_token || !cookie_token || cookie_token->size() < 32 ||
            !common::crypto::constant_time_equal(*form_token, *cookie_token)) {
            return login_page(call, next,
                              "The sign-in form's security token did not come back (cookies must be allowed for "
                              "this site): please sign in again.",
                              403);
        }
        const auto username = call.field("username");
        const auto password = call.field("password");
        auto user = username && password ? store::UserRepository(call.tx).authenticate(*username, *password)
                                         : std::nullopt;
        if (!user) {
            return login_page(call, next, "Please enter a correct username and password. "
                                          "Note that both fields may be case-sensitive.");
        }
        const auto& settings = call.app.settings().web;
        if (const auto old = request_cookie(call.request, kSessionCookie)) {
            store::SessionRepository(call.tx).remove(*old);  // a fresh session on each sign-in
        }
        const auto session = store::SessionRepository(call.tx).create(user->id, settings.session_age_s);
        HttpResponse r = redirect(next);
        r.headers.emplace_back("Set-Cookie", cookie_header(kSessionCookie, session.key, session.max_age_seconds,
                                                           true, settings.session_cookie_secure));
        r.headers.emplace_back("Set-Cookie", cookie_header(kCsrfCookie, session.csrf_token,
                                                           session.max_age_seconds, false,
                                                           settings.session_cookie_secure));
        r.headers.emplace_back("Cache-Control", "no-store");
        return r;
    }, Access::kAnyone, Credentials::kNone);
    // Ends the session; GET too, as Django 3.2's LogoutView (a stray link
    // can sign a user out, which is harmless, but never in).
    auto logout = [](Call& call) {
        if (const auto key = request_cookie(call.request, kSessionCookie)) {
            store::SessionRepository(call.tx).remove(*key);
        }
        HttpResponse r = redirect("/");
        const bool secure = call.app.settings().web.session_cookie_secure;
        r.headers.emplace_back("Set-Cookie", cookie_header(kSessionCookie, "\"\"", 0, true, secure));
        r.headers.emplace_back("Set-Cookie", cookie_header(kCsrfCookie, "\"\"", 0, false, secure));
        return r;
    };
    app.route("GET", "/accounts/logout/", logout, Access::kAnyone, Credentials::kNone);
    app.route("POST", "/accounts/logout/", logout, Access::kAnyone, Credentials::kNone);
}

}  // namespace lava::server::web
