#include "server/manage/manage.hpp"

#include "common/config/settings.hpp"
#include "common/crypto/password.hpp"
#include "common/db/pool.hpp"
#include "common/log/log.hpp"
#include "common/proto/states.hpp"
#include "server/manage/checks.hpp"
#include "server/manage/table.hpp"
#include "server/store/catalogue.hpp"
#include "server/store/devices.hpp"
#include "server/store/job_output.hpp"
#include "server/store/lab_status.hpp"
#include "server/store/retention.hpp"
#include "server/store/schema.hpp"
#include "server/store/users.hpp"
#include "server/store/workers.hpp"

#include <CLI/CLI.hpp>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>

namespace lava::server::manage {
namespace {

namespace db = common::db;
namespace proto = lava::proto;
using store::Change;

constexpr const char* kProgram = "lava-server";
// What a command needs to run.
struct Context {
    db::Pool& pool;
    std::ostream& out;
    Change change;  // actor "manage:<login>"
    const LabSettings& lab;
};

using Action = std::function<Result<void>(Context&)>;

// Output format flags shared by listing and detail commands.
struct FormatFlags {
    bool json = false;
    bool csv = false;
    Format format() const { return json ? Format::kJson : csv ? Format::kCsv : Format::kText; }
};

void add_format_flags(CLI::App* sub, FormatFlags& f, bool csv = true) {
    auto* json = sub->add_flag("--json", f.json, "Print as JSON");
    if (csv) sub->add_flag("--csv", f.csv, "Print as CSV")->excludes(json);
}

// Tri-state switch from a pair of flags (--staff / --not-staff).
struct Switch {
    bool on = false;
    bool off = false;
    std::optional<bool> value() const {
        if (on) return true;
        if (off) return false;
        return std::nullopt;
    }
};

void add_switch(CLI::App* sub, Switch& s, const std::string& on, const std::string& off,
                const std::string& help_on, const std::string& help_off) {
    auto* a = sub->add_flag(on, s.on, help_on);
    sub->add_flag(off, s.off, help_off)->excludes(a);
}

std::string login_name() {
    if (const passwd* pw = getpwuid(geteuid())) return pw->pw_name;
    return std::to_string(geteuid());
}

// Runs `fn` in one transaction: it commits only if fn succeeds.
template <class F>
Result<void> in_tx(Context& ctx, F&& fn) {
    return db::transact(ctx.pool, [&](db::Tx& tx) -> Result<void> { return fn(tx); });
}

// Keeps only whether an operation succeeded, for commands that print nothing.
template <class T>
Result<void> done(const Result<T>& r) {
    if (!r) return r.error();
    return {};
}

template <class Enum>
Result<std::optional<Enum>> parse_optional(const std::optional<std::string>& text) {
    if (!text) return std::optional<Enum>{};
    auto v = proto::parse<Enum>(*text);
    if (!v) return v.error();
    return std::optional<Enum>(*v);
}

// "90d", "12h", "30m", "45s" (or "2w") as seconds; nullopt otherwise.
std::optional<long> parse_age(const std::string& text) {
    if (text.size() < 2) return std::nullopt;
    const std::string digits = text.substr(0, text.size() - 1);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return std::nullopt;
    const long n = std::stol(digits);
    switch (text.back()) {
        case 's': return n;
        case 'm': return n * 60;
        case 'h': return n * 3600;
        case 'd': return n * 86400;
        case 'w': return n * 7 * 86400;
        default: return std::nullopt;
    }
}

// ------------------------------------------------------------------ records

Record user_record(const store::User& u) {
    return {{"username", u.username},     {"full_name", u.full_name},
            {"email", u.email},           {"is_active", u.is_active},
            {"is_staff", u.is_staff},     {"is_superuser", u.is_superuser},
            {"groups", u.groups},         {"date_joined", u.date_joined}};
}

Record device_type_record(const store::DeviceType& dt) {
    return {{"name", dt.name},
            {"description", optional_value(dt.description)},
            {"display", dt.display},
            {"health_disabled", dt.disable_health_check},
            {"health_frequency", std::int64_t{dt.health_frequency}},
            {"health_denominator", std::string(proto::display(dt.health_denominator))},
            {"aliases", dt.aliases},
            {"devices", std::int64_t{dt.device_count}}};
}

Record worker_record(const store::Worker& w) {
    return {{"hostname", w.hostname},
            {"state", std::string(proto::display(w.state))},
            {"health", std::string(proto::display(w.health))},
            {"description", optional_value(w.description)},
            {"last_ping", optional_value(w.last_ping)},
            {"job_limit", std::int64_t{w.job_limit}},
            {"version", optional_value(w.version)},
            {"token", w.token},
            {"devices", std::int64_t{w.device_count}}};
}

Record device_record(const store::Device& d) {
    return {{"hostname", d.hostname},
            {"device_type", d.device_type},
            {"state", std::string(proto::display(d.state))},
            {"health", std::string(proto::display(d.health))},
            {"worker", optional_value(d.worker)},
            {"description", optional_value(d.description)},
            {"tags", d.tags},
            {"physical_owner", optional_value(d.physical_owner)},
            {"physical_group", optional_value(d.physical_group)},
            {"owner", optional_value(d.owner)},
            {"group", optional_value(d.group)},
            {"current_job", optional_value(d.current_job)}};
}

// Hostnames of the devices that `filter` selects.
std::vector<std::string> hostnames(db::Tx& tx, const store::DeviceFilter& filter) {
    std::vector<std::string> out;
    for (const auto& d : store::DeviceRepository(tx).list(filter)) out.push_back(d.hostname);
    return out;
}

// A table of some fields of several records.
Table project(const std::vector<Record>& records, const std::vector<std::string>& columns) {
    Table t{columns, {}};
    for (const auto& r : records) {
        auto& row = t.rows.emplace_back();
        for (const auto& c : columns) {
            auto it = std::find_if(r.begin(), r.end(), [&](const auto& kv) { return kv.first == c; });
            row.push_back(it == r.end() ? Value(nullptr) : it->second);
        }
    }
    return t;
}

}  // namespace

// ------------------------------------------------------------------ the command line

class Commands::Impl {
public:
    explicit Impl(CLI::App* manage) : manage_(manage) {
        manage_->require_subcommand(1);
        manage_->fallthrough();
        add_migrate();
        add_status();
        add_users();
        add_groups();
        add_tokens();
        add_device_types();
        add_workers();
        add_devices();
        add_tags();
        add_device_tags();
        add_aliases();
        add_checks();
        add_device_dictionary();
        add_jobs();
        add_check();
    }

