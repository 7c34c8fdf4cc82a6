#include "common/db/pool.hpp"

#include "common/config/settings.hpp"
#include "common/metrics/metrics.hpp"

#include <stdexcept>

namespace lava::common::db {

void register_settings(config::SettingsLoader& loader, DbSettings& settings) {
    loader.add("database", &settings.database,
               "PostgreSQL connection string; empty uses the PG* environment variables");
    loader.add("db_pool_size", &settings.pool_size, "Maximum database connections", 1, 1000);
}

Connection::Connection(const std::string& conninfo) : conn_(conninfo) {}

const std::string& Connection::prepared_dynamic(const std::string& sql) {
    if (auto it = dynamic_.find(sql); it != dynamic_.end()) return it->second;
    if (dynamic_.size() >= kMaxDynamic) {
        const std::string oldest = dynamic_order_.front();
        dynamic_order_.pop_front();
        const auto it = dynamic_.find(oldest);
        conn_.unprepare(it->second);
        dynamic_.erase(it);
    }
    std::string name = "dyn." + std::to_string(++dynamic_serial_);
    conn_.prepare(name, sql);
    dynamic_order_.push_back(sql);
    return dynamic_.emplace(sql, std::move(name)).first->second;
}

void Connection::ensure_prepared(const Statement& s) {
    if (prepared_.contains(s.name)) return;
    conn_.prepare(s.name, s.sql);
    prepared_.insert(s.name);
}

Pool::Pool(std::string conninfo, std::size_t max_size)
    : conninfo_(std::move(conninfo)), max_size_(max_size == 0 ? 1 : max_size) {}

Pool::~Pool() = default;

Pool::Lease::~Lease() {
    if (conn_) pool_.release(std::move(conn_), broken_);  // null when moved from
}

Pool::Lease Pool::acquire(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    const auto free = [&] { return !idle_.empty() || open_ < max_size_; };
    if (!free()) {
        ++waits_;
        const auto since = std::chrono::steady_clock::now();
        const bool got = available_.wait_for(lock, timeout, free);
        wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
        if (!got) ++timeouts_;
    }
    if (!free()) {
        throw std::runtime_error("no database connection became free within " +
                                 std::to_string(timeout.count()) + " ms");
    }
    if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    try {
        return Lease(*this, std::make_unique<Connection>(conninfo_));
    } catch (...) {
        lock.lock();
        --open_;
        available_.notify_one();
        throw;
    }
}

Pool::Stats Pool::stats() {
    std::lock_guard lock(mutex_);
    return Stats{open_, open_ - idle_.size(), waits_, wait_seconds_, timeouts_};
}

void Pool::release(std::unique_ptr<Connection> conn, bool broken) {
    std::lock_guard lock(mutex_);
    if (!broken && conn->raw().is_open()) {
        idle_.push_back(std::move(conn));
    } else {
        --open_;
    }
    available_.notify_one();
}

void add_pool_metrics(metrics::Registry& registry, Pool& pool) {
    auto& connections = registry.gauge("lava_db_pool_connections", "Database connections of the pool, by state",
                                       {"state"});
    auto& in_use = connections.with({"in_use"});
    auto& idle = connections.with({"idle"});
    registry.gauge("lava_db_pool_max_connections", "Most database connections the pool opens (db_pool_size)")
        .with()
        .set(static_cast<double>(pool.max_size()));
    auto& waits = registry.counter("lava_db_pool_waits_total", "Connection requests that waited for a free connection")
                      .with();
    auto& waited = registry.counter("lava_db_pool_wait_seconds_total",
                                    "Time connection requests spent waiting for a free connection")
                       .with();
    auto& timeouts = registry.counter("lava_db_pool_timeouts_total",
                                      "Connection requests that gave up waiting for a free connection")
                         .with();
    registry.on_collect([&pool, &in_use, &idle, &waits, &waited, &timeouts] {
        const auto s = pool.stats();
        in_use.set(static_cast<double>(s.in_use));
        idle.set(static_cast<double>(s.open - s.in_use));
        waits.set_total(static_cast<double>(s.waits));
        waited.set_total(s.wait_seconds);
        timeouts.set_total(static_cast<double>(s.timeouts));
    });
}

std::string first_line(const std::string& what) {
    auto end = what.find('\n');
    std::string line = what.substr(0, end);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

}  // namespace lava::common::db
