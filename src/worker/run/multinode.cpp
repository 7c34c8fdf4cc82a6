#include "worker/run/multinode.hpp"

#include "common/base/file.hpp"
#include "common/job/timeout.hpp"
#include "common/proto/coordinator.hpp"
#include "worker/run/job_error.hpp"

#include <nlohmann/json.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

namespace lava::worker::run {

namespace data = common::data;
namespace coord = proto::coordinator;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

std::string str_param(const data::Value& params, const char* key) {
    const auto* v = params.find(key);
    return v == nullptr || v->is_none() ? std::string() : v->str();
}

std::optional<Seconds> timeout_param(const data::Value& params) {
    const auto* v = params.find("timeout");
    if (v == nullptr) return std::nullopt;
    const auto parsed = common::job::parse_timeout(*v);
    if (!parsed) return std::nullopt;
    return std::chrono::duration_cast<Seconds>(*parsed);
}

// Python's str() of a reply value, as LAVA's dispatcher types it back.
std::string py_str(const Json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
    if (v.is_null()) return "None";
    return coord::python_dumps(v);
}

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

void set_timeouts(int fd, Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    left = std::clamp(left, std::chrono::microseconds(100000), std::chrono::microseconds(60000000));
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(left.count() / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

CoordinatorSettings read_coordinator_settings(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail(ErrorType::kInfrastructure, "Missing coordinator configuration");
    const auto text = read_file(path);
    if (!text) fail(ErrorType::kInfrastructure, "cannot read the coordinator configuration " + path);
    const Json j = Json::parse(*text, nullptr, false);
    if (!j.is_object()) {
        fail(ErrorType::kConfiguration, "Invalid JSON settings for lava-multinode in " + path);
    }
    CoordinatorSettings s;
    auto int_key = [&](const char* key, int& field) {
        if (!j.contains(key)) return;
        if (!j[key].is_number_integer()) fail(ErrorType::kConfiguration, path + ": '" + key + "' must be an integer");
        field = j[key].get<int>();
    };
    int_key("port", s.port);
    int_key("blocksize", s.blocksize);
    int_key("poll_delay", s.poll_delay);
    if (j.contains("coordinator_hostname")) {
        if (!j["coordinator_hostname"].is_string()) {
            fail(ErrorType::kConfiguration, path + ": 'coordinator_hostname' must be a string");
        }
        s.host = j["coordinator_hostname"].get<std::string>();
    }
    if (s.poll_delay < 1) s.poll_delay = 1;
    return s;
}

std::unique_ptr<MultinodeProtocol> MultinodeProtocol::from_job(const data::Value& job, std::string job_id,
                                                               JobLog& log, const std::atomic<bool>& canceled,
                                                               int cancel_fd) {
    const auto* protocols = job.find("protocols");
    const auto* params = protocols ? protocols->find("lava-multinode") : nullptr;
    if (params == nullptr || !params->is_dict() || !params->find("target_group")) return nullptr;
    return std::unique_ptr<MultinodeProtocol>(
        new MultinodeProtocol(*params, std::move(job_id), log, canceled, cancel_fd));
}

MultinodeProtocol::MultinodeProtocol(const data::Value& params, std::string job_id, JobLog& log,
                                     const std::atomic<bool>& canceled, int cancel_fd)
    : params_(params), job_id_(std::move(job_id)), log_(log), canceled_(canceled), cancel_fd_(cancel_fd) {
    role_ = str_param(params_, "role");
    group_ = str_param(params_, "target_group");
    if (const auto* size = params_.find("group_size"); size && size->is_int()) group_size_ = size->as_int();
    const auto timeout = timeout_param(params_);
    if (timeout) poll_timeout_ = *timeout;
    if (str_param(params_, "request") == "lava-start" && params_.find("expect_role")) {
        if (str_param(params_, "expect_role") == role_) {
            fail(ErrorType::kJob, "expect_role must not match the role declaring lava_start");
        }
        delayed_start_ = true;
        if (timeout) system_timeout_ = *timeout;
    }
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) hostname_ = host;
}

std::vector<std::pair<std::string, std::string>> MultinodeProtocol::roles() const {
    std::vector<std::pair<std::string, std::string>> out;
    const auto* roles = params_.find("roles");
    if (roles == nullptr || !roles->is_dict()) return out;
    for (const auto& [id, role] : roles->as_dict()) {
        out.emplace_back(id.str(), role.str());
    }
    return out;
}

std::optional<std::string> MultinodeProtocol::exchange(const CoordinatorSettings& settings, const std::string& payload,
                                                       Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(settings.host.c_str(), std::to_string(settings.port).c_str(), &hints, &found) != 0) {
        return std::nullopt;
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    Fd sock;
    for (auto* a = found; a != nullptr; a = a->ai_next) {
        Fd candidate{::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol)};
        if (candidate.fd < 0) continue;
        set_timeouts(candidate.fd, deadline);
        if (::connect(candidate.fd, a->ai_addr, a->ai_addrlen) == 0) {
            std::swap(sock.fd, candidate.fd);
            break;
        }
    }
    if (sock.fd < 0) return std::nullopt;
    const std::string out = coord::frame(payload);
    for (std::size_t done = 0; done < out.size();) {
        const auto n = ::send(sock.fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return std::nullopt;
        done += static_cast<std::size_t>(n);
    }
    ::shutdown(sock.fd, SHUT_WR);
    std::string in;
    char buf[4096];
    for (;;) {
        const auto n = ::recv(sock.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        if (in.size() >= coord::kHeaderSize) {
            const auto length = coord::parse_header(std::string_view(in).substr(0, coord::kHeaderSize));
            if (length && in.size() >= coord::kHeaderSize + *length) break;
        }
    }
    if (in.size() < coord::kHeaderSize) return std::string();
    const auto length = coord::parse_header(std::string_view(in).substr(0, coord::kHeaderSize));
    if (!length) return std::string();
    return in.substr(coord::kHeaderSize, *length);
}

void MultinodeProtocol::pause(Seconds d) const {
    if (canceled_) fail(ErrorType::kCanceled, "Canceled while waiting for the MultiNode group");
    pollfd p{cancel_fd_, POLLIN, 0};
    const int ms = static_cast<int>(std::max(0.0, d.count() * 1000));
    if (cancel_fd_ >= 0) {
        ::poll(&p, 1, ms);
    } else {
        ::poll(nullptr, 0, ms);
    }
    if (canceled_) fail(ErrorType::kCanceled, "Canceled while waiting for the MultiNode group");
}

Json MultinodeProtocol::poll(const Json& call, Seconds timeout, const std::string& what) {
    if (!settings_) fail(ErrorType::kBug, "the lava-multinode protocol was not set up");
    coord::Request request;
    request.port = settings_->port;
    request.blocksize = settings_->blocksize;
    request.poll_delay = settings_->poll_delay;
    request.host = settings_->host;
    request.hostname = hostname_;
    request.client_name = job_id_;
    request.group_name = group_;
    request.role = role_;
    request.call = call;
    const std::string payload = coord::python_dumps(coord::to_json(request));
    if (payload.size() > coord::kClientMaxPayload) fail(ErrorType::kJob, what + ": message was too long to send");
    // LAVA's client sleeps poll_delay (1-3 s) after every "wait"; ours starts
    // at 50 ms and doubles up to poll_delay, so a node released a moment
    // after it asked hears of it in milliseconds, and a long wait costs the
    // coordinator no more requests than LAVA's client sends.
    const Seconds delay(settings_->poll_delay);
    Seconds backoff(0.05);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
    const std::string where = settings_->host + ":" + std::to_string(settings_->port);
    bool said_unreachable = false;
    bool answered = false;
    for (;;) {
        const auto reply = exchange(*settings_, payload, deadline);
        if (!reply && !said_unreachable) {
            log_.warning("lava-multinode: cannot reach lava-coordinator at " + where + "; trying again");
            said_unreachable = true;
        }
        if (reply && !reply->empty()) {
            answered = true;
            Json j = Json::parse(*reply, nullptr, false);
            if (j.is_object() && j.value("response", "") != "wait") return j;
        }
        if (Clock::now() + std::min(backoff, delay) > deadline) {
            char secs[32];
            std::snprintf(secs, sizeof secs, "%.0f", timeout.count());
            // A coordinator that never answered is the lab's fault, not the group's.
            if (!answered) {
                fail(ErrorType::kInfrastructure, "lava-coordinator at " + where + " did not answer in " +
                                                     std::string(secs) + " s (waiting for " + what + ")");
            }
            fail(ErrorType::kMultinodeTimeout,
                 "lava-multinode timed out after " + std::string(secs) + " s waiting for " + what);
        }
        pause(std::min(backoff, delay));
        backoff *= 2;
    }
}

void MultinodeProtocol::set_up(const std::string& config_path) {
    settings_ = read_coordinator_settings(config_path);
    log_.info("lava-multinode: group " + group_ + ", role " + role_ + ", " + std::to_string(group_size_) +
              " nodes; coordinator " + settings_->host + ":" + std::to_string(settings_->port));
    Json call = Json::object();
    call["request"] = "group_data";
    call["group_size"] = group_size_;
    const auto reply = poll(call, system_timeout_, "the whole group (group_data)");
    if (reply.value("response", "") == "group_data" && reply.contains("roles")) {
        std::string members;
        for (const auto& [client, role] : reply["roles"].items()) {
            members += (members.empty() ? "" : ", ") + client + " (" + py_str(role) + ")";
        }
        log_.info("lava-multinode: group complete: " + members);
    }
    if (delayed_start_) {
        const std::string expect = str_param(params_, "expect_role");
        log_.info("lava-multinode: start delayed until role " + expect + " sends lava_start (up to " +
                  std::to_string(static_cast<long long>(system_timeout_.count())) + " s)");
        Json wait = Json::object();
        wait["request"] = "lava_wait_all";
        wait["waitrole"] = expect;
        wait["messageID"] = "lava_start";
        poll(wait, system_timeout_, "lava_start from role " + expect);
        log_.info("lava-multinode: lava_start received");
    }
}

void MultinodeProtocol::finalise() {
    if (!settings_) return;
    Json call = Json::object();
    call["request"] = "clear_group";
    call["group_size"] = group_size_;
    try {
        // A live coordinator acks clear_group at once (even for a group it
        // lost in a restart): a dead one must not hold the job's end for long.
        poll(call, std::min(system_timeout_, Seconds(10)), "clear_group");
        log_.debug("lava-multinode protocol finalised");
    } catch (const JobFailure& e) {
        log_.warning(std::string("lava-multinode: clear_group: ") + e.what());
    }
    settings_.reset();
}

SignalReply MultinodeProtocol::signal(std::string_view name, std::string_view params) {
    std::vector<std::string> words;
    const std::string text(params);
    if (name == "SEND") {
        // LAVA splits before each word that looks like key=...
        static const std::regex split(R"(\s+(?=\w+(?:=)))");
        words.assign(std::sregex_token_iterator(text.begin(), text.end(), split, -1), std::sregex_token_iterator());
    } else {
        static const std::regex space(R"(\s+)");
        for (auto it = std::sregex_token_iterator(text.begin(), text.end(), space, -1);
             it != std::sregex_token_iterator(); ++it) {
            if (!it->str().empty()) words.push_back(it->str());
        }
    }
    if (words.empty()) fail(ErrorType::kTest, "<LAVA_" + std::string(name) + "> without a message ID");
    SignalReply out;
    out.test_case = "multinode-" + std::string(name) + "-" + words[0];
    std::transform(out.test_case.begin(), out.test_case.end(), out.test_case.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    try {
        out.line = answer(name, words);
    } catch (const JobFailure& e) {
        if (e.type() != ErrorType::kMultinodeTimeout) throw;
        out.timeout = e;
    }
    return out;
}

std::string MultinodeProtocol::answer(std::string_view name, const std::vector<std::string>& words) {
    const std::string& id = words[0];
    Json call = Json::object();
    if (name == "SEND") {
        Json message = Json::object();
        for (std::size_t i = 1; i < words.size(); ++i) {
            const auto& word = words[i];
            const auto eq = word.find('=');
            // LAVA keeps key=value words with exactly one '='.
            if (eq == std::string::npos || word.find('=', eq + 1) != std::string::npos) continue;
            message[word.substr(0, eq)] = word.substr(eq + 1);
        }
        call["request"] = "lava_send";
        call["messageID"] = id;
        call["message"] = std::move(message);
        const auto reply = poll(call, poll_timeout_, "lava-send '" + id + "'");
        if (reply.value("response", "") == "nack") fail(ErrorType::kTest, "Coordinator was unable to accept LAVA_SEND");
        return "";
    }
    std::string what;
    if (name == "SYNC") {
        call["request"] = "lava_sync";
        call["messageID"] = id;
        what = "lava-sync '" + id + "' from every node";
    } else if (name == "WAIT") {
        call["request"] = "lava_wait";
        call["messageID"] = id;
        call["nodeID"] = job_id_;
        what = "lava-wait '" + id + "' (no node sent it)";
    } else if (name == "WAIT_ALL") {
        call["request"] = "lava_wait_all";
        call["messageID"] = id;
        if (words.size() > 1) call["waitrole"] = words[1];
        what = "lava-wait-all '" + id + "'" + (words.size() > 1 ? " from role " + words[1] : " from every node");
    } else {
        log_.warning("lava-multinode: unknown API <LAVA_" + std::string(name) + ">");
        return "";
    }
    const auto reply = poll(call, poll_timeout_, what);
    std::string detail;
    if (reply.value("response", "") == "nack") {
        detail = " nack";
    } else if (name != "SYNC" && reply.contains("message") && reply["message"].is_object()) {
        for (const auto& [sender, values] : reply["message"].items()) {
            if (!values.is_object()) continue;
            for (const auto& [key, value] : values.items()) detail += " " + sender + ":" + key + "=" + py_str(value);
        }
    }
    return "<LAVA_" + std::string(name) + "_COMPLETE" + detail + ">";
}

void MultinodeProtocol::action_calls(const std::string& action, const data::Value& parameters) {
    const auto* protocols = parameters.find("protocols");
    const auto* calls = protocols ? protocols->find("lava-multinode") : nullptr;
    if (calls == nullptr || !calls->is_sequence()) return;
    for (const auto& entry : calls->as_list()) {
        if (!entry.is_dict() || str_param(entry, "action") != action) continue;
        std::string request = str_param(entry, "request");
        std::replace(request.begin(), request.end(), '-', '_');
        const std::string id = str_param(entry, "messageID");
        if (id.empty()) fail(ErrorType::kJob, "lava-multinode call of " + action + ": missing messageID");
        log_.info("Making protocol call for " + action + " using lava-multinode: " + request + " '" + id + "'");
        Seconds timeout = poll_timeout_;
        if (const auto t = timeout_param(entry)) timeout = *t;
        Json call = Json::object();
        call["request"] = request;
        call["messageID"] = id;
        std::string what = request + " '" + id + "'";
        if (request == "lava_send") {
            Json message = Json::object();
            if (const auto* m = entry.find("message"); m && m->is_dict()) {
                for (const auto& [k, v] : m->as_dict()) message[k.str()] = v.str();
            }
            call["message"] = std::move(message);
        } else if (request == "lava_wait") {
            call["nodeID"] = job_id_;
        } else if (request == "lava_wait_all") {
            if (const auto role = str_param(entry, "role"); !role.empty()) call["waitrole"] = role;
        } else if (request != "lava_sync") {
            fail(ErrorType::kJob, "lava-multinode call of " + action + ": unknown request '" + str_param(entry, "request") + "'");
        }
        const auto reply = poll(call, timeout, what);
        if (reply.value("response", "") == "nack") {
            fail(ErrorType::kTest, "lava-multinode call of " + action + ": the coordinator refused " + what);
        }
        log_.info("lava-multinode: " + what + " done: " + reply.dump());
    }
}

}  // namespace lava::worker::run
