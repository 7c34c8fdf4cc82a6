#pragma once
// The database from coroutines: each transaction runs on the blocking pool
// with a pooled connection, and the coroutine resumes on its own executor.
// A coroutine therefore never blocks an I/O thread on libpq, and never holds
// a connection across network I/O.

#include "common/async/blocking.hpp"
#include "common/db/pool.hpp"

namespace lava::common::db {

// co_await transact_async(blocking, pool, [&](Tx& tx) { ...; return value; })
// with transact()'s commit rules.
// (No temporary with non-trivial members may live across the co_await:
// GCC 12 destroys such temporaries of a coroutine twice. Hence the named,
// reference-capturing `work`.)
template <class F, class R = std::invoke_result_t<F&, Tx&>>
boost::asio::awaitable<R> transact_async(async::BlockingPool& blocking, Pool& pool, F f) {
    auto work = [&pool, &f]() { return transact(pool, f); };
    co_return co_await async::run_blocking(blocking, work);
}

}  // namespace lava::common::db
