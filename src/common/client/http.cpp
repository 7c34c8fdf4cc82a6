#include "common/client/http.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

namespace lava::common::client {

namespace {

using Clock = std::chrono::steady_clock;

struct Url {
    bool tls = false;
    std::string host;
    std::string port;
    std::string target;  // path and query
};

std::optional<Url> parse_url(const std::string& url) {
    Url u;
    std::string rest;
    if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else if (url.rfind("https://", 0) == 0) {
        u.tls = true;
        rest = url.substr(8);
    } else {
        return std::nullopt;
    }
    const auto slash = rest.find_first_of("/?#");
    std::string authority = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    if (const auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
    if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
    if (const auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
    if (!authority.empty() && authority[0] == '[') {  // [v6]:port
        const auto close = authority.find(']');
        if (close == std::string::npos) return std::nullopt;
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
    } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    } else {
        u.host = authority;
    }
    if (u.port.empty()) u.port = u.tls ? "443" : "80";
    if (u.host.empty()) return std::nullopt;
    return u;
}

// Resolves a Location header against the URL it came from.
std::string resolve(const std::string& base, const std::string& location) {
    if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
    const auto scheme_end = base.find("://") + 3;
    const auto path_start = base.find('/', scheme_end);
    const std::string origin = base.substr(0, path_start);
    if (location.rfind("//", 0) == 0) return base.substr(0, scheme_end - 2) + location;
    if (!location.empty() && location[0] == '/') return origin + location;
    std::string dir = path_start == std::string::npos ? "/" : base.substr(path_start);
    dir = dir.substr(0, dir.find_first_of("?#"));
    dir = dir.substr(0, dir.rfind('/') + 1);
    return origin + dir + location;
}

SSL_CTX* tls_context() {
    // One per process, built on first use; OpenSSL contexts are thread-safe.
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_default_verify_paths(c);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
        return c;
    }();
    return ctx;
}

// A connection: a non-blocking socket, with TLS on top when asked.
class Stream {
public:
    Stream(const HttpCall& call, HttpResponse& response) : call_(call), response_(response) {}
    ~Stream() {
        if (ssl_) SSL_free(ssl_);
        if (fd_ >= 0) ::close(fd_);
    }

    bool open(const Url& url) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (const int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found); rc != 0) {
            return failed(std::string("cannot resolve ") + url.host + ": " + gai_strerror(rc));
        }
        std::string last = "no address";
        for (auto* a = found; a && fd_ < 0; a = a->ai_next) {
            const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
            if (fd < 0) continue;
            if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 || (errno == EINPROGRESS && wait(fd, POLLOUT))) {
                int error = 0;
                socklen_t len = sizeof error;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
                if (error == 0) {
                    fd_ = fd;
                    break;
                }
                last = std::strerror(error);
            } else if (!response_.error.empty()) {
                last = response_.error;
            } else {
                last = std::strerror(errno);
            }
            ::close(fd);
            if (response_.stopped || response_.timed_out) break;
        }
        freeaddrinfo(found);
        if (fd_ < 0) return failed("cannot connect to " + url.host + ":" + url.port + ": " + last);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!url.tls) return true;
        ssl_ = SSL_new(tls_context());
        SSL_set_fd(ssl_, fd_);
        in6_addr ip{};
        if (::inet_pton(AF_INET, url.host.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, url.host.c_str(), &ip) == 1) {
            // An address: checked against the certificate's IP names; no SNI.
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), url.host.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl_, url.host.c_str());
            SSL_set1_host(ssl_, url.host.c_str());
        }
        for (;;) {
            const int rc = SSL_connect(ssl_);
            if (rc == 1) return true;
            if (!tls_wait(rc)) {
                if (response_.error.empty()) {
                    const long verify = SSL_get_verify_result(ssl_);
                    return failed("TLS handshake with " + url.host + " failed" +
                                  (verify != X509_V_OK ? std::string(": ") + X509_verify_cert_error_string(verify) : ""));
                }
                return false;
            }
        }
    }

    bool write_all(const std::string& data) {
        std::size_t done = 0;
        while (done < data.size()) {
            if (ssl_) {
                const int n = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
                if (n > 0) {
                    done += static_cast<std::size_t>(n);
                } else if (!tls_wait(n)) {
                    return response_.error.empty() ? failed("TLS write failed") : false;
                }
            } else {
                const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
                if (n > 0) {
                    done += static_cast<std::size_t>(n);
                } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                    if (!wait(fd_, POLLOUT)) return false;
                } else {
                    return failed(std::string("send: ") + std::strerror(errno));
                }
            }
        }
        return true;
    }

    // Some bytes; 0 at the end of the stream; -1 on error.
    long read_some(char* buffer, std::size_t size) {
        for (;;) {
            if (ssl_) {
                const int n = SSL_read(ssl_, buffer, static_cast<int>(size));
                if (n > 0) return n;
                const int e = SSL_get_error(ssl_, n);
                if (e == SSL_ERROR_ZERO_RETURN) return 0;
                // A peer closing without close_notify: the end, as browsers treat it.
                if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;
                if (!tls_wait(n)) return response_.error.empty() ? (failed("TLS read failed"), -1) : -1;
            } else {
                const ssize_t n = ::recv(fd_, buffer, size, 0);
                if (n >= 0) return n;
                if (errno != EAGAIN && errno != EINTR) return failed(std::string("recv: ") + std::strerror(errno)), -1;
                if (!wait(fd_, POLLIN)) return -1;
            }
        }
    }

    // Progress callback between waits.
    bool tick(std::uint64_t now, std::uint64_t expected) {
        if (call_.on_progress && !call_.on_progress(now, expected)) {
            response_.stopped = true;
            response_.error = "stopped";
            return false;
        }
        return true;
    }
    std::uint64_t received = 0;
    std::uint64_t total = 0;

