#include "common/base/stop_signals.hpp"

#include <pthread.h>

#include <atomic>
#include <thread>

namespace lava {

struct StopSignals::Waiter::State {
    std::atomic<bool> closing{false};
    std::atomic<bool> signalled{false};
    std::thread thread;
};

StopSignals::StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

StopSignals::Waiter StopSignals::wait(std::function<void(int)> on_signal) const {
    auto state = std::make_unique<Waiter::State>();
    Waiter::State* s = state.get();
    const sigset_t set = set_;
    s->thread = std::thread([s, set, on_signal = std::move(on_signal)] {
        int signo = 0;
        sigwait(&set, &signo);
        s->signalled = true;
        if (!s->closing) on_signal(signo);
    });
    return Waiter(std::move(state));
}

StopSignals::Waiter::Waiter(std::unique_ptr<State> state) : state_(std::move(state)) {}
StopSignals::Waiter::Waiter(Waiter&&) noexcept = default;

StopSignals::Waiter::~Waiter() {
    if (!state_ || !state_->thread.joinable()) return;
    state_->closing = true;
    // Wakes the thread if no signal came (one that comes meanwhile has woken
    // it already; this one then stays pending, blocked, and goes with it).
    if (!state_->signalled) pthread_kill(state_->thread.native_handle(), SIGTERM);
    state_->thread.join();
}

}  // namespace lava
