#include "common/metrics/metrics.hpp"

#include "common/base/assert.hpp"

#include <dirent.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace lava::common::metrics {

const char* const kContentType = "text/plain; version=0.0.4; charset=utf-8";

namespace {

// A sample value as Prometheus reads it (Go's ParseFloat).
std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
    return fmt::format("{}", v);
}

void escape_into(std::string& out, const std::string& text, bool quote) {
    for (char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && quote) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

// {a="x",b="y"} plus an extra label (le) when given; "" without labels.
std::string label_set(const std::vector<std::string>& names, const Labels& values, const char* extra_name = nullptr,
                      const std::string& extra_value = {}) {
    if (names.empty() && extra_name == nullptr) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        escape_into(out, i < values.size() ? values[i] : std::string(), true);
        out += '"';
    }
    if (extra_name != nullptr) {
        if (!names.empty()) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    return out + "}";
}

const char* type_name(Type t) {
    switch (t) {
        case Type::kCounter: return "counter";
        case Type::kGauge: return "gauge";
        case Type::kHistogram: return "histogram";
    }
    return "untyped";
}

}  // namespace

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
    LAVA_ASSERT(std::is_sorted(bounds_.begin(), bounds_.end()), "histogram bounds must increase");
    for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
    const auto at = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    counts_[at].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += counts_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, Type type)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), type_(type) {}

void FamilyBase::render(std::string& out) const {
    out += "# HELP ";
    out += name_;
    out += ' ';
    escape_into(out, help_, false);
    out += "\n# TYPE ";
    out += name_;
    out += ' ';
    out += type_name(type_);
    out += '\n';
    render_children(out);
}

template <>
std::unique_ptr<Counter> Family<Counter>::make() const {
    return std::make_unique<Counter>();
}
template <>
std::unique_ptr<Gauge> Family<Gauge>::make() const {
    return std::make_unique<Gauge>();
}
template <>
std::unique_ptr<Histogram> Family<Histogram>::make() const {
    return std::make_unique<Histogram>(bounds_);
}

template <class Metric>
void Family<Metric>::render_children(std::string& out) const {
    std::lock_guard lock(mutex_);
    for (const auto& [labels, metric] : children_) {
        if constexpr (std::is_same_v<Metric, Histogram>) {
            const auto s = metric->snapshot();
            const auto& bounds = metric->bounds();
            for (std::size_t i = 0; i <= bounds.size(); ++i) {
                out += name_;
                out += "_bucket";
                out += label_set(label_names_, labels, "le", i < bounds.size() ? number(bounds[i]) : "+Inf");
                out += ' ';
                out += std::to_string(s.cumulative[i]);
                out += '\n';
            }
            out += fmt::format("{}_sum{} {}\n", name_, label_set(label_names_, labels), number(s.sum));
            out += fmt::format("{}_count{} {}\n", name_, label_set(label_names_, labels), s.count);
        } else {
            out += fmt::format("{}{} {}\n", name_, label_set(label_names_, labels), number(metric->value()));
        }
    }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Registry() {
    collect_errors_ = &counter("lava_metrics_collect_errors_total",
                               "Scrapes where a value read at scrape time (e.g. from the database) could not be read")
                           .with();
}

Registry::~Registry() = default;

FamilyBase* Registry::find(const std::string& name, Type type, const std::vector<std::string>& label_names) {
    auto it = families_.find(name);
    if (it == families_.end()) return nullptr;
    LAVA_ASSERT(it->second->type() == type && it->second->label_names() == label_names,
                "metric registered twice with different types or labels");
    return it->second.get();
}

template <class Metric>
Family<Metric>& Registry::family(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names, Type type, std::vector<double> bounds) {
    std::lock_guard lock(mutex_);
    if (auto* f = find(name, type, label_names)) return static_cast<Family<Metric>&>(*f);
    auto made = std::make_unique<Family<Metric>>(name, help, std::move(label_names), type);
    if (!bounds.empty()) made->set_bounds(std::move(bounds));
    auto& ref = *made;
    families_.emplace(name, std::move(made));
    return ref;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
    return family<Counter>(name, help, std::move(label_names), Type::kCounter, {});
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
    return family<Gauge>(name, help, std::move(label_names), Type::kGauge, {});
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names, std::vector<double> bounds) {
    return family<Histogram>(name, help, std::move(label_names), Type::kHistogram, std::move(bounds));
}

void Registry::on_collect(std::function<void()> collect) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collect));
}

std::string Registry::render() {
    std::vector<std::function<void()>> collectors;
    {
        std::lock_guard lock(mutex_);
        collectors = collectors_;
    }
    for (const auto& collect : collectors) {
        try {
            collect();
        } catch (const std::exception&) {
            collect_errors_->inc();
        }
    }
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, family] : families_) family->render(out);
    return out;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
    std::vector<double> out;
    double v = start;
    for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
    return out;
}

std::vector<double> latency_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> job_buckets() {
    return {1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800};
}

void add_build_info(Registry& registry, const std::string& version, const std::string& protocol) {
    registry.gauge("lava_build_info", "The lava-cpp version and the LAVA protocol version of this daemon",
                   {"version", "protocol"})
        .with({version, protocol})
        .set(1);
}

void add_process_metrics(Registry& registry) {
    auto& cpu = registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.").with();
    auto& rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").with();
    auto& vsize = registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").with();
    auto& fds = registry.gauge("process_open_fds", "Number of open file descriptors.").with();
    auto& threads = registry.gauge("process_threads", "Number of OS threads in the process.").with();
    auto& start = registry.gauge("process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.").with();
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    double boot = 0;
    {
        std::ifstream stat("/proc/stat");
        std::string key;
        while (stat >> key) {
            if (key == "btime") {
                stat >> boot;
                break;
            }
        }
    }
    registry.on_collect([&cpu, &rss, &vsize, &fds, &threads, &start, ticks, page, boot] {
        std::ifstream in("/proc/self/stat");
        std::string line;
        if (!std::getline(in, line)) throw std::runtime_error("cannot read /proc/self/stat");
        // Fields after the command name, which is in parentheses and may hold spaces.
        const auto close = line.rfind(')');
        if (close == std::string::npos) throw std::runtime_error("bad /proc/self/stat");
        std::istringstream fields(line.substr(close + 2));
        std::vector<std::string> f;
        for (std::string w; fields >> w;) f.push_back(w);
        // f[0] is field 3 (state): field N is f[N - 3].
        if (f.size() < 22) throw std::runtime_error("short /proc/self/stat");
        cpu.set_total((std::stod(f[11]) + std::stod(f[12])) / ticks);
        threads.set(std::stod(f[17]));
        start.set(boot + std::stod(f[19]) / ticks);
        vsize.set(std::stod(f[20]));
        rss.set(std::stod(f[21]) * page);
        double open = 0;
        if (DIR* dir = ::opendir("/proc/self/fd")) {
            while (const dirent* e = ::readdir(dir)) {
                if (e->d_name[0] != '.') ++open;
            }
            ::closedir(dir);
            open -= 1;  // the directory being read
        }
        fds.set(open);
    });
}

}  // namespace lava::common::metrics
