#include "common/proto/states.hpp"

#include <gtest/gtest.h>

namespace lava::proto {
namespace {

// The stored integers are LAVA's (lava-protocols.md §9.1): a database shared
// with LAVA, or migrated from it, must read the same.
TEST(States, StoredValuesAreLavas) {
    EXPECT_EQ(static_cast<int>(JobState::kSubmitted), 0);
    EXPECT_EQ(static_cast<int>(JobState::kFinished), 5);
    EXPECT_EQ(static_cast<int>(JobHealth::kCanceled), 3);
    EXPECT_EQ(static_cast<int>(DeviceHealth::kMaintenance), 4);
    EXPECT_EQ(static_cast<int>(DeviceHealth::kRetired), 5);
    EXPECT_EQ(static_cast<int>(WorkerState::kOffline), 1);
    EXPECT_EQ(static_cast<int>(WorkerHealth::kRetired), 2);
    EXPECT_EQ(static_cast<int>(TestResult::kUnknown), 3);
}

TEST(States, DisplayNamesAndKeys) {
    EXPECT_EQ(display(JobState::kCanceling), "Canceling");
    EXPECT_EQ(display(DeviceHealth::kLooping), "Looping");
    EXPECT_EQ(display(HealthDenominator::kJobs), "jobs");
    EXPECT_EQ(key(DeviceHealth::kMaintenance), "MAINTENANCE");
    EXPECT_EQ(key(WorkerHealth::kActive), "ACTIVE");
}

TEST(States, ParseAcceptsKeysAndDisplayNamesInAnyCase) {
    EXPECT_EQ(*parse<DeviceHealth>("GOOD"), DeviceHealth::kGood);
    EXPECT_EQ(*parse<DeviceHealth>("Good"), DeviceHealth::kGood);
    EXPECT_EQ(*parse<DeviceHealth>("retired"), DeviceHealth::kRetired);
    EXPECT_EQ(*parse<HealthDenominator>("jobs"), HealthDenominator::kJobs);
}

TEST(States, ParseErrorNamesTheChoices) {
    auto r = parse<WorkerHealth>("sleepy");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "invalid worker health 'sleepy': expected one of ACTIVE, MAINTENANCE, RETIRED");
}

TEST(States, FromIntRejectsOutOfRange) {
    EXPECT_EQ(from_int<JobState>(3), JobState::kRunning);
    EXPECT_FALSE(from_int<JobState>(6));
    EXPECT_FALSE(from_int<JobState>(-1));
}

}  // namespace
}  // namespace lava::proto
