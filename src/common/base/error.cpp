#include "common/base/error.hpp"

#include <boost/throw_exception.hpp>

namespace lava {
namespace {

class LavaCategory final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "lava"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::kInvalidArgument: return "invalid argument";
            case errc::kNotFound: return "not found";
            case errc::kAlreadyExists: return "already exists";
            case errc::kConflict: return "conflict";
            case errc::kPermissionDenied: return "permission denied";
            case errc::kUnavailable: return "unavailable";
        }
        return "unknown lava error";
    }
};

}  // namespace

const boost::system::error_category& lava_category() noexcept {
    static const LavaCategory category;
    return category;
}

boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), lava_category()};
}

void throw_exception_from_error(const Error& e, const boost::source_location& loc) {
    boost::throw_exception(ErrorException(e), loc);
}

}  // namespace lava
