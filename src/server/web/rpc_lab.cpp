// XML-RPC scheduler.devices/device_types/workers/tags/aliases.* and the
// legacy device calls (lava-protocols.md §3.3): adapters over lab_service
// and the store. Catalogue writes need the model permission, which in
// lava-cpp only superusers hold; device writes also follow can_change.

#include "server/store/catalogue.hpp"
#include "server/store/devices.hpp"
#include "server/store/jobs.hpp"
#include "server/store/permissions.hpp"
#include "server/store/workers.hpp"
#include "server/web/jobs_service.hpp"
#include "server/web/lab_service.hpp"
#include "server/web/rpc.hpp"

#include "common/base/text.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace lava::server::web::rpc {
namespace {

// LAVA's check_perm: authenticated, and holding the model permission.
void require_perm(RpcCall& c, const std::string& perm) {
    c.require_user();
    if (!c.who().superuser()) {
        throw RpcFault{403, "User '" + c.caller_name() + "' is missing permission lava_scheduler_app." + perm + " ."};
    }
}

store::Device device_or_404(RpcCall& c, const std::string& hostname) {
    auto d = store::DeviceRepository(c.tx()).get(hostname);
    if (!d) throw RpcFault{404, "Device '" + hostname + "' was not found."};
    return std::move(*d);
}

store::Device viewable_device(RpcCall& c, const std::string& hostname) {
    if (auto d = visible_device(c.http(), hostname)) return std::move(*d);
    device_or_404(c, hostname);  // 404 when it does not exist at all
    throw RpcFault{403, "Device '" + hostname + "' not available to user '" + c.caller_name() + "'."};
}

void require_device_change(RpcCall& c, const std::string& hostname) {
    c.require_user();
    if (!store::DeviceRepository(c.tx()).can_change(hostname, *c.who().user)) {
        throw RpcFault{403, "User '" + c.caller_name() + "' needs admin permission on device " + hostname + "."};
    }
}

store::DeviceType type_or_404(RpcCall& c, const std::string& name) {
    store::DeviceTypeRepository types(c.tx());
    auto t = types.get(name);
    if (!t || !types.visible_to(name, c.who().user)) throw RpcFault{404, "Device-type '" + name + "' was not found."};
    return std::move(*t);
}

void require_type_change(RpcCall& c, const std::string& name) {
    c.require_user();
    if (!c.who().superuser()) throw RpcFault{403, "No 'admin' permissions for device-type '" + name + "'."};
}

void require_worker(RpcCall& c, const std::string& hostname) {
    if (!safe_file_name(hostname)) throw RpcFault{400, "Invalid worker name"};
    if (!store::WorkerRepository(c.tx()).get(hostname)) {
        throw RpcFault{404, "Worker '" + hostname + "' was not found."};
    }
}

// LAVA's health keys as the API takes them: "GOOD", "MAINTENANCE", ...
std::optional<proto::DeviceHealth> device_health_key(const std::string& key) {
    const auto parsed = proto::parse<proto::DeviceHealth>(key);
    if (!parsed || proto::key(*parsed) != key) return std::nullopt;
    return *parsed;
}

// build_device_status_display: idle, offline, retired, reserved, running.
std::string legacy_status(const store::Device& d) {
    if (d.state == proto::DeviceState::kIdle) {
        if (d.health == proto::DeviceHealth::kGood || d.health == proto::DeviceHealth::kUnknown) return "idle";
        if (d.health == proto::DeviceHealth::kRetired) return "retired";
        return "offline";
    }
    if (d.state == proto::DeviceState::kReserved) return "reserved";
    return "running";
}

Value binary_or_fault(const Result<std::string>& text) {
    if (!text) {
        throw RpcFault{text.error().code == errc::kNotFound ? 404 : 400, text.error().message};
    }
    return Binary{*text};
}

// ------------------------------------------------------------ devices

void device_methods(Registry& r) {
    r.add({"scheduler.devices.add",
           {"hostname", "type_name", "worker_hostname", "user_name", "group_name", "public", "health", "description"},
           3,
           "Adds a device of a device type on a worker; health is a key (GOOD, UNKNOWN, MAINTENANCE, ...), "
           "UNKNOWN by default. Requires the change_device permission.",
           [](RpcCall& c) {
               require_perm(c, "change_device");
               store::NewDevice d;
               d.hostname = c.str(0);
               d.device_type = c.str(1);
               d.worker = c.str(2);
               if (!store::DeviceTypeRepository(c.tx()).get(d.device_type)) {
                   throw RpcFault{404, "DeviceType '" + d.device_type + "' was not found."};
               }
               if (!store::WorkerRepository(c.tx()).get(d.worker)) {
                   throw RpcFault{404, "Worker '" + d.worker + "' was not found."};
               }
               d.health = proto::DeviceHealth::kUnknown;
               if (const auto h = c.opt_str(6)) {
                   const auto parsed = device_health_key(*h);
                   if (!parsed) throw RpcFault{400, "Invalid health"};
                   d.health = *parsed;
               }
               d.description = c.opt_str(7);
               if (auto u = c.opt_str(3)) d.ownership.owner = *u;
               if (auto g = c.opt_str(4)) d.ownership.group = *g;
               auto created = create_device(c.http(), d, "xmlrpc api");
               if (!created) {
                   if (created.error().code == errc::kAlreadyExists) {
                       throw RpcFault{400, "Bad request: device already exists?"};
                   }
                   throw RpcFault{400, "Bad request: " + created.error().message};
               }
               return Value();
           }});
    r.add({"scheduler.devices.get_dictionary", {"hostname", "render", "context"}, 1,
           "The device dictionary (Jinja2), or with render the device configuration as YAML rendered with "
           "the job context (YAML text). Returned as base64.",
           [](RpcCall& c) {
               const auto hostname = c.str(0);
               viewable_device(c, hostname);
               return binary_or_fault(device_configuration(c.http().app, hostname, c.boolean(1, false), c.opt_str(2)));
           }});
    r.add({"scheduler.devices.set_dictionary", {"hostname", "dictionary"}, 2,
           "Replaces the device dictionary (Jinja2). Returns whether it was stored.", [](RpcCall& c) {
               const auto hostname = c.str(0);
               device_or_404(c, hostname);
               require_device_change(c, hostname);
               return Value(write_device_dictionary(c.http().app, hostname, c.str(1)));
           }});
    r.add({"scheduler.devices.list", {"show_all", "offline_info"}, 0,
           "Devices visible to the caller (Retired ones with show_all): hostname, type, health, state, "
           "current_job, pipeline.",
           [](RpcCall& c) {
               Array out;
               for (const auto& d : visible_devices(c.http(), c.boolean(0, false))) {
                   out.push_back(Value()
                                     .set("hostname", d.hostname)
                                     .set("type", d.device_type)
                                     .set("health", std::string(proto::display(d.health)))
                                     .set("state", std::string(proto::display(d.state)))
                                     .set("current_job", d.current_job)
                                     .set("pipeline", true));
               }
               return Value(std::move(out));
           }});
    r.add({"scheduler.devices.show", {"hostname"}, 1,
           "A device's details: hostname, device_type, health, state, health_job, description, pipeline, "
           "has_device_dict, worker, current_job, tags.",
           [](RpcCall& c) {
               const auto d = viewable_device(c, c.str(0));
               const auto& app = c.http().app;
               Array tags;
               auto names = d.tags;
               std::sort(names.begin(), names.end());
               for (const auto& t : names) tags.push_back(t);
               return Value()
                   .set("hostname", d.hostname)
                   .set("device_type", d.device_type)
                   .set("health", std::string(proto::display(d.health)))
                   .set("state", std::string(proto::display(d.state)))
                   .set("health_job", read_type_file(app, d.device_type, TypeFile::kHealthCheck).has_value())
                   .set("description", d.description)
                   .set("pipeline", true)
                   .set("has_device_dict", app.devices().has_dictionary(d.hostname))
                   .set("worker", d.worker)
                   .set("current_job", d.current_job)
                   .set("tags", std::move(tags));
           }});
    r.add({"scheduler.devices.update",
           {"hostname", "worker_hostname", "user_name", "group_name", "public", "health", "description",
            "device_type"},
           1,
           "Changes a device's worker, health (a key: GOOD, UNKNOWN, MAINTENANCE, RETIRED, ...), description "
           "or device type. Requires admin permission on the device.",
           [](RpcCall& c) {
               const auto hostname = c.str(0);
               device_or_404(c, hostname);
               require_device_change(c, hostname);
               store::DeviceUpdate u;
               if (auto w = c.opt_str(1)) {
                   if (!store::WorkerRepository(c.tx()).get(*w)) throw RpcFault{404, "Unable to find worker '" + *w + "'"};
                   u.worker = *w;
               }
               if (auto h = c.opt_str(5)) {
                   const auto parsed = device_health_key(*h);
                   if (!parsed) throw RpcFault{400, "Health '" + *h + "' is invalid"};
                   u.health = *parsed;
               }
               u.description = c.opt_str(6);
               if (auto t = c.opt_str(7)) {
                   if (!store::DeviceTypeRepository(c.tx()).get(*t)) {
                       throw RpcFault{404, "Unable to find device-type '" + *t + "'"};
                   }
                   u.device_type = *t;
               }
               auto updated = update_device(c.http(), hostname, u, "xmlrpc api");
               if (!updated) throw RpcFault{400, "Bad request: " + updated.error().message};
               return Value();
           }});
    r.add({"scheduler.devices.tags.add", {"hostname", "name"}, 2,
           "Adds a tag (created when missing) to a device.", [](RpcCall& c) {
               require_perm(c, "add_tag");
               const auto hostname = c.str(0);
               device_or_404(c, hostname);
               require_device_change(c, hostname);
               auto tag = store::TagRepository(c.tx()).get_or_create(c.str(1));
               if (!tag) throw RpcFault{400, tag.error().message};
               auto added = store::DeviceRepository(c.tx()).add_tags(hostname, {c.str(1)});
               if (!added) throw RpcFault{400, added.error().message};
               return Value();
           }});
    r.add({"scheduler.devices.tags.list", {"hostname"}, 1, "The names of a device's tags.", [](RpcCall& c) {
               const auto d = device_or_404(c, c.str(0));
               Array out;
               for (const auto& t : d.tags) out.push_back(t);
               return Value(std::move(out));
           }});
    r.add({"scheduler.devices.tags.delete", {"hostname", "name"}, 2, "Removes a tag from a device.",
           [](RpcCall& c) {
               const auto hostname = c.str(0);
               const auto name = c.str(1);
               device_or_404(c, hostname);
               require_device_change(c, hostname);
               if (!store::TagRepository(c.tx()).get(name)) throw RpcFault{404, "Tag '" + name + "' was not found."};
               auto removed = store::DeviceRepository(c.tx()).remove_tags(hostname, {name});
               if (!removed && removed.error().code != errc::kNotFound) throw RpcFault{400, removed.error().message};
               return Value();
           }});
}

// ------------------------------------------------------------ device types

std::optional<proto::HealthDenominator> denominator(const std::string& text) {
    if (text == "hours") return proto::HealthDenominator::kHours;
    if (text == "jobs") return proto::HealthDenominator::kJobs;
    return std::nullopt;
}

Value type_file_value(RpcCall& c, TypeFile kind) {
    const auto name = c.str(0);
    {
        store::DeviceTypeRepository types(c.tx());
        if (types.get(name) && !types.visible_to(name, c.who().user)) {
            throw RpcFault{404, "Device-type '" + name + "' was not found."};
        }
    }
    if (!safe_file_name(name)) throw RpcFault{400, "Invalid device-type '" + name + "'"};
    const auto text = read_type_file(c.http().app, name, kind);
    if (!text) throw RpcFault{404, "Device-type '" + name + "' was not found."};
    return Binary{*text};
}

void set_type_file(RpcCall& c, TypeFile kind) {
    require_perm(c, "change_devicetype");
    const auto name = c.str(0);
    if (!safe_file_name(name)) throw RpcFault{400, "Invalid device-type '" + name + "'"};
    if (!write_type_file(c.http().app, name, kind, c.str(1))) {
        throw RpcFault{400, kind == TypeFile::kTemplate ? "Unable to write device-type configuration"
                                                        : "Unable to write health-check"};
    }
}

void device_type_methods(Registry& r) {
    r.add({"scheduler.device_types.add",
           {"name", "description", "display", "owners_only", "health_frequency", "health_denominator"}, 6,
           "Adds a device type; health_denominator is \"hours\" or \"jobs\". Requires change_devicetype.",
           [](RpcCall& c) {
               require_perm(c, "change_devicetype");
               store::NewDeviceType t;
               t.name = c.str(0);
               t.description = c.opt_str(1);
               t.display = c.boolean(2, true);
               t.health_frequency = static_cast<int>(c.integer(4, 24));
               const auto d = denominator(c.str(5));
               if (!d) throw RpcFault{400, "Bad request: invalid health_denominator."};
               t.health_denominator = *d;
               auto created = store::DeviceTypeRepository(c.tx()).create(t);
               if (!created) throw RpcFault{400, "Bad request: device-type name is already used."};
               return Value();
           }});
    r.add({"scheduler.device_types.get_health_check", {"name"}, 1, "The device type's health-check job (base64).",
           [](RpcCall& c) { return type_file_value(c, TypeFile::kHealthCheck); }});
    r.add({"scheduler.device_types.get_template", {"name"}, 1, "The device type's Jinja2 template (base64).",
           [](RpcCall& c) { return type_file_value(c, TypeFile::kTemplate); }});
    r.add({"scheduler.device_types.set_health_check", {"name", "config"}, 2,
           "Replaces the device type's health-check job. Requires change_devicetype.", [](RpcCall& c) {
               set_type_file(c, TypeFile::kHealthCheck);
               return Value();
           }});
    r.add({"scheduler.device_types.set_template", {"name", "config"}, 2,
           "Replaces the device type's Jinja2 template in the lab's dispatcher-config. Requires change_devicetype.",
           [](RpcCall& c) {
               set_type_file(c, TypeFile::kTemplate);
               return Value();
           }});
    r.add({"scheduler.device_types.list", {"show_all"}, 0,
           "Device types visible to the caller: name, devices (count), installed, template (whether a template "
           "exists). show_all adds the templates that have no device type yet.",
           [](RpcCall& c) {
               const auto& app = c.http().app;
               store::DeviceTypeRepository types(c.tx());
               Array out;
               std::set<std::string> known;
               for (const auto& t : types.list()) {
                   known.insert(t.name);
                   if (!types.visible_to(t.name, c.who().user)) continue;
                   out.push_back(Value()
                                     .set("name", t.name)
                                     .set("devices", t.device_count)
                                     .set("installed", true)
                                     .set("template", read_type_file(app, t.name, TypeFile::kTemplate).has_value()));
               }
               if (c.boolean(0, false)) {
                   for (const auto& name : available_type_templates(app)) {
                       if (known.contains(name)) continue;
                       out.push_back(
                           Value().set("name", name).set("devices", 0).set("installed", false).set("template", true));
                   }
               }
               return Value(std::move(out));
           }});
    r.add({"scheduler.device_types.show", {"name"}, 1,
           "A device type's details: name, description, display, health_disabled, health_denominator, "
           "health_frequency, aliases, devices (visible hostnames), default_template.",
           [](RpcCall& c) {
               const auto t = type_or_404(c, c.str(0));
               Array aliases;
               for (const auto& a : t.aliases) aliases.push_back(a);
               Array devices;
               for (const auto& d : visible_devices(c.http(), true)) {
                   if (d.device_type == t.name) devices.push_back(d.hostname);
               }
               return Value()
                   .set("name", t.name)
                   .set("description", t.description)
                   .set("display", t.display)
                   .set("health_disabled", t.disable_health_check)
                   .set("health_denominator", std::string(proto::display(t.health_denominator)))
                   .set("health_frequency", t.health_frequency)
                   .set("aliases", std::move(aliases))
                   .set("devices", std::move(devices))
                   .set("default_template", !type_file_is_local(c.http().app, t.name, TypeFile::kTemplate));
           }});
    r.add({"scheduler.device_types.update",
           {"name", "description", "display", "owners_only", "health_frequency", "health_denominator",
            "health_disabled"},
           7, "Changes a device type's fields (nil leaves one as it is). Requires admin permission on it.",
           [](RpcCall& c) {
               const auto name = c.str(0);
               if (!store::DeviceTypeRepository(c.tx()).get(name)) {
                   throw RpcFault{404, "Device-type '" + name + "' was not found."};
               }
               require_type_change(c, name);
               store::DeviceTypeUpdate u;
               u.description = c.opt_str(1);
               if (c.has(2)) u.display = c.boolean(2, true);
               if (c.has(4)) u.health_frequency = static_cast<int>(c.integer(4, 24));
               if (auto d = c.opt_str(5)) {
                   const auto parsed = denominator(*d);
                   if (!parsed) throw RpcFault{400, "Bad request: invalid health_denominator."};
                   u.health_denominator = *parsed;
               }
               if (c.has(6)) u.disable_health_check = c.boolean(6, false);
               auto updated = store::DeviceTypeRepository(c.tx()).update(name, u);
               if (!updated) throw RpcFault{400, updated.error().message};
               return Value();
           }});
    r.add({"scheduler.device_types.aliases.add", {"name", "alias"}, 2,
           "Points an alias (created when missing) at the device type.", [](RpcCall& c) {
               require_perm(c, "add_alias");
               const auto name = c.str(0);
               if (!store::DeviceTypeRepository(c.tx()).get(name)) {
                   throw RpcFault{404, "Device-type '" + name + "' was not found."};
               }
               require_type_change(c, name);
               auto a = store::AliasRepository(c.tx()).attach(c.str(1), name);
               if (!a) throw RpcFault{400, a.error().message};
               return Value();
           }});
    r.add({"scheduler.device_types.aliases.list", {"name"}, 1, "The device type's aliases.", [](RpcCall& c) {
               const auto t = type_or_404(c, c.str(0));
               Array out;
               for (const auto& a : t.aliases) out.push_back(a);
               return Value(std::move(out));
           }});
    r.add({"scheduler.device_types.aliases.delete", {"name", "alias"}, 2,
           "Unlinks an alias from the device type.", [](RpcCall& c) {
               const auto name = c.str(0);
               const auto alias = c.str(1);
               if (!store::DeviceTypeRepository(c.tx()).get(name)) {
                   throw RpcFault{404, "Device-type '" + name + "' was not found."};
               }
               require_type_change(c, name);
               if (!store::AliasRepository(c.tx()).get(alias)) throw RpcFault{404, "Alias '" + alias + "' was not found."};
               (void)store::AliasRepository(c.tx()).detach(alias, name);
               return Value();
           }});
}

// ------------------------------------------------------------ aliases, tags

void alias_and_tag_methods(Registry& r) {
    r.add({"scheduler.aliases.add", {"name", "device_type_name"}, 2, "Adds an alias of a device type.",
           [](RpcCall& c) {
               require_perm(c, "add_alias");
               const auto name = c.str(0);
               const auto type = c.str(1);
               store::DeviceTypeRepository types(c.tx());
               if (!types.get(type)) throw RpcFault{400, "Bad request. DeviceType does not exist"};
               if (!types.visible_to(type, c.who().user)) throw RpcFault{404, "Device-type '" + type + "' was not found."};
               if (types.get(name)) throw RpcFault{400, "Bad request. Alias or DeviceType name already exists."};
               auto a = store::AliasRepository(c.tx()).create(name, type);
               if (!a) {
                   if (a.error().code == errc::kAlreadyExists) {
                       throw RpcFault{400, "Bad request. Alias or DeviceType name already exists."};
                   }
                   throw RpcFault{404, a.error().message};
               }
               return Value();
           }});
    r.add({"scheduler.aliases.delete", {"name"}, 1, "Deletes an alias.", [](RpcCall& c) {
               require_perm(c, "delete_alias");
               const auto name = c.str(0);
               if (!store::AliasRepository(c.tx()).remove(name)) throw RpcFault{404, "Alias '" + name + "' was not found."};
               return Value();
           }});
    r.add({"scheduler.aliases.list", {}, 0, "The names of all aliases.", [](RpcCall& c) {
               Array out;
               for (const auto& a : store::AliasRepository(c.tx()).list()) out.push_back(a.name);
               return Value(std::move(out));
           }});
    r.add({"scheduler.aliases.show", {"name"}, 1,
           "An alias and its device type (\"\" when the type is hidden from the caller).", [](RpcCall& c) {
               const auto name = c.str(0);
               auto a = store::AliasRepository(c.tx()).get(name);
               if (!a) throw RpcFault{404, "Alias '" + name + "' was not found."};
               store::DeviceTypeRepository types(c.tx());
               const bool visible = !a->device_type.empty() && types.visible_to(a->device_type, c.who().user);
               return Value().set("name", a->name).set("device_type", visible ? a->device_type : "");
           }});
    r.add({"scheduler.tags.add", {"name", "description"}, 1, "Adds a device tag.", [](RpcCall& c) {
               require_perm(c, "add_tag");
               auto t = store::TagRepository(c.tx()).create(c.str(0), c.opt_str(1));
               if (!t) {
                   if (t.error().code == errc::kAlreadyExists) throw RpcFault{400, "Bad request: tag already exists?"};
                   throw RpcFault{400, "Bad request: " + t.error().message};
               }
               return Value();
           }});
    r.add({"scheduler.tags.delete", {"name"}, 1,
           "Deletes a device tag (refused while an unfinished job requires it).", [](RpcCall& c) {
               require_perm(c, "delete_tag");
               const auto name = c.str(0);
               auto gone = store::TagRepository(c.tx()).remove(name);
               if (!gone) {
                   if (gone.error().code == errc::kNotFound) throw RpcFault{404, "Tag '" + name + "' was not found."};
                   throw RpcFault{400, "Bad request: " + gone.error().message};
               }
               return Value();
           }});
    r.add({"scheduler.tags.list", {}, 0, "All tags: name, description.", [](RpcCall& c) {
               Array out;
               for (const auto& t : store::TagRepository(c.tx()).list()) {
                   out.push_back(Value().set("name", t.name).set("description", t.description));
               }
               return Value(std::move(out));
           }});
    r.add({"scheduler.tags.show", {"name"}, 1, "A tag: name, description, devices (visible hostnames).",
           [](RpcCall& c) {
               const auto name = c.str(0);
               auto t = store::TagRepository(c.tx()).get(name);
               if (!t) throw RpcFault{404, "Tag '" + name + "' was not found."};
               Array devices;
               for (const auto& d : visible_devices(c.http(), true)) {
                   if (std::find(d.tags.begin(), d.tags.end(), name) != d.tags.end()) devices.push_back(d.hostname);
               }
               return Value().set("name", name).set("description", t->description).set("devices", std::move(devices));
           }});
}

// ------------------------------------------------------------ workers

void worker_file_methods(Registry& r, const std::string& suffix, WorkerFile kind, const std::string& missing) {
    r.add({"scheduler.workers.get_" + suffix, {"hostname"}, 1, "The worker's " + suffix + " file (base64).",
           [kind, missing](RpcCall& c) {
               const auto hostname = c.str(0);
               require_worker(c, hostname);
               auto text = read_worker_file(c.http().app, hostname, kind);
               if (!text) throw RpcFault{404, "Worker '" + hostname + "' does not have " + missing};
               return Value(Binary{*text});
           }});
    r.add({"scheduler.workers.set_" + suffix, {"hostname", suffix == "config" ? "config" : "env"}, 2,
           "Replaces the worker's " + suffix + " file. Returns whether it was stored. Requires change_worker.",
           [kind](RpcCall& c) {
               require_perm(c, "change_worker");
               const auto hostname = c.str(0);
               require_worker(c, hostname);
               return Value(write_worker_file(c.http().app, hostname, kind, c.str(1)));
           }});
}

void worker_methods(Registry& r) {
    r.add({"scheduler.workers.add", {"hostname", "description", "disabled"}, 1,
           "Adds a worker (Retired when disabled). Requires add_worker.", [](RpcCall& c) {
               require_perm(c, "add_worker");
               store::NewWorker w;
               w.hostname = c.str(0);
               w.description = c.opt_str(1);
               w.health = c.boolean(2, false) ? proto::WorkerHealth::kRetired : proto::WorkerHealth::kActive;
               auto created = store::WorkerRepository(c.tx()).create(w, store::Change{c.caller_name(), "xmlrpc api"});
               if (!created) {
                   if (created.error().code == errc::kAlreadyExists) {
                       throw RpcFault{400, "Bad request: worker already exists?"};
                   }
                   throw RpcFault{400, "Bad request: " + created.error().message};
               }
               queue_worker_event(c.http(), w.hostname);
               return Value();
           }});
    worker_file_methods(r, "config", WorkerFile::kDispatcher, "a dispatcher configuration");
    worker_file_methods(r, "env", WorkerFile::kEnv, "an env file");
    worker_file_methods(r, "env_dut", WorkerFile::kEnvDut, "an env-dut file");
    r.add({"scheduler.workers.list", {"show_all"}, 0, "Worker hostnames (Retired ones with show_all).",
           [](RpcCall& c) {
               Array out;
               for (const auto& w : store::WorkerRepository(c.tx()).list(c.boolean(0, true))) out.push_back(w.hostname);
               std::sort(out.begin(), out.end(),
                         [](const Value& a, const Value& b) { return a.as_string() < b.as_string(); });
               return Value(std::move(out));
           }});
    r.add({"scheduler.workers.show", {"hostname"}, 1,
           "A worker's details: hostname, description, state, health, devices, last_ping, job_limit, version, "
           "default_config, default_env, default_env_dut (+ token for superusers).",
           [](RpcCall& c) {
               const auto hostname = c.str(0);
               auto w = store::WorkerRepository(c.tx()).get(hostname);
               if (!w) throw RpcFault{404, "Worker '" + hostname + "' was not found."};
               Array devices;
               store::DeviceFilter all;
               all.include_retired = true;
               std::vector<std::string> names;
               for (const auto& d : store::DeviceRepository(c.tx()).list(all)) {
                   if (d.worker == hostname) names.push_back(d.hostname);
               }
               std::sort(names.begin(), names.end());
               for (const auto& n : names) devices.push_back(n);
               const auto& app = c.http().app;
               Value v;
               v.set("hostname", w->hostname)
                   .set("description", w->description)
                   .set("state", std::string(proto::display(w->state)))
                   .set("health", std::string(proto::display(w->health)))
                   .set("devices", std::move(devices))
                   .set("last_ping", datetime_value(w->last_ping))
                   .set("job_limit", w->job_limit)
                   .set("version", w->version)
                   .set("default_config", !worker_file_is_own(app, hostname, WorkerFile::kDispatcher))
                   .set("default_env", !worker_file_is_own(app, hostname, WorkerFile::kEnv))
                   .set("default_env_dut", !worker_file_is_own(app, hostname, WorkerFile::kEnvDut));
               if (c.who().superuser()) v.set("token", w->token);
               return v;
           }});
    r.add({"scheduler.workers.update", {"hostname", "description", "health", "job_limit"}, 1,
           "Changes a worker's description, health (ACTIVE, MAINTENANCE, RETIRED) or job_limit. Requires "
           "change_worker.",
           [](RpcCall& c) {
               require_perm(c, "change_worker");
               const auto hostname = c.str(0);
               if (!store::WorkerRepository(c.tx()).get(hostname)) {
                   throw RpcFault{404, "Worker '" + hostname + "' was not found."};
               }
               store::WorkerUpdate u;
               u.description = c.opt_str(1);
               if (auto h = c.opt_str(2)) {
                   const auto parsed = proto::parse<proto::WorkerHealth>(*h);
                   if (!parsed || proto::key(*parsed) != *h) throw RpcFault{400, "Invalid health: " + *h};
                   u.health = *parsed;
               }
               if (c.has(3)) {
                   const auto limit = c.at(3).is_int() ? c.at(3).as_int() : -1;
                   if (limit < 0 || limit > 1000000) throw RpcFault{400, "Invalid job limit"};
                   u.job_limit = static_cast<int>(limit);
               }
               auto updated = update_worker(c.http(), hostname, u, "xmlrpc api");
               if (!updated) throw RpcFault{400, updated.error().message};
               return Value();
           }});
}

// ------------------------------------------------------------ legacy scheduler.*

void legacy_methods(Registry& r) {
    r.add({"scheduler.all_devices", {}, 0,
           "Non-retired visible devices as [hostname, type, status, current job, true] lists.", [](RpcCall& c) {
               Array out;
               for (const auto& d : visible_devices(c.http(), false)) {
                   out.push_back(Array{d.hostname, d.device_type, legacy_status(d), Value(d.current_job), true});
               }
               return Value(std::move(out));
           }});
    r.add({"scheduler.all_device_types", {}, 0,
           "Visible device types with counts of their non-retired devices: name, idle, busy, offline.",
           [](RpcCall& c) {
               store::DeviceTypeRepository types(c.tx());
               std::map<std::string, bool> online;
               for (const auto& w : store::WorkerRepository(c.tx()).list(true)) {
                   online[w.hostname] = w.state == proto::WorkerState::kOnline;
               }
               store::DeviceFilter filter;
               const auto devices = store::DeviceRepository(c.tx()).list(filter);
               Array out;
               for (const auto& t : types.list()) {
                   if (!types.visible_to(t.name, c.who().user)) continue;
                   long idle = 0, busy = 0, offline = 0, any = 0;
                   for (const auto& d : devices) {
                       if (d.device_type != t.name) continue;
                       ++any;
                       const bool usable = d.health == proto::DeviceHealth::kGood ||
                                           d.health == proto::DeviceHealth::kUnknown;
                       if (d.state == proto::DeviceState::kReserved || d.state == proto::DeviceState::kRunning) {
                           ++busy;
                       } else if (usable && d.worker && online[*d.worker]) {
                           ++idle;
                       } else {
                           ++offline;
                       }
                   }
                   if (any == 0) continue;
                   // LAVA's key order: name, busy, idle, offline.
                   out.push_back(Value().set("name", t.name).set("busy", busy).set("idle", idle).set("offline", offline));
               }
               return Value(std::move(out));
           }});
    r.add({"scheduler.get_device_status", {"hostname"}, 1,
           "A device's legacy status: hostname, status, job, offline_since, offline_by, is_pipeline.",
           [](RpcCall& c) {
               const auto hostname = c.opt_str(0).value_or("");
               if (hostname.empty()) throw RpcFault{400, "Bad request: Hostname was not specified."};
               const auto d = device_or_404(c, hostname);
               if (!visible_device(c.http(), hostname)) {
                   throw RpcFault{403, "Permission denied for user to access " + hostname + " information."};
               }
               return Value()
                   .set("hostname", d.hostname)
                   .set("status", legacy_status(d))
                   .set("job", d.current_job)
                   .set("offline_since", Nil{})
                   .set("offline_by", Nil{})
                   .set("is_pipeline", true);
           }});
    const auto set_mode = [](const char* mode, proto::DeviceHealth health) {
        return [mode, health](RpcCall& c) {
            c.require_user();
            const auto hostname = c.opt_str(0).value_or("");
            const auto reason = c.opt_str(1).value_or("");
            if (hostname.empty()) throw RpcFault{400, "Bad request: Hostname was not specified."};
            if (reason.empty()) throw RpcFault{400, "Bad request: Reason was not specified."};
            device_or_404(c, hostname);
            if (!store::DeviceRepository(c.tx()).can_change(hostname, *c.who().user)) {
                throw RpcFault{403, "Permission denied for user to put " + hostname + " into " + mode + " mode."};
            }
            store::DeviceUpdate u;
            u.health = health;
            auto updated = update_device(c.http(), hostname, u, reason);
            if (!updated) throw RpcFault{400, updated.error().message};
            return Value();
        };
    };
    r.add({"scheduler.put_into_maintenance_mode", {"hostname", "reason", "notify"}, 2,
           "Puts a device into Maintenance, recording the reason.", set_mode("maintenance", proto::DeviceHealth::kMaintenance)});
    r.add({"scheduler.put_into_online_mode", {"hostname", "reason", "skip_health_check"}, 2,
           "Puts a device back to Unknown health (checked before its next job), recording the reason.",
           set_mode("online", proto::DeviceHealth::kUnknown)});
    r.add({"scheduler.pending_jobs_by_device_type", {"all"}, 0,
           "Submitted jobs visible to the caller, counted by requested device type.", [](RpcCall& c) {
               store::DeviceTypeRepository types(c.tx());
               store::JobRepository jobs(c.tx());
               Value out = Struct{};
               for (const auto& t : types.list()) {
                   if (!types.visible_to(t.name, c.who().user)) continue;
                   if (!c.boolean(0, false) && t.device_count == 0) continue;
                   store::JobQuery q;
                   q.filters = {{"state", "Submitted"}, {"requested_device_type", t.name}};
                   q.limit = 1;
                   auto page = jobs.list(q, c.who().user);
                   out.set(t.name, page ? page->count : 0L);
               }
               return out;
           }});
    r.add({"scheduler.get_device_config", {"device_hostname", "context"}, 1,
           "The device configuration rendered as YAML (base64), with an optional job context (YAML text).",
           [](RpcCall& c) {
               const auto hostname = c.opt_str(0).value_or("");
               if (hostname.empty()) throw RpcFault{400, "Bad request: Device hostname was not specified."};
               if (!store::DeviceRepository(c.tx()).get(hostname)) throw RpcFault{404, "Specified device was not found."};
               if (!visible_device(c.http(), hostname)) {
                   throw RpcFault{401, "Permission denied for user to device " + hostname};
               }
               return binary_or_fault(device_configuration(c.http().app, hostname, true, c.opt_str(1)));
           }});
    r.add({"scheduler.import_device_dictionary", {"hostname", "jinja_str"}, 2,
           "Replaces a device's dictionary (Jinja2).", [](RpcCall& c) {
               c.require_user();
               const auto hostname = c.str(0);
               device_or_404(c, hostname);
               if (!store::DeviceRepository(c.tx()).can_change(hostname, *c.who().user)) {
                   throw RpcFault{403, "Permission denied for user to store the configuration for " + hostname +
                                           " on disk."};
               }
               if (!write_device_dictionary(c.http().app, hostname, c.str(1))) {
                   throw RpcFault{400, "Unable to store the configuration for " + hostname + " on disk"};
               }
               return Value("Device dictionary updated for " + hostname);
           }});
    r.add({"scheduler.export_device_dictionary", {"hostname"}, 1, "A device's dictionary (Jinja2, base64).",
           [](RpcCall& c) {
               c.require_user();
               const auto hostname = c.str(0);
               device_or_404(c, hostname);
               if (!store::DeviceRepository(c.tx()).can_change(hostname, *c.who().user)) {
                   throw RpcFault{403, "Permission denied for user to retrieve device dictionary for '" + hostname +
                                           "'."};
               }
               auto text = device_configuration(c.http().app, hostname, false, std::nullopt);
               if (!text) throw RpcFault{404, "Device '" + hostname + "' does not have a device dictionary"};
               return Value(Binary{*text});
           }});
}

// Finished jobs, newest first, visible to the caller (and submitted by them
// with restrict_to_user).
Array recent_jobs(RpcCall& c, const std::string& field, const std::string& value, bool with_device) {
    const auto count = c.integer(1, 1);
    if (count < 0) throw RpcFault{400, "Bad request: count must not be negative."};
    store::JobQuery q;
    q.filters = {{"state", "Finished"}, {field, value}};
    if (c.boolean(2, false) && c.who().user) q.filters.emplace_back("submitter__username", c.who().user->username);
    q.ordering = "-id";
    q.limit = std::min<std::int64_t>(count, 1000);
    Array out;
    if (q.limit == 0) return out;
    auto page = store::JobRepository(c.tx()).list(q, c.who().user);
    if (!page) throw RpcFault{400, page.error().message};
    for (const auto& job : page->jobs) {
        Value v;
        v.set("id", job.id).set("description", job.description).set("status", legacy_job_status(job));
        if (with_device) v.set("device", job.actual_device.value_or(""));
        out.push_back(std::move(v));
    }
    return out;
}

void permission_methods(Registry& r, const std::string& kind, store::PermissionTarget target) {
    const bool types = target == store::PermissionTarget::kDeviceType;
    const std::string perm = types ? "change_devicetype" : "change_device";
    const std::string noun = types ? "device type name" : "device hostname";
    const auto change = [types, perm, noun, target](bool assign) {
        return [types, perm, noun, target, assign](RpcCall& c) {
            require_perm(c, perm);
            if (!c.at(1).is_string()) {
                throw RpcFault{400, types ? "device_type name must be a string" : "device argument must be a string"};
            }
            const auto permission = c.str(0);
            const auto object = c.str(1);
            const auto group = c.str(2);
            if (!store::GroupRepository(c.tx()).id_of(group)) throw RpcFault{400, "please use existing group name"};
            const bool exists = types ? static_cast<bool>(store::DeviceTypeRepository(c.tx()).get(object))
                                      : static_cast<bool>(store::DeviceRepository(c.tx()).get(object));
            if (!exists) throw RpcFault{400, "please use existing " + noun};
            store::PermissionRepository perms(c.tx(), target);
            if (assign) {
                auto made = perms.create(group, permission, object);
                if (!made && made.error().code != errc::kAlreadyExists) {
                    const auto& m = made.error().message;
                    throw RpcFault{400, m.substr(m.find('\n') + 1)};
                }
            } else {
                (void)perms.remove(group, permission, object);  // not held: nothing to do, as LAVA
            }
            return Value();
        };
    };
    r.add({"system.assign_perm_" + kind, {"perm", kind, "group"}, 3,
           "Gives a group a permission (view_*, submit_to_*, change_*) on a " + std::string(types ? "device type." : "device."),
           change(true)});
    r.add({"system.revoke_perm_" + kind, {"perm", kind, "group"}, 3,
           "Takes a permission back from a group.", change(false)});
}

void more_legacy_methods(Registry& r) {
    r.add({"scheduler.get_recent_jobs_for_device_type", {"device_type", "count", "restrict_to_user"}, 1,
           "The last `count` finished jobs of a device type: id, description, status, device.", [](RpcCall& c) {
               const auto type = c.opt_str(0).value_or("");
               if (type.empty()) throw RpcFault{400, "Bad request: device_type was not specified."};
               auto t = store::DeviceTypeRepository(c.tx()).get(type);
               if (!t || !t->display) throw RpcFault{404, "DeviceType '" + type + "' was not found."};
               return Value(recent_jobs(c, "requested_device_type", type, true));
           }});
    r.add({"scheduler.get_recent_jobs_for_device", {"device", "count", "restrict_to_user"}, 1,
           "The last `count` finished jobs of a device: id, description, status.", [](RpcCall& c) {
               const auto hostname = c.opt_str(0).value_or("");
               if (hostname.empty()) throw RpcFault{400, "Bad request: device was not specified."};
               viewable_device(c, hostname);
               return Value(recent_jobs(c, "actual_device", hostname, false));
           }});
    r.add({"scheduler.get_device_type_by_alias", {"alias"}, 1,
           "{alias: [device types]}: the visible types with an alias containing the text.", [](RpcCall& c) {
               const auto alias = c.str(0);
               store::DeviceTypeRepository types(c.tx());
               Array names;
               for (const auto& t : types.list()) {
                   if (!types.visible_to(t.name, c.who().user)) continue;
                   const bool match = std::any_of(t.aliases.begin(), t.aliases.end(),
                                                  [&](const auto& a) { return a.find(alias) != std::string::npos; });
                   if (match) names.push_back(t.name);
               }
               return Value().set(alias, std::move(names));
           }});
    r.add({"scheduler.validate_pipeline_devices", {"name"}, 0,
           "Checks the configuration of the visible, non-retired devices (all, those of a device type, or one "
           "device). Returns YAML (base64): {hostname: {Valid: null} or {Invalid: why}}.",
           [](RpcCall& c) {
               const auto name = c.opt_str(0).value_or("");
               auto devices = visible_devices(c.http(), false);
               std::vector<store::Device> chosen;
               for (auto& d : devices) {
                   if (name.empty() || d.device_type == name) chosen.push_back(d);
               }
               if (chosen.empty() && !name.empty()) {
                   for (auto& d : devices) {
                       if (d.hostname == name) chosen.push_back(d);
                   }
               }
               if (chosen.empty()) {
                   throw RpcFault{404, name.empty() ? "No pipeline devices visible by user were found on this instance."
                                                    : "No devices found with hostname or device type name " + name +
                                                          ", visible by the user"};
               }
               const auto& config = c.http().app.devices();
               std::string yaml;
               for (const auto& d : chosen) {
                   std::string verdict = "{Valid: null}";
                   if (!config.has_dictionary(d.hostname)) {
                       verdict = "{Invalid: Missing device dictionary}";
                   } else if (auto text = config.dictionary(d.hostname); !text) {
                       verdict = "{Invalid: " + json_quote(text.error().message) + "}";
                   } else if (auto ok = config.check_dictionary(*text); !ok) {
                       verdict = "{Invalid: " + json_quote(ok.error().message) + "}";
                   }
                   yaml += json_quote(d.hostname) + ": " + verdict + "\n";
               }
               return Value(Binary{yaml});
           }});
}

}  // namespace

void add_lab_methods(Registry& r) {
    permission_methods(r, "device_type", store::PermissionTarget::kDeviceType);
    permission_methods(r, "device", store::PermissionTarget::kDevice);
    more_legacy_methods(r);
    device_methods(r);
    device_type_methods(r);
    alias_and_tag_methods(r);
    worker_methods(r);
    legacy_methods(r);
}

}  // namespace lava::server::web::rpc
