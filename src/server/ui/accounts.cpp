// Account pages: the sign-in page (drawn for lava-server's /accounts/login/),
// /api/tokens/ (create: the secret shown once; delete), /me/ (the profile)
// and /api/help/ (the XML-RPC methods with their help).

#include "server/ui/ui.hpp"

#include "server/store/users.hpp"
#include "server/web/rpc.hpp"

namespace lava::server::ui {
namespace {

HttpResponse tokens_page(const Ui& ui, Call& call, const std::string& created, const std::string& error,
                         int status = 200) {
    List tokens;
    if (auto list = store::TokenRepository(call.tx).list(call.who.user->username)) {
        for (const auto& t : *list) {
            tokens.push_back(Obj()
                                 .set("id", Value(static_cast<long long>(t.id)))
                                 .set("prefix", Value(t.prefix))
                                 .set("description", Value(t.description))
                                 .set("created", Value(short_time(t.created_on)))
                                 .set("last_used", t.last_used_on ? Value(short_time(*t.last_used_on)) : Value()));
        }
    }
    return ui.page(call, "tokens.html",
                   Obj().set("title", Value("API tokens"))
                       .set("tokens", Value(std::move(tokens)))
                       .set("created", created.empty() ? Value() : Value(created))
                       .set("error", Value(error))
                       .take(),
                   status);
}

}  // namespace

void add_account_pages(web::App& app, std::shared_ptr<const Ui> ui) {
    app.set_login_page([ui](Call& call, const std::string& next, const std::string& error, const std::string& csrf) {
        return ui->page(call, "login.html",
                        Obj().set("title", Value("Sign in"))
                            .set("next", Value(next))
                            .set("error", Value(error))
                            .set("login_csrf", Value(csrf))
                            .take());
    });
    app.route("GET", "/api/tokens/", [ui](Call& call) {
        if (!call.who.authenticated()) return sign_in_first(call);
        return tokens_page(*ui, call, "", "");
    });
    app.route("POST", "/api/tokens/create", [ui](Call& call) {
        auto token = store::TokenRepository(call.tx).create(call.who.user->username,
                                                             call.field("description").value_or(""), std::nullopt);
        if (!token) return tokens_page(*ui, call, "", token.error().message, 400);
        return tokens_page(*ui, call, token->secret, "");
    }, web::Access::kUser);
    app.route("POST", "/api/tokens/{id}/delete", [ui](Call& call) {
        const auto id = web::id_param(call);
        auto done = id ? store::TokenRepository(call.tx).remove(call.who.user->username, *id)
                       : Result<void>(make_error(errc::kNotFound, "no such token"));
        if (!done) return tokens_page(*ui, call, "", done.error().message, 404);
        return web::redirect("/api/tokens/");
    }, web::Access::kUser);
    app.route("GET", "/me/", [ui](Call& call) {
        if (!call.who.authenticated()) return sign_in_first(call);
        const auto& u = *call.who.user;
        return ui->page(call, "profile.html",
                        Obj().set("title", Value("Profile of " + u.username))
                            .set("user", Obj()
                                             .set("username", Value(u.username))
                                             .set("is_superuser", Value(u.is_superuser))
                                             .set("is_staff", Value(u.is_staff))
                                             .set("groups", Value(static_cast<long long>(u.group_ids.size()))))
                            .set("jobs", Value(recent_jobs(call, {{"submitter", std::to_string(u.id)}}, 10)))
                            .take());
    });
    app.route("GET", "/api/help/", [ui](Call& call) {
        const auto& registry = web::rpc::methods();
        List methods;
        for (const auto& name : registry.names()) {
            const auto* m = registry.find(name);
            List args;
            for (std::size_t i = 0; i < m->args.size(); ++i) {
                args.emplace_back(i < m->required ? m->args[i] : m->args[i] + "=None");
            }
            methods.push_back(Obj().set("name", Value(name)).set("args", Value(std::move(args))).set("help", Value(m->help)));
        }
        return ui->page(call, "api_help.html",
                        Obj().set("title", Value("API")).set("methods", Value(std::move(methods))).take());
    });
}

}  // namespace lava::server::ui