private:
    bool failed(std::string why) {
        if (response_.error.empty()) response_.error = std::move(why);
        return false;
    }

    // Waits until `fd` is ready, in slices, calling the progress callback.
    bool wait(int fd, short events) {
        for (;;) {
            if (!tick(received, total)) return false;
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(call_.deadline - Clock::now());
            if (left.count() <= 0) {
                response_.timed_out = true;
                return failed("timed out");
            }
            pollfd p{fd, events, 0};
            const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
            if (rc > 0) return true;
            if (rc < 0 && errno != EINTR) return failed(std::string("poll: ") + std::strerror(errno));
        }
    }

    bool tls_wait(int rc) {
        const int e = SSL_get_error(ssl_, rc);
        if (e == SSL_ERROR_WANT_READ) return wait(fd_, POLLIN);
        if (e == SSL_ERROR_WANT_WRITE) return wait(fd_, POLLOUT);
        return false;
    }

    const HttpCall& call_;
    HttpResponse& response_;
    int fd_ = -1;
    SSL* ssl_ = nullptr;
};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// One request on one connection (no redirects).
void exchange(const HttpCall& call, const std::string& method, const std::string& url_text, HttpResponse& response) {
    const auto url = parse_url(url_text);
    if (!url) {
        response.error = "unsupported URL " + url_text;
        return;
    }
    Stream stream(call, response);
    if (!stream.open(*url)) return;
    const bool default_port = url->port == (url->tls ? "443" : "80");
    std::string request = method + " " + url->target + " HTTP/1.1\r\nHost: " +
                          (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) +
                          (default_port ? "" : ":" + url->port) + "\r\nConnection: close\r\nAccept: */*\r\n";
    bool agent = false;
    for (const auto& [name, value] : call.headers) {
        agent = agent || lower(name) == "user-agent";
        request += name + ": " + value + "\r\n";
    }
    if (!agent) request += "User-Agent: lava-cpp lava-run\r\n";
    if (method == "POST") request += "Content-Length: " + std::to_string(call.body.size()) + "\r\n";
    request += "\r\n";
    if (method == "POST") request += call.body;
    if (!stream.write_all(request)) return;

    // The head.
    std::string data;
    char buffer[1 << 16];
    std::size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
        if (data.size() > (1 << 20)) {
            response.error = "response head too large";
            return;
        }
        const long n = stream.read_some(buffer, sizeof buffer);
        if (n < 0) return;
        if (n == 0) {
            response.error = "the server closed the connection without a response";
            return;
        }
        data.append(buffer, static_cast<std::size_t>(n));
    }
    const std::string head = data.substr(0, head_end);
    data.erase(0, head_end + 4);
    const auto first_end = head.find("\r\n");
    const std::string status_line = head.substr(0, first_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
        response.error = "not an HTTP response: " + status_line.substr(0, 80);
        return;
    }
    response.status = std::atoi(status_line.c_str() + 9);
    for (std::size_t at = first_end; at != std::string::npos && at < head.size();) {
        const auto next = head.find("\r\n", at + 2);
        const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
        if (const auto colon = line.find(':'); colon != std::string::npos) {
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            response.headers[lower(line.substr(0, colon))] = value;
        }
        at = next;
    }
    if (method == "HEAD" || response.status == 204 || response.status == 304 || (response.status >= 300 && response.status < 400)) {
        return;
    }

    // The body: chunked, sized, or up to the end of the stream.
    const bool chunked = lower(response.headers["transfer-encoding"]).find("chunked") != std::string::npos;
    std::uint64_t length = 0;
    const bool sized = !chunked && response.headers.count("content-length");
    if (sized) length = std::strtoull(response.headers["content-length"].c_str(), nullptr, 10);
    stream.total = sized ? length : 0;
    const bool keep = !call.on_body || response.status != 200;
    const auto deliver = [&](const char* p, std::size_t n) {
        stream.received += n;
        if (keep) {
            // An error page is kept for the message, not a whole error body.
            if (!call.on_body || response.body.size() < 65536) response.body.append(p, n);
        } else if (!call.on_body(p, n)) {
            response.stopped = true;
            response.error = "stopped";
            return false;
        }
        return stream.tick(stream.received, stream.total);
    };
    const auto more = [&]() -> bool {
        const long n = stream.read_some(buffer, sizeof buffer);
        if (n <= 0) {
            if (n == 0 && response.error.empty()) response.error = "the connection closed in the middle of the body";
            return false;
        }
        data.append(buffer, static_cast<std::size_t>(n));
        return true;
    };
    if (chunked) {
        for (;;) {
            std::size_t line_end;
            while ((line_end = data.find("\r\n")) == std::string::npos) {
                if (!more()) return;
            }
            const std::uint64_t size = std::strtoull(data.c_str(), nullptr, 16);
            data.erase(0, line_end + 2);
            if (size == 0) return;
            std::uint64_t left = size;
            while (left > 0) {
                if (data.empty() && !more()) return;
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, data.size()));
                if (!deliver(data.data(), n)) return;
                data.erase(0, n);
                left -= n;
            }
            while (data.size() < 2) {
                if (!more()) return;
            }
            data.erase(0, 2);
        }
    }
    if (!data.empty()) {
        const auto n = sized ? static_cast<std::size_t>(std::min<std::uint64_t>(length, data.size())) : data.size();
        if (!deliver(data.data(), n)) return;
    }
    for (;;) {
        if (sized && stream.received >= length) return;
        const long n = stream.read_some(buffer, sizeof buffer);
        if (n < 0) return;
        if (n == 0) {
            if (sized) response.error = "the connection closed in the middle of the body";
            return;
        }
        auto size = static_cast<std::size_t>(n);
        if (sized) size = static_cast<std::size_t>(std::min<std::uint64_t>(size, length - stream.received));
        if (!deliver(buffer, size)) return;
    }
}

}  // namespace

HttpResponse http_request(const HttpCall& call) {
    std::string url = call.url;
    std::string method = call.method;
    for (int hop = 0;; ++hop) {
        HttpResponse response;
        response.url = url;
        exchange(call, method, url, response);
        const bool redirect = response.status == 301 || response.status == 302 || response.status == 303 ||
                              response.status == 307 || response.status == 308;
        if (!redirect || !response.headers.count("location")) return response;
        if (hop >= call.max_redirects) {
            response.error = "too many redirects";
            return response;
        }
        url = resolve(url, response.headers["location"]);
        if (response.status == 303 && method == "POST") method = "GET";
    }
}

std::string form_encode(const std::string& value) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size() * 3 / 2);
    for (const unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else if (c == ' ') {
            out.push_back('+');
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 15]);
        }
    }
    return out;
}

}  // namespace lava::common::client
