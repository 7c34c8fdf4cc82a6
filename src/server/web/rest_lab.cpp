// REST v0.2 for the lab's catalogue (lava-protocols.md §4.2): devices (+
// dictionary, set_health, validate), devicetypes (+ template, health_check),
// workers (+ env, config, set_health), aliases, tags, and the group
// permissions on device types and devices. Shapes, permissions and error
// texts are LAVA's; visibility follows each object's view rule.

#include "common/proto/json.hpp"
#include "server/store/catalogue.hpp"
#include "server/store/devices.hpp"
#include "server/store/permissions.hpp"
#include "server/store/workers.hpp"
#include "server/web/app.hpp"
#include "server/web/jobs_service.hpp"
#include "server/web/json.hpp"
#include "server/web/json_filter.hpp"
#include "server/web/lab_service.hpp"

#include <nlohmann/json.hpp>


namespace lava::server::web {
namespace {

using nlohmann::json;

const std::string kApi = "/api/v0.2/";
const std::string kNoPermission = "Insufficient permissions. Please contact system administrator.";

template <class T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json();
}

std::vector<std::string> names_of(auto const& array) {
    std::vector<std::string> out;
    for (auto n : array) out.emplace_back(n);
    return out;
}

// A filtered, ordered, paginated listing of serialized objects.
HttpResponse listing(Call& call, const json& items, const FilterSpec& spec = {}) {
    auto filtered = filter_objects(items, call.query_params(), spec);
    if (!filtered) {
        const auto& m = filtered.error().message;
        const auto nl = m.find('\n');
        return json_response(400, {{m.substr(0, nl), {m.substr(nl + 1)}}});
    }
    order_objects(*filtered, call.query("ordering").value_or(""));
    const Page page = limit_offset(call);
    const long count = static_cast<long>(filtered->size());
    json results = json::array();
    for (long i = page.offset; i < count && i < page.offset + page.limit; ++i) results.push_back((*filtered)[i]);
    return json_response(200, paginated(call, page, count, std::move(results)));
}

// A "param\nmessage" store error as DRF's {"param": ["message"]}; others as {"detail": ...}.
HttpResponse field_error(const Error& e) {
    const auto nl = e.message.find('\n');
    if (nl == std::string::npos) return rest_detail(400, e.message);
    return json_response(400, {{e.message.substr(0, nl), {e.message.substr(nl + 1)}}});
}

HttpResponse no_content() {
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    return r;
}

// ------------------------------------------------------------ devices

json device_json(const store::Device& d) {
    return {{"hostname", d.hostname},
            {"device_type", d.device_type},
            {"device_version", opt(d.device_version)},
            {"physical_owner", opt(d.physical_owner_id)},
            {"physical_group", opt(d.physical_group_id)},
            {"description", opt(d.description)},
            {"tags", d.tag_ids},
            {"state", std::string(proto::display(d.state))},
            {"health", std::string(proto::display(d.health))},
            {"last_health_report_job", opt(d.last_health_report_job)},
            {"worker_host", opt(d.worker)},
            {"is_synced", d.is_synced}};
}

FilterSpec device_filters() {
    FilterSpec spec;
    spec.choices["state"] = names_of(proto::kDeviceStateNames);
    spec.choices["health"] = names_of(proto::kDeviceHealthNames);
    return spec;
}

bool all_param(const Call& call) {
    const auto all = call.query("all");
    return all && !all->empty();
}

// The device in the path, if the caller may see it (Retired ones only with ?all).
std::optional<store::Device> path_device(Call& call) {
    auto d = visible_device(call, call.params.at("hostname"));
    if (!d || (d->health == proto::DeviceHealth::kRetired && !all_param(call))) return std::nullopt;
    return d;
}

HttpResponse list_devices(Call& call) {
    json items = json::array();
    for (const auto& d : visible_devices(call, all_param(call))) items.push_back(device_json(d));
    return listing(call, items, device_filters());
}

// The `tags` field: tag ids (a JSON list, or repeated form fields) as names.
Result<std::optional<std::vector<std::string>>> tag_names(Call& call) {
    std::vector<std::string> ids;
    bool given = false;
    if (call.request.header("content-type").find("application/json") != std::string_view::npos) {
        const auto body = proto::parse_json(call.request.body);
        if (body.is_object() && body.contains("tags")) {
            given = true;
            if (!body["tags"].is_array()) return make_error(errc::kInvalidArgument, "tags\nExpected a list of items.");
            for (const auto& t : body["tags"]) ids.push_back(t.is_string() ? t.get<std::string>() : t.dump());
        }
    } else {
        for (const auto& [k, v] : call.form()) {
            if (k == "tags") {
                given = true;
                if (!v.empty()) ids.push_back(v);
            }
        }
    }
    if (!given) return std::optional<std::vector<std::string>>{};
    std::map<std::string, std::string> by_id;
    for (const auto& t : store::TagRepository(call.tx).list()) by_id[std::to_string(t.id)] = t.name;
    std::vector<std::string> names;
    for (const auto& id : ids) {
        auto it = by_id.find(id);
        if (it == by_id.end()) {
            return make_error(errc::kInvalidArgument, "tags\nInvalid pk \"" + id + "\" - object does not exist.");
        }
        names.push_back(it->second);
    }
    return std::optional<std::vector<std::string>>(std::move(names));
}

// `health` as a display name ("Good"), when given.
Result<std::optional<proto::DeviceHealth>> device_health_field(Call& call) {
    const auto h = call.field("health");
    if (!h) return std::optional<proto::DeviceHealth>{};
    const auto parsed = proto::parse<proto::DeviceHealth>(*h);
    if (!parsed || proto::display(*parsed) != *h) {
        return make_error(errc::kInvalidArgument, "health\n\"" + *h + "\" is not a valid choice.");
    }
    return std::optional<proto::DeviceHealth>(*parsed);
}

HttpResponse device_create(Call& call) {
    store::NewDevice d;
    json missing = json::object();
    for (const char* f : {"hostname", "device_type"}) {
        if (!call.field(f) || call.field(f)->empty()) missing[f] = {"This field is required."};
    }
    if (!missing.empty()) return json_response(400, missing);
    d.hostname = *call.field("hostname");
    d.device_type = *call.field("device_type");
    d.worker = call.field("worker_host").value_or("");
    d.description = call.field("description");
    auto health = device_health_field(call);
    if (!health) return field_error(health.error());
    d.health = health->value_or(proto::DeviceHealth::kMaintenance);  // LAVA's default for new devices
    auto tags = tag_names(call);
    if (!tags) return field_error(tags.error());
    if (*tags) d.tags = **tags;
    auto created = create_device(call, d, "REST");
    if (!created) return rest_detail(400, created.error().message);
    return json_response(201, device_json(*created));
}

HttpResponse device_update(Call& call) {
    const auto& hostname = call.params.at("hostname");
    store::DeviceUpdate u;
    u.description = call.field("description");
    u.device_type = call.field("device_type");
    u.worker = call.field("worker_host");
    auto health = device_health_field(call);
    if (!health) return field_error(health.error());
    u.health = *health;
    auto tags = tag_names(call);
    if (!tags) return field_error(tags.error());
    u.tags = *tags;
    auto updated = update_device(call, hostname, u, "");
    if (!updated) {
        if (updated.error().code == errc::kNotFound) return rest_detail(404, "Not found.");
        return rest_detail(400, updated.error().message);
    }
    return json_response(200, device_json(*updated));
}

HttpResponse device_dictionary_get(Call& call) {
    const auto device = path_device(call);
    if (!device) return rest_detail(404, "Not found.");
    const auto render = call.query("render");
    const bool rendered = render && !render->empty();
    auto text = device_configuration(call.app, device->hostname, rendered, call.query("context"));
    if (!text) return rest_detail(400, text.error().message);
    if (!rendered) return attachment(*text, "text/plain", device->hostname + ".jinja2");
    return attachment(*text, "application/yaml", device->hostname + ".yaml");
}

HttpResponse device_dictionary_post(Call& call) {
    const auto device = path_device(call);
    if (!device) return rest_detail(404, "Not found.");
    if (!store::DeviceRepository(call.tx).can_change(device->hostname, *call.who.user)) {
        return rest_detail(403, kNoPermission);
    }
    const auto dictionary = call.field("dictionary");
    if (!dictionary) return json_response(400, {{"dictionary", {"This field is required."}}});
    if (!write_device_dictionary(call.app, device->hostname, *dictionary)) {
        return rest_detail(400, "Error updating configuration for device '" + device->hostname + "'");
    }
    return rest_message(200, "device config successfully updated");
}

HttpResponse device_set_health(Call& call) {
    if (!call.who.superuser()) return rest_detail(403, kNoPermission);
    const auto device = path_device(call);
    if (!device) return rest_detail(404, "Not found.");
    std::string health = call.field("health").value_or("");
    for (auto& c : health) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto parsed = proto::parse<proto::DeviceHealth>(health);
    if (health.empty() || !parsed || proto::key(*parsed) != health) {
        return rest_message(400, "Wrong device health " + health);
    }
    store::DeviceUpdate update;
    update.health = *parsed;
    auto updated = update_device(call, device->hostname, update, call.field("reason").value_or(""));
    if (!updated) return rest_message(400, updated.error().message);
    return rest_message(202, "OK");
}

HttpResponse device_validate(Call& call) {
    std::string text = call.field("device").value_or(call.field("dictionary").value_or(""));
    const auto type = call.request.header("content-type");
    if (text.empty() && type.find("form") == std::string_view::npos && type.find("json") == std::string_view::npos) {
        text = call.request.body;  // text/plain: the dictionary itself
    }
    if (text.empty()) return json_response(400, {{"device", "Device dictionary is required."}});
    auto checked = call.app.devices().check_dictionary(text);
    if (!checked) return rest_message(200, "Device dictionary invalid: " + checked.error().message);
    return rest_message(200, "Device dictionary valid.");
}

// ------------------------------------------------------------ device types

json device_type_json(const store::DeviceType& t) {
    return {{"name", t.name},
            {"architecture", opt(t.architecture)},
            {"processor", opt(t.processor)},
            {"cpu_model", t.cpu_model.empty() ? json() : json(t.cpu_model)},
            {"aliases", t.aliases},
            {"bits", opt(t.bits)},
            {"cores", t.cores},
            {"core_count", opt(t.core_count)},
            {"description", opt(t.description)},
            {"health_frequency", t.health_frequency},
            {"disable_health_check", t.disable_health_check},
            {"health_denominator", std::string(proto::display(t.health_denominator))},
            {"display", t.display}};
}

HttpResponse device_type_write(Call& call, bool create) {
    store::DeviceTypeRepository types(call.tx);
    std::optional<int> frequency;
    if (const auto f = call.field("health_frequency")) {
        try {
            frequency = std::stoi(*f);
        } catch (const std::exception&) {
            return json_response(400, {{"health_frequency", {"A valid integer is required."}}});
        }
    }
    auto boolean = [&](const char* name) -> std::optional<bool> {
        const auto v = call.field(name);
        if (!v) return std::nullopt;
        return *v == "true" || *v == "True" || *v == "1";
    };
    std::optional<proto::HealthDenominator> denominator;
    if (const auto d = call.field("health_denominator")) {
        const auto parsed = proto::parse<proto::HealthDenominator>(*d);
        if (!parsed) return json_response(400, {{"health_denominator", {"\"" + *d + "\" is not a valid choice."}}});
        denominator = *parsed;
    }
    Result<store::DeviceType> result = make_error(errc::kInvalidArgument, "");
    if (create) {
        const auto name = call.field("name");
        if (!name || name->empty()) return json_response(400, {{"name", {"This field is required."}}});
        store::NewDeviceType t;
        t.name = *name;
        t.description = call.field("description");
        if (frequency) t.health_frequency = *frequency;
        if (denominator) t.health_denominator = *denominator;
        t.disable_health_check = boolean("disable_health_check").value_or(false);
        t.display = boolean("display").value_or(true);
        result = types.create(t);
    } else {
        store::DeviceTypeUpdate u;
        u.description = call.field("description");
        u.health_frequency = frequency;
        u.health_denominator = denominator;
        u.disable_health_check = boolean("disable_health_check");
        u.display = boolean("display");
        result = types.update(call.params.at("name"), u);
    }
    if (!result) {
        if (result.error().code == errc::kNotFound) return rest_detail(404, "Not found.");
        return rest_detail(400, result.error().message);
    }
    return json_response(create ? 201 : 200, device_type_json(*result));
}

std::optional<store::DeviceType> visible_type(Call& call) {
    store::DeviceTypeRepository types(call.tx);
    auto t = types.get(call.params.at("name"));
    if (!t || !types.visible_to(t->name, call.who.user)) return std::nullopt;
    return *t;
}

// GET/POST of a device type's file (template or health check).
HttpResponse type_file(Call& call, const std::string& kind) {
    const auto type = visible_type(call);
    if (!type) return rest_detail(404, "Not found.");
    const bool health = kind == "health-check";
    const TypeFile file = health ? TypeFile::kHealthCheck : TypeFile::kTemplate;
    if (call.request.method == "GET") {
        const auto text = read_type_file(call.app, type->name, file);
        if (!text) {
            return rest_detail(400, "Device-type '" + type->name + "' " + (health ? "health check" : "template") +
                                        " was not found.");
        }
        return attachment(*text, "application/yaml",
                          health ? type->name + "_health_check.yaml" : type->name + ".jinja2");
    }
    if (!call.who.superuser()) return rest_detail(403, kNoPermission);
    const auto content = call.field(health ? "config" : "template");
    if (!content || content->empty()) {
        return json_response(400, {{health ? "config" : "template",
                                    health ? "Health check configuration is required."
                                           : "Device type template is required."}});
    }
    if (!write_type_file(call.app, type->name, file, *content)) {
        return rest_detail(400, std::string(health ? "Unable to write health check configuration"
                                                   : "Unable to write device-type template"));
    }
    return no_content();
}

// ------------------------------------------------------------ workers

json worker_json(const store::Worker& w, bool with_token) {
    json out = {{"hostname", w.hostname},
                {"state", std::string(proto::display(w.state))},
                {"health", std::string(proto::display(w.health))},
                {"description", opt(w.description)},
                {"last_ping", drf_datetime(w.last_ping)},
                {"job_limit", w.job_limit},
                {"version", opt(w.version)}};
    if (with_token) out["token"] = w.token;
    return out;
}

// GET/POST of a worker's env.yaml or dispatcher.yaml.
HttpResponse worker_file(Call& call, const std::string& kind) {
    const auto& hostname = call.params.at("hostname");
    if (!store::WorkerRepository(call.tx).get(hostname)) return rest_detail(404, "Not found.");
    const bool env = kind == "env";
    const WorkerFile file = env ? WorkerFile::kEnv : WorkerFile::kDispatcher;
    if (call.request.method == "GET") {
        if (auto text = read_worker_file(call.app, hostname, file)) {
            return attachment(*text, "application/yaml", env ? "env.yaml" : "dispatcher.yaml");
        }
        return rest_detail(400, "Worker '" + hostname + "' does not have '" + (env ? "env" : "dispatcher") + "' file");
    }
    if (!call.who.superuser()) return rest_detail(403, kNoPermission);
    const std::string field = env ? "env" : "config";
    const auto content = call.field(field);
    if (!content) return json_response(400, {{field, {"This field is required."}}});
    const std::string filename = env ? "env.yaml" : "dispatcher.yaml";
    if (!write_worker_file(call.app, hostname, file, *content)) {
        return rest_detail(400, "Error updating '" + filename + "' for worker " + hostname);
    }
    return rest_message(200, "content successfully updated");
}

HttpResponse worker_update(Call& call, const std::string& health_field) {
    const auto& hostname = call.params.at("hostname");
    store::WorkerUpdate u;
    if (const auto h = call.field(health_field)) {
        auto parsed = proto::parse<proto::WorkerHealth>(*h);
        if (!parsed) {
            return json_response(400, {{"health", {"\"" + *h + "\" is not a valid choice."}}});
        }
        u.health = *parsed;
    }
    u.description = call.field("description");
    if (const auto limit = call.field("job_limit")) {
        try {
            u.job_limit = std::stoi(*limit);
        } catch (const std::exception&) {
            return json_response(400, {{"job_limit", {"A valid integer is required."}}});
        }
    }
    auto updated = update_worker(call, hostname, u, call.field("reason").value_or(""));
    if (!updated) {
        if (updated.error().code == errc::kNotFound) return rest_detail(404, "Not found.");
        return rest_detail(400, updated.error().message);
    }
    return json_response(200, worker_json(*updated, true));
}

// ------------------------------------------------------------ permissions

void permission_routes(App& app, const std::string& path, store::PermissionTarget target) {
    const std::string key = target == store::PermissionTarget::kDeviceType ? "devicetype" : "device";
    app.route(
        "GET", kApi + "permissions/" + path + "/",
        [target, key](Call& call) {
            json items = json::array();
            for (const auto& p : store::PermissionRepository(call.tx, target).list()) {
                items.push_back({{"id", p.id}, {"group", p.group}, {"permission", p.permission}, {key, p.target}});
            }
            return listing(call, items);
        },
        Access::kSuperuser);
    app.route(
        "POST", kApi + "permissions/" + path + "/",
        [target, key](Call& call) {
            json missing = json::object();
            for (const std::string& f : std::vector<std::string>{"group", "permission", key}) {
                if (!call.field(f)) missing[f] = {"This field is required."};
            }
            if (!missing.empty()) return json_response(400, missing);
            auto p = store::PermissionRepository(call.tx, target)
                         .create(*call.field("group"), *call.field("permission"), *call.field(key));
            if (!p) return field_error(p.error());
            return json_response(201, {{"id", p->id}, {"group", p->group}, {"permission", p->permission}, {key, p->target}});
        },
        Access::kSuperuser);
    app.route(
        "DELETE", kApi + "permissions/" + path + "/{id}/",
        [target](Call& call) {
            const auto id = id_param(call);
            if (!id || !store::PermissionRepository(call.tx, target).remove(*id)) {
                return rest_detail(404, "Not found.");
            }
            return no_content();
        },
        Access::kSuperuser);
}

}  // namespace