    bool selected() const { return static_cast<bool>(action_); }

    int run(const db::DbSettings& settings, const LabSettings& lab, std::ostream& out, std::ostream& err) {
        if (!action_) return 0;
        try {
            db::Pool pool(settings.database, 1);
            if (needs_schema_) {
                auto lease = pool.acquire();
                if (auto ok = store::require_schema(lease->raw(), kProgram); !ok) {
                    err << kProgram << ": error: " << ok.error().message << "\n";
                    return 1;
                }
            }
            Context ctx{pool, out, Change{"manage:" + login_name(), reason_}, lab};
            if (auto ok = action_(ctx); !ok) {
                // An empty message: the command already said what failed.
                if (!ok.error().message.empty()) {
                    err << kProgram << ": error: " << ok.error().message << "\n";
                }
                return 1;
            }
            return 0;
        } catch (const pqxx::broken_connection& e) {
            err << kProgram << ": error: cannot connect to PostgreSQL: " << db::first_line(e.what())
                << "\n";
        } catch (const pqxx::sql_error& e) {
            err << kProgram << ": error: database error: " << db::first_line(e.what()) << "\n";
        } catch (const std::exception& e) {
            err << kProgram << ": error: " << db::first_line(e.what()) << "\n";
        }
        return 1;
    }

private:
    // Registers a leaf command whose action runs after parsing.
    CLI::App* command(CLI::App* parent, const std::string& name, const std::string& help) {
        return parent->add_subcommand(name, help);
    }
    template <class Opts>
    // needs_schema=false: the command works without a migrated database (the
    // pool connects only if the action uses it).
    void on_run(CLI::App* sub, std::shared_ptr<Opts> opts,
                std::function<Result<void>(Context&, Opts&)> fn, bool needs_schema = true) {
        sub->callback([this, opts, fn = std::move(fn), needs_schema] {
            needs_schema_ = needs_schema;
            action_ = [opts, fn](Context& ctx) { return fn(ctx, *opts); };
        });
    }
    CLI::App* group(const std::string& name, const std::string& help) {
        auto* g = manage_->add_subcommand(name, help);
        g->require_subcommand(1);
        return g;
    }
    void add_reason(CLI::App* sub) {
        sub->add_option("--reason", reason_, "Why; recorded in the device/worker history");
    }

    // -------------------------------------------------------------- migrate, status
    void add_migrate() {
        struct Opts {};
        auto opts = std::make_shared<Opts>();
        auto* sub = command(manage_, "migrate", "Create or upgrade the database schema");
        on_run<Opts>(sub, opts, [](Context& ctx, Opts&) -> Result<void> {
            auto lease = ctx.pool.acquire();
            auto outcome = db::migrate(lease->raw(), store::migrations());
            if (!outcome) return outcome.error();
            if (outcome->applied.empty()) {
                ctx.out << "Database schema is at version " << outcome->to
                        << "; no migrations to apply.\n";
                return {};
            }
            for (int v : outcome->applied) {
                const auto& m = store::migrations()[static_cast<std::size_t>(v - 1)];
                ctx.out << "Applied migration " << fmt::format("{:04d}", v) << " (" << m.name
                        << ")\n";
            }
            ctx.out << "Database schema is at version " << outcome->to << ".\n";
            return {};
        }, /*needs_schema=*/false);
    }

