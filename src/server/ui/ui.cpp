#include "server/ui/ui.hpp"

#include "common/base/text.hpp"
#include "common/log/log.hpp"
#include "common/proto/states.hpp"
#include "server/web/auth.hpp"
#include "server/web/json.hpp"

namespace lava::server::ui {
namespace {

constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

bool wants_json(const Call& call) { return call.query("format") == std::optional<std::string>("json"); }

// Seconds between two store times, or nullopt.
std::optional<long long> seconds_between(const std::optional<std::string>& from, const std::optional<std::string>& to) {
    if (!from || !to) return std::nullopt;
    auto epoch = [](const std::string& iso) -> std::optional<long long> {
        std::tm tm{};
        if (!strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
        return static_cast<long long>(timegm(&tm));
    };
    const auto a = epoch(*from);
    const auto b = epoch(*to);
    if (!a || !b) return std::nullopt;
    return *b - *a;
}

}  // namespace

std::string short_time(const std::string& iso) {
    std::string s = iso.substr(0, 19);
    if (s.size() > 10 && s[10] == 'T') s[10] = ' ';
    return s;
}

std::string trimmed_decimal(std::string s) {
    if (s.find('.') == std::string::npos || s.find_first_of("eE") != std::string::npos) return s;
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

void secure_headers(HttpResponse& r, bool signed_in) {
    r.headers.emplace_back("Content-Security-Policy", kCsp);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "same-origin");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Cache-Control", signed_in ? "no-store" : "no-cache");
}

Value job_row(const store::Job& j) {
    auto time = [](const std::optional<std::string>& t) { return t ? Value(short_time(*t)) : Value(); };
    const auto duration = seconds_between(j.start_time, j.end_time);
    return Obj()
        .set("id", Value(static_cast<long long>(j.id)))
        .set("display_id", Value(j.sub_id.empty() ? std::to_string(j.id) : j.sub_id))
        .set("state", Value(proto::display(j.state)))
        .set("health", Value(proto::display(j.health)))
        .set("description", Value(j.description))
        .set("submitter", Value(j.submitter))
        .set("device_type", opt(j.requested_device_type))
        .set("device", opt(j.actual_device))
        .set("worker", opt(j.worker))
        .set("submit_time", Value(short_time(j.submit_time)))
        .set("start_time", time(j.start_time))
        .set("end_time", time(j.end_time))
        .set("duration", duration ? Value(*duration) : Value())
        .set("priority", Value(j.priority))
        .set("is_public", Value(j.is_public))
        .set("health_check", Value(j.health_check))
        .set("multinode", Value(j.target_group.has_value()))
        .set("waiting_reason", Value(j.waiting_reason))
        .set("failure_comment", opt(j.failure_comment));
}

Ui::Ui(const web::WebSettings& settings)
    : assets_(settings.ui_dir), env_(assets_.template_loader(), common::jinja::Environment::Options{.autoescape = true}) {}

HttpResponse Ui::page(Call& call, const std::string& tpl, Dict data, int status) const {
    const bool signed_in = call.who.authenticated();
    HttpResponse r;
    r.status = status;
    if (wants_json(call)) {
        r = web::json_response(status, web::to_json(Value(std::move(data))));
        secure_headers(r, signed_in);
        return r;
    }
    Dict statics;
    for (const auto& [name, url] : assets_.urls()) statics.emplace_back(Value(name), Value(url));
    Dict query;
    for (const auto& [k, v] : call.query_params()) query.emplace_back(Value(k), Value(v));
    Value me;
    if (call.who.user) {
        me = Obj()
                 .set("username", Value(call.who.user->username))
                 .set("is_superuser", Value(call.who.user->is_superuser))
                 .set("is_staff", Value(call.who.user->is_staff));
    }
    Dict vars = std::move(data);
    vars.emplace_back(Value("me"), me);
    vars.emplace_back(Value("csrf_token"), Value(web::request_cookie(call.request, "csrftoken").value_or("")));
    vars.emplace_back(Value("static"), Value(std::move(statics)));
    vars.emplace_back(Value("path"), Value(call.request.path));
    vars.emplace_back(Value("query"), Value(std::move(query)));
    auto html = env_.render(tpl, vars);
    if (!html) {
        common::log::get("http")->error("request {}: page {}: {}", call.request.id, tpl, html.error().message);
        r = web::internal_error(500, "Internal server error");
        return r;
    }
    r.content_type = "text/html; charset=utf-8";
    r.body = std::move(*html);
    secure_headers(r, signed_in);
    return r;
}

HttpResponse sign_in_first(const Call& call) { return web::redirect("/accounts/login/?next=" + call.request.path); }

List recent_jobs(Call& call, std::vector<std::pair<std::string, std::string>> filters, long n) {
    store::JobQuery q;
    q.filters = std::move(filters);
    q.limit = n;
    q.count = false;
    List out;
    if (auto page = store::JobRepository(call.tx).list(q, call.who.user)) {
        for (const auto& j : page->jobs) out.push_back(job_row(j));
    }
    return out;
}

HttpResponse Ui::not_found(Call& call, const std::string& what) const {
    return page(call, "not_found.html", Obj().set("what", Value(what)).take(), 404);
}

HttpResponse Ui::static_file(const std::string& url_name) const {
    HttpResponse r;
    auto file = assets_.find(url_name);
    if (!file) {
        r.status = 404;
        r.content_type = "text/plain; charset=utf-8";
        r.body = "Not found.\n";
        return r;
    }
    r.content_type = file->content_type;
    r.body = std::move(file->bytes);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Cache-Control", file->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    return r;
}

void add_routes(web::App& app) {
    auto ui = std::make_shared<const Ui>(app.settings().web);
    app.route("GET", "/static/ui/{file}", [ui](Call& call) { return ui->static_file(call.params.at("file")); },
              web::Access::kAnyone, web::Credentials::kNone);
    add_job_pages(app, ui);
    add_log_routes(app);
    add_submit_pages(app, ui);
    add_lab_pages(app, ui);
    add_result_pages(app, ui);
    add_account_pages(app, ui);
}

}  // namespace lava::server::ui
