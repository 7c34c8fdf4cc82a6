// Lab pages: the dashboard (/), devices (/scheduler/alldevices,
// /scheduler/device/<hostname> with its health dialog, /devicedict), device
// types (/scheduler/device_types, /scheduler/device_type/<name>) and workers
// (/scheduler/allworkers, /scheduler/worker/<name> with the maintenance
// toggle). Private devices and device types are left out for whoever may
// not see them, as REST leaves them out.

#include "server/ui/ui.hpp"

#include "common/proto/states.hpp"
#include "server/store/catalogue.hpp"
#include "server/web/lab_service.hpp"

#include <map>

namespace lava::server::ui {
namespace {

using proto::DeviceHealth;
using proto::DeviceState;

Value time_or_none(const std::optional<std::string>& t) { return t ? Value(short_time(*t)) : Value(); }

// How the lists count a device: busy, idle, offline (its worker is),
// maintenance, bad (Bad or Looping), retired.
std::string status_of(const store::Device& d, const std::map<std::string, bool>& worker_online) {
    if (d.health == DeviceHealth::kRetired) return "retired";
    if (d.state != DeviceState::kIdle) return "busy";
    if (d.health == DeviceHealth::kMaintenance) return "maintenance";
    if (d.health == DeviceHealth::kBad || d.health == DeviceHealth::kLooping) return "bad";
    const auto w = d.worker ? worker_online.find(*d.worker) : worker_online.end();
    if (w == worker_online.end() || !w->second) return "offline";
    return "idle";
}

std::map<std::string, bool> workers_online(Call& call) {
    std::map<std::string, bool> out;
    for (const auto& w : store::WorkerRepository(call.tx).list(true)) out[w.hostname] = w.state == proto::WorkerState::kOnline;
    return out;
}

Value device_row(const store::Device& d, const std::map<std::string, bool>& online) {
    List tags;
    for (const auto& t : d.tags) tags.emplace_back(t);
    const auto w = d.worker ? online.find(*d.worker) : online.end();
    return Obj()
        .set("hostname", Value(d.hostname))
        .set("device_type", Value(d.device_type))
        .set("state", Value(proto::display(d.state)))
        .set("health", Value(proto::display(d.health)))
        .set("status", Value(status_of(d, online)))
        .set("worker", opt(d.worker))
        .set("worker_online", Value(w != online.end() && w->second))
        .set("current_job", d.current_job ? Value(static_cast<long long>(*d.current_job)) : Value())
        .set("description", opt(d.description))
        .set("tags", Value(std::move(tags)))
        .set("owner", opt(d.owner))
        .set("physical_owner", opt(d.physical_owner));
}

long queued(Call& call, const std::string& device_type) {
    store::JobQuery q;
    q.filters = {{"state", "Submitted"}, {"requested_device_type", device_type}};
    q.limit = 0;
    auto page = store::JobRepository(call.tx).list(q, call.who.user);
    return page ? page->count : 0;
}

// Per visible device type: its devices counted by status, and its queue.
List type_summaries(Call& call, const std::vector<store::Device>& devices,
                    const std::map<std::string, bool>& online) {
    std::map<std::string, std::map<std::string, long>> counts;
    store::DeviceTypeRepository types(call.tx);
    List out;
    for (const auto& d : devices) ++counts[d.device_type][status_of(d, online)];
    for (const auto& t : types.list()) {
        if (!types.visible_to(t.name, call.who.user)) continue;
        auto& c = counts[t.name];
        const long total = c["idle"] + c["busy"] + c["offline"] + c["maintenance"] + c["bad"];
        if (!t.display && total == 0) continue;
        out.push_back(Obj()
                          .set("name", Value(t.name))
                          .set("description", opt(t.description))
                          .set("idle", Value(c["idle"]))
                          .set("busy", Value(c["busy"]))
                          .set("offline", Value(c["offline"]))
                          .set("maintenance", Value(c["maintenance"]))
                          .set("bad", Value(c["bad"]))
                          .set("devices", Value(total))
                          .set("queue", Value(queued(call, t.name))));
    }
    return out;
}

Value worker_row(const store::Worker& w, long devices) {
    return Obj()
        .set("hostname", Value(w.hostname))
        .set("description", opt(w.description))
        .set("state", Value(proto::display(w.state)))
        .set("health", Value(proto::display(w.health)))
        .set("last_ping", time_or_none(w.last_ping))
        .set("job_limit", Value(w.job_limit))
        .set("version", opt(w.version))
        .set("devices", Value(devices));
}

HttpResponse dashboard(const Ui& ui, Call& call) {
    const auto online = workers_online(call);
    const auto devices = web::visible_devices(call, false);
    Obj data;
    data.set("title", Value("Lab"));
    data.set("types", Value(type_summaries(call, devices, online)));
    // Running jobs with their current action (read from the end of each log).
    List running;
    {
        store::JobQuery q;
        q.filters = {{"state__in", "Scheduling,Scheduled,Running,Canceling"}};
        q.limit = 50;
        q.count = false;
        if (auto page = store::JobRepository(call.tx).list(q, call.who.user)) {
            for (const auto& j : page->jobs) {
                Dict row = job_row(j).as_dict();
                row.emplace_back(Value("action"), j.state == proto::JobState::kRunning ? current_action(call, j) : Value());
                running.emplace_back(std::move(row));
            }
        }
    }
    data.set("running", Value(std::move(running)));
    data.set("mine", call.who.user ? Value(recent_jobs(call, {{"submitter", std::to_string(call.who.user->id)}}, 10))
                                   : Value());
    List offline;
    for (const auto& w : store::WorkerRepository(call.tx).list(false)) {
        if (w.state != proto::WorkerState::kOnline) offline.push_back(worker_row(w, 0));
    }
    data.set("workers_offline", Value(std::move(offline)));
    return ui.page(call, "home.html", data.take());
}

HttpResponse devices_page(const Ui& ui, Call& call) {
    const auto online = workers_online(call);
    const bool retired = call.query("retired") == std::optional<std::string>("1");
    const auto type = call.query("device_type").value_or("");
    const auto status = call.query("status").value_or("");
    List rows;
    for (const auto& d : web::visible_devices(call, retired)) {
        if (!type.empty() && d.device_type != type) continue;
        if (!status.empty() && status_of(d, online) != status) continue;
        rows.push_back(device_row(d, online));
    }
    return ui.page(call, "devices.html",
                   Obj().set("title", Value("Devices"))
                       .set("devices", Value(std::move(rows)))
                       .set("filter_type", Value(type))
                       .set("filter_status", Value(status))
                       .set("retired", Value(retired))
                       .take());
}

HttpResponse device_page(const Ui& ui, Call& call, const std::string& message = "", int status = 200) {
    const auto& hostname = call.params.at("hostname");
    const auto device = web::visible_device(call, hostname);
    if (!device) return ui.not_found(call, "device " + hostname);
    store::DeviceRepository repo(call.tx);
    const auto online = workers_online(call);
    List transitions;
    auto history = repo.history(hostname);
    for (auto it = history.rbegin(); it != history.rend() && transitions.size() < 50; ++it) {
        transitions.push_back(Obj()
                                  .set("time", Value(short_time(it->changed_at)))
                                  .set("actor", Value(it->actor))
                                  .set("old_state", it->old_state ? Value(proto::display(*it->old_state)) : Value())
                                  .set("new_state", Value(proto::display(it->new_state)))
                                  .set("old_health", it->old_health ? Value(proto::display(*it->old_health)) : Value())
                                  .set("new_health", Value(proto::display(it->new_health)))
                                  .set("reason", Value(it->reason)));
    }
    List healths;
    for (const auto h : proto::kDeviceHealthNames) healths.emplace_back(std::string(h));
    Obj data;
    data.set("title", Value("Device " + hostname));
    data.set("device", device_row(*device, online));
    data.set("jobs", Value(recent_jobs(call, {{"actual_device", hostname}}, 20)));
    data.set("transitions", Value(std::move(transitions)));
    data.set("can_change", Value(call.who.user && repo.can_change(hostname, *call.who.user)));
    data.set("healths", Value(std::move(healths)));
    data.set("message", Value(message));
    return ui.page(call, "device.html", data.take(), status);
}

HttpResponse device_health(const Ui& ui, Call& call) {
    const auto& hostname = call.params.at("hostname");
    if (!web::visible_device(call, hostname)) return ui.not_found(call, "device " + hostname);
    if (!store::DeviceRepository(call.tx).can_change(hostname, *call.who.user)) {
        return device_page(ui, call, "You may not change this device's health.", 403);
    }
    const auto health = proto::parse<DeviceHealth>(call.field("health").value_or(""));
    if (!health) return device_page(ui, call, health.error().message, 400);
    store::DeviceUpdate update;
    update.health = *health;
    auto done = web::update_device(call, hostname, update, call.field("reason").value_or(""));
    if (!done) return device_page(ui, call, done.error().message, 400);
    return web::redirect("/scheduler/device/" + hostname);
}

HttpResponse devicedict(const Ui& ui, Call& call) {
    const auto& hostname = call.params.at("hostname");
    if (!web::visible_device(call, hostname)) return ui.not_found(call, "device " + hostname);
    const auto jinja = web::device_configuration(call.app, hostname, false, std::nullopt);
    const auto yaml = web::device_configuration(call.app, hostname, true, std::nullopt);
    return ui.page(call, "devicedict.html",
                   Obj().set("title", Value("Device dictionary of " + hostname))
                       .set("hostname", Value(hostname))
                       .set("jinja", jinja ? Value(*jinja) : Value())
                       .set("yaml", yaml ? Value(*yaml) : Value())
                       .set("error", !jinja ? Value(jinja.error().message) : !yaml ? Value(yaml.error().message) : Value())
                       .take());
}

HttpResponse device_types_page(const Ui& ui, Call& call) {
    const auto online = workers_online(call);
    const auto devices = web::visible_devices(call, false);
    return ui.page(call, "device_types.html",
                   Obj().set("title", Value("Device types"))
                       .set("types", Value(type_summaries(call, devices, online)))
                       .take());
}

HttpResponse device_type_page(const Ui& ui, Call& call) {
    const auto& name = call.params.at("name");
    store::DeviceTypeRepository types(call.tx);
    auto type = types.get(name);
    if (!type || !types.visible_to(name, call.who.user)) return ui.not_found(call, "device type " + name);
    const auto online = workers_online(call);
    List devices;
    for (const auto& d : web::visible_devices(call, false)) {
        if (d.device_type == name) devices.push_back(device_row(d, online));
    }
    List aliases;
    for (const auto& a : type->aliases) aliases.emplace_back(a);
    Obj facts;
    facts.set("name", Value(type->name))
        .set("description", opt(type->description))
        .set("health_frequency", Value(type->health_frequency))
        .set("health_denominator", Value(proto::display(type->health_denominator)))
        .set("disable_health_check", Value(type->disable_health_check))
        .set("aliases", Value(std::move(aliases)))
        .set("architecture", opt(type->architecture))
        .set("processor", opt(type->processor));
    return ui.page(call, "device_type.html",
                   Obj().set("title", Value("Device type " + name))
                       .set("type", Value(std::move(facts)))
                       .set("devices", Value(std::move(devices)))
                       .set("queue", Value(queued(call, name)))
                       .set("jobs", Value(recent_jobs(call, {{"requested_device_type", name}}, 20)))
                       .take());
}

std::map<std::string, long> devices_per_worker(Call& call) {
    std::map<std::string, long> out;
    for (const auto& d : web::visible_devices(call, false)) {
        if (d.worker) ++out[*d.worker];
    }
    return out;
}

HttpResponse workers_page(const Ui& ui, Call& call) {
    auto per_worker = devices_per_worker(call);
    List rows;
    for (const auto& w : store::WorkerRepository(call.tx).list(call.query("retired") == std::optional<std::string>("1"))) {
        rows.push_back(worker_row(w, per_worker[w.hostname]));
    }
    return ui.page(call, "workers.html",
                   Obj().set("title", Value("Workers")).set("workers", Value(std::move(rows))).take());
}

HttpResponse worker_page(const Ui& ui, Call& call, const std::string& message = "", int status = 200) {
    const auto& name = call.params.at("name");
    auto w = store::WorkerRepository(call.tx).get(name);
    if (!w) return ui.not_found(call, "worker " + name);
    const auto online = workers_online(call);
    List devices;
    for (const auto& d : web::visible_devices(call, false)) {
        if (d.worker == name) devices.push_back(device_row(d, online));
    }
    const long count = static_cast<long>(devices.size());
    List healths;
    for (const auto h : proto::kWorkerHealthNames) healths.emplace_back(std::string(h));
    return ui.page(call, "worker.html",
                   Obj().set("title", Value("Worker " + name))
                       .set("worker", worker_row(*w, count))
                       .set("devices", Value(std::move(devices)))
                       .set("can_change", Value(call.who.superuser()))
                       .set("healths", Value(std::move(healths)))
                       .set("message", Value(message))
                       .take(),
                   status);
}

HttpResponse worker_health(const Ui& ui, Call& call) {
    const auto& name = call.params.at("name");
    if (!store::WorkerRepository(call.tx).get(name)) return ui.not_found(call, "worker " + name);
    if (!call.who.superuser()) return worker_page(ui, call, "Only administrators change a worker's health.", 403);
    const auto health = proto::parse<proto::WorkerHealth>(call.field("health").value_or(""));
    if (!health) return worker_page(ui, call, health.error().message, 400);
    store::WorkerUpdate update;
    update.health = *health;
    auto done = web::update_worker(call, name, update, call.field("reason").value_or(""));
    if (!done) return worker_page(ui, call, done.error().message, 400);
    return web::redirect("/scheduler/worker/" + name);
}

}  // namespace

void add_lab_pages(web::App& app, std::shared_ptr<const Ui> ui) {
    app.route("GET", "/", [ui](Call& call) { return dashboard(*ui, call); });
    app.route("GET", "/scheduler/", [ui](Call& call) { return dashboard(*ui, call); });
    app.route("GET", "/scheduler/alldevices", [ui](Call& call) { return devices_page(*ui, call); });
    app.route("GET", "/scheduler/device/{hostname}", [ui](Call& call) { return device_page(*ui, call); });
    app.route("POST", "/scheduler/device/{hostname}/health", [ui](Call& call) { return device_health(*ui, call); },
              web::Access::kUser);
    app.route("GET", "/scheduler/device/{hostname}/devicedict", [ui](Call& call) { return devicedict(*ui, call); });
    app.route("GET", "/scheduler/device_types", [ui](Call& call) { return device_types_page(*ui, call); });
    app.route("GET", "/scheduler/device_type/{name}", [ui](Call& call) { return device_type_page(*ui, call); });
    app.route("GET", "/scheduler/allworkers", [ui](Call& call) { return workers_page(*ui, call); });
    app.route("GET", "/scheduler/worker/{name}", [ui](Call& call) { return worker_page(*ui, call); });
    app.route("POST", "/scheduler/worker/{name}/health", [ui](Call& call) { return worker_health(*ui, call); },
              web::Access::kUser);
}

}  // namespace lava::server::ui
