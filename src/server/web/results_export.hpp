#pragma once
// Test results as LAVA exports them (lava_results_app export_testcase /
// export_testsuite): every value a string, metadata a mapping; as CSV
// (all cells quoted, CRLF) or YAML. Shared by REST's csv/yaml exports and
// XML-RPC's results.* methods.

#include "common/data/value.hpp"
#include "server/store/results.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lava::server::web {

// The metadata of a case as LAVA's action_metadata (YAML), or None.
common::data::Value case_metadata(const store::TestCase& c);

common::data::Value export_case(const store::TestCase& c, std::int64_t job_id);

std::string cases_csv(const std::vector<store::TestCase>& cases, std::int64_t job_id);
std::string cases_yaml(const std::vector<store::TestCase>& cases, std::int64_t job_id);
std::string suites_csv(const std::vector<store::TestSuite>& suites);
std::string suites_yaml(const std::vector<store::TestSuite>& suites);

// A job's metadata (stored as a JSON object) as LAVA's get_metadata_dict()
// gives it: (name, value text) pairs, shown as a list of one-key mappings
// by REST's jobs/<id>/metadata/ and XML-RPC's results.get_testjob_metadata.
std::vector<std::pair<std::string, std::string>> metadata_items(const std::string& metadata_json);

}  // namespace lava::server::web
