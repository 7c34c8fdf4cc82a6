#include "worker/run/http_serve.hpp"

#include "worker/run/job_error.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace lava::worker::run {

LocalHttpServer::LocalHttpServer(std::string file, std::string url_path)
    : file_(std::move(file)), url_path_(std::move(url_path)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0 || ::pipe2(stop_, O_CLOEXEC) != 0) {
        fail(ErrorType::kInfrastructure, std::string("cannot serve the overlay: ") + std::strerror(errno));
    }
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        fail(ErrorType::kInfrastructure, std::string("cannot serve the overlay: ") + std::strerror(errno));
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
}

LocalHttpServer::~LocalHttpServer() {
    if (stop_[1] >= 0) (void)!::write(stop_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
    for (const int fd : {listener_, stop_[0], stop_[1]}) {
        if (fd >= 0) ::close(fd);
    }
}

namespace {

void send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

}  // namespace

void LocalHttpServer::serve() {
    for (;;) {
        pollfd p[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents) return;
        const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        timeval tv{10, 0};
        ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string request;
        char buffer[2048];
        while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
            const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            request.append(buffer, static_cast<std::size_t>(n));
        }
        const auto line_end = request.find("\r\n");
        const std::string line = request.substr(0, line_end);
        const bool get = line.rfind("GET ", 0) == 0;
        const std::string path = get ? line.substr(4, line.find(' ', 4) - 4) : std::string();
        std::ifstream in(file_, std::ios::binary);
        if (!get || path != url_path_ || !in) {
            static const char kNotFound[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send_all(client, kNotFound, sizeof kNotFound - 1);
        } else {
            in.seekg(0, std::ios::end);
            const auto size = static_cast<long long>(in.tellg());
            in.seekg(0);
            const std::string head = "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                                     std::to_string(size) + "\r\nConnection: close\r\n\r\n";
            send_all(client, head.data(), head.size());
            char chunk[1 << 16];
            while (in.read(chunk, sizeof chunk) || in.gcount() > 0) send_all(client, chunk, static_cast<std::size_t>(in.gcount()));
        }
        ::close(client);
    }
}

}  // namespace lava::worker::run
