#include "common/async/blocking.hpp"
#include "common/db/async.hpp"
#include "common/db/pool.hpp"
#include "integration/pg_fixture.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>

namespace lava::test {
namespace {

namespace db = common::db;
namespace asio = boost::asio;

const db::Statement kCreate{"t.create", "CREATE TABLE IF NOT EXISTS t (x int)"};
const db::Statement kInsert{"t.insert", "INSERT INTO t VALUES ($1)"};
const db::Statement kCount{"t.count", "SELECT count(*) FROM t"};
const db::Statement kPid{"t.pid", "SELECT pg_backend_pid()"};

class PoolTest : public PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        db::Pool pool(conninfo(), 1);
        db::transact(pool, [](db::Tx& tx) { tx.exec(kCreate); });
    }
};

TEST_F(PoolTest, TransactCommitsOnReturnAndRollsBackOnErrorOrException) {
    db::Pool pool(conninfo(), 2);
    db::transact(pool, [](db::Tx& tx) { tx.exec(kInsert, 1); });
    EXPECT_EQ(query("SELECT count(*) FROM t"), "1");

    Result<int> failed = db::transact(pool, [](db::Tx& tx) -> Result<int> {
        tx.exec(kInsert, 2);
        return make_error(errc::kConflict, "changed my mind");
    });
    EXPECT_FALSE(failed);
    EXPECT_EQ(query("SELECT count(*) FROM t"), "1");

    EXPECT_THROW(db::transact(pool, [](db::Tx& tx) {
                     tx.exec(kInsert, 3);
                     throw std::runtime_error("bug");
                 }),
                 std::runtime_error);
    EXPECT_EQ(query("SELECT count(*) FROM t"), "1");

    auto ok = db::transact(pool, [](db::Tx& tx) -> Result<long> {
        tx.exec(kInsert, 4);
        return tx.exec1(kCount)[0].as<long>();
    });
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, 2);
    EXPECT_EQ(query("SELECT count(*) FROM t"), "2");
}

TEST_F(PoolTest, NullableParametersBindAsNull) {
    db::Pool pool(conninfo(), 1);
    db::transact(pool, [](db::Tx& tx) {
        tx.exec(kInsert, std::optional<int>{});
        tx.exec(kInsert, std::optional<int>{7});
    });
    EXPECT_EQ(query("SELECT count(*) FROM t WHERE x IS NULL"), "1");
    EXPECT_EQ(query("SELECT count(*) FROM t WHERE x = 7"), "1");
}

TEST_F(PoolTest, ReusesConnectionsAndBoundsThem) {
    db::Pool pool(conninfo(), 2);
    int pid1 = 0;
    {
        auto a = pool.acquire();
        pqxx::work w(a->raw());
        pid1 = w.exec1("SELECT pg_backend_pid()")[0].as<int>();
    }
    {
        auto again = pool.acquire();
        pqxx::work w(again->raw());
        EXPECT_EQ(w.exec1("SELECT pg_backend_pid()")[0].as<int>(), pid1);
    }
    auto a = pool.acquire();
    auto b = pool.acquire();
    EXPECT_THROW(pool.acquire(std::chrono::milliseconds(100)), std::runtime_error);
    std::thread releaser([lease = std::move(b)]() mutable {
        auto gone = std::move(lease);  // released when this thread ends
    });
    releaser.join();
    EXPECT_NO_THROW(pool.acquire(std::chrono::seconds(5)));
}

TEST_F(PoolTest, ABrokenConnectionIsReplaced) {
    db::Pool pool(conninfo(), 1);
    const int victim = db::transact(pool, [](db::Tx& tx) { return tx.exec1(kPid)[0].as<int>(); });
    query("SELECT pg_terminate_backend(" + std::to_string(victim) + ")");
    EXPECT_THROW(db::transact(pool, [](db::Tx& tx) { return tx.exec1(kPid)[0].as<int>(); }),
                 pqxx::broken_connection);
    // The pool's only slot was freed and a new connection opens.
    const int fresh = db::transact(pool, [](db::Tx& tx) { return tx.exec1(kPid)[0].as<int>(); });
    EXPECT_NE(fresh, victim);
}

asio::awaitable<long> count_async(common::async::BlockingPool& blocking, db::Pool& pool,
                                  std::thread::id& ran_on, std::thread::id& resumed_on) {
    const long n = co_await db::transact_async(blocking, pool, [&ran_on](db::Tx& tx) {
        ran_on = std::this_thread::get_id();
        tx.exec(kInsert, 5);
        return tx.exec1(kCount)[0].as<long>();
    });
    resumed_on = std::this_thread::get_id();
    co_return n;
}

TEST_F(PoolTest, CoroutinesReachTheDatabaseThroughTheBlockingPool) {
    asio::io_context io;
    common::async::BlockingPool blocking(2);
    db::Pool pool(conninfo(), 2);
    std::thread::id ran_on, resumed_on;
    long result = -1;
    asio::co_spawn(io, count_async(blocking, pool, ran_on, resumed_on),
                   [&](std::exception_ptr e, long n) {
                       EXPECT_FALSE(e);
                       result = n;
                   });
    io.run();
    EXPECT_EQ(result, 1);
    EXPECT_NE(ran_on, std::this_thread::get_id());
    EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace lava::test
