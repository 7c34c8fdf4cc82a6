#pragma once
// Whole small files (configuration, templates, job definitions) as text.

#include <optional>
#include <string>

namespace lava {

// The file's bytes, or nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

}  // namespace lava
