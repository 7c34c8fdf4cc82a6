// /RPC2: decoding, authentication (auth.cpp), dispatch with per-call
// rollback, faults; and the system.* methods.

#include "server/web/rpc.hpp"

#include "common/base/limits.hpp"
#include "common/log/log.hpp"
#include "server/store/catalogue.hpp"
#include "server/store/devices.hpp"

#include <algorithm>

namespace lava::server::web::rpc {

namespace xmlrpc = common::xmlrpc;

void Registry::add(Method m) {
    const std::string name = m.name;
    methods_.insert_or_assign(name, std::move(m));
}

const Method* Registry::find(std::string_view name) const {
    const auto it = methods_.find(name);
    return it == methods_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names() const {
    std::vector<std::string> out;
    for (const auto& [name, _] : methods_) out.push_back(name);
    return out;
}

const Value& RpcCall::at(std::size_t i) const {
    static const Value nil;
    return i < params_.size() ? params_[i] : nil;
}

void RpcCall::bad_type(std::size_t i, std::string_view expected) const {
    const std::string arg = i < method_.args.size() ? method_.args[i] : std::to_string(i + 1);
    throw RpcFault{xmlrpc::kInvalidParams, method_.name + ": argument '" + arg + "' must be " + std::string(expected) +
                                               ", not " + std::string(at(i).type_name())};
}

std::string RpcCall::str(std::size_t i) const {
    const Value& v = at(i);
    if (v.is_string()) return v.as_string();
    if (v.is_int()) return std::to_string(v.as_int());
    bad_type(i, "str");
}

std::optional<std::string> RpcCall::opt_str(std::size_t i) const {
    if (!has(i)) return std::nullopt;
    return str(i);
}

std::int64_t RpcCall::integer(std::size_t i, std::int64_t fallback) const {
    if (!has(i)) return fallback;
    const Value& v = at(i);
    if (v.is_int()) return v.as_int();
    if (v.is_bool()) return v.as_bool() ? 1 : 0;
    if (v.is_string()) {
        const auto& s = v.as_string();
        const bool digits = !s.empty() && s.size() <= 18 &&
                            s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) == std::string::npos &&
                            s != "-";
        if (digits) return std::stoll(s);
    }
    bad_type(i, "int");
}

bool RpcCall::boolean(std::size_t i, bool fallback) const {
    if (!has(i)) return fallback;
    const Value& v = at(i);
    if (v.is_bool()) return v.as_bool();
    if (v.is_int()) return v.as_int() != 0;  // Python truthiness
    if (v.is_string()) return !v.as_string().empty();
    bad_type(i, "bool");
}

std::string RpcCall::job_id(std::size_t i) const {
    const Value& v = at(i);
    if (v.is_int()) return std::to_string(v.as_int());
    if (v.is_string()) return v.as_string();
    bad_type(i, "int or str");
}

void RpcCall::require_user() const {
    if (!who().authenticated()) throw RpcFault{401, "Authentication with user and token required for this API."};
}

void RpcCall::require_superuser() const {
    require_user();
    if (!who().superuser()) throw RpcFault{403, "Permission denied."};
}

std::string RpcCall::caller_name() const {
    return who().user ? who().user->username : std::string("AnonymousUser");
}

Value datetime_value(const std::optional<std::string>& iso) {
    if (!iso || iso->size() < 19) return Nil{};
    // 2026-11-30T09:21:16 -> 20261130T09:21:16
    const std::string& t = *iso;
    return DateTime{t.substr(0, 4) + t.substr(5, 2) + t.substr(8, 2) + "T" + t.substr(11, 8)};
}

Value python_time(const std::optional<std::string>& iso) {
    if (!iso || iso->size() < 19) return Nil{};
    std::string t = *iso;
    t[10] = ' ';
    if (t.size() > 7 && t.compare(t.size() - 7, 7, ".000000") == 0) t.resize(t.size() - 7);
    return t + "+00:00";
}

std::string legacy_job_status(const store::Job& job) {
    using proto::JobHealth;
    using proto::JobState;
    switch (job.state) {
        case JobState::kSubmitted:
        case JobState::kScheduling:
        case JobState::kScheduled: return "Submitted";
        case JobState::kRunning: return "Running";
        case JobState::kCanceling: return "Canceling";
        case JobState::kFinished: break;
    }
    if (job.health == JobHealth::kComplete) return "Complete";
    if (job.health == JobHealth::kUnknown || job.health == JobHealth::kIncomplete) return "Incomplete";
    return "Canceled";
}

store::Job visible_job(RpcCall& c, const std::string& display_id) {
    store::JobRepository jobs(c.tx());
    const auto id = jobs.id_of(display_id);
    if (id) {
        if (auto job = jobs.get_visible(*id, c.who().user)) return std::move(*job);
        if (jobs.get(*id)) {
            throw RpcFault{403, "Job '" + display_id + "' not available to user '" + c.caller_name() + "'."};
        }
    }
    throw RpcFault{404, "Job '" + display_id + "' was not found."};
}

namespace {

// Runs one method; faults come back as values of the variant.
Value invoke(Call& call, const Registry& registry, const std::string& name, const Array& params) {
    const Method* m = registry.find(name);
    if (!m) throw RpcFault{xmlrpc::kMethodNotFound, "No such method: '" + name + "'"};
    if (params.size() < m->required || params.size() > m->args.size()) {
        const auto n = m->args.size();
        std::string takes = m->required == n ? std::to_string(n)
                                             : "from " + std::to_string(m->required) + " to " + std::to_string(n);
        throw RpcFault{xmlrpc::kInvalidParams, name + "() takes " + takes + " argument" + (n == 1 ? "" : "s") +
                                                   " (" + std::to_string(params.size()) + " given)"};
    }
    RpcCall c(call, *m, params, registry);
    return m->fn(c);
}

Value fault_value(int code, const std::string& message) {
    Value v;
    v.set("faultCode", code);
    v.set("faultString", message);
    return v;
}

HttpResponse xml(std::string body) {
    HttpResponse r;
    r.content_type = "application/xml";
    r.body = std::move(body);
    return r;
}

// system.multicall: each call in a savepoint, so a fault undoes only its own writes.
Value multicall(RpcCall& c) {
    if (!c.at(0).is_array()) {
        throw RpcFault{xmlrpc::kInvalidParams, "system.multicall expected a list of methods to call"};
    }
    Array results;
    for (const auto& sub : c.at(0).as_array()) {
        const auto bad = [&](const std::string& m) { results.push_back(fault_value(xmlrpc::kInvalidParams, m)); };
        if (!sub.is_struct()) {
            bad("system.multicall expected struct");
            continue;
        }
        const Value* name = sub.find("methodName");
        const Value* params = sub.find("params");
        if (!name) {
            bad("system.multicall methodName not specified");
            continue;
        }
        if (!name->is_string()) {
            bad("system.multicall methodName must be a string");
            continue;
        }
        if (!params) {
            bad("system.multicall params not specified");
            continue;
        }
        if (!params->is_array()) {
            bad("system.multicall params must be an array");
            continue;
        }
        if (sub.as_struct().size() != 2) {
            std::vector<std::string> extra;
            for (const auto& [k, _] : sub.as_struct()) {
                if (k != "methodName" && k != "params") extra.push_back("'" + k + "'");
            }
            std::sort(extra.begin(), extra.end());
            std::string list;
            for (const auto& e : extra) list += (list.empty() ? "" : ", ") + e;
            bad("system.multicall specified additional arguments [" + list + "]");
            continue;
        }
        if (name->as_string() == "system.multicall") {
            bad("system.multicall cannot be nested");
            continue;
        }
        Call& call = c.http();
        const auto events = call.events.size();
        c.tx().savepoint();
        try {
            Value v = invoke(call, c.registry(), name->as_string(), params->as_array());
            c.tx().release_savepoint();
            results.push_back(Array{std::move(v)});
        } catch (const RpcFault& f) {
            c.tx().rollback_to_savepoint();
            call.events.resize(events);
            results.push_back(fault_value(f.code, f.message));
        }
    }
    return results;
}

// LAVA's user_can_* preamble: authenticated, and the first argument a list.
void require_list_arg(RpcCall& c, const char* what) {
    c.require_user();
    if (!c.at(0).is_array()) throw RpcFault{400, std::string(what) + " list argument must be a list"};
}

// GET /RPC2 (or an empty POST): a browser; LAVA sends it to the API help page.
HttpResponse help_redirect() { return redirect("/api/help/"); }

// The user a superuser asks about (LAVA's _switch_user), else the caller.
std::optional<store::Principal> switch_user(RpcCall& c, std::size_t i) {
    const auto username = c.opt_str(i);
    if (!username || username->empty()) return c.who().user;
    if (!c.who().superuser()) {
        throw RpcFault{401, "Permission denied for user '" + c.caller_name() + "' to query other users"};
    }
    auto p = store::UserRepository(c.tx()).principal(*username);
    if (!p) throw RpcFault{404, "Username " + *username + " not found"};
    return p;
}

// LAVA's methodHelp is the method's docstring, whose first section names the
// method and its arguments; ours is laid out the same way (optional
// arguments in brackets), followed by the method's description.
std::string method_help(const Method& m) {
    std::string args;
    for (std::size_t i = 0; i < m.args.size(); ++i) {
        if (i) args += ", ";
        args += i < m.required ? "`" + m.args[i] + "`" : "[`" + m.args[i] + "`]";
    }
    return "Name\n----\n`" + m.name + "` (" + args + ")\n\nDescription\n-----------\n" + m.help + "\n";
}

}  // namespace

void add_system_methods(Registry& r) {
    r.add({"system.listMethods", {}, 0, "Lists the methods this server implements.", [](RpcCall& c) {
               Array out;
               for (const auto& n : c.registry().names()) out.push_back(n);
               return Value(std::move(out));
           }});
    r.add({"system.methodHelp", {"method_name"}, 1,
           "The documentation of a method, as text (empty when unknown): its name and arguments, then what it "
           "does.",
           [](RpcCall& c) {
               const Method* m = c.registry().find(c.str(0));
               return Value(m ? method_help(*m) : std::string());
           }, {"str", "str"}});
    r.add({"system.methodSignature", {"method_name"}, 1,
           "The signature of a method: its return type then its argument types, as one list; \"undef\" when it "
           "declares none (as LAVA, for every method but system.methodHelp and system.multicall).",
           [](RpcCall& c) {
               const Method* m = c.registry().find(c.str(0));
               if (!m) return Value("");
               if (m->signature.empty()) return Value("undef");
               Array sig;
               for (const auto& t : m->signature) sig.push_back(t);
               return Value(std::move(sig));
           }});
    r.add({"system.multicall", {"calls"}, 1,
           "Runs several calls in one request: a list of {methodName, params} structs. Each result is a "
           "one-element list holding the return value, or a fault struct; a failing call does not stop "
           "the others, and its changes alone are undone.",
           multicall, {"array", "array"}});
    r.add({"system.getCapabilities", {}, 0, "The XML-RPC specifications this server follows.", [](RpcCall&) {
               Value v;
               v.set("introspect", Value().set("specUrl", "http://xmlrpc-c.sourceforge.net/xmlrpc-c/introspection.html")
                                       .set("specVersion", 1));
               v.set("faults_interop",
                     Value().set("specUrl", "http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php")
                         .set("specVersion", 20010516));
               v.set("auth_token",
                     Value()
                         .set("specUrl", "https://blueprints.launchpad.net/linaro-django-xmlrpc/+spec/"
                                         "other-o-linaro-xml-rpc-auth-tokens")
                         .set("specVersion", 20110516));
               return v;
           }});
    r.add({"system.whoami", {}, 0, "The name of the authenticated user, or nil when anonymous.", [](RpcCall& c) {
               return c.who().user ? Value(c.who().user->username) : Value();
           }});
    r.add({"system.version", {}, 0, "The LAVA version this server speaks: \"2023.01\".",
           [](RpcCall&) { return Value(LAVA_PROTOCOL_VERSION); }});
    r.add({"system.api_version", {}, 0, "The version of this XML-RPC API's arguments: 2.",
           [](RpcCall&) { return Value(2); }});
    r.add({"system.master_config", {}, 0,
           "Settings clients need: EVENT_TOPIC, EVENT_SOCKET, EVENT_NOTIFICATION, LOG_SIZE_LIMIT (MB).",
           [](RpcCall& c) {
               Value v;
               v.set("EVENT_TOPIC", c.http().app.settings().web.event_topic);
               v.set("EVENT_SOCKET", c.http().app.settings().web.publisher_url);
               v.set("EVENT_NOTIFICATION", true);
               v.set("LOG_SIZE_LIMIT", 10);
               return v;
           }});
    r.add({"system.user_can_view_bundles", {"bundle_list", "username"}, 1,
           "Bundles are gone from LAVA: always false.", [](RpcCall&) { return Value(false); }});
    r.add({"system.set_user_groups", {"user", "groups"}, 2,
           "Makes the groups of the user with that email address exactly `groups` (names that are no group "
           "are skipped). Staff only.",
           [](RpcCall& c) {
               c.require_user();
               if (!c.who().user->is_staff && !c.who().superuser()) throw RpcFault{403, "forbidden"};
               if (!c.at(1).is_array()) throw RpcFault{400, "groups must be a list"};
               std::vector<std::string> groups;
               for (const auto& g : c.at(1).as_array()) {
                   if (g.is_string()) groups.push_back(g.as_string());
               }
               auto set = store::UserRepository(c.tx()).set_groups_by_email(c.str(0), groups);
               if (!set) throw RpcFault{400, "please use an existing user"};
               return Value();
           }});
    r.add({"system.user_can_view_jobs", {"job_list", "username"}, 1,
           "For each job id of the list that exists: whether the user (the caller, or `username` when a "
           "superuser asks) may view it. Returns {\"<id>\": bool}.",
           [](RpcCall& c) {
               require_list_arg(c, "job");
               const auto viewer = switch_user(c, 1);
               store::JobRepository jobs(c.tx());
               Value out = Struct{};
               for (const auto& item : c.at(0).as_array()) {
                   const std::string text = item.is_int() ? std::to_string(item.as_int())
                                                          : item.is_string() ? item.as_string() : "";
                   const auto id = jobs.id_of(text);
                   if (!id || !jobs.get(*id)) continue;
                   out.set(text, jobs.get_visible(*id, viewer).has_value());
               }
               return out;
           }});
    r.add({"system.user_can_view_devices", {"device_list", "username"}, 1,
           "For each hostname of the list that exists, grouped by device type: whether the user may view it. "
           "Returns {type: [{hostname: {visible, is_pipeline, exclusive}}]}.",
           [](RpcCall& c) {
               require_list_arg(c, "device");
               const auto viewer = switch_user(c, 1);
               store::DeviceRepository devices(c.tx());
               const auto visible = devices.visible(viewer);
               Value out = Struct{};
               for (const auto& item : c.at(0).as_array()) {
                   if (!item.is_string()) continue;
                   const auto device = devices.get(item.as_string());
                   if (!device) continue;
                   const bool can = std::find(visible.begin(), visible.end(), device->hostname) != visible.end();
                   Value detail;
                   if (can) detail.set("is_pipeline", true);
                   detail.set("visible", can);
                   if (can) detail.set("exclusive", true);
                   Value entry = Value().set(device->hostname, std::move(detail));
                   if (!out.find(device->device_type)) out.set(device->device_type, Array{});
                   for (auto& [k, v] : out.as_struct()) {
                       if (k == device->device_type) v.as_array().push_back(entry);
                   }
               }
               return out;
           }});
    r.add({"system.user_can_submit_to_types", {"type_list", "username"}, 1,
           "For each device type of the list that exists: whether the user may submit jobs to it.",
           [](RpcCall& c) {
               require_list_arg(c, "type");
               const auto user = switch_user(c, 1);
               store::DeviceTypeRepository types(c.tx());
               Value out = Struct{};
               for (const auto& item : c.at(0).as_array()) {
                   if (!item.is_string()) continue;
                   if (!types.get(item.as_string())) continue;
                   out.set(item.as_string(), types.can_submit(item.as_string(), user));
               }
               return out;
           }});
}

const Registry& methods() {
    static const Registry registry = [] {
        Registry r;
        add_system_methods(r);
        add_job_methods(r);
        add_lab_methods(r);
        add_result_methods(r);
        return r;
    }();
    return registry;
}

}  // namespace lava::server::web::rpc

