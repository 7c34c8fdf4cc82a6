#pragma once
// Prometheus metrics: counters, gauges and histograms in families with
// labels, rendered in the text exposition format (version 0.0.4) for a
// /metrics endpoint. A daemon owns one Registry (made in main, passed to
// what it instruments: no global registry). Updates are lock-free atomics
// on a metric found once; finding a labelled child takes the family's lock,
// so hot paths keep the reference. Thread-safe throughout.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lava::common::metrics {

// Label values, in the order of the family's label names.
using Labels = std::vector<std::string>;

class Counter {
public:
    void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }
    // For collectors only: a total counted elsewhere (the kernel's CPU time).
    void set_total(double v) { value_.store(v, std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Gauge {
public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
    void dec(double by = 1) { value_.fetch_sub(by, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

class Histogram {
public:
    // `bounds`: the buckets' upper bounds, increasing (+Inf is implied).
    explicit Histogram(const std::vector<double>& bounds);
    void observe(double v);

    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot snapshot() const;
    const std::vector<double>& bounds() const { return bounds_; }

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
    std::atomic<double> sum_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

// One metric name with its labelled children.
class FamilyBase {
public:
    FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, Type type);
    virtual ~FamilyBase() = default;
    const std::string& name() const { return name_; }
    Type type() const { return type_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    void render(std::string& out) const;

protected:
    virtual void render_children(std::string& out) const = 0;
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
    Type type_;
};

template <class Metric>
class Family : public FamilyBase {
public:
    using FamilyBase::FamilyBase;

    // The child for these label values, made on first use. The reference
    // stays valid for the registry's lifetime (unless clear() is called).
    Metric& with(const Labels& values = {}) {
        std::lock_guard lock(mutex_);
        auto it = children_.find(values);
        if (it == children_.end()) it = children_.emplace(values, make()).first;
        return *it->second;
    }
    // Forgets every child: for families only a collector writes, each
    // scrape setting the label sets that exist now (e.g. per device type).
    void clear() {
        std::lock_guard lock(mutex_);
        children_.clear();
    }

    // Histograms only: the children's bucket bounds.
    void set_bounds(std::vector<double> bounds) { bounds_ = std::move(bounds); }

protected:
    void render_children(std::string& out) const override;

private:
    std::unique_ptr<Metric> make() const;
    mutable std::mutex mutex_;
    std::map<Labels, std::unique_ptr<Metric>> children_;
    std::vector<double> bounds_;
};

template <>
std::unique_ptr<Counter> Family<Counter>::make() const;
template <>
std::unique_ptr<Gauge> Family<Gauge>::make() const;
template <>
std::unique_ptr<Histogram> Family<Histogram>::make() const;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // A family by name; asking again for the same name returns the same
    // family (same type and labels, else a bug: LAVA_ASSERT).
    Family<Counter>& counter(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names = {});
    Family<Gauge>& gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
    Family<Histogram>& histogram(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names, std::vector<double> bounds);

    // Runs before each render, on the scraping thread: for values read at
    // scrape time (a query, /proc). A collector that throws leaves its
    // gauges as they were and counts in lava_metrics_collect_errors_total.
    void on_collect(std::function<void()> collect);

    // Every family in the text format, families sorted by name.
    std::string render();

private:
    FamilyBase* find(const std::string& name, Type type, const std::vector<std::string>& label_names);
    template <class Metric>
    Family<Metric>& family(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                           Type type, std::vector<double> bounds);
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<FamilyBase>> families_;
    std::vector<std::function<void()>> collectors_;
    Counter* collect_errors_ = nullptr;
};

// Bucket bounds start, start*factor, ... (count of them).
std::vector<double> exponential_buckets(double start, double factor, int count);

// Latency buckets for HTTP requests and database work: 1 ms to ~33 s.
std::vector<double> latency_buckets();
// Buckets for job-level durations (queue wait, boot, job): 1 s to ~9 h.
std::vector<double> job_buckets();

// The process_* metrics of the Prometheus client libraries, from /proc/self:
// resident and virtual memory, CPU seconds, open file descriptors, threads,
// start time.
void add_process_metrics(Registry& registry);

// lava_build_info{version,protocol} 1: which build answers.
void add_build_info(Registry& registry, const std::string& version, const std::string& protocol);

// "text/plain; version=0.0.4; charset=utf-8"
extern const char* const kContentType;

}  // namespace lava::common::metrics
