#include "common/async/blocking.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

namespace lava::common::async {
namespace {

namespace asio = boost::asio;

struct Observed {
    std::thread::id io_thread, before, inside, after;
    int value = 0;
    std::string error;
};

asio::awaitable<void> use_pool(BlockingPool& pool, Observed& seen) {
    seen.before = std::this_thread::get_id();
    seen.value = co_await run_blocking(pool, [&seen] {
        seen.inside = std::this_thread::get_id();
        return 41 + 1;
    });
    seen.after = std::this_thread::get_id();
    try {
        co_await run_blocking(pool, []() -> void { throw std::runtime_error("boom"); });
    } catch (const std::runtime_error& e) {
        seen.error = e.what();
    }
}

TEST(RunBlocking, RunsOffTheIoThreadAndResumesOnIt) {
    asio::io_context io;
    BlockingPool pool(2);
    Observed seen;
    bool done = false;
    asio::co_spawn(io, use_pool(pool, seen), [&](std::exception_ptr e) {
        EXPECT_FALSE(e);
        done = true;
    });
    seen.io_thread = std::this_thread::get_id();
    io.run();
    ASSERT_TRUE(done);
    EXPECT_EQ(seen.value, 42);
    EXPECT_EQ(seen.before, seen.io_thread);
    EXPECT_NE(seen.inside, seen.io_thread);
    EXPECT_EQ(seen.after, seen.io_thread);
    EXPECT_EQ(seen.error, "boom");
}

asio::awaitable<void> many(BlockingPool& pool, std::atomic<int>& count) {
    for (int i = 0; i < 100; ++i) {
        co_await run_blocking(pool, [&count] { count.fetch_add(1); });
    }
}

TEST(RunBlocking, KeepsTheIoContextAliveUntilWorkReturns) {
    asio::io_context io;
    BlockingPool pool(1);
    std::atomic<int> count{0};
    asio::co_spawn(io, many(pool, count), asio::detached);
    io.run();  // returns only when the coroutine finished
    EXPECT_EQ(count.load(), 100);
}

}  // namespace
}  // namespace lava::common::async