namespace lava::server::web {

void add_xmlrpc_routes(App& app) {
    const rpc::Registry* registry = &rpc::methods();
    auto handle = [registry](Call& call) {
        namespace xmlrpc = common::xmlrpc;
        if (call.request.body.empty()) return rpc::help_redirect();
        auto parsed = xmlrpc::parse_call(
            call.request.body, xmlrpc::Limits{static_cast<std::size_t>(input_limits().xmlrpc_max_depth)});
        if (auto* fault = std::get_if<xmlrpc::Fault>(&parsed)) return rpc::xml(xmlrpc::write_fault(*fault));
        const auto& mc = std::get<xmlrpc::MethodCall>(parsed);
        try {
            return rpc::xml(xmlrpc::write_response(rpc::invoke(call, *registry, mc.method, mc.params)));
        } catch (const rpc::RpcFault& f) {
            call.discard_changes = true;
            call.events.clear();
            return rpc::xml(xmlrpc::write_fault({f.code, f.message}));
        } catch (const pqxx::broken_connection&) {
            throw;  // 503 from the App: the client should retry
        } catch (const std::exception& e) {
            // A bug or a database error: the client gets a fault, the log the details.
            common::log::get("http")->error("request {}: {} failed: {}", call.request.id, mc.method, e.what());
            call.discard_changes = true;
            call.events.clear();
            return rpc::xml(xmlrpc::write_fault(
                {xmlrpc::kInternalError, "Internal Server Error (contact server administrator for details)"}));
        }
    };
    for (const char* path : {"/RPC2", "/RPC2/"}) {
        app.route("POST", path, handle, Access::kAnyone, Credentials::kXmlRpc);
        app.route("GET", path, [](Call&) { return rpc::help_redirect(); }, Access::kAnyone, Credentials::kNone);
    }
}

}  // namespace lava::server::web
