#include "common/client/websocket.hpp"

#include "common/base/base64.hpp"
#include "common/base/limits.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lava::common::client {

namespace {

Error broken(std::string why) { return make_error(errc::kUnavailable, std::move(why)); }

std::string accept_key(const std::string& key) {
    const std::string text = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
    return base64_encode(std::string(reinterpret_cast<const char*>(digest), size));
}

bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60'000)));
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return false;
    }
}

}  // namespace

Result<std::unique_ptr<WebSocketClient>> WebSocketClient::connect(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::steady_clock::time_point deadline) {
    if (url.rfind("ws://", 0) != 0) return broken("only ws:// URLs are supported: " + url);
    const std::string rest = url.substr(5);
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
    std::string host = authority, port = "80";
    if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return broken("cannot resolve " + host + ": " + gai_strerror(rc));
    }
    int fd = -1;
    std::string last = "no address";
    for (auto* a = found; a && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            last = std::strerror(errno);
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) return broken("cannot connect to " + authority + ": " + last);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::unique_ptr<WebSocketClient> client(new WebSocketClient(fd));

    unsigned char nonce[16];
    RAND_bytes(nonce, sizeof nonce);
    const std::string key = base64_encode(std::string(reinterpret_cast<const char*>(nonce), sizeof nonce));
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + authority +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: " + key + "\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    request += "\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        return broken("cannot send the upgrade request");
    }
    std::size_t end;
    while ((end = client->buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (client->buffer_.size() > 64 * 1024) return broken("the server's upgrade response has no end");
        if (auto r = client->fill(client->buffer_.size() + 1, deadline); !r) return r.error();
    }
    const std::string head = client->buffer_.substr(0, end);
    client->buffer_.erase(0, end + 4);
    if (head.rfind("HTTP/1.1 101", 0) != 0) return broken("the server refused the upgrade: " + head.substr(0, head.find('\r')));
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("sec-websocket-accept: " + [&] {
            std::string k = accept_key(key);
            for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return k;
        }()) == std::string::npos) {
        return broken("the server's Sec-WebSocket-Accept is wrong");
    }
    return client;
}

WebSocketClient::~WebSocketClient() {
    (void)send_frame(0x8, std::string("\x03\xe8", 2));  // close, 1000
    ::close(fd_);
}

Result<std::size_t> WebSocketClient::fill(std::size_t want, std::chrono::steady_clock::time_point deadline) {
    while (buffer_.size() < want) {
        if (!wait_fd(fd_, POLLIN, deadline)) return make_error(errc::kConflict, "timed out");
        char data[16384];
        const ssize_t n = ::recv(fd_, data, sizeof data, 0);
        if (n == 0) return broken("the server closed the connection");
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return broken(std::string("recv: ") + std::strerror(errno));
        }
        buffer_.append(data, static_cast<std::size_t>(n));
    }
    return buffer_.size();
}

Result<void> WebSocketClient::send_frame(int opcode, const std::string& payload) {
    std::string frame;
    frame.push_back(static_cast<char>(0x80 | opcode));
    const std::size_t n = payload.size();
    if (n < 126) {
        frame.push_back(static_cast<char>(0x80 | n));
    } else if (n < 65536) {
        frame.push_back(static_cast<char>(0x80 | 126));
        frame.push_back(static_cast<char>(n >> 8));
        frame.push_back(static_cast<char>(n & 0xff));
    } else {
        frame.push_back(static_cast<char>(0x80 | 127));
        for (int i = 7; i >= 0; --i) frame.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
    }
    unsigned char mask[4];
    RAND_bytes(mask, sizeof mask);
    frame.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < n; ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    if (::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) {
        return broken("cannot send a frame");
    }
    return {};
}

Result<std::string> WebSocketClient::receive(std::chrono::steady_clock::time_point deadline) {
    std::string message;
    for (;;) {
        if (auto r = fill(2, deadline); !r) return r.error();
        const auto b0 = static_cast<unsigned char>(buffer_[0]);
        const auto b1 = static_cast<unsigned char>(buffer_[1]);
        std::size_t header = 2;
        std::uint64_t length = b1 & 0x7f;
        if (length == 126) header = 4;
        if (length == 127) header = 10;
        if (auto r = fill(header + ((b1 & 0x80) ? 4 : 0), deadline); !r) return r.error();
        if (length == 126) length = (static_cast<unsigned char>(buffer_[2]) << 8) | static_cast<unsigned char>(buffer_[3]);
        if (length == 127) {
            length = 0;
            for (int i = 0; i < 8; ++i) length = (length << 8) | static_cast<unsigned char>(buffer_[2 + i]);
        }
        const auto max = static_cast<std::uint64_t>(input_limits().websocket_max_message_bytes);
        if (length > max || message.size() + length > max) {
            return broken(limit_message("a message longer than", static_cast<long long>(max),
                                        "websocket_max_message_bytes", "bytes"));
        }
        const std::size_t mask_at = header;
        if (b1 & 0x80) header += 4;
        if (auto r = fill(header + length, deadline); !r) return r.error();
        std::string payload = buffer_.substr(header, length);
        if (b1 & 0x80) {
            for (std::size_t i = 0; i < payload.size(); ++i) payload[i] ^= buffer_[mask_at + i % 4];
        }
        buffer_.erase(0, header + length);
        const int opcode = b0 & 0x0f;
        const bool fin = b0 & 0x80;
        if (opcode == 0x9) {  // ping
            if (auto r = send_frame(0xA, payload); !r) return r.error();
            continue;
        }
        if (opcode == 0xA) continue;  // pong
        if (opcode == 0x8) {
            const int code = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]) : 1005;
            return broken("the server closed the WebSocket (" + std::to_string(code) +
                          (payload.size() > 2 ? " " + payload.substr(2) : std::string()) + ")");
        }
        message += payload;
        if (fin) return message;
    }
}

}  // namespace lava::common::client
