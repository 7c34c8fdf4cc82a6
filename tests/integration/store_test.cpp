// Store rules that go beyond one command: LAVA's worker-health cascade onto
// devices, and the append-only history.

#include "common/db/pool.hpp"
#include "integration/pg_fixture.hpp"
#include "server/store/catalogue.hpp"
#include "server/store/devices.hpp"
#include "server/store/workers.hpp"

namespace lava::test {
namespace {

namespace db = common::db;
namespace store = server::store;
using proto::DeviceHealth;
using proto::WorkerHealth;

class StoreTest : public PgTest {
protected:
    void SetUp() override {
        PgTest::SetUp();
        migrate();
        pool_ = std::make_unique<db::Pool>(conninfo(), 2);
        db::transact(*pool_, [](db::Tx& tx) {
            const store::Change admin{"admin", ""};
            ASSERT_TRUE(store::DeviceTypeRepository(tx).create({.name = "qemu"}));
            ASSERT_TRUE(store::WorkerRepository(tx).create({.hostname = "w1"}, admin));
            store::DeviceRepository devices(tx);
            for (auto [name, health] : {std::pair{"good", DeviceHealth::kGood},
                                        std::pair{"bad", DeviceHealth::kBad},
                                        std::pair{"maint", DeviceHealth::kMaintenance},
                                        std::pair{"unknown", DeviceHealth::kUnknown}}) {
                ASSERT_TRUE(devices.create({.hostname = name, .device_type = "qemu",
                                            .worker = "w1", .health = health},
                                           admin));
            }
        });
    }

    std::map<std::string, DeviceHealth> healths() {
        return db::transact(*pool_, [](db::Tx& tx) {
            std::map<std::string, DeviceHealth> out;
            for (const auto& d : store::DeviceRepository(tx).list({.include_retired = true})) {
                out[d.hostname] = d.health;
            }
            return out;
        });
    }

    void set_worker_health(WorkerHealth h) {
        auto r = db::transact(*pool_, [h](db::Tx& tx) {
            return store::WorkerRepository(tx).update("w1", {.health = h}, {"admin", "test"});
        });
        ASSERT_TRUE(r) << r.error().message;
    }

    std::unique_ptr<db::Pool> pool_;
};

TEST_F(StoreTest, RetiringAWorkerRetiresItsDevicesExceptBadOnes) {
    set_worker_health(WorkerHealth::kRetired);
    const auto h = healths();
    EXPECT_EQ(h.at("good"), DeviceHealth::kRetired);
    EXPECT_EQ(h.at("maint"), DeviceHealth::kRetired);
    EXPECT_EQ(h.at("unknown"), DeviceHealth::kRetired);
    EXPECT_EQ(h.at("bad"), DeviceHealth::kBad);
    EXPECT_EQ(query("SELECT reason FROM device_state_changes WHERE device = 'good' ORDER BY id "
                    "DESC LIMIT 1"),
              "Good → Retired (worker going retired)");
}

TEST_F(StoreTest, ActivatingAWorkerSendsGoodDevicesToUnknown) {
    set_worker_health(WorkerHealth::kMaintenance);
    EXPECT_EQ(healths().at("good"), DeviceHealth::kGood);  // maintenance cascades nothing
    set_worker_health(WorkerHealth::kActive);
    const auto h = healths();
    EXPECT_EQ(h.at("good"), DeviceHealth::kUnknown);
    EXPECT_EQ(h.at("maint"), DeviceHealth::kMaintenance);
    EXPECT_EQ(h.at("bad"), DeviceHealth::kBad);
}

TEST_F(StoreTest, LeavingRetirementDoesNotCascade) {
    db::transact(*pool_, [](db::Tx& tx) {
        ASSERT_TRUE(store::DeviceRepository(tx).create(
            {.hostname = "late", .device_type = "qemu", .worker = "w1"}, {"admin", ""}));
    });
    set_worker_health(WorkerHealth::kRetired);
    db::transact(*pool_, [](db::Tx& tx) {
        ASSERT_TRUE(store::DeviceRepository(tx).update("late", {.health = DeviceHealth::kGood},
                                                       {"admin", ""}));
    });
    set_worker_health(WorkerHealth::kActive);
    EXPECT_EQ(healths().at("late"), DeviceHealth::kGood);
}

TEST_F(StoreTest, HistoryIsAppendOnly) {
    set_worker_health(WorkerHealth::kRetired);
    const auto before = snapshot();
    pqxx::connection c(conninfo());
    for (const char* sql : {"UPDATE device_state_changes SET reason = 'rewritten'",
                            "DELETE FROM device_state_changes",
                            "UPDATE worker_state_changes SET actor = 'someone else'",
                            "DELETE FROM worker_state_changes"}) {
        pqxx::work w(c);
        EXPECT_THROW(w.exec0(sql), pqxx::sql_error) << sql;
    }
    EXPECT_EQ(snapshot(), before);
    EXPECT_EQ(query("SELECT count(*) FROM worker_state_changes WHERE worker = 'w1'"), "2");
}

TEST_F(StoreTest, WorkerTokensAreUniqueAnd32Characters) {
    db::transact(*pool_, [](db::Tx& tx) {
        ASSERT_TRUE(store::WorkerRepository(tx).create({.hostname = "w2"}, {"admin", ""}));
    });
    EXPECT_EQ(query("SELECT count(DISTINCT token) FROM workers WHERE length(token) = 32"), "2");
}

}  // namespace
}  // namespace lava::test
