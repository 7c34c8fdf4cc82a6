#include "server/store/job_output.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace lava::server::store {
namespace {

namespace fs = std::filesystem;

class JobOutputTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("lava-job-output-" + std::to_string(std::random_device{}()));
    }
    void TearDown() override { fs::remove_all(root_); }
    fs::path root_;
};

TEST_F(JobOutputTest, LavasDirectoryLayout) {
    EXPECT_EQ(JobOutput(root_, 42, "2026-03-07T10:00:00.000001").dir(), root_ / "2026" / "03" / "07" / "42");
    fs::create_directories(root_ / "job-42");
    EXPECT_EQ(JobOutput(root_, 42, "2026-03-07T10:00:00").dir(), root_ / "job-42");  // legacy layout wins
}

TEST_F(JobOutputTest, AppendIndexesEveryLineStart) {
    JobOutput out(root_, 1, "2026-01-01T00:00:00");
    auto e = out.append({}, {"- {a}", "- {bb}"});
    EXPECT_EQ(e.lines, 2u);
    EXPECT_EQ(e.bytes, 13u);
    e = out.append(e, {"- {ccc}"});
    EXPECT_EQ(out.indexed_lines(), 3u);
    EXPECT_EQ(*out.read(e, 0, std::nullopt), "- {a}\n- {bb}\n- {ccc}\n");
    EXPECT_EQ(*out.read(e, 1, 2), "- {bb}\n");
    EXPECT_EQ(*out.read(e, 2, 99), "- {ccc}\n");
    EXPECT_EQ(*out.read(e, 3, std::nullopt), "");
    EXPECT_EQ(*out.read(e, 2, 1), "");
    std::ifstream idx(out.dir() / "output.idx", std::ios::binary);
    std::uint64_t offsets[3];
    idx.read(reinterpret_cast<char*>(offsets), sizeof offsets);
    EXPECT_EQ(offsets[0], 0u);
    EXPECT_EQ(offsets[1], 6u);
    EXPECT_EQ(offsets[2], 13u);
}

// output.lvl: one level code per line, kept with the log (an uncommitted
// tail cut as the log's is), and rebuilt from the log when missing.
TEST_F(JobOutputTest, LevelIndexFollowsTheLog) {
    JobOutput out(root_, 1, "2026-01-01T00:00:00");
    const std::string target = R"(- {"dt": "2026-01-01T00:00:00", "lvl": "target", "msg": "x"})";
    const std::string results = R"(- {"dt": "2026-01-01T00:00:00", "lvl": "results", "msg": {"case": "c"}})";
    auto e = out.append({}, {target, results}, "68");  // given by the caller
    EXPECT_EQ(out.levels(e), "68");
    e = out.append(e, {results, target});  // read from the lines
    EXPECT_EQ(out.levels(e), "6886");
    // An upload whose transaction did not commit leaves a tail behind...
    out.append(e, {target, target, target}, "666");
    EXPECT_EQ(out.levels(e), "6886");  // ...that readers never see
    e = out.append(e, {"- not a record"});
    EXPECT_EQ(out.levels(e), "6886?");
    EXPECT_EQ(fs::file_size(out.dir() / "output.lvl"), 5u);
    // Lost (or never written, as by LAVA): rebuilt from the log and kept.
    fs::remove(out.dir() / "output.lvl");
    EXPECT_EQ(out.levels(e), "6886?");
    EXPECT_EQ(fs::file_size(out.dir() / "output.lvl"), 5u);
    // A shorter index is completed, and appends go on after it.
    fs::resize_file(out.dir() / "output.lvl", 2);
    EXPECT_EQ(out.levels(e), "6886?");
    e = out.append(e, {target}, "6");
    EXPECT_EQ(out.levels(e), "6886?6");
    EXPECT_EQ(out.read_lines(e, {1, 3, 99}), (std::vector<std::string>{results, target}));
}

TEST_F(JobOutputTest, AnUncommittedTailIsCutBeforeTheNextAppend) {
    JobOutput out(root_, 1, "2026-01-01T00:00:00");
    const auto committed = out.append({}, {"- {one}"});
    out.append(committed, {"- {two}", "- {three}"});  // its transaction "did not commit"
    // Readers see only what is committed.
    EXPECT_EQ(*out.read(committed, 0, std::nullopt), "- {one}\n");
    const auto again = out.append(committed, {"- {two}", "- {three}"});  // the retry
    EXPECT_EQ(again.lines, 3u);
    EXPECT_EQ(*out.read(again, 0, std::nullopt), "- {one}\n- {two}\n- {three}\n");
    EXPECT_EQ(fs::file_size(out.dir() / "output.yaml"), again.bytes);
    EXPECT_EQ(out.indexed_lines(), 3u);
}

TEST_F(JobOutputTest, LostDataIsCutToWholeLinesAndTheLogGoesOn) {
    JobOutput out(root_, 1, "2026-01-01T00:00:00");
    const auto e = out.append({}, {"- {one}", "- {two}", "- {three}"});
    fs::resize_file(out.dir() / "output.yaml", 12);  // "- {one}\n- {t": line 2 is cut in the middle
    const auto after = out.append(e, {"- {four}"});
    EXPECT_EQ(after.lines, 2u);
    EXPECT_EQ(*out.read(after, 0, std::nullopt), "- {one}\n- {four}\n");
    EXPECT_EQ(out.indexed_lines(), 2u);
    // Everything gone: it starts again.
    fs::remove_all(out.dir());
    const auto fresh = out.append(after, {"- {five}"});
    EXPECT_EQ(fresh.lines, 1u);
    EXPECT_EQ(*out.read(fresh, 0, std::nullopt), "- {five}\n");
}

TEST_F(JobOutputTest, NoLogIsNotAnEmptyLog) {
    JobOutput out(root_, 7, "2026-01-01T00:00:00");
    EXPECT_FALSE(out.read({}, 0, std::nullopt));
    EXPECT_EQ(out.indexed_lines(), 0u);
    out.write_file("metadata/x.yaml", "a: 1\n");
    EXPECT_EQ(*out.read_file("metadata/x.yaml"), "a: 1\n");
    EXPECT_FALSE(out.read_file("nothing.yaml"));
}

}  // namespace
}  // namespace lava::server::store
