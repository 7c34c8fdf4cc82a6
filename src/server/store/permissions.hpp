#pragma once
// Group permissions on device types and devices (LAVA's
// GroupDeviceTypePermission / GroupDevicePermission): view, submit and
// change codenames, a higher one implying the lower ones. Repository over
// the caller's transaction.

#include "common/base/error.hpp"
#include "common/db/pool.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lava::server::store {

enum class PermissionTarget { kDeviceType, kDevice };

struct GroupPermission {
    std::int64_t id = 0;
    std::string group;
    std::string permission;  // codename: view_devicetype, submit_to_device, ...
    std::string target;      // device type name or device hostname
};

// The codenames LAVA defines for a target kind.
const std::vector<std::string>& permission_codenames(PermissionTarget target);

class PermissionRepository {
public:
    PermissionRepository(common::db::Tx& tx, PermissionTarget target) : tx_(tx), target_(target) {}

    std::vector<GroupPermission> list();
    // Errors name the unknown group, codename or target, or the duplicate.
    Result<GroupPermission> create(const std::string& group, const std::string& permission, const std::string& target);
    Result<void> remove(std::int64_t id);
    Result<void> remove(const std::string& group, const std::string& permission, const std::string& target);

private:
    common::db::Tx& tx_;
    PermissionTarget target_;
};

}  // namespace lava::server::store
