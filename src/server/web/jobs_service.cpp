#include "server/web/jobs_service.hpp"

#include "common/job/model.hpp"
#include "common/job/multinode.hpp"
#include "common/crypto/password.hpp"
#include "common/yaml/dump.hpp"
#include "server/store/catalogue.hpp"
#include "server/store/devices.hpp"
#include "server/store/jobs.hpp"
#include "server/store/workers.hpp"
#include "server/web/json.hpp"

namespace lava::server::web {
namespace {

using common::data::Value;

class SubmitCategory final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "lava.submit"; }
    std::string message(int ev) const override {
        switch (static_cast<submit_errc>(ev)) {
            case submit_errc::kProblem: return "problem with submitted job data";
            case submit_errc::kUnavailable: return "devices unavailable";
            case submit_errc::kNotFound: return "device or device type not found";
        }
        return "submission failed";
    }
};

Error problem(std::string m) { return make_error(submit_errc::kProblem, std::move(m)); }
Error unavailable(std::string m) { return make_error(submit_errc::kUnavailable, std::move(m)); }

// A random version 4 UUID, for MultiNode target groups.
std::string uuid4() {
    std::string hex = common::crypto::random_string(32, "0123456789abcdef");
    hex[12] = '4';
    hex[16] = "89ab"[hex[16] % 4];
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

std::vector<std::string> strings(const Value* v) {
    std::vector<std::string> out;
    if (v && v->is_list()) {
        for (const auto& item : v->as_list()) out.push_back(item.str());
    }
    return out;
}

struct Visibility {
    bool is_public = false;
    std::vector<std::int64_t> groups;
};

Result<Visibility> visibility(Call& call, const Value& doc) {
    const Value* v = doc.find("visibility");
    if (!v) return problem("Job visibility must be specified.");
    Visibility out;
    store::GroupRepository groups(call.tx);
    if (v->is_str() && v->as_str() == "public") {
        out.is_public = true;
    } else if (v->is_str()) {
        // "personal": a group named after the submitter, created when missing.
        out.groups.push_back(groups.id_or_create(call.who.user->username));
    } else if (v->is_dict()) {
        for (const auto& name : strings(v->find("group"))) {
            if (auto id = groups.id_of(name)) out.groups.push_back(*id);
        }
        if (out.groups.empty()) return problem("No known groups were found in the visibility list.");
    }
    return out;
}

// The requested device type (or alias) exists, is visible, has enough
// devices the user may submit to, and some of them carry all the tags.
Result<std::string> check_devices(Call& call, const std::string& requested, long count,
                                  const std::vector<std::int64_t>& tag_ids, const std::vector<std::string>& tags) {
    const auto& user = *call.who.user;
    const auto target = store::DeviceRepository(call.tx).submit_target(requested, user, tag_ids);
    if (!target.device_type) return unavailable("Device type '" + requested + "' is unavailable.");
    const auto& type = target.device_type;
    if (!target.visible) {
        return unavailable("Device type '" + requested + "' is unavailable to user '" + user.username + "'");
    }
    const long allowed = target.submittable;
    if (allowed == 0 && count > 0) return unavailable("No devices of type " + *type + " are available.");
    if (allowed < count) {
        return unavailable("Not enough devices of type " + *type + " are currently available to user " +
                           user.username);
    }
    if (!tag_ids.empty()) {
        const long tagged = target.tagged;
        if (tagged < std::max(count, 1L)) {
            std::string names;
            for (const auto& t : tags) names += (names.empty() ? "" : ", ") + t;
            if (tagged == 0) {
                return unavailable("No devices of type " + *type + " are available which have all of the tags '" +
                                   names + "'.");
            }
            return unavailable("Not enough devices available matching the requested tags.");
        }
    }
    return *type;
}

std::string metadata_json(const Value& doc) {
    if (const Value* md = doc.find("metadata"); md && md->is_dict()) return to_json(*md).dump();
    return "{}";
}

// LAVA's resubmission: metadata.job.original = the original job's URL,
// unless the definition sets it.
Value with_original(const Value& doc, const std::string& url) {
    common::data::Dict out;
    bool placed = false;
    for (const auto& [k, v] : doc.as_dict()) {
        if (k.is_str() && k.as_str() == "metadata" && v.is_dict()) {
            common::data::Dict md = v.as_dict();
            if (!v.find("job.original")) md.emplace_back(Value("job.original"), Value(url));
            out.emplace_back(k, Value(std::move(md)));
            placed = true;
        } else {
            out.emplace_back(k, v);
        }
    }
    if (!placed) out.emplace_back(Value("metadata"), Value(common::data::Dict{{Value("job.original"), Value(url)}}));
    return Value(std::move(out));
}

void queue_event(Call& call, const store::Job& job) { call.events.push_back(events::job_event(job)); }

}  // namespace

const boost::system::error_category& submit_category() noexcept {
    static const SubmitCategory category;
    return category;
}

boost::system::error_code make_error_code(submit_errc e) noexcept {
    return {static_cast<int>(e), submit_category()};
}

