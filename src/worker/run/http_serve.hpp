#pragma once
// A short-lived HTTP server inside lava-run that serves one file to the DUT
// (transfer_overlay): GET of exactly its path, anything else 404. One thread
// of its own, plain sockets (lava-run stays Beast-free and small); stopped
// and joined by the destructor.

#include <cstdint>
#include <string>
#include <thread>

namespace lava::worker::run {

class LocalHttpServer {
public:
    // Serves `file` as `url_path` (e.g. "/<random>/overlay.tar.gz") on all
    // interfaces, port chosen by the kernel. Throws JobFailure(kInfrastructure).
    LocalHttpServer(std::string file, std::string url_path);
    ~LocalHttpServer();
    LocalHttpServer(const LocalHttpServer&) = delete;
    LocalHttpServer& operator=(const LocalHttpServer&) = delete;

    std::uint16_t port() const { return port_; }

private:
    void serve();

    std::string file_;
    std::string url_path_;
    int listener_ = -1;
    int stop_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::thread thread_;
};

}  // namespace lava::worker::run
