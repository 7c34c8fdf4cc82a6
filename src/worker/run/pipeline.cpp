#include "worker/run/pipeline.hpp"

#include "common/job/timeout.hpp"
#include "worker/run/http_serve.hpp"

#include <cmath>
#include <cstdio>

namespace lava::worker::run {

namespace data = common::data;

std::string duration_text(Seconds seconds) {
    const long total = std::lround(std::max(0.0, seconds.count()));
    char text[32];
    std::snprintf(text, sizeof text, "%02ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
    return text;
}

// ------------------------------------------------------------ JobContext

void JobContext::throw_canceled() const { fail(ErrorType::kCanceled, cancel_reason ? cancel_reason() : "Canceled"); }

void JobContext::check(const Result<void>& result, const std::string& doing) const {
    if (result) return;
    const auto& ec = result.error().code;
    if (ec == console_errc::kCanceled) throw_canceled();
    if (ec == console_errc::kTimeout) fail(ErrorType::kLAVATimeout, doing + ": timed out");
    if (ec == console_errc::kPattern) fail(ErrorType::kJob, doing + ": " + result.error().message);
    if (ec == console_errc::kClosed && !connection.empty()) {
        fail(ErrorType::kInfrastructure, doing + ": the connection to the device ('" + connection + "') closed");
    }
    fail(ErrorType::kInfrastructure, doing + ": " + result.error().message);
}

Match JobContext::check(Result<Match> result, const std::string& doing) const {
    if (!result) check(Result<void>(result.error()), doing);
    return std::move(*result);
}

data::Value JobContext::constant(const std::string& key) const {
    if (const auto* constants = device.find("constants")) {
        if (const auto* v = constants->find(key)) return *v;
    }
    return {};
}

// ------------------------------------------------------------ Action

Action::Action(std::string name, std::string description, std::string summary)
    : name_(std::move(name)), description_(std::move(description)), summary_(std::move(summary)) {}

Action::~Action() = default;

Action& Action::add(std::unique_ptr<Action> child) {
    children_.push_back(std::move(child));
    return *children_.back();
}

void Action::assign_levels(const std::string& level) {
    level_ = level;
    for (std::size_t i = 0; i < children_.size(); ++i) children_[i]->assign_levels(level + "." + std::to_string(i + 1));
}

namespace {

const data::Value* lookup(const data::Value& doc, const char* key, const char* sub = nullptr) {
    const auto* timeouts = doc.find("timeouts");
    if (!timeouts) return nullptr;
    const auto* v = timeouts->find(key);
    if (v && sub) v = v->find(sub);
    return v && v->is_dict() ? v : nullptr;
}

void override_with(Seconds& target, const data::Value* timeout) {
    if (!timeout) return;
    if (const auto parsed = common::job::parse_timeout(*timeout)) target = *parsed;
}

}  // namespace

void Action::configure(const JobContext& ctx, const data::Value& parameters) {
    parameters_ = parameters;
    for (const auto* doc : {&ctx.device, &ctx.job}) override_with(timeout_, lookup(*doc, "action"));
    for (const auto* doc : {&ctx.device, &ctx.job}) override_with(timeout_, lookup(*doc, "actions", name_.c_str()));
    if (const auto* t = parameters.find("timeout"); t && t->is_dict()) override_with(timeout_, t);
    if (const auto* ts = parameters.find("timeouts"); ts && ts->is_dict()) {
        if (const auto* t = ts->find(name_); t && t->is_dict()) override_with(timeout_, t);
    }
    for (const auto* doc : {&ctx.device, &ctx.job}) override_with(connection_timeout_, lookup(*doc, "connection"));
    for (const auto* doc : {&ctx.device, &ctx.job}) {
        override_with(connection_timeout_, lookup(*doc, "connections", name_.c_str()));
    }
}

void Action::validate(JobContext& ctx) {
    for (auto& child : children_) child->validate(ctx);
}

void Action::run(JobContext& ctx, Clock::time_point deadline) { run_actions(children_, ctx, deadline, false); }

void Action::cleanup(JobContext& ctx) {
    for (auto& child : children_) child->cleanup(ctx);
}

data::Value Action::describe() const {
    data::Dict d{{data::Value("class"), data::Value(class_name())},
                 {data::Value("description"), data::Value(description_)},
                 {data::Value("level"), data::Value(level_)},
                 {data::Value("max_retries"), data::Value(max_retries())},
                 {data::Value("name"), data::Value(name_)},
                 {data::Value("summary"), data::Value(summary_)},
                 {data::Value("timeout"), data::Value(timeout_.count())}};
    if (!children_.empty()) {
        data::List pipeline;
        for (const auto& child : children_) pipeline.push_back(child->describe());
        d.emplace_back(data::Value("pipeline"), data::Value(std::move(pipeline)));
    }
    return data::Value(std::move(d));
}

// ------------------------------------------------------------ run_actions

void run_actions(std::vector<std::unique_ptr<Action>>& actions, JobContext& ctx, Clock::time_point deadline,
                 bool top_level) {
    for (auto& action : actions) {
        if (ctx.canceled.load() && !action->runs_when_canceled()) ctx.throw_canceled();
        const auto ns_value = action->parameters().find("namespace");
        const std::string ns = ns_value && ns_value->is_str() ? ns_value->as_str() : "common";
        const auto start = Clock::now();
        const auto own = start + std::chrono::duration_cast<Clock::duration>(action->timeout());
        const auto action_deadline = std::min(deadline, own);
        const std::string start_line = "start: " + action->level() + " " + action->name() + " (timeout " +
                                       duration_text(action_deadline - start) + ") [" + ns + "]";
        top_level ? ctx.log.info(start_line) : ctx.log.debug(start_line);
        bool failed = false;
        std::optional<JobFailure> failure;
        try {
            if (action_deadline <= start) {
                fail(ErrorType::kLAVATimeout, action->name() + " timed out after 0 seconds");
            }
            // MultiNode calls named after this action, made as it starts (LAVA's call_protocols).
            if (ctx.multinode) ctx.multinode->action_calls(action->name(), action->parameters());
            action->run(ctx, action_deadline);
        } catch (const JobFailure& f) {
            failed = true;
            std::string message = f.what();
            // The action whose own timeout expired names itself, as LAVA does.
            if (f.type() == ErrorType::kLAVATimeout && Clock::now() >= own &&
                message.find(" timed out after ") == std::string::npos) {
                message = action->name() + " timed out after " +
                          std::to_string(std::lround(Seconds(Clock::now() - start).count())) + " seconds";
            }
            failure.emplace(f.type(), message);
        } catch (const std::exception& e) {
            failed = true;
            failure.emplace(ErrorType::kBug, e.what());
        }
        const Seconds duration = Clock::now() - start;
        const std::string end_line = "end: " + action->level() + " " + action->name() + " (duration " +
                                     duration_text(duration) + ") [" + ns + "]";
        top_level ? ctx.log.info(end_line) : ctx.log.debug(end_line);
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.02f", duration.count());
        data::Dict msg{{data::Value("definition"), data::Value("lava")}, {data::Value("namespace"), data::Value(ns)},
                       {data::Value("case"), data::Value(action->name())}, {data::Value("level"), data::Value(action->level())},
                       {data::Value("duration"), data::Value(seconds)},
                       {data::Value("result"), data::Value(failed ? "fail" : "pass")}};
        data::Dict extra = action->results_extra;
        if (failure) extra.emplace_back(data::Value("fail"), data::Value(failure->what()));
        if (!extra.empty()) msg.emplace_back(data::Value("extra"), data::Value(std::move(extra)));
        ctx.log.results(data::Value(std::move(msg)));
        if (failure) {
            const auto* t = action->parameters().find("timeout");
            const auto* skip = t ? t->find("skip") : nullptr;
            if (top_level && failure->type() == ErrorType::kLAVATimeout && skip && skip->truthy()) {
                ctx.log.warning("skip_timeout is set for " + action->name() + " - continuing to next action block.");
                continue;
            }
            throw *failure;
        }
    }
}

// ------------------------------------------------------------ RetryAction

// failure_retry and repeat belong to the action block: only its top-level
// action retries and repeats (nested retry actions share the block's
// parameters and would multiply them).
int RetryAction::max_retries() const {
    if (level_.find('.') != std::string::npos) return 1;
    const auto* r = parameters_.find("failure_retry");
    return r && r->is_int() && r->as_int() > 0 ? static_cast<int>(r->as_int()) : 1;
}

void RetryAction::run(JobContext& ctx, Clock::time_point deadline) {
    const auto* repeat_value = level_.find('.') == std::string::npos ? parameters_.find("repeat") : nullptr;
    const int repeat = repeat_value && repeat_value->is_int() && repeat_value->as_int() > 0
                           ? static_cast<int>(repeat_value->as_int())
                           : 1;
    for (int round = 0; round < repeat; ++round) {
        if (repeat > 1) ctx.log.info(name_ + ": repeat " + std::to_string(round + 1) + " of " + std::to_string(repeat));
        for (int attempt = 1;; ++attempt) {
            try {
                run_actions(children_, ctx, deadline, false);
                break;
            } catch (const JobFailure& f) {
                if (f.type() == ErrorType::kCanceled || attempt >= max_retries() || Clock::now() >= deadline) throw;
                ctx.log.error(name_ + " failed: " + std::to_string(attempt) + " of " + std::to_string(max_retries()) +
                              " attempts. '" + f.what() + "'");
                cleanup(ctx);
            }
        }
    }
}

}  // namespace lava::worker::run
