#pragma once
// Devices under test: type, worker, health/state, owners, tags, and the
// append-only history of their state and health. Repository over the
// caller's transaction; no state of its own.

#include "common/base/error.hpp"
#include "common/db/pool.hpp"
#include "common/proto/states.hpp"
#include "server/store/change.hpp"
#include "server/store/users.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lava::server::store {

struct Device {
    std::string hostname;
    std::string device_type;
    std::optional<std::string> description;  // nullopt: never given (LAVA's None)
    proto::DeviceState state = proto::DeviceState::kIdle;
    proto::DeviceHealth health = proto::DeviceHealth::kMaintenance;
    std::optional<std::string> worker;
    std::vector<std::string> tags;
    std::optional<std::string> physical_owner;  // username
    std::optional<std::string> physical_group;
    std::optional<std::string> owner;  // username
    std::optional<std::string> group;
    std::optional<std::int64_t> current_job;
    // As LAVA's REST API shows them (ids of related rows).
    std::optional<std::string> device_version;
    std::optional<std::int64_t> physical_owner_id;
    std::optional<std::int64_t> physical_group_id;
    std::vector<std::int64_t> tag_ids;
    std::optional<std::int64_t> last_health_report_job;
    bool is_synced = false;
};

// Who may use the device or has physical access: a user or a group, not both.
struct Ownership {
    std::optional<std::string> physical_user;
    std::optional<std::string> physical_group;
    std::optional<std::string> owner;
    std::optional<std::string> group;
};

struct NewDevice {
    std::string hostname;
    std::string device_type;
    std::string worker;  // "" for none
    std::optional<std::string> description;
    proto::DeviceHealth health = proto::DeviceHealth::kGood;
    std::vector<std::string> tags;  // created when missing, as LAVA does
    Ownership ownership;
};

struct DeviceUpdate {
    std::optional<std::string> description;
    std::optional<proto::DeviceHealth> health;
    std::optional<std::string> worker;
    std::optional<std::string> device_type;
    std::optional<std::vector<std::string>> tags;  // replaces the set
    Ownership ownership;
};

struct DeviceFilter {
    std::optional<proto::DeviceState> state;
    std::optional<proto::DeviceHealth> health;
    bool include_retired = false;  // ignored when `health` is given
    std::optional<std::string> device_type;
    std::optional<std::string> worker;
};

struct DeviceHistoryEntry {
    std::string changed_at;
    std::string actor;
    std::optional<proto::DeviceState> old_state;
    proto::DeviceState new_state;
    std::optional<proto::DeviceHealth> old_health;
    proto::DeviceHealth new_health;
    std::string reason;
};

// What a submission needs to know about the device type it names.
struct SubmitTarget {
    std::optional<std::string> device_type;  // the type (an alias resolved); nullopt: none
    bool visible = false;                    // the user may see the type
    long submittable = 0;                    // devices the user may submit to
    long tagged = 0;                         // ... that carry every requested tag
};

class DeviceRepository {
public:
    explicit DeviceRepository(common::db::Tx& tx) : tx_(tx) {}
    Result<Device> create(const NewDevice& device, const Change& change);
    Result<Device> get(const std::string& hostname);
    // Deletes the device (its jobs keep their history, pointing nowhere).
    Result<void> remove(const std::string& hostname, const Change& change);
    std::vector<Device> list(const DeviceFilter& filter);
    // LAVA's Device.can_view: the hostnames `viewer` may see (a view
    // permission on the device, else its type's rule; superusers see all).
    std::vector<std::string> visible(const std::optional<Principal>& viewer);
    // LAVA's Device.can_change for a user (superuser, or a change permission
    // on the device, else on its type when the device is unrestricted).
    bool can_change(const std::string& hostname, const Principal& user);
    Result<Device> update(const std::string& hostname, const DeviceUpdate& update,
                          const Change& change);
    // Sets the health of a device whose row the caller has locked, and
    // records "Old → New (why)" in its history.
    void set_health(const std::string& hostname, proto::DeviceState state,
                    proto::DeviceHealth old_health, proto::DeviceHealth new_health,
                    const Change& change);
    std::vector<DeviceHistoryEntry> history(const std::string& hostname);
    // The type `name_or_alias` resolves to, whether the user may see it, and
    // how many of its non-retired devices the user may submit to (LAVA's
    // submit permissions on the device, else on its type), all and those
    // carrying every tag of `tag_ids`, in one round trip.
    SubmitTarget submit_target(const std::string& name_or_alias, const Principal& user,
                               const std::vector<std::int64_t>& tag_ids);
    Result<void> add_tags(const std::string& hostname, const std::vector<std::string>& tags);
    Result<void> remove_tags(const std::string& hostname, const std::vector<std::string>& tags);

private:
    Result<void> apply_ownership(const std::string& hostname, const Ownership& o);
    Result<void> set_tags(const std::string& hostname, const std::vector<std::string>& tags);
    common::db::Tx& tx_;
};

}  // namespace lava::server::store
