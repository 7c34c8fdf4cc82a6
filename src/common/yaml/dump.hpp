#pragma once
// data::Value -> YAML text in block style, written so that loading it back
// (with PyYAML, or common/yaml/load) gives the same value: any string that a
// plain scalar would turn into something else ("yes", "0755", "", "1:30") is
// quoted. Thread-safe.

#include "common/data/value.hpp"

#include <string>

namespace lava::common::yaml {

std::string dump(const data::Value& v);

}  // namespace lava::common::yaml
