#pragma once
// PostgreSQL access: named statements, pooled connections and transactions
// over libpqxx 6.4. Everything here blocks; from a coroutine, go through
// common/db/async.hpp so the work runs on the blocking pool, never on an I/O
// thread. A Pool is shared by all threads; a Connection and a Tx belong to
// the one thread that holds the lease.

#include "common/base/error.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lava::common::config {
class SettingsLoader;
}

// std::optional<T> parameters bind as NULL when empty (libpqxx 6.4 type_utils.hxx).

namespace lava::common::metrics {
class Registry;
}

namespace lava::common::db {

struct DbSettings {
    // A libpq connection string ("host=/run/pg dbname=lava" or a postgresql:// URI).
    // Empty means libpq's defaults and PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSFILE.
    std::string database;
    int pool_size = 4;
};

// Registers `database` and `db_pool_size`.
void register_settings(config::SettingsLoader& loader, DbSettings& settings);

// A named SQL statement, prepared on each connection the first time it runs
// there. All SQL that carries values goes through a Statement.
struct Statement {
    const char* name;
    const char* sql;
};

// One libpq connection and the names of the statements prepared on it.
class Connection {
public:
    explicit Connection(const std::string& conninfo);
    pqxx::connection& raw() { return conn_; }
    void ensure_prepared(const Statement& s);
    // The name of `sql` prepared on this connection (composed queries: the
    // same text recurs, so planning is paid once per connection, not per
    // request). At most kMaxDynamic are kept; the oldest are deallocated.
    const std::string& prepared_dynamic(const std::string& sql);

    static constexpr std::size_t kMaxDynamic = 200;

private:
    pqxx::connection conn_;
    std::unordered_set<std::string> prepared_;
    std::unordered_map<std::string, std::string> dynamic_;  // sql -> name
    std::deque<std::string> dynamic_order_;
    std::uint64_t dynamic_serial_ = 0;
};

// A read-write transaction on one connection. Rolled back on destruction
// unless commit() was called.
class Tx {
public:
    explicit Tx(Connection& conn) : conn_(conn), work_(conn.raw()) {}

    template <class... Args>
    pqxx::result exec(const Statement& s, Args&&... args) {
        conn_.ensure_prepared(s);
        return work_.exec_prepared(s.name, std::forward<Args>(args)...);
    }
    // Exactly one row, else pqxx::unexpected_rows.
    template <class... Args>
    pqxx::row exec1(const Statement& s, Args&&... args) {
        conn_.ensure_prepared(s);
        return work_.exec_prepared1(s.name, std::forward<Args>(args)...);
    }
    // At most one row.
    template <class... Args>
    std::optional<pqxx::row> exec01(const Statement& s, Args&&... args) {
        auto r = exec(s, std::forward<Args>(args)...);
        if (r.size() > 1) throw pqxx::unexpected_rows(std::string(s.name) + ": more than one row");
        if (r.empty()) return std::nullopt;
        return r[0];
    }

    // A query composed at run time (filters), with its values as parameters.
    pqxx::result exec_dynamic(const std::string& sql, const std::vector<std::string>& params) {
        const auto& name = conn_.prepared_dynamic(sql);
        return work_.exec_prepared(name, pqxx::prepare::make_dynamic_params(params));
    }

    void commit() { work_.commit(); }
    pqxx::work& work() { return work_; }

    // A savepoint, to undo part of the transaction (XML-RPC's multicall runs
    // each call in one). Not nested: one at a time.
    void savepoint() { work_.exec0("SAVEPOINT lava_part"); }
    void rollback_to_savepoint() { work_.exec0("ROLLBACK TO SAVEPOINT lava_part"); }
    void release_savepoint() { work_.exec0("RELEASE SAVEPOINT lava_part"); }

private:
    Connection& conn_;
    pqxx::work work_;
};

// A bounded set of connections, opened on demand and reused. acquire() blocks
// until one is free. Connections that broke are dropped, not returned.
class Pool {
public:
    Pool(std::string conninfo, std::size_t max_size);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // A connection on loan; goes back to the pool when destroyed.
    class Lease {
    public:
        Lease(Lease&& other) noexcept
            : pool_(other.pool_), conn_(std::move(other.conn_)), broken_(other.broken_) {}
        Lease& operator=(Lease&&) = delete;
        ~Lease();
        Connection& operator*() const { return *conn_; }
        Connection* operator->() const { return conn_.get(); }
        // The connection is broken: close it instead of returning it.
        void discard() { broken_ = true; }

    private:
        friend class Pool;
        Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
        Pool& pool_;
        std::unique_ptr<Connection> conn_;
        bool broken_ = false;
    };

    // Throws pqxx::broken_connection when a new connection cannot be opened,
    // std::runtime_error when none frees up within `timeout`.
    Lease acquire(std::chrono::milliseconds timeout = std::chrono::seconds(30));

    std::size_t max_size() const { return max_size_; }

    // For metrics: connections open and on loan, and acquires that had to
    // wait for a connection (and how long, in total) or gave up.
    struct Stats {
        std::size_t open = 0;
        std::size_t in_use = 0;
        std::uint64_t waits = 0;
        double wait_seconds = 0;
        std::uint64_t timeouts = 0;
    };
    Stats stats();

private:
    void release(std::unique_ptr<Connection> conn, bool broken);

    const std::string conninfo_;
    const std::size_t max_size_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::size_t open_ = 0;
    std::uint64_t waits_ = 0;
    double wait_seconds_ = 0;
    std::uint64_t timeouts_ = 0;
};

// The pool's use as Prometheus metrics (lava_db_pool_*), read at each scrape.
void add_pool_metrics(metrics::Registry& registry, Pool& pool);

template <class T>
struct IsResult : std::false_type {};
template <class T>
struct IsResult<boost::system::result<T, Error>> : std::true_type {};

// Runs f(Tx&) in one transaction on a pooled connection; commits when
// commit_if(f's result) is true, otherwise rolls back. Exceptions roll back
// and propagate. f must return a value.
template <class F, class CommitIf>
auto transact_when(Pool& pool, F&& f, CommitIf&& commit_if) -> std::invoke_result_t<F&, Tx&> {
    auto lease = pool.acquire();
    try {
        Tx tx(*lease);
        auto r = f(tx);
        if (commit_if(r)) tx.commit();
        return r;
    } catch (const pqxx::broken_connection&) {
        lease.discard();
        throw;
    }
}

// Runs f(Tx&) in one transaction and commits when f returns, unless f
// returns a Result holding an error: then nothing of what f wrote is kept.
template <class F>
auto transact(Pool& pool, F&& f) -> std::invoke_result_t<F&, Tx&> {
    using R = std::invoke_result_t<F&, Tx&>;
    if constexpr (std::is_void_v<R>) {
        transact_when(pool, [&](Tx& tx) { f(tx); return true; }, [](bool) { return true; });
    } else {
        return transact_when(pool, f, [](const R& r) {
            if constexpr (IsResult<R>::value) {
                return r.has_value();
            } else {
                return true;
            }
        });
    }
}

// The first line of a libpq/libpqxx error, for one-line messages.
std::string first_line(const std::string& what);

}  // namespace lava::common::db
