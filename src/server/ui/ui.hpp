#pragma once
// lava-server's web UI (docs/adr/0011-web-ui.md): pages at LAVA's URLs,
// each a data builder over the services REST and XML-RPC use, rendered by a
// template from src/server/ui/templates, or answered as JSON for
// ?format=json (what the page's scripts refresh themselves with).

#include "common/base/text.hpp"
#include "common/data/value.hpp"
#include "common/jinja/jinja.hpp"
#include "server/store/jobs.hpp"
#include "server/ui/assets.hpp"
#include "server/web/app.hpp"
#include "server/web/jobs_service.hpp"

#include <memory>
#include <string>

namespace lava::server::ui {

using common::data::Dict;
using common::data::List;
using common::data::Value;
using web::Call;
using web::HttpResponse;

// A Dict built field by field: Obj().set("id", 1).set("name", "x").
class Obj {
public:
    Obj& set(const char* key, Value v) {
        d_.emplace_back(Value(key), std::move(v));
        return *this;
    }
    Dict take() { return std::move(d_); }
    // Moves the fields out: use once.
    operator Value() { return Value(std::move(d_)); }

private:
    Dict d_;
};

// A value or None.
template <typename T>
Value opt(const std::optional<T>& v) {
    return v ? Value(*v) : Value();
}

class Ui {
public:
    explicit Ui(const web::WebSettings& settings);

    // `tpl` rendered with `data` and the layout's variables (who is signed
    // in, the CSRF token, static URLs), or `data` as JSON for ?format=json.
    HttpResponse page(Call& call, const std::string& tpl, Dict data, int status = 200) const;
    // 404 as a page (or JSON), naming what was not found.
    HttpResponse not_found(Call& call, const std::string& what) const;
    // A static file: /static/ui/<stem>.<hash>.<ext>.
    HttpResponse static_file(const std::string& url_name) const;

private:
    Assets assets_;
    common::jinja::Environment env_;
};

// The security headers every page carries (CSP without inline script,
// nosniff, same-origin referrers, no framing).
void secure_headers(HttpResponse& r, bool signed_in);

// A job as a page shows it (lists, the job header, live updates).
Value job_row(const store::Job& job);
// "0.0400000000" -> "0.04", "3.000" -> "3" (measurements are stored with
// ten decimals, as LAVA's DecimalField).
std::string trimmed_decimal(std::string s);
// "2026-12-05T19:01:11.238000" -> "2026-12-05 19:01:11" (UTC).
std::string short_time(const std::string& iso);

using web::visible_job;
// To the sign-in page, and back to this page afterwards.
HttpResponse sign_in_first(const Call& call);
// The newest `n` jobs matching `filters` (REST's) that the caller may see,
// as rows (no count: a count over a million jobs is the slow part).
List recent_jobs(Call& call, std::vector<std::pair<std::string, std::string>> filters, long n);

// A running job's current action, from the end of its log: {level, name,
// line}, or None.
Value current_action(Call& call, const store::Job& job);

// Route families (each file adds its own).
void add_routes(web::App& app);
void add_job_pages(web::App& app, std::shared_ptr<const Ui> ui);
void add_log_routes(web::App& app);
void add_submit_pages(web::App& app, std::shared_ptr<const Ui> ui);
void add_lab_pages(web::App& app, std::shared_ptr<const Ui> ui);
void add_result_pages(web::App& app, std::shared_ptr<const Ui> ui);
void add_account_pages(web::App& app, std::shared_ptr<const Ui> ui);

}  // namespace lava::server::ui
