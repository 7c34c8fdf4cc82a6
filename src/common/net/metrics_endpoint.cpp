#include "common/net/metrics_endpoint.hpp"

#include "common/async/blocking.hpp"
#include "common/config/settings.hpp"
#include "common/metrics/metrics.hpp"

#include <pthread.h>
#include <signal.h>

#include <thread>

namespace lava::common::net {

void register_metrics_settings(config::SettingsLoader& loader, MetricsSettings& settings) {
    loader.add("metrics_bind", &settings.bind, "Address of the /metrics, /healthz and /readyz listener");
    loader.add("metrics_port", &settings.port, "Port of the /metrics, /healthz and /readyz listener (0: any free port)",
               0, 65535);
}

HttpResponse metrics_answer(metrics::Registry& registry) {
    HttpResponse r;
    r.content_type = metrics::kContentType;
    r.headers.emplace_back("Cache-Control", "no-store");
    r.body = registry.render();
    return r;
}

namespace {

// A one-line plain-text answer, never cached.
HttpResponse text_answer(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Cache-Control", "no-store");
    r.body = std::move(body);
    return r;
}

}  // namespace

HttpResponse healthz_answer() { return text_answer(200, "ok\n"); }

HttpResponse readyz_answer(const std::optional<std::string>& problem) {
    return problem ? text_answer(503, "not ready: " + *problem + "\n") : text_answer(200, "ready\n");
}

struct MetricsEndpoint::Impl {
    async::BlockingPool blocking{1};
    std::unique_ptr<HttpServer> server;
    std::thread thread;
};

namespace {

boost::asio::awaitable<HttpResponse> answer(metrics::Registry* registry, const ReadyCheck* ready,
                                            async::BlockingPool* blocking, HttpRequest request) {
    if (request.method != "GET" && request.method != "HEAD") co_return text_answer(405, "GET only\n");
    if (request.path == "/metrics") {
        co_return co_await async::run_blocking(*blocking, [registry] { return metrics_answer(*registry); });
    }
    if (request.path == "/healthz") co_return healthz_answer();
    if (request.path == "/readyz") {
        auto check = [ready]() -> std::optional<std::string> {
            try {
                return (*ready)();
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
        };
        const auto problem = co_await async::run_blocking(*blocking, std::move(check));
        co_return readyz_answer(problem);
    }
    co_return text_answer(404, "/metrics, /healthz or /readyz\n");
}

}  // namespace

namespace {

// The endpoint's threads take no process signals (SIGTERM is the daemon's
// to handle, on the thread it chose): they start with every signal blocked.
class BlockSignals {
public:
    BlockSignals() {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &saved_);
    }
    ~BlockSignals() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

private:
    sigset_t saved_;
};

}  // namespace

MetricsEndpoint::MetricsEndpoint(metrics::Registry& registry, const std::string& bind, std::uint16_t port,
                                 ReadyCheck ready) {
    const BlockSignals blocked;
    impl_ = std::make_unique<Impl>();
    HttpServerOptions options;
    options.address = bind;
    options.port = port;
    options.threads = 1;
    options.body_limit = 64 * 1024;
    options.server_name = "lava-cpp metrics";
    auto check = std::make_shared<ReadyCheck>(std::move(ready));
    auto* blocking = &impl_->blocking;
    impl_->server = std::make_unique<HttpServer>(
        options, [&registry, check, blocking](HttpRequest request) -> boost::asio::awaitable<HttpResponse> {
            return answer(&registry, check.get(), blocking, std::move(request));
        });
    impl_->thread = std::thread([server = impl_->server.get()] { server->run(); });
}

MetricsEndpoint::~MetricsEndpoint() {
    impl_->server->stop();
    impl_->thread.join();
    impl_->blocking.join();
}

std::uint16_t MetricsEndpoint::port() const { return impl_->server->port(); }

}  // namespace lava::common::net