void add_lab_routes(App& app) {
    // devices
    app.route("GET", kApi + "devices/", list_devices);
    app.route("POST", kApi + "devices/validate/", device_validate, Access::kAnyone);
    app.route("GET", kApi + "devices/{hostname}/", [](Call& call) {
        const auto d = path_device(call);
        if (!d) return rest_detail(404, "Not found.");
        return json_response(200, device_json(*d));
    });
    app.route("POST", kApi + "devices/", device_create, Access::kSuperuser);
    for (const char* method : {"PUT", "PATCH"}) {
        app.route(method, kApi + "devices/{hostname}/", device_update, Access::kSuperuser);
        app.route(method, kApi + "devicetypes/{name}/", [](Call& call) { return device_type_write(call, false); },
                  Access::kSuperuser);
    }
    app.route(
        "DELETE", kApi + "devices/{hostname}/",
        [](Call& call) {
            auto gone = store::DeviceRepository(call.tx).remove(call.params.at("hostname"),
                                                                store::Change{call.who.user->username, "REST"});
            if (!gone) return rest_detail(404, "Not found.");
            return no_content();
        },
        Access::kSuperuser);
    app.route("POST", kApi + "devicetypes/", [](Call& call) { return device_type_write(call, true); },
              Access::kSuperuser);
    app.route(
        "DELETE", kApi + "devicetypes/{name}/",
        [](Call& call) {
            auto gone = store::DeviceTypeRepository(call.tx).remove(call.params.at("name"));
            if (!gone) {
                if (gone.error().code == errc::kNotFound) return rest_detail(404, "Not found.");
                return rest_detail(400, gone.error().message);
            }
            return no_content();
        },
        Access::kSuperuser);
    app.route("GET", kApi + "devices/{hostname}/dictionary/", device_dictionary_get);
    app.route("POST", kApi + "devices/{hostname}/dictionary/", device_dictionary_post);
    app.route("POST", kApi + "devices/{hostname}/set_health/", device_set_health);

    // device types
    app.route("GET", kApi + "devicetypes/", [](Call& call) {
        store::DeviceTypeRepository types(call.tx);
        json items = json::array();
        for (const auto& t : types.list()) {
            if (types.visible_to(t.name, call.who.user)) items.push_back(device_type_json(t));
        }
        FilterSpec spec;
        spec.choices["health_denominator"] = names_of(proto::kHealthDenominatorNames);
        return listing(call, items, spec);
    });
    app.route("GET", kApi + "devicetypes/{name}/", [](Call& call) {
        const auto t = visible_type(call);
        if (!t) return rest_detail(404, "Not found.");
        return json_response(200, device_type_json(*t));
    });
    for (const char* method : {"GET", "POST"}) {
        app.route(method, kApi + "devicetypes/{name}/template/", [](Call& call) { return type_file(call, "template"); });
        app.route(method, kApi + "devicetypes/{name}/health_check/",
                  [](Call& call) { return type_file(call, "health-check"); });
    }

    // workers
    app.route("GET", kApi + "workers/", [](Call& call) {
        json items = json::array();
        for (const auto& w : store::WorkerRepository(call.tx).list(true)) {
            items.push_back(worker_json(w, call.who.superuser()));
        }
        FilterSpec spec;
        spec.choices["state"] = names_of(proto::kWorkerStateNames);
        spec.choices["health"] = names_of(proto::kWorkerHealthNames);
        return listing(call, items, spec);
    });
    app.route("GET", kApi + "workers/{hostname}/", [](Call& call) {
        auto w = store::WorkerRepository(call.tx).get(call.params.at("hostname"));
        if (!w) return rest_detail(404, "Not found.");
        return json_response(200, worker_json(*w, call.who.superuser()));
    });
    app.route(
        "POST", kApi + "workers/",
        [](Call& call) {
            const auto hostname = call.field("hostname");
            if (!hostname || hostname->empty()) return json_response(400, {{"hostname", {"This field is required."}}});
            store::NewWorker w;
            w.hostname = *hostname;
            w.description = call.field("description");
            if (const auto h = call.field("health")) {
                const auto parsed = proto::parse<proto::WorkerHealth>(*h);
                if (!parsed) return json_response(400, {{"health", {"\"" + *h + "\" is not a valid choice."}}});
                w.health = *parsed;
            }
            if (const auto limit = call.field("job_limit")) {
                try {
                    w.job_limit = std::stoi(*limit);
                } catch (const std::exception&) {
                    return json_response(400, {{"job_limit", {"A valid integer is required."}}});
                }
            }
            auto created = store::WorkerRepository(call.tx).create(w, store::Change{call.who.user->username, "REST"});
            if (!created) {
                if (created.error().code == errc::kAlreadyExists) {
                    return json_response(400, {{"hostname", {"worker with this hostname already exists."}}});
                }
                return rest_detail(400, created.error().message);
            }
            queue_worker_event(call, w.hostname);
            return json_response(201, worker_json(*created, true));
        },
        Access::kSuperuser);
    for (const char* method : {"PUT", "PATCH"}) {
        app.route(method, kApi + "workers/{hostname}/", [](Call& call) { return worker_update(call, "health"); },
                  Access::kSuperuser);
    }
    app.route("POST", kApi + "workers/{hostname}/set_health/", [](Call& call) { return worker_update(call, "health"); },
              Access::kSuperuser);
    for (const char* method : {"GET", "POST"}) {
        app.route(method, kApi + "workers/{hostname}/env/", [](Call& call) { return worker_file(call, "env"); });
        app.route(method, kApi + "workers/{hostname}/config/", [](Call& call) { return worker_file(call, "config"); });
    }

    // aliases and tags: login required even to read (Django model permissions)
    app.route(
        "GET", kApi + "aliases/",
        [](Call& call) {
            store::DeviceTypeRepository types(call.tx);
            json items = json::array();
            for (const auto& a : store::AliasRepository(call.tx).list()) {
                auto t = types.get(a.device_type);
                if (t && t->display && types.visible_to(t->name, call.who.user)) {
                    items.push_back({{"name", a.name}, {"device_type", a.device_type}});
                }
            }
            return listing(call, items);
        },
        Access::kUser);
    app.route(
        "POST", kApi + "aliases/",
        [](Call& call) {
            const auto name = call.field("name");
            if (!name) return json_response(400, {{"name", {"This field is required."}}});
            auto a = store::AliasRepository(call.tx).create(*name, call.field("device_type").value_or(""));
            if (!a) return rest_detail(400, a.error().message);
            return json_response(201, {{"name", a->name}, {"device_type", a->device_type}});
        },
        Access::kSuperuser);
    app.route(
        "GET", kApi + "aliases/{name}/",
        [](Call& call) {
            auto a = store::AliasRepository(call.tx).get(call.params.at("name"));
            store::DeviceTypeRepository types(call.tx);
            if (!a || a->device_type.empty() || !types.visible_to(a->device_type, call.who.user)) {
                return rest_detail(404, "Not found.");
            }
            return json_response(200, {{"name", a->name}, {"device_type", a->device_type}});
        },
        Access::kUser);
    app.route(
        "DELETE", kApi + "aliases/{name}/",
        [](Call& call) {
            if (!store::AliasRepository(call.tx).remove(call.params.at("name"))) return rest_detail(404, "Not found.");
            return no_content();
        },
        Access::kSuperuser);
    app.route(
        "GET", kApi + "tags/",
        [](Call& call) {
            json items = json::array();
            for (const auto& t : store::TagRepository(call.tx).list()) {
                items.push_back({{"id", t.id}, {"name", t.name}, {"description", opt(t.description)}});
            }
            return listing(call, items);
        },
        Access::kUser);
    app.route(
        "POST", kApi + "tags/",
        [](Call& call) {
            const auto name = call.field("name");
            if (!name) return json_response(400, {{"name", {"This field is required."}}});
            auto t = store::TagRepository(call.tx).create(*name, call.field("description"));
            if (!t) return rest_detail(400, t.error().message);
            return json_response(201, {{"id", t->id}, {"name", t->name}, {"description", opt(t->description)}});
        },
        Access::kSuperuser);

    // tags/<id>/: by primary key, as DRF's ModelViewSet.
    const auto tag_by_id = [](Call& call) -> std::optional<store::Tag> {
        for (auto& t : store::TagRepository(call.tx).list()) {
            if (std::to_string(t.id) == call.params.at("id")) return t;
        }
        return std::nullopt;
    };
    app.route(
        "GET", kApi + "tags/{id}/",
        [tag_by_id](Call& call) {
            const auto t = tag_by_id(call);
            if (!t) return rest_detail(404, "Not found.");
            return json_response(200, {{"id", t->id}, {"name", t->name}, {"description", opt(t->description)}});
        },
        Access::kUser);
    app.route(
        "DELETE", kApi + "tags/{id}/",
        [tag_by_id](Call& call) {
            const auto t = tag_by_id(call);
            if (!t) return rest_detail(404, "Not found.");
            auto gone = store::TagRepository(call.tx).remove(t->name);
            if (!gone) return rest_detail(400, gone.error().message);
            return no_content();
        },
        Access::kSuperuser);

    permission_routes(app, "devicetypes", store::PermissionTarget::kDeviceType);
    permission_routes(app, "devices", store::PermissionTarget::kDevice);
}

}  // namespace lava::server::web