Result<Submitted> submit_job(Call& call, const std::string& definition,
                             const std::optional<std::string>& original_url) {
    const auto check = call.app.validator().check_yaml(definition);
    if (!check.ok()) return problem(common::schema::join(check.issues));
    const Value doc = original_url ? with_original(check.document, *original_url) : check.document;
    const auto model = common::job::read_job(doc);
    auto vis = visibility(call, doc);
    if (!vis) return vis.error();
    store::TagRepository tag_repo(call.tx);
    store::JobRepository jobs(call.tx);
    Submitted out;
    std::vector<store::Job> created;

    if (model.is_multinode()) {
        out.multinode = true;
        // Every role with devices must be satisfiable now.
        for (const auto& role : model.roles) {
            if (!role.device_type) {
                if (!role.host_role) return problem("connection specified without a host_role");
                continue;
            }
            auto tag_ids = tag_repo.ids(role.tags);
            if (!tag_ids) return problem(tag_ids.error().message);
            auto type = check_devices(call, *role.device_type, role.count, *tag_ids, role.tags);
            if (!type) return type.error();
        }
        const std::string group = uuid4();
        auto split = common::job::split_multinode(doc, group);
        if (!split) return problem(split.error().message);
        for (const auto& sub : *split) {
            const Value* type = sub.definition.find("device_type");
            const Value* params = sub.definition.find("protocols")->find("lava-multinode");
            auto tag_ids = tag_repo.ids(strings(params ? params->find("tags") : nullptr));
            if (!tag_ids) return problem(tag_ids.error().message);
            store::NewJob nj;
            nj.submitter_id = call.who.user->id;
            nj.submitter = call.who.user->username;
            nj.description = model.name;
            nj.requested_device_type =
                type ? store::DeviceTypeRepository(call.tx).resolve(type->str()) : std::nullopt;
            nj.priority = model.priority;
            nj.is_public = vis->is_public;
            nj.viewing_groups = vis->groups;
            nj.tags = *tag_ids;
            nj.definition = common::yaml::dump(sub.definition);
            nj.original_definition = definition;
            nj.multinode_definition = definition;
            nj.target_group = group;
            if (model.queue_timeout) nj.queue_timeout = model.queue_timeout->count();
            nj.metadata = metadata_json(doc);
            created.push_back(jobs.insert(nj));
            out.ids.push_back(created.back().id);
        }
        for (std::size_t i = 0; i < created.size(); ++i) {
            const std::string sub_id = std::to_string(out.ids.front()) + "." + std::to_string(i);
            jobs.set_sub_id(created[i].id, sub_id);
            created[i].sub_id = sub_id;
            out.sub_ids.push_back(sub_id);
        }
    } else {
        auto tag_ids = tag_repo.ids(model.tags);
        if (!tag_ids) return problem(tag_ids.error().message);
        auto type = check_devices(call, *model.device_type, 1, *tag_ids, model.tags);
        if (!type) return type.error();
        store::NewJob nj;
        nj.submitter_id = call.who.user->id;
        nj.submitter = call.who.user->username;
        nj.description = model.name;
        nj.requested_device_type = *type;
        nj.priority = model.priority;
        nj.is_public = vis->is_public;
        nj.viewing_groups = vis->groups;
        nj.tags = *tag_ids;
        // The definition as the dispatcher gets it: the text itself, unless
        // resubmission changed the document (LAVA re-serialises it, which
        // changes nothing a YAML reader sees).
        nj.definition = original_url ? common::yaml::dump(doc) : definition;
        nj.original_definition = definition;
        if (model.queue_timeout) nj.queue_timeout = model.queue_timeout->count();
        nj.metadata = metadata_json(doc);
        created.push_back(jobs.insert(nj));
        out.ids.push_back(created.back().id);
    }
    for (const auto& job : created) queue_event(call, job);
    return out;
}

bool can_cancel(const store::Job& job, const Identity& who) {
    if (!who.user) return false;
    return who.user->is_superuser || who.user->is_staff || who.user->id == job.submitter_id;
}

void cancel_job(Call& call, std::int64_t id) {
    store::Touched touched;
    store::JobTransitions(call.tx, touched, call.who.user ? call.who.user->username : "lava-server").cancel(id);
    queue_touched(call, touched);
}

void queue_touched(Call& call, const store::Touched& touched) { events::collect(call.tx, touched, call.events); }

void queue_worker_event(Call& call, const std::string& hostname) {
    events::collect_worker(call.tx, hostname, call.events);
}

std::optional<store::Job> visible_job(Call& call, const std::string& param) {
    const auto id = id_param(call, param);
    return id ? store::JobRepository(call.tx).get_visible(*id, call.who.user) : std::nullopt;
}

bool cancellable(proto::JobState s) {
    return s == proto::JobState::kSubmitted || s == proto::JobState::kScheduling || s == proto::JobState::kScheduled ||
           s == proto::JobState::kRunning;
}

std::optional<std::string> cancel_for(Call& call, const store::Job& job) {
    if (!cancellable(job.state)) return std::nullopt;  // already ending or ended: nothing to do
    if (!can_cancel(job, call.who)) return "Insufficient permissions";
    cancel_job(call, job.id);
    return std::nullopt;
}

Result<Submitted> resubmit_job(Call& call, const store::Job& job, const std::optional<std::string>& original_url) {
    const std::string& definition = job.multinode_definition.empty() ? job.definition : job.multinode_definition;
    return submit_job(call, definition, original_url);
}

}  // namespace lava::server::web
