#include "worker/run/action_kit.hpp"

#include "common/base/text.hpp"
#include "worker/run/command.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace lava::worker::run {

namespace data = common::data;

std::string text_of(const data::Value& v) { return v.is_str() ? v.as_str() : v.is_none() || v.is_undefined() ? "" : v.str(); }

std::string field(const data::Value& v, const char* key) {
    const auto* f = v.find(key);
    return f ? text_of(*f) : std::string();
}

std::vector<std::string> string_list(const data::Value* v) {
    std::vector<std::string> out;
    if (!v) return out;
    if (v->is_str()) {
        out.push_back(v->as_str());
    } else if (v->is_sequence()) {
        for (const auto& item : v->as_list()) {
            if (!item.is_none()) out.push_back(text_of(item));
        }
    }
    return out;
}

Clock::time_point until(Seconds s) { return Clock::now() + std::chrono::duration_cast<Clock::duration>(s); }

bool in_path(const std::string& program) {
    const char* path = ::getenv("PATH");
    for (const auto& dir : split(path ? path : "/usr/bin:/bin", ':')) {
        if (::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    }
    return false;
}

std::chrono::milliseconds character_delay(const JobContext& ctx, const char* section) {
    if (const auto* delays = ctx.device.find("character_delays")) {
        if (const auto* d = delays->find(section); d && d->is_number()) {
            return std::chrono::milliseconds(static_cast<long>(d->as_number()));
        }
    }
    return std::chrono::milliseconds(0);
}

void shell_command(JobContext& ctx, const Action& action, const std::string& command, Clock::time_point deadline) {
    if (!ctx.console) fail(ErrorType::kBug, action.name() + ": no connection to the device");
    ctx.check(ctx.console->sendline(command, character_delay(ctx, "test")), action.name());
    ctx.check(ctx.console->expect(ctx.prompts, std::min(deadline, until(action.connection_timeout()))),
              action.name() + ": waiting for the prompt after '" + command + "'");
}

std::string dispatcher_ip(const JobContext& ctx) {
    if (const auto* ip = ctx.dispatcher.find("dispatcher_ip"); ip && ip->is_str() && !ip->as_str().empty()) {
        return ip->as_str();
    }
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(9);
    ::inet_pton(AF_INET, "192.0.2.1", &remote.sin_addr);  // TEST-NET-1: nothing is sent
    sockaddr_in local{};
    socklen_t len = sizeof local;
    std::string out = "127.0.0.1";
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
        char text[INET_ADDRSTRLEN];
        out = ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
    }
    if (fd >= 0) ::close(fd);
    return out;
}

std::unique_ptr<Console> open_console(JobContext& ctx, std::unique_ptr<Connection> connection) {
    ConsoleHooks hooks;
    hooks.on_target = [&log = ctx.log](std::string_view line) { log.target(line); };
    hooks.on_input = [&log = ctx.log](std::string_view text) { log.input(text); };
    hooks.cancel_fd = ctx.cancel_fd;
    return std::make_unique<Console>(std::move(connection), std::move(hooks));
}

bool has_device_command(const JobContext& ctx, const char* key) {
    const auto* commands = ctx.device.find("commands");
    return commands && !string_list(commands->find(key)).empty();
}

void device_command(JobContext& ctx, const char* key, const std::string& what, Clock::time_point deadline, bool cancelable) {
    static const std::atomic<bool> kNever{false};
    const auto* commands = ctx.device.find("commands");
    if (!commands) return;
    for (const auto& cmd : string_list(commands->find(key))) {
        const auto r = run_command({"/bin/sh", "-c", cmd}, "", deadline, cancelable ? ctx.canceled : kNever, ctx.log);
        if (r.exit_code != 0) {
            std::string message = what + ": '" + cmd + "' failed (exit " + std::to_string(r.exit_code) + ")";
            // The command's last words (pduclient: "nack", "connection refused").
            std::string output = r.output;
            while (!output.empty() && std::isspace(static_cast<unsigned char>(output.back()))) output.pop_back();
            if (const auto nl = output.rfind('\n'); nl != std::string::npos) output.erase(0, nl + 1);
            if (output.size() > 200) output = output.substr(0, 200) + "...";
            if (!output.empty()) message += ": " + output;
            fail(ErrorType::kInfrastructure, message);
        }
    }
}

void append_file(const std::string& from, const std::string& to) {
    std::ifstream in(from, std::ios::binary);
    std::ofstream out(to, std::ios::binary | std::ios::app);
    out << in.rdbuf();
    out.close();
    if (!in || !out) fail(ErrorType::kInfrastructure, "cannot append " + from + " to " + to);
}

long long append_overlay(JobContext& ctx, const std::string& initramfs) {
    if (!ctx.overlay) fail(ErrorType::kBug, "no overlay to apply");
    const std::string archive = ctx.tmp_dir + "/overlay.cpio.gz";
    ctx.overlay->write_cpio_gz(archive);
    append_file(archive, initramfs);
    const auto size = static_cast<long long>(std::filesystem::file_size(archive));
    ctx.log.info("Appended the overlay (" + std::to_string(size) + " bytes) to " + initramfs);
    return size;
}

}  // namespace lava::worker::run