    void add_status() {
        struct Opts { FormatFlags format; };
        auto opts = std::make_shared<Opts>();
        auto* sub = command(manage_, "status", "Summarise the lab: schema, workers, devices, jobs");
        add_format_flags(sub, opts->format, false);
        on_run<Opts>(sub, opts, [](Context& ctx, Opts& o) -> Result<void> {
            return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                const auto s = store::lab_status(tx);
                auto counts = [](const std::map<std::string, long>& m, auto names) {
                    std::string out;
                    for (auto n : names) {
                        out += (out.empty() ? "" : ", ") + std::string(n) + " " +
                               std::to_string(m.at(std::string(n)));
                    }
                    return out;
                };
                auto total = [](const std::map<std::string, long>& m) {
                    long n = 0;
                    for (const auto& [k, v] : m) n += v;
                    return static_cast<std::int64_t>(n);
                };
                Record r{{"database", s.database},
                         {"postgresql", s.server_version},
                         {"schema_version", std::int64_t{s.schema_version}},
                         {"users", std::int64_t{s.users}},
                         {"device_types", std::int64_t{s.device_types}},
                         {"workers", total(s.workers_by_state)},
                         {"workers_state", counts(s.workers_by_state, proto::kWorkerStateNames)},
                         {"workers_health", counts(s.workers_by_health, proto::kWorkerHealthNames)},
                         {"devices", total(s.devices_by_health)},
                         {"devices_state", counts(s.devices_by_state, proto::kDeviceStateNames)},
                         {"devices_health", counts(s.devices_by_health, proto::kDeviceHealthNames)},
                         {"jobs", total(s.jobs_by_state)},
                         {"jobs_state", counts(s.jobs_by_state, proto::kJobStateNames)}};
                print(ctx.out, r, o.format.format());
                return {};
            });
        });
    }

    // -------------------------------------------------------------- users, groups, tokens
    void add_users() {
        auto* users = group("users", "Manage users");
        {
            struct Opts {
                std::string username;
                std::string email;
                std::optional<std::string> passwd;
                bool staff = false;
                bool superuser = false;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(users, "add", "Add a user");
            sub->add_option("username", o->username, "Username of the user")->required();
            sub->add_option("--email", o->email, "Email of the user");
            sub->add_option("--passwd", o->passwd,
                            "Password for this user; if absent, a random one is generated and "
                            "printed");
            sub->add_flag("--staff", o->staff, "Make this user a staff member");
            sub->add_flag("--superuser", o->superuser, "Make this user a superuser");
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                const std::string password =
                    opts.passwd ? *opts.passwd : common::crypto::random_string(16);
                store::NewUser nu{opts.username, opts.email,
                                  common::crypto::make_password(password), opts.staff,
                                  opts.superuser};
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto u = store::UserRepository(tx).create(nu);
                    if (!u) return u.error();
                    if (!opts.passwd) ctx.out << password << "\n";
                    return {};
                });
            });
        }
        {
            struct Opts {
                std::string username;
                std::optional<std::string> email;
                std::optional<std::string> passwd;
                Switch active, staff, superuser;
                std::vector<std::string> groups;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(users, "update", "Update an existing user");
            sub->add_option("username", o->username, "Username of the user")->required();
            sub->add_option("--email", o->email, "Change the email of the user");
            sub->add_option("--passwd", o->passwd, "Change the password of the user");
            add_switch(sub, o->active, "--active", "--not-active", "Make this user active",
                       "Make this user inactive");
            add_switch(sub, o->staff, "--staff", "--not-staff", "Make this user a staff member",
                       "Make this user no longer a staff member");
            add_switch(sub, o->superuser, "--superuser", "--not-superuser",
                       "Make this user a superuser", "Make this user no longer a superuser");
            sub->add_option("--group", o->groups, "Add the user to this existing group (repeatable)");
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                store::UserUpdate u;
                u.email = opts.email;
                if (opts.passwd) u.password_hash = common::crypto::make_password(*opts.passwd);
                u.is_active = opts.active.value();
                u.is_staff = opts.staff.value();
                u.is_superuser = opts.superuser.value();
                u.add_groups = opts.groups;
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::UserRepository(tx).update(opts.username, u));
                });
            });
        }
        {
            struct Opts { std::string username; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(users, "details", "Show a user");
            sub->add_option("username", o->username, "Username of the user")->required();
            add_format_flags(sub, o->format, false);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto u = store::UserRepository(tx).get(opts.username);
                    if (!u) return u.error();
                    print(ctx.out, user_record(*u), opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts { bool all = false; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(users, "list", "List users");
            sub->add_flag("--all", o->all, "Include inactive users");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    std::vector<Record> records;
                    for (const auto& u : store::UserRepository(tx).list(opts.all)) {
                        records.push_back(user_record(u));
                    }
                    print(ctx.out,
                          project(records, {"username", "full_name", "email", "is_active",
                                            "is_staff", "is_superuser", "groups"}),
                          opts.format.format());
                    return {};
                });
            });
        }
    }

    void add_groups() {
        auto* groups = group("groups", "Manage groups");
        {
            struct Opts { std::string name; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(groups, "add", "Add a group");
            sub->add_option("name", o->name, "Name of the group")->required();
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::GroupRepository(tx).create(opts.name));
                });
            });
        }
        {
            struct Opts { FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(groups, "list", "List groups and their members");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    Table t{{"name", "members"}, {}};
                    for (const auto& g : store::GroupRepository(tx).list()) {
                        t.rows.push_back({g.name, g.members});
                    }
                    print(ctx.out, t, opts.format.format());
                    return {};
                });
            });
        }
    }

    void add_tokens() {
        auto* tokens = group("tokens", "Manage API tokens");
        {
            struct Opts {
                std::string user;
                std::string description;
                std::optional<std::string> secret;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(tokens, "add", "Create a token and print its secret");
            sub->add_option("--user,-u", o->user, "The token owner")->required();
            sub->add_option("--description,-d", o->description, "The token description");
            sub->add_option("--secret", o->secret, "The token to import");
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto t = store::TokenRepository(tx).create(opts.user, opts.description,
                                                               opts.secret);
                    if (!t) return t.error();
                    ctx.out << t->secret << "\n";
                    return {};
                });
            });
        }
        {
            struct Opts { std::string user; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(tokens, "list", "List the tokens of a user");
            sub->add_option("--user,-u", o->user, "The tokens owner")->required();
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto list = store::TokenRepository(tx).list(opts.user);
                    if (!list) return list.error();
                    // Only a prefix: the secret was shown once, at creation.
                    Table t{{"id", "prefix", "description", "created_on", "last_used_on"}, {}};
                    for (const auto& tok : *list) {
                        t.rows.push_back({tok.id, tok.prefix, tok.description, tok.created_on,
                                          optional_value(tok.last_used_on)});
                    }
                    print(ctx.out, t, opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts {
                std::string token;
                std::string user;
                std::int64_t id = 0;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(tokens, "rm", "Remove a token, by its secret or by user and id (tokens list)");
            auto* secret = sub->add_option("token", o->token, "The secret of the token to remove");
            auto* id = sub->add_option("--id", o->id, "The id of the token to remove (with --user)");
            auto* user = sub->add_option("--user,-u", o->user, "The owner of the token --id names");
            id->needs(user)->excludes(secret);
            user->needs(id);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                if (opts.token.empty() && opts.user.empty()) {
                    return make_error(errc::kInvalidArgument, "give the token's secret, or --user and --id");
                }
                return in_tx(ctx, [&](db::Tx& tx) {
                    store::TokenRepository repo(tx);
                    return opts.user.empty() ? repo.remove(opts.token) : repo.remove(opts.user, opts.id);
                });
            });
        }
    }

    // -------------------------------------------------------------- device types, aliases, tags
    void add_device_types() {
        auto* types = group("device-types", "Manage device types");
        {
            struct Opts {
                std::string name;
                std::string alias;
                std::optional<std::string> description;
                int health_frequency = 24;
                std::string health_denominator = "hours";
                bool disable_health_check = false;
                bool hidden = false;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(types, "add", "Add a device type");
            sub->add_option("device-type", o->name, "The device type name")->required();
            sub->add_option("--alias", o->alias, "Name of an alias for this device type");
            sub->add_option("--description", o->description, "Description");
            sub->add_option("--health-frequency", o->health_frequency,
                            "How often to run health checks")
                ->capture_default_str();
            sub->add_option("--health-denominator", o->health_denominator,
                            "Run health checks every N hours or every N jobs (hours, jobs)")
                ->capture_default_str();
            sub->add_flag("--disable-health-check", o->disable_health_check,
                          "Never run health checks on devices of this type");
            sub->add_flag("--hidden", o->hidden, "Hide this type from the web UI lists");
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                auto denominator = proto::parse<proto::HealthDenominator>(opts.health_denominator);
                if (!denominator) return denominator.error();
                store::NewDeviceType dt{opts.name,
                                        opts.description,
                                        opts.health_frequency,
                                        *denominator,
                                        opts.disable_health_check,
                                        !opts.hidden};
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto created = store::DeviceTypeRepository(tx).create(dt);
                    if (!created) return created.error();
                    if (!opts.alias.empty()) {
                        auto a = store::AliasRepository(tx).create(opts.alias, opts.name);
                        if (!a) return a.error();
                    }
                    return {};
                });
            });
        }
        {
            struct Opts {
                std::string name;
                std::optional<std::string> alias;
                std::optional<std::string> description;
                std::optional<int> health_frequency;
                std::optional<std::string> health_denominator;
                Switch health_check, display;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(types, "update", "Update a device type");
            sub->add_option("device-type", o->name, "The device type name")->required();
            sub->add_option("--alias", o->alias, "Add an alias for this device type");
            sub->add_option("--description", o->description, "Description");
            sub->add_option("--health-frequency", o->health_frequency, "How often to run health checks");
            sub->add_option("--health-denominator", o->health_denominator, "hours or jobs");
            add_switch(sub, o->health_check, "--disable-health-check", "--enable-health-check",
                       "Never run health checks on devices of this type",
                       "Run health checks on devices of this type");
            add_switch(sub, o->display, "--display", "--hidden", "Show this type in the web UI",
                       "Hide this type from the web UI lists");
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                auto denominator = parse_optional<proto::HealthDenominator>(opts.health_denominator);
                if (!denominator) return denominator.error();
                store::DeviceTypeUpdate u{opts.description, opts.health_frequency, *denominator,
                                          opts.health_check.value(), opts.display.value()};
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto updated = store::DeviceTypeRepository(tx).update(opts.name, u);
                    if (!updated) return updated.error();
                    if (opts.alias) {
                        auto a = store::AliasRepository(tx).create(*opts.alias, opts.name);
                        if (!a) return a.error();
                    }
                    return {};
                });
            });
        }
        {
            struct Opts { std::string name; bool devices = false; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(types, "details", "Show a device type");
            sub->add_option("name", o->name, "Name of the device type")->required();
            sub->add_flag("--devices", o->devices, "Also list its devices");
            add_format_flags(sub, o->format, false);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto dt = store::DeviceTypeRepository(tx).get(opts.name);
                    if (!dt) return dt.error();
                    Record r = device_type_record(*dt);
                    if (opts.devices) {
                        r.emplace_back("device_list",
                                       hostnames(tx, {.include_retired = true, .device_type = dt->name}));
                    }
                    print(ctx.out, r, opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts { FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(types, "list", "List the device types");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    std::vector<Record> records;
                    for (const auto& dt : store::DeviceTypeRepository(tx).list()) {
                        records.push_back(device_type_record(dt));
                    }
                    print(ctx.out,
                          project(records, {"name", "devices", "health_frequency",
                                            "health_denominator", "health_disabled", "display",
                                            "aliases"}),
                          opts.format.format());
                    return {};
                });
            });
        }
    }

    void add_aliases() {
        auto* aliases = group("aliases", "Manage device-type aliases");
        {
            struct Opts { std::string alias; std::string device_type; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(aliases, "add", "Add an alias to an existing device type");
            sub->add_option("alias", o->alias, "Alias to add")->required();
            sub->add_option("devicetype", o->device_type, "Device type")->required();
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::AliasRepository(tx).create(opts.alias, opts.device_type));
                });
            });
        }
        {
            struct Opts { FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(aliases, "list", "List aliases");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    Table t{{"alias", "device_type"}, {}};
                    for (const auto& a : store::AliasRepository(tx).list()) {
                        t.rows.push_back({a.name, a.device_type});
                    }
                    print(ctx.out, t, opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts { std::string alias; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(aliases, "show", "Show the device type of an alias");
            sub->add_option("alias", o->alias, "Alias")->required();
            add_format_flags(sub, o->format, false);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto a = store::AliasRepository(tx).get(opts.alias);
                    if (!a) return a.error();
                    print(ctx.out, Record{{"alias", a->name}, {"device_type", a->device_type}},
                          opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts { std::string alias; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(aliases, "remove", "Remove an alias");
            sub->add_option("alias", o->alias, "Alias")->required();
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) { return store::AliasRepository(tx).remove(opts.alias); });
            });
        }
    }

    static void print_tags(Context& ctx, db::Tx& tx, Format format) {
        Table t{{"name", "description"}, {}};
        for (const auto& tag : store::TagRepository(tx).list()) {
            t.rows.push_back({tag.name, optional_value(tag.description)});
        }
        print(ctx.out, t, format);
    }

    void add_tags() {
        auto* tags = group("tags", "Manage device tags");
        {
            struct Opts { std::string name; std::optional<std::string> description; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(tags, "add", "Create a tag");
            sub->add_option("name", o->name, "Name of the tag")->required();
            sub->add_option("--description", o->description, "Description of the tag");
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::TagRepository(tx).create(opts.name, opts.description));
                });
            });
        }
        {
            struct Opts { FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(tags, "list", "List tags");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    print_tags(ctx, tx, opts.format.format());
                    return {};
                });
            });
        }
    }

    // LAVA's `device-tags` command, kept for scripts written against LAVA.
    void add_device_tags() {
        auto* dtags = group("device-tags", "Manage the tags of devices (LAVA's command)");
        {
            struct Opts { std::string name; std::optional<std::string> description; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(dtags, "create", "Create a new device tag");
            sub->add_option("name", o->name, "Name of the new tag")->required();
            sub->add_option("description", o->description, "Description of the new tag")->required();
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::TagRepository(tx).create(opts.name, opts.description));
                });
            });
        }
        {
            struct Opts { FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(dtags, "list", "List all device tags");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    print_tags(ctx, tx, opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts { std::string hostname; std::vector<std::string> tags; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(dtags, "add", "Add existing tags to a device");
            sub->add_option("hostname", o->hostname, "Hostname of the device")->required();
            sub->add_option("--tags", o->tags, "Tags to add")->required();
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) {
                    return store::DeviceRepository(tx).add_tags(opts.hostname, opts.tags);
                });
            });
        }
        {
            struct Opts { std::string hostname; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(dtags, "show", "Show the tags of a device");
            sub->add_option("hostname", o->hostname, "Hostname of the device")->required();
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto d = store::DeviceRepository(tx).get(opts.hostname);
                    if (!d) return d.error();
                    Table t{{"name", "description"}, {}};
                    store::TagRepository tags(tx);
                    for (const auto& name : d->tags) {
                        auto tag = tags.get(name);
                        if (!tag) return tag.error();
                        t.rows.push_back({tag->name, optional_value(tag->description)});
                    }
                    print(ctx.out, t, opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts { std::string hostname; std::vector<std::string> tags; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(dtags, "remove", "Remove tags from a device");
            sub->add_option("hostname", o->hostname, "Hostname of the device")->required();
            sub->add_option("--tags", o->tags, "Tags to remove")->required();
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) {
                    return store::DeviceRepository(tx).remove_tags(opts.hostname, opts.tags);
                });
            });
        }
    }

    // -------------------------------------------------------------- workers
    void add_workers() {
        auto* workers = group("workers", "Manage workers");
        {
            struct Opts {
                std::string hostname;
                std::optional<std::string> description;
                std::string health = "ACTIVE";
                int job_limit = 0;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(workers, "add", "Create a worker and print its token");
            sub->add_option("hostname", o->hostname, "Hostname of the worker")->required();
            sub->add_option("--description", o->description, "Worker description");
            sub->add_option("--health", o->health, "Worker health: ACTIVE, MAINTENANCE, RETIRED")
                ->capture_default_str();
            sub->add_option("--job-limit", o->job_limit, "Most jobs at once (0 = no limit)")
                ->capture_default_str();
            add_reason(sub);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                auto health = proto::parse<proto::WorkerHealth>(opts.health);
                if (!health) return health.error();
                store::NewWorker nw{opts.hostname, opts.description, *health, opts.job_limit};
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto w = store::WorkerRepository(tx).create(nw, ctx.change);
                    if (!w) return w.error();
                    ctx.out << "Token: " << w->token << "\n";
                    return {};
                });
            });
        }
        {
            struct Opts { std::string hostname; bool devices = false; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(workers, "details", "Show a worker (with its token)");
            sub->add_option("hostname", o->hostname, "Hostname of the worker")->required();
            sub->add_flag("--devices", o->devices, "Also list its devices");
            add_format_flags(sub, o->format, false);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    auto w = store::WorkerRepository(tx).get(opts.hostname);
                    if (!w) return w.error();
                    Record r = worker_record(*w);
                    if (opts.devices) {
                        r.emplace_back("device_list",
                                       hostnames(tx, {.include_retired = true, .worker = w->hostname}));
                    }
                    print(ctx.out, r, opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts { bool all = false; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(workers, "list", "List the workers");
            sub->add_flag("--all", o->all, "Include retired workers");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    std::vector<Record> records;
                    for (const auto& w : store::WorkerRepository(tx).list(opts.all)) {
                        records.push_back(worker_record(w));
                    }
                    print(ctx.out,
                          project(records, {"hostname", "state", "health", "devices", "job_limit",
                                            "version", "last_ping", "description"}),
                          opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts {
                std::string hostname;
                std::optional<std::string> description;
                std::optional<std::string> health;
                std::optional<int> job_limit;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(workers, "update", "Update worker properties");
            sub->add_option("hostname", o->hostname, "Hostname of the worker")->required();
            sub->add_option("--description", o->description, "Worker description");
            sub->add_option("--health", o->health, "Worker health: ACTIVE, MAINTENANCE, RETIRED");
            sub->add_option("--job-limit", o->job_limit, "Most jobs at once (0 = no limit)");
            add_reason(sub);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                auto health = parse_optional<proto::WorkerHealth>(opts.health);
                if (!health) return health.error();
                store::WorkerUpdate u{opts.description, *health, opts.job_limit};
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::WorkerRepository(tx).update(opts.hostname, u, ctx.change));
                });
            });
        }
    }

    // -------------------------------------------------------------- devices
    static void add_ownership(CLI::App* sub, store::Ownership& o) {
        auto* pu = sub->add_option("--physical-user", o.physical_user,
                                   "User with physical access to the device");
        sub->add_option("--physical-group", o.physical_group,
                        "Group with physical access to the device")
            ->excludes(pu);
        auto* ow = sub->add_option("--owner", o.owner, "User who owns the device");
        sub->add_option("--group", o.group, "Group that owns the device")->excludes(ow);
    }

    void add_devices() {
        auto* devices = group("devices", "Manage devices");
        {
            struct Opts {
                std::string hostname;
                std::string device_type;
                std::string worker;
                std::optional<std::string> description;
                bool offline = false;
                std::vector<std::string> tags;
                store::Ownership ownership;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(devices, "add", "Add a device");
            sub->add_option("hostname", o->hostname, "Hostname of the device")->required();
            sub->add_option("--device-type", o->device_type, "Device type")->required();
            sub->add_option("--worker", o->worker, "The name of the worker")->required();
            sub->add_option("--description", o->description, "Device description");
            sub->add_flag("--offline", o->offline,
                          "Create the device in Maintenance (Good by default)");
            sub->add_option("--tags", o->tags, "Tags of the device (created when missing)");
            add_ownership(sub, o->ownership);
            add_reason(sub);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                store::NewDevice nd{opts.hostname,
                                    opts.device_type,
                                    opts.worker,
                                    opts.description,
                                    opts.offline ? proto::DeviceHealth::kMaintenance
                                                 : proto::DeviceHealth::kGood,
                                    opts.tags,
                                    opts.ownership};
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::DeviceRepository(tx).create(nd, ctx.change));
                });
            });
        }
        {
            struct Opts { std::string hostname; bool history = false; FormatFlags format; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(devices, "details", "Show a device");
            sub->add_option("hostname", o->hostname, "Hostname of the device")->required();
            sub->add_flag("--history", o->history, "Print its state and health history instead");
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    store::DeviceRepository repo(tx);
                    auto d = repo.get(opts.hostname);
                    if (!d) return d.error();
                    if (!opts.history) {
                        print(ctx.out, device_record(*d), opts.format.format());
                        return {};
                    }
                    Table t{{"changed_at", "actor", "state", "health", "reason"}, {}};
                    for (const auto& e : repo.history(opts.hostname)) {
                        t.rows.push_back({e.changed_at, e.actor,
                                          std::string(proto::display(e.new_state)),
                                          std::string(proto::display(e.new_health)), e.reason});
                    }
                    print(ctx.out, t, opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts {
                std::optional<std::string> state;
                std::optional<std::string> health;
                bool all = false;
                FormatFlags format;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(devices, "list", "List the devices");
            sub->add_option("--state", o->state, "Only devices in this state: IDLE, RESERVED, RUNNING");
            auto* all = sub->add_flag("--all", o->all, "Include retired devices");
            sub->add_option("--health", o->health,
                            "Only devices with this health: GOOD, UNKNOWN, LOOPING, BAD, "
                            "MAINTENANCE, RETIRED")
                ->excludes(all);
            add_format_flags(sub, o->format);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                auto state = parse_optional<proto::DeviceState>(opts.state);
                if (!state) return state.error();
                auto health = parse_optional<proto::DeviceHealth>(opts.health);
                if (!health) return health.error();
                return in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    std::vector<Record> records;
                    for (const auto& d : store::DeviceRepository(tx).list({*state, *health, opts.all})) {
                        records.push_back(device_record(d));
                    }
                    print(ctx.out,
                          project(records, {"hostname", "device_type", "state", "health", "worker",
                                            "tags", "current_job"}),
                          opts.format.format());
                    return {};
                });
            });
        }
        {
            struct Opts {
                std::string hostname;
                std::optional<std::string> description;
                std::optional<std::string> health;
                std::optional<std::string> worker;
                std::optional<std::string> device_type;
                std::vector<std::string> tags;
                CLI::Option* tags_option = nullptr;
                store::Ownership ownership;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(devices, "update", "Update properties of a device");
            sub->add_option("hostname", o->hostname, "Hostname of the device")->required();
            sub->add_option("--description", o->description, "Set the description");
            sub->add_option("--health", o->health,
                            "Set the health: GOOD, UNKNOWN, LOOPING, BAD, MAINTENANCE, RETIRED");
            sub->add_option("--worker", o->worker, "Move the device to this worker");
            sub->add_option("--device-type", o->device_type, "Change the device type");
            o->tags_option =
                sub->add_option("--tags", o->tags, "Replace the device's tags (none: remove all)")
                    ->expected(0, CLI::detail::expected_max_vector_size);
            add_ownership(sub, o->ownership);
            add_reason(sub);
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                auto health = parse_optional<proto::DeviceHealth>(opts.health);
                if (!health) return health.error();
                std::optional<std::vector<std::string>> tags;
                if (opts.tags_option->count() > 0) {
                    // A bare --tags (no names) reaches us as one empty name.
                    tags = opts.tags == std::vector<std::string>{""} ? std::vector<std::string>{}
                                                                      : opts.tags;
                }
                store::DeviceUpdate u{opts.description, *health, opts.worker, opts.device_type,
                                      tags, opts.ownership};
                return in_tx(ctx, [&](db::Tx& tx) {
                    return done(store::DeviceRepository(tx).update(opts.hostname, u, ctx.change));
                });
            });
        }
    }

    // -------------------------------------------------------------- file checks (no database)
    void add_checks() {
        {
            struct Opts {
                std::vector<std::string> files;
                bool lenient = false;
                std::vector<std::string> extra_context;
            };
            auto o = std::make_shared<Opts>();
            auto* sub = command(manage_, "validate-job",
                                "Validate job definitions with LAVA's schema; prints FILE: OK or "
                                "FILE: <error> lines");
            sub->add_option("files", o->files, "Job definition files")->required();
            sub->add_flag("--lenient", o->lenient,
                          "LAVA's non-strict mode: unknown keys are accepted");
            sub->add_option("--extra-context", o->extra_context,
                            "Extra allowed context variable (LAVA's EXTRA_CONTEXT_VARIABLES)");
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                if (validate_job_files(opts.files, !opts.lenient, opts.extra_context, ctx.out)) {
                    return {};
                }
                return make_error(errc::kInvalidArgument, "");
            }, /*needs_schema=*/false);
        }
        {
            struct Opts { std::vector<std::string> files; };
            auto o = std::make_shared<Opts>();
            auto* sub = command(manage_, "validate-testdef",
                                "Validate Lava-Test test definitions; prints FILE: OK or "
                                "FILE: <error> lines");
            sub->add_option("files", o->files, "Test definition files")->required();
            on_run<Opts>(sub, o, [](Context& ctx, Opts& opts) -> Result<void> {
                if (validate_testdef_files(opts.files, ctx.out)) return {};
                return make_error(errc::kInvalidArgument, "");
            }, /*needs_schema=*/false);
        }
    }

    void add_device_dictionary() {
        auto* dd = group("device-dictionary", "Device dictionaries (Jinja2) and their rendering");
        auto o = std::make_shared<RenderRequest>();
        auto* sub = command(dd, "render",
                            "Print a device dictionary rendered as Jinja2 renders it");
        sub->add_option("--dispatcher-config", o->dispatcher_config,
                        "Directory with devices/ and device-types/ (LAVA's dispatcher-config)")
            ->required();
        sub->add_option("--template-dir", o->template_dirs,
                        "Another device-type template directory, searched after device-types/");
        sub->add_option("hostname", o->hostname, "The device (devices/HOSTNAME.jinja2)")->required();
        sub->add_option("--context", o->context,
                        "A job context variable KEY=VALUE (VALUE read as YAML); repeatable");
        sub->add_flag("--yaml", o->yaml, "Print the parsed and validated configuration instead");
        on_run<RenderRequest>(sub, o, [](Context& ctx, RenderRequest& req) -> Result<void> {
            auto text = render_device_dictionary(req);
            if (!text) return text.error();
            ctx.out << *text;
            return {};
        }, /*needs_schema=*/false);
    }

    // -------------------------------------------------------------- jobs rm
    void add_jobs() {
        struct Opts {
            std::string older_than;
            std::vector<std::string> states;
            std::string submitter;
            bool dry_run = false;
            long batch = 1000;
        };
        auto opts = std::make_shared<Opts>();
        auto* jobs = group("jobs", "Maintain the jobs");
        auto* sub = command(jobs, "rm", "Remove old jobs: their rows and their job output, never an active job");
        sub->add_option("--older-than", opts->older_than,
                        "Only jobs that ended (or were submitted) longer ago than this: 90d, 12h, 30m")
            ->required();
        sub->add_option("--state", opts->states, "SUBMITTED and/or FINISHED (default: FINISHED)")
            ->check(CLI::IsMember({"SUBMITTED", "FINISHED"}, CLI::ignore_case));
        sub->add_option("--submitter", opts->submitter, "Only this user's jobs");
        sub->add_flag("--dry-run", opts->dry_run, "Say how many jobs would go; remove nothing");
        sub->add_option("--batch", opts->batch, "Jobs removed per transaction")->check(CLI::Range(1L, 100000L));
        on_run<Opts>(sub, opts, [](Context& ctx, Opts& o) -> Result<void> {
            const auto age = parse_age(o.older_than);
            if (!age) return make_error(errc::kInvalidArgument, "--older-than: '" + o.older_than + "' is not an age like 90d, 12h or 30m");
            store::RetentionFilter filter;
            filter.older_than_s = *age;
            filter.submitter = o.submitter;
            for (auto state : o.states) {
                for (auto& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                filter.states.push_back(state == "SUBMITTED" ? proto::JobState::kSubmitted : proto::JobState::kFinished);
            }
            if (filter.states.empty()) filter.states.push_back(proto::JobState::kFinished);
            long total = 0;
            auto counted = in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                total = store::count_old_jobs(tx, filter);
                return {};
            });
            if (!counted) return counted;
            if (o.dry_run) {
                ctx.out << total << " jobs would be removed (dry run)\n";
                return {};
            }
            long removed = 0;
            for (;;) {
                std::vector<store::RemovedJob> batch;
                auto ok = in_tx(ctx, [&](db::Tx& tx) -> Result<void> {
                    batch = store::remove_old_jobs(tx, filter, o.batch);
                    return {};
                });
                if (!ok) return ok;
                if (batch.empty()) break;
                // The rows are gone (committed): now their logs.
                for (const auto& job : batch) {
                    std::error_code ec;
                    std::filesystem::remove_all(store::JobOutput(ctx.lab.job_output, job.id, job.submit_time).dir(), ec);
                }
                removed += static_cast<long>(batch.size());
                ctx.out << "removed " << removed << " of " << std::max(total, removed) << " jobs (up to job "
                        << batch.back().id << ")\n" << std::flush;
            }
            ctx.out << removed << " jobs removed\n";
            return {};
        });
    }

    // -------------------------------------------------------------- check
    void add_check() {
        struct Opts {};
        auto opts = std::make_shared<Opts>();
        auto* sub = command(manage_, "check", "Check the settings, database, schema, dispatcher-config, job output and publisher");
        on_run<Opts>(
            sub, opts, [](Context& ctx, Opts&) -> Result<void> {
                if (!run_checks(ctx.pool, ctx.lab, ctx.out)) return make_error(errc::kUnavailable, "");
                return {};
            },
            false);
    }

    CLI::App* manage_ = nullptr;
    Action action_;
    bool needs_schema_ = true;
    std::string reason_;
};

Commands::Commands(CLI::App& manage) : impl_(std::make_unique<Impl>(&manage)) {}
Commands::~Commands() = default;
bool Commands::selected() const { return impl_->selected(); }
int Commands::run(const common::db::DbSettings& db, const LabSettings& lab, std::ostream& out, std::ostream& err) {
    return impl_->run(db, lab, out, err);
}

}  // namespace lava::server::manage
