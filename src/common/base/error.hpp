#pragma once
// Expected domain failures travel as Result<T>: a value, or an Error that
// carries a per-module error code (for programs) and a one-line message that
// names the offending thing (for people). Bugs use LAVA_ASSERT instead;
// unexpected failures are exceptions caught once at a session boundary.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <utility>

namespace lava {

// An error code plus the sentence that explains it.
struct Error {
    boost::system::error_code code;
    std::string message;
};

template <class T>
using Result = boost::system::result<T, Error>;

// Thrown by Result<T>::value() when it holds an error.
class ErrorException : public boost::system::system_error {
public:
    explicit ErrorException(const Error& e) : boost::system::system_error(e.code, e.message),
                                              message_(e.message) {}
    const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

// Found by boost::system::result through argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

// Builds an Error from any enum registered as a boost::system error code enum.
template <class Enum>
Error make_error(Enum e, std::string message) {
    return Error{make_error_code(e), std::move(message)};
}

// Generic error codes shared by every module; modules may define their own.
enum class errc {
    kInvalidArgument = 1,  // input that fails validation
    kNotFound,             // a named object does not exist
    kAlreadyExists,        // a unique name is taken
    kConflict,             // the object is in a state that forbids the operation
    kPermissionDenied,     // the caller may not do this
    kUnavailable,          // a dependency (database, peer) cannot be reached
};

const boost::system::error_category& lava_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

}  // namespace lava

template <>
struct boost::system::is_error_code_enum<lava::errc> : std::true_type {};
