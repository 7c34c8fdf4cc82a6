#pragma once
// JSON shapes of lava-server's APIs: DRF's datetime format, data::Value as
// JSON, the REST job serializer and the `testjob` event payload (§5.3).

#include "common/data/value.hpp"
#include "server/store/devices.hpp"
#include "server/store/jobs.hpp"
#include "server/store/workers.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace lava::server::web {

// "2026-11-30T09:21:16.238000" (store) -> "2026-11-30T09:21:16.238000Z";
// microseconds are dropped when zero, as Python's isoformat() does.
std::string drf_datetime(const std::string& iso);
nlohmann::json drf_datetime(const std::optional<std::string>& iso);

nlohmann::json to_json(const common::data::Value& v);

// REST v0.2's TestJobSerializer (token only for superusers).
nlohmann::json job_json(const store::Job& job, bool with_token);

}  // namespace lava::server::web
