#pragma once
// Completion handler for co_spawn that logs how a detached coroutine ended,
// so no exception vanishes: co_spawn(ex, task(), log_completion("ws session")).

#include "common/log/log.hpp"

#include <exception>
#include <string>

namespace lava::common::async {

struct LogCompletion {
    std::string what;
    void operator()(std::exception_ptr e) const {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log::get("async")->error("{} ended with an exception: {}", what, ex.what());
        } catch (...) {
            log::get("async")->error("{} ended with an unknown exception", what);
        }
    }
};

inline LogCompletion log_completion(std::string what) { return LogCompletion{std::move(what)}; }

}  // namespace lava::common::async
