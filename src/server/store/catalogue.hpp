#pragma once
// Device types, their aliases, and device tags. Repositories over the
// caller's transaction; no state of their own.

#include "common/base/error.hpp"
#include "common/db/pool.hpp"
#include "common/proto/states.hpp"
#include "server/store/users.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lava::server::store {

struct DeviceType {
    std::string name;
    std::optional<std::string> description;  // nullopt: never given (LAVA's None)
    int health_frequency = 24;
    proto::HealthDenominator health_denominator = proto::HealthDenominator::kHours;
    bool disable_health_check = false;
    bool display = true;
    std::vector<std::string> aliases;
    long device_count = 0;
    std::optional<std::string> architecture;
    std::optional<std::string> processor;
    std::string cpu_model;
    std::optional<int> bits;
    std::optional<int> core_count;
    std::vector<std::string> cores;
};

struct NewDeviceType {
    std::string name;
    std::optional<std::string> description;
    int health_frequency = 24;
    proto::HealthDenominator health_denominator = proto::HealthDenominator::kHours;
    bool disable_health_check = false;
    bool display = true;
};

struct DeviceTypeUpdate {
    std::optional<std::string> description;
    std::optional<int> health_frequency;
    std::optional<proto::HealthDenominator> health_denominator;
    std::optional<bool> disable_health_check;
    std::optional<bool> display;
};

class DeviceTypeRepository {
public:
    explicit DeviceTypeRepository(common::db::Tx& tx) : tx_(tx) {}
    Result<DeviceType> create(const NewDeviceType& dt);
    Result<DeviceType> get(const std::string& name);
    std::vector<DeviceType> list();
    Result<DeviceType> update(const std::string& name, const DeviceTypeUpdate& update);
    // Only a device type no device or job refers to.
    Result<void> remove(const std::string& name);
    // The device type a job names: an alias's type, else the type itself.
    std::optional<std::string> resolve(const std::string& name_or_alias);
    // LAVA's DeviceType.can_view: unrestricted, or a view permission for one of the groups.
    bool visible_to(const std::string& name, const std::optional<Principal>& viewer);
    // LAVA's has_perm(submit_to_devicetype): unrestricted, or a submit (or
    // change) permission for one of the user's groups; never anonymous.
    bool can_submit(const std::string& name, const std::optional<Principal>& user);

private:
    common::db::Tx& tx_;
};

struct Alias {
    std::string name;
    std::string device_type;
};

class AliasRepository {
public:
    explicit AliasRepository(common::db::Tx& tx) : tx_(tx) {}
    Result<Alias> create(const std::string& name, const std::string& device_type);
    Result<Alias> get(const std::string& name);
    std::vector<Alias> list();
    Result<void> remove(const std::string& name);
    // Points the alias (created when missing) at the device type.
    Result<Alias> attach(const std::string& name, const std::string& device_type);
    // Unlinks the alias from the device type (the alias stays, pointing nowhere).
    Result<void> detach(const std::string& name, const std::string& device_type);

private:
    common::db::Tx& tx_;
};

struct Tag {
    std::int64_t id = 0;
    std::string name;
    std::optional<std::string> description;  // nullopt: never given (LAVA's None)
};

class TagRepository {
public:
    explicit TagRepository(common::db::Tx& tx) : tx_(tx) {}
    Result<Tag> create(const std::string& name, const std::optional<std::string>& description);
    Result<Tag> get(const std::string& name);
    // The tag, created without a description if it does not exist yet.
    Result<Tag> get_or_create(const std::string& name);
    // Deletes the tag (devices and jobs lose it).
    Result<void> remove(const std::string& name);
    std::vector<Tag> list();
    // The ids of tags by name; an unknown name is an error naming it.
    Result<std::vector<std::int64_t>> ids(const std::vector<std::string>& names);

private:
    common::db::Tx& tx_;
};

}  // namespace lava::server::store
