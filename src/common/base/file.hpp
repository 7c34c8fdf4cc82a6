#pragma once
// Whole small files (configuration, templates, job definitions) as text, and
// the checks that keep paths a job supplies inside the directory they are
// joined to.

#include "common/base/error.hpp"

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace lava {

// The file's bytes, or nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

// Writes `text` to `path` with `mode` through a temporary file (created with
// that mode, so no one reads it in between) and a rename: a crash never
// leaves half a file. False when it cannot.
bool write_file_atomic(const std::string& path, std::string_view text, mode_t mode = 0644);

// Why `path`, a relative path from outside (a job), could name something
// outside the directory it is joined to: empty, absolute, a ".." component
// or a NUL byte. Empty when it is safe to join.
std::string relative_path_problem(std::string_view path);

// As relative_path_problem, for a single file name: also no '/', "." or "..".
std::string file_name_problem(std::string_view name);

// `base`/`relative` when the text passes relative_path_problem and, on disk,
// no symbolic link along it leads out of `base`; otherwise an error that
// names `relative`. What does not exist yet is fine (a file about to be
// written). Between this check and the use, only the job itself can change
// its directory.
Result<std::string> path_inside(const std::string& base, std::string_view relative);

}  // namespace lava
