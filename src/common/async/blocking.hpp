#pragma once
// Blocking work off the I/O threads. A daemon owns one BlockingPool (a few
// threads) next to its io_context; coroutines `co_await run_blocking(pool, f)`
// to run f() there (libpq calls, waitpid, large file reads) and resume on
// their own executor with f's result, or with f's exception rethrown.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace lava::common::async {

// Threads for blocking work; owned by a daemon's main, outlives its coroutines.
class BlockingPool {
public:
    explicit BlockingPool(std::size_t threads) : pool_(threads == 0 ? 1 : threads) {}
    ~BlockingPool() { join(); }
    BlockingPool(const BlockingPool&) = delete;
    BlockingPool& operator=(const BlockingPool&) = delete;

    boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }
    // Finishes queued work and joins the threads.
    void join() { pool_.join(); }

private:
    boost::asio::thread_pool pool_;
};

namespace detail {

template <class R>
struct BlockingInitiation {
    BlockingPool* pool;

    template <class Handler, class F>
    void operator()(Handler handler, F f) const {
        auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
        boost::asio::post(pool->executor(), [handler = std::move(handler), f = std::move(f),
                                             work = std::move(work)]() mutable {
            std::exception_ptr error;
            if constexpr (std::is_void_v<R>) {
                try {
                    f();
                } catch (...) {
                    error = std::current_exception();
                }
                auto ex = work.get_executor();
                boost::asio::post(ex, [handler = std::move(handler), error]() mutable {
                    std::move(handler)(error);
                });
            } else {
                std::optional<R> value;
                try {
                    value.emplace(f());
                } catch (...) {
                    error = std::current_exception();
                }
                auto ex = work.get_executor();
                boost::asio::post(ex, [handler = std::move(handler), error,
                                       value = std::move(value)]() mutable {
                    std::move(handler)(error, std::move(value));
                });
            }
        });
    }
};

}  // namespace detail

// Runs f() on `pool` and resumes the calling coroutine on its own executor.
// Pass a named callable, not a temporary built in the co_await expression,
// and let it capture non-trivial state through pointers: GCC 12 may relocate
// such temporaries bitwise (seen with a captured std::string).
template <class F, class R = std::invoke_result_t<F&>>
boost::asio::awaitable<R> run_blocking(BlockingPool& pool, F f) {
    if constexpr (std::is_void_v<R>) {
        co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                             void(std::exception_ptr)>(
            detail::BlockingInitiation<void>{&pool}, boost::asio::use_awaitable, std::move(f));
    } else {
        std::optional<R> value =
            co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                 void(std::exception_ptr, std::optional<R>)>(
                detail::BlockingInitiation<R>{&pool}, boost::asio::use_awaitable, std::move(f));
        co_return std::move(*value);
    }
}

}  // namespace lava::common::async
