#pragma once
// How a daemon stops on SIGTERM or SIGINT: not in a signal handler, but in a
// thread of its own that waits for them (sigwait) and then asks the
// daemon's loops to stop. Two objects, because of two orders:
//   - StopSignals blocks both signals in the calling thread; construct it
//     in main before any thread starts (threads inherit the mask);
//   - its wait(on_signal) starts the waiting thread and returns a guard to
//     declare after the objects on_signal touches: the guard's destructor
//     (on a normal exit or an exception) ends that thread without calling
//     on_signal, before those objects are destroyed.
// on_signal runs on the waiting thread, once, with the signal's number.

#include <csignal>
#include <functional>
#include <memory>

namespace lava {

class StopSignals {
public:
    StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    class Waiter {
    public:
        ~Waiter();
        Waiter(Waiter&&) noexcept;
        Waiter(const Waiter&) = delete;
        Waiter& operator=(const Waiter&) = delete;

    private:
        friend class StopSignals;
        struct State;
        explicit Waiter(std::unique_ptr<State> state);
        std::unique_ptr<State> state_;
    };
    [[nodiscard]] Waiter wait(std::function<void(int)> on_signal) const;

private:
    sigset_t set_{};
};

}  // namespace lava
