#include "worker/run/job.hpp"

#include "common/base/file.hpp"
#include "common/device/device.hpp"
#include "common/job/timeout.hpp"
#include "common/job/validate.hpp"
#include "common/yaml/dump.hpp"
#include "common/yaml/load.hpp"
#include "worker/run/actions.hpp"
#include "worker/run/log_upload.hpp"
#include "worker/run/uboot.hpp"

#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace lava::worker::run {

namespace data = common::data;
namespace fs = std::filesystem;

namespace {

// A YAML file as a value; None for "" (no file) or an empty file.
data::Value load_file(const std::string& path, const char* what, ErrorType type) {
    if (path.empty()) return {};
    const auto text = read_file(path);
    if (!text) fail(type, std::string("cannot read the ") + what + " file " + path);
    auto value = common::yaml::load(*text);
    if (!value) fail(type, std::string("invalid ") + what + " file " + path + ": " + value.error().message);
    return *value;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

std::string utc_now() { return log_timestamp(); }

}  // namespace

int run_job(const RunOptions& options, const Cancellation& cancellation) {
    std::error_code ec;
    fs::create_directories(options.output_dir, ec);
    std::unique_ptr<LogUploader> uploader;
    if (!options.url.empty()) {
        LogUploadOptions upload;
        upload.url = options.url;
        while (!upload.url.empty() && upload.url.back() == '/') upload.url.pop_back();
        upload.job_id = options.job_id;
        upload.token = options.token;
        upload.interval = std::chrono::seconds(std::max(1, options.job_log_interval));
        // The server no longer knows the job: stop it like a cancel does.
        uploader = std::make_unique<LogUploader>(std::move(upload), [] { ::raise(SIGUSR1); });
    }
    LogUploader* sink = uploader.get();
    JobLog log(options.output_dir + "/logs.yaml", options.url.empty(),
               sink ? LogForward([sink](std::string line) { sink->push(std::move(line)); }) : LogForward());

    JobContext ctx{log, {}, {}, {}, {}, options.job_id, options.output_dir,
                   options.tmp_root + "/" + options.job_id, cancellation.canceled, cancellation.fd, cancellation.reason};
    ctx.tftp_root = tftp_root(options.tftp_dir);
    std::optional<JobFailure> failure;
    std::vector<std::unique_ptr<Action>> pipeline;
    std::unique_ptr<Action> finalize;

    // ---- validate
    log.info("lava-run (lava-cpp " + options.version + "), running LAVA 2023.01 job definitions");
    log.info("start: 0 validate");
    log.info("Start time: " + utc_now() + " (UTC)");
    const auto validate_start = Clock::now();
    Clock::time_point job_deadline = Clock::now() + std::chrono::hours(24);
    try {
        ctx.device = load_file(options.device_file, "device", ErrorType::kConfiguration);
        if (!ctx.device.is_dict()) fail(ErrorType::kConfiguration, "the device configuration is not a mapping");
        if (const auto issues = common::device::validate_device_config(ctx.device); !issues.empty()) {
            fail(ErrorType::kConfiguration, "invalid device configuration: " + issues.front().to_string());
        }
        ctx.dispatcher = load_file(options.dispatcher_file, "dispatcher", ErrorType::kConfiguration);
        ctx.env_dut = load_file(options.env_dut_file, "env-dut", ErrorType::kConfiguration);
        const auto text = read_file(options.job_file);
        if (!text) fail(ErrorType::kJob, "cannot read the job file " + options.job_file);
        const common::job::JobValidator validator(common::job::Strictness::kLenient);
        const auto check = validator.check_yaml(*text);
        // A MultiNode sub-job is not a submission (a `role` string per
        // action, a device_type beside the protocol): the server checked the
        // whole job against the schema; LAVA's lava-run does not either.
        const auto* protocols = check.document.find("protocols");
        const auto* multinode = protocols ? protocols->find("lava-multinode") : nullptr;
        const bool sub_job = multinode && multinode->find("target_group") && check.document.find("actions");
        if (!check.ok() && !sub_job) {
            std::string all;
            for (const auto& issue : check.issues) all += (all.empty() ? "" : "; ") + issue.to_string();
            fail(ErrorType::kJob, "Invalid job definition: " + all);
        }
        ctx.job = check.document;
        if (const auto* timeouts = ctx.job.find("timeouts")) {
            if (const auto* job_timeout = timeouts->find("job")) {
                if (const auto parsed = common::job::parse_timeout(*job_timeout)) {
                    job_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(*parsed);
                }
            }
        }
        if (const auto* secrets = ctx.job.find("secrets"); secrets && secrets->is_dict()) {
            for (const auto& [k, v] : secrets->as_dict()) {
                const std::string value = v.is_str() ? v.as_str() : v.str();
                ::setenv(k.str().c_str(), value.c_str(), 1);
                log.add_secret(value);
            }
        }
        ctx.multinode = MultinodeProtocol::from_job(ctx.job, options.job_id, log, cancellation.canceled, cancellation.fd);
        pipeline = build_pipeline(ctx);
        finalize = build_finalize(ctx);
        finalize->assign_levels(std::to_string(pipeline.size() + 1));
        for (auto& action : pipeline) action->validate(ctx);
        // description.yaml: what will run, even when validation fails.
        data::List described;
        for (const auto& action : pipeline) described.push_back(action->describe());
        described.push_back(finalize->describe());
        const auto* compatibility = ctx.job.find("compatibility");
        write_text(options.output_dir + "/description.yaml",
                   common::yaml::dump(data::Value(data::Dict{
                       {data::Value("compatibility"), compatibility ? *compatibility : data::Value(1)},
                       {data::Value("pipeline"), data::Value(std::move(described))}})));
        if (!ctx.errors.empty()) {
            std::string all;
            for (const auto& e : ctx.errors) all += (all.empty() ? "" : "; ") + e;
            fail(ErrorType::kJob, "Invalid job data: " + all);
        }
    } catch (const JobFailure& f) {
        failure.emplace(f);
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.02f", Seconds(Clock::now() - validate_start).count());
    log.info(std::string("validate duration: ") + seconds);
    log.results(data::Value(data::Dict{{data::Value("definition"), data::Value("lava")},
                                       {data::Value("case"), data::Value("validate")},
                                       {data::Value("result"), data::Value(failure ? "fail" : "pass")}}));

    // ---- run
    if (!failure && !options.validate_only) {
        fs::create_directories(ctx.tmp_dir, ec);
        try {
            // MultiNode: the whole group registers before any action runs.
            if (ctx.multinode) ctx.multinode->set_up(options.coordinator_config);
            run_actions(pipeline, ctx, job_deadline, true);
        } catch (const JobFailure& f) {
            std::string message = f.what();
            if (f.type() == ErrorType::kLAVATimeout && Clock::now() >= job_deadline) {
                message = "job timed out: " + message;
            }
            failure.emplace(f.type(), message);
        }
    }
    // ---- finalize: always, with its own time (the job's may be spent).
    if (finalize && !options.validate_only) {
        std::vector<std::unique_ptr<Action>> last;
        last.push_back(std::move(finalize));
        try {
            run_actions(last, ctx, Clock::now() + std::chrono::duration_cast<Clock::duration>(last[0]->timeout()), true);
        } catch (const JobFailure& f) {
            log.error(std::string("finalize: ") + f.what());
            if (!failure) failure.emplace(f);
        }
        for (auto& action : pipeline) action->cleanup(ctx);
    }
    // This node leaves its group, however the job ended.
    if (ctx.multinode && !options.validate_only) ctx.multinode->finalise();
    ctx.console.reset();
    ctx.http.reset();
    if (!ctx.tmp_dir.empty()) fs::remove_all(ctx.tmp_dir, ec);
    remove_tftp_files(ctx);
    if (cancellation.count && cancellation.count() > 1) log.warning("Canceled again: the job was already being canceled");

    // ---- result
    data::Dict result{{data::Value("definition"), data::Value("lava")}, {data::Value("case"), data::Value("job")},
                      {data::Value("result"), data::Value(failure ? "fail" : "pass")}};
    if (failure) {
        log.error(std::string(error_type_name(failure->type())) + " error: " + failure->what());
        result.emplace_back(data::Value("error_msg"), data::Value(failure->what()));
        result.emplace_back(data::Value("error_type"), data::Value(error_type_name(failure->type())));
    }
    write_text(options.output_dir + "/result.yaml", common::yaml::dump(data::Value(result)));
    log.results(data::Value(std::move(result)));
    if (uploader) {
        uploader->close();
        // For lava-worker's metrics (lava_worker_log_upload_retries_total).
        write_text(options.output_dir + "/log-upload.yaml", "retries: " + std::to_string(uploader->retries()) + "\n");
    }
    return failure ? 1 : 0;
}

std::string_view error_type_name(ErrorType type) {
    switch (type) {
        case ErrorType::kInfrastructure: return "Infrastructure";
        case ErrorType::kJob: return "Job";
        case ErrorType::kBug: return "Bug";
        case ErrorType::kTest: return "Test";
        case ErrorType::kConfiguration: return "Configuration";
        case ErrorType::kLAVATimeout: return "LAVATimeout";
        case ErrorType::kMultinodeTimeout: return "MultinodeTimeout";
        case ErrorType::kCanceled: return "Canceled";
    }
    return "Bug";
}

}  // namespace lava::worker::run
