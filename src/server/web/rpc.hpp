#pragma once
// XML-RPC at /RPC2 (lava-protocols.md §3): the method registry, argument
// access with Python-like positional defaults, and the helpers the method
// families share. Methods are thin adapters: the rules live in the services
// REST uses too (jobs_service, lab_service, the store). A method runs inside
// the request's transaction; a fault rolls back what it wrote.

#include "common/xmlrpc/value.hpp"
#include "server/store/jobs.hpp"
#include "server/web/app.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava::server::web::rpc {

using common::xmlrpc::Array;
using common::xmlrpc::Binary;
using common::xmlrpc::DateTime;
using common::xmlrpc::Nil;
using common::xmlrpc::Struct;
using common::xmlrpc::Value;

// A fault to answer: LAVA's HTTP-like codes (400, 401, 403, 404) or the
// dispatcher's (-326xx).
struct RpcFault {
    int code;
    std::string message;
};

class RpcCall;
using MethodFn = std::function<Value(RpcCall&)>;

struct Method {
    std::string name;
    std::vector<std::string> args;  // parameter names, in order
    std::size_t required = 0;       // the first `required` must be given
    std::string help;
    MethodFn fn;
    // methodSignature: return type then argument types; empty = "undef".
    std::vector<std::string> signature = {};
};

class Registry {
public:
    void add(Method m);
    const Method* find(std::string_view name) const;
    std::vector<std::string> names() const;  // sorted

private:
    std::map<std::string, Method, std::less<>> methods_;
};

// One method invocation: the HTTP call (transaction, caller), the method and
// its parameters.
class RpcCall {
public:
    RpcCall(Call& call, const Method& method, const Array& params, const Registry& registry)
        : call_(call), method_(method), params_(params), registry_(registry) {}

    Call& http() { return call_; }
    common::db::Tx& tx() { return call_.tx; }
    const Identity& who() const { return call_.who; }
    const Method& method() const { return method_; }
    const Registry& registry() const { return registry_; }

    // Whether argument i was given and is not nil.
    bool has(std::size_t i) const { return i < params_.size() && !params_[i].is_nil(); }
    const Value& at(std::size_t i) const;
    // Typed access; a wrong type is fault -32602 naming the argument.
    // Integers given as text are accepted where LAVA formats them with %s.
    std::string str(std::size_t i) const;
    std::optional<std::string> opt_str(std::size_t i) const;
    std::int64_t integer(std::size_t i, std::int64_t fallback) const;
    bool boolean(std::size_t i, bool fallback) const;
    // A job id as LAVA takes it: an int, "N" or "N.M".
    std::string job_id(std::size_t i) const;

    // Fault 401 unless the caller is an authenticated, active user.
    void require_user() const;
    void require_superuser() const;
    // The caller as LAVA prints a user in messages ("AnonymousUser").
    std::string caller_name() const;

private:
    [[noreturn]] void bad_type(std::size_t i, std::string_view expected) const;

    Call& call_;
    const Method& method_;
    const Array& params_;
    const Registry& registry_;
};

// "2026-11-30T09:21:16.238000" (store) -> dateTime.iso8601 "20261130T09:21:16",
// as Python marshals a datetime.
Value datetime_value(const std::optional<std::string>& iso);
// The same time as Python's str(datetime): "2026-11-30 09:21:16.238000+00:00".
Value python_time(const std::optional<std::string>& iso);

// TestJob.get_legacy_status_display: Submitted, Running, Canceling,
// Complete, Incomplete, Canceled.
std::string legacy_job_status(const store::Job& job);

// The job `display_id` names, visible to the caller; faults as LAVA:
// 404 "Job 'X' was not found.", 403 "Job 'X' not available to user 'U'.".
store::Job visible_job(RpcCall& c, const std::string& display_id);

// The method families.
void add_system_methods(Registry& r);
void add_job_methods(Registry& r);
void add_lab_methods(Registry& r);
void add_result_methods(Registry& r);
// Every method /RPC2 serves (built once; read-only after).
const Registry& methods();

}  // namespace lava::server::web::rpc
