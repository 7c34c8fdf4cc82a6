#include "server/store/permissions.hpp"

#include <algorithm>

namespace lava::server::store {
namespace {

using common::db::Statement;

const Statement kListTypePerms{
    "permissions.list_devicetype",
    "SELECT p.id, g.name, p.permission, p.device_type FROM group_device_type_permissions p "
    "JOIN groups g ON g.id = p.group_id ORDER BY p.id"};
const Statement kListDevicePerms{
    "permissions.list_device",
    "SELECT p.id, g.name, p.permission, p.device FROM group_device_permissions p "
    "JOIN groups g ON g.id = p.group_id ORDER BY p.id"};
const Statement kInsertTypePerm{
    "permissions.insert_devicetype",
    "INSERT INTO group_device_type_permissions (group_id, device_type, permission) "
    "SELECT g.id, dt.name, $3 FROM groups g, device_types dt WHERE g.name = $1 AND dt.name = $2 "
    "ON CONFLICT DO NOTHING RETURNING id"};
const Statement kInsertDevicePerm{
    "permissions.insert_device",
    "INSERT INTO group_device_permissions (group_id, device, permission) "
    "SELECT g.id, d.hostname, $3 FROM groups g, devices d WHERE g.name = $1 AND d.hostname = $2 "
    "ON CONFLICT DO NOTHING RETURNING id"};
const Statement kDeleteTypePerm{"permissions.delete_devicetype",
                                "DELETE FROM group_device_type_permissions WHERE id = $1 RETURNING id"};
const Statement kDeleteDevicePerm{"permissions.delete_device",
                                  "DELETE FROM group_device_permissions WHERE id = $1 RETURNING id"};
const Statement kGroupExists{"permissions.group_exists", "SELECT 1 FROM groups WHERE name = $1"};
const Statement kTypeExists{"permissions.type_exists", "SELECT 1 FROM device_types WHERE name = $1"};
const Statement kDeviceExists{"permissions.device_exists", "SELECT 1 FROM devices WHERE hostname = $1"};

}  // namespace

const std::vector<std::string>& permission_codenames(PermissionTarget target) {
    static const std::vector<std::string> types = {"view_devicetype", "submit_to_devicetype", "change_devicetype"};
    static const std::vector<std::string> devices = {"view_device", "submit_to_device", "change_device"};
    return target == PermissionTarget::kDeviceType ? types : devices;
}

std::vector<GroupPermission> PermissionRepository::list() {
    std::vector<GroupPermission> out;
    for (const auto& r : tx_.exec(target_ == PermissionTarget::kDeviceType ? kListTypePerms : kListDevicePerms)) {
        out.push_back(GroupPermission{r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                                      r[3].as<std::string>()});
    }
    return out;
}

Result<GroupPermission> PermissionRepository::create(const std::string& group, const std::string& permission,
                                                     const std::string& target) {
    const bool types = target_ == PermissionTarget::kDeviceType;
    const auto& codenames = permission_codenames(target_);
    if (std::find(codenames.begin(), codenames.end(), permission) == codenames.end()) {
        return make_error(errc::kInvalidArgument, "permission\nObject with codename=" + permission + " does not exist.");
    }
    if (!tx_.exec01(kGroupExists, group)) {
        return make_error(errc::kInvalidArgument, "group\nObject with name=" + group + " does not exist.");
    }
    if (!tx_.exec01(types ? kTypeExists : kDeviceExists, target)) {
        return make_error(errc::kInvalidArgument, std::string(types ? "devicetype" : "device") +
                                                      "\nInvalid pk \"" + target + "\" - object does not exist.");
    }
    auto r = tx_.exec(types ? kInsertTypePerm : kInsertDevicePerm, group, target, permission);
    if (r.empty()) {
        return make_error(errc::kAlreadyExists,
                          std::string("non_field_errors\nThe fields permission, group, ") +
                              (types ? "devicetype" : "device") + " must make a unique set.");
    }
    return GroupPermission{r[0][0].as<std::int64_t>(), group, permission, target};
}

Result<void> PermissionRepository::remove(const std::string& group, const std::string& permission,
                                          const std::string& target) {
    for (const auto& p : list()) {
        if (p.group == group && p.permission == permission && p.target == target) return remove(p.id);
    }
    return make_error(errc::kNotFound, "no permission " + permission + " of group " + group + " on " + target);
}

Result<void> PermissionRepository::remove(std::int64_t id) {
    if (tx_.exec(target_ == PermissionTarget::kDeviceType ? kDeleteTypePerm : kDeleteDevicePerm, id).empty()) {
        return make_error(errc::kNotFound, "permission " + std::to_string(id) + " not found");
    }
    return {};
}

}  // namespace lava::server::store
