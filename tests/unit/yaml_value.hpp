#pragma once
// Unit tests' YAML literals, loaded as values (a load failure fails the test).
#include "common/data/value.hpp"
#include "common/yaml/load.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lava::worker::run {

inline common::data::Value yaml(const std::string& text) {
    auto v = common::yaml::load(text);
    EXPECT_TRUE(v) << text;
    return v ? *v : common::data::Value();
}

}  // namespace lava::worker::run
