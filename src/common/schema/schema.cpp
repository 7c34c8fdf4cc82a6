#include "common/schema/schema.hpp"

#include <algorithm>
#include <cmath>
#include <regex>

namespace lava::common::schema {
namespace {

using data::Value;

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += items[i];
    }
    return out;
}

void add(Issues& out, const Path& path, const Value& v, std::string message) {
    out.push_back(Issue{path.str(), std::move(message), v.mark});
}

std::string got(const Value& v) {
    if (v.is_str()) return "got " + v.repr();
    if (v.is_none()) return "got nothing (null)";
    if (v.is_dict()) return "got a mapping";
    if (v.is_list()) return "got a list";
    return "got " + std::string(v.type_name()) + " " + v.repr();
}

class TypeNode final : public Node {
public:
    using Pred = bool (*)(const Value&);
    TypeNode(Pred pred, std::string what) : pred_(pred), what_(std::move(what)) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        if (!pred_(v)) add(out, path, v, "expected " + what_ + ", " + got(v));
    }
    std::string describe() const override { return what_; }

private:
    Pred pred_;
    std::string what_;
};

class LiteralNode final : public Node {
public:
    LiteralNode(Value v, std::string message) : v_(std::move(v)), message_(std::move(message)) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        if (v == v_) return;
        add(out, path, v, message_.empty() ? "expected " + v_.repr() + ", " + got(v) : message_);
    }
    std::string describe() const override { return v_.repr(); }

private:
    Value v_;
    std::string message_;
};

std::string number_text(double d) {
    if (d == std::floor(d) && std::abs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    return data::python_float_repr(d);
}

class RangeNode final : public Node {
public:
    RangeNode(std::optional<double> min, std::optional<double> max) : min_(min), max_(max) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        if (!v.is_number()) {
            add(out, path, v, "expected " + describe() + ", " + got(v));
            return;
        }
        const double d = v.as_number();
        if (min_ && !(d >= *min_)) {
            add(out, path, v, "value must be at least " + number_text(*min_) + ", got " + v.repr());
        } else if (max_ && !(d <= *max_)) {
            add(out, path, v, "value must be at most " + number_text(*max_) + ", got " + v.repr());
        }
    }
    std::string describe() const override {
        if (min_ && max_) return "a number from " + number_text(*min_) + " to " + number_text(*max_);
        if (min_) return "a number >= " + number_text(*min_);
        if (max_) return "a number <= " + number_text(*max_);
        return "a number";
    }

private:
    std::optional<double> min_, max_;
};

class LengthNode final : public Node {
public:
    LengthNode(std::optional<std::size_t> min, std::optional<std::size_t> max)
        : min_(min), max_(max) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        std::size_t n = 0;
        if (v.is_str()) {
            // Python counts code points, not bytes.
            for (unsigned char c : v.as_str()) n += (c & 0xC0) != 0x80;
        } else if (v.is_sequence()) {
            n = v.as_list().size();
        } else if (v.is_dict()) {
            n = v.as_dict().size();
        } else {
            add(out, path, v, "expected something with a length, " + got(v));
            return;
        }
        if (min_ && n < *min_) {
            add(out, path, v,
                *min_ == 1 ? std::string("must not be empty")
                           : "length must be at least " + std::to_string(*min_));
        } else if (max_ && n > *max_) {
            add(out, path, v, "length must be at most " + std::to_string(*max_));
        }
    }
    std::string describe() const override { return "a value of limited length"; }

private:
    std::optional<std::size_t> min_, max_;
};

class MatchNode final : public Node {
public:
    MatchNode(std::string pattern, std::string message)
        : pattern_(std::move(pattern)),
          re_(pattern_, std::regex::ECMAScript | std::regex::optimize),
          message_(std::move(message)) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        if (!v.is_str()) {
            add(out, path, v, "expected a string, " + got(v));
            return;
        }
        // re.match anchors at the start only.
        if (!std::regex_search(v.as_str(), re_, std::regex_constants::match_continuous)) {
            add(out, path, v, message_.empty() ? "does not match " + pattern_ : message_);
        }
    }
    std::string describe() const override { return "a string matching " + pattern_; }

private:
    std::string pattern_;
    std::regex re_;
    std::string message_;
};

class InNode final : public Node {
public:
    InNode(std::vector<std::string> choices, bool negate, std::string message)
        : choices_(std::move(choices)), negate_(negate), message_(std::move(message)) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        const bool found = v.is_str() && std::find(choices_.begin(), choices_.end(),
                                                    v.as_str()) != choices_.end();
        if (found == negate_) {
            if (!message_.empty()) {
                add(out, path, v, message_);
            } else {
                add(out, path, v, "expected one of: " + join(choices_, ", ") + "; " + got(v));
            }
        }
    }
    std::string describe() const override {
        return (negate_ ? "not one of: " : "one of: ") + join(choices_, ", ");
    }

private:
    std::vector<std::string> choices_;
    bool negate_;
    std::string message_;
};

class CustomNode final : public Node {
public:
    CustomNode(std::string description,
               std::function<std::optional<std::string>(const Value&)> fn)
        : description_(std::move(description)), fn_(std::move(fn)) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        if (auto problem = fn_(v)) add(out, path, v, *problem);
    }
    std::string describe() const override { return description_; }

private:
    std::string description_;
    std::function<std::optional<std::string>(const Value&)> fn_;
};

class AllNode final : public Node {
public:
    explicit AllNode(std::vector<Schema> schemas) : schemas_(std::move(schemas)) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        for (const auto& s : schemas_) {
            const auto before = out.size();
            s->check(v, path, out);
            if (out.size() != before) return;
        }
    }
    std::string describe() const override { return schemas_.front()->describe(); }

private:
    std::vector<Schema> schemas_;
};

std::size_t depth_of(const std::string& path) {
    if (path.empty()) return 0;
    return 1 + static_cast<std::size_t>(std::count_if(
                   path.begin(), path.end(), [](char c) { return c == '.' || c == '['; }));
}

// The issues of the alternative that came closest: fewest issues, then the
// deepest (most specific) first issue, then the first declared.
Issues closest(std::vector<Issues>& attempts) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < attempts.size(); ++i) {
        const auto& a = attempts[i];
        const auto& b = attempts[best];
        if (a.size() < b.size() ||
            (a.size() == b.size() && depth_of(a.front().path) > depth_of(b.front().path))) {
            best = i;
        }
    }
    return std::move(attempts[best]);
}

class AnyNode final : public Node {
public:
    AnyNode(std::vector<Schema> alts, std::string message)
        : alts_(std::move(alts)), message_(std::move(message)) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        std::vector<Issues> attempts;
        attempts.reserve(alts_.size());
        for (const auto& alt : alts_) {
            Issues mine;
            alt->check(v, path, mine);
            if (mine.empty()) return;
            attempts.push_back(std::move(mine));
        }
        const std::string here = path.str();
        // When every alternative rejects the value itself (not something
        // inside it), say what was expected instead.
        const bool all_here = std::all_of(attempts.begin(), attempts.end(), [&](const Issues& is) {
            return is.size() == 1 && is.front().path == here;
        });
        if (!message_.empty()) {
            auto best = closest(attempts);
            add(out, path, v, message_);
            out.back().path = best.front().path;
            out.back().mark = best.front().mark;
            return;
        }
        if (all_here) {
            add(out, path, v, "expected " + describe() + ", " + got(v));
            return;
        }
        auto best = closest(attempts);
        out.insert(out.end(), best.begin(), best.end());
    }
    std::string describe() const override {
        std::vector<std::string> parts;
        for (const auto& a : alts_) parts.push_back(a->describe());
        return join(parts, " or ");
    }

private:
    std::vector<Schema> alts_;
    std::string message_;
};

class ListNode final : public Node {
public:
    explicit ListNode(std::vector<Schema> items) : items_(any_of(std::move(items))) {}
    void check(const Value& v, Path& path, Issues& out) const override {
        if (!v.is_list()) {
            add(out, path, v, "expected a list, " + got(v));
            return;
        }
        const auto& items = v.as_list();
        for (std::size_t i = 0; i < items.size(); ++i) {
            path.push(i);
            items_->check(items[i], path, out);
            path.pop();
        }
    }
    std::string describe() const override { return "a list"; }

private:
    static Schema any_of(std::vector<Schema> items) {
        if (items.size() == 1) return items.front();
        return std::make_shared<AnyNode>(std::move(items), std::string{});
    }
    Schema items_;
};

class MapNode final : public Node {
public:
    MapNode(Fields fields, MapOptions options) : fields_(std::move(fields)), options_(std::move(options)) {}

    void check(const Value& v, Path& path, Issues& out) const override {
        if (!v.is_dict()) {
            add(out, path, v, "expected a mapping, " + got(v));
            return;
        }
        std::vector<bool> seen(fields_.size(), false);
        for (const auto& [key, value] : v.as_dict()) {
            const std::string key_text = key.is_str() ? key.as_str() : key.repr();
            path.push(key_text);
            const auto field = select(key);
            if (!field) {
                if (!options_.allow_extra) {
                    add(out, path, key,
                        options_.unknown_key_message.empty() ? "extra keys not allowed"
                                                             : options_.unknown_key_message);
                }
            } else {
                seen[*field] = true;
                fields_[*field].second->check(value, path, out);
            }
            path.pop();
        }
        for (std::size_t i = 0; i < fields_.size(); ++i) {
            const Key& k = fields_[i].first;
            if (seen[i] || k.presence != Key::Presence::kRequired) continue;
            if (k.name) {
                path.push(*k.name);
                add(out, path, v,
                    k.missing_message.empty() ? "required key not provided" : k.missing_message);
                path.pop();
            } else {
                add(out, path, v,
                    k.missing_message.empty() ? "required key not provided" : k.missing_message);
            }
        }
        // Exclusive groups: at most one member present.
        std::vector<std::string> groups;
        for (const auto& [k, s] : fields_) {
            if (!k.exclusive_group.empty() &&
                std::find(groups.begin(), groups.end(), k.exclusive_group) == groups.end()) {
                groups.push_back(k.exclusive_group);
            }
        }
        for (const auto& g : groups) {
            std::vector<std::string> present;
            for (std::size_t i = 0; i < fields_.size(); ++i) {
                if (seen[i] && fields_[i].first.exclusive_group == g && fields_[i].first.name) {
                    present.push_back(*fields_[i].first.name);
                }
            }
            if (present.size() > 1) {
                add(out, path, v, "only one of " + join(present, ", ") + " may be given");
            }
        }
    }
    std::string describe() const override { return "a mapping"; }

private:
    // The field a data key belongs to: its literal first, then key schemas in order.
    std::optional<std::size_t> select(const Value& key) const {
        if (key.is_str()) {
            for (std::size_t i = 0; i < fields_.size(); ++i) {
                if (fields_[i].first.name && *fields_[i].first.name == key.as_str()) return i;
            }
        }
        for (std::size_t i = 0; i < fields_.size(); ++i) {
            const Key& k = fields_[i].first;
            if (!k.name && k.matcher && k.matcher->accepts(key)) return i;
        }
        return std::nullopt;
    }

    Fields fields_;
    MapOptions options_;
};

}  // namespace

std::string Issue::to_string() const {
    std::string out = path.empty() ? message : path + ": " + message;
    if (mark.line > 0) {
        out += " (line " + std::to_string(mark.line) + ", column " + std::to_string(mark.column) + ")";
    }
    return out;
}

std::string join(const Issues& issues, std::string_view separator) {
    std::string out;
    for (const auto& issue : issues) {
        if (!out.empty()) out += separator;
        out += issue.to_string();
    }
    return out;
}

std::string Path::str() const {
    std::string out;
    for (const auto& s : segments_) {
        if (s.index >= 0) {
            out += "[" + std::to_string(s.index) + "]";
        } else {
            if (!out.empty()) out += '.';
            out += s.key;
        }
    }
    return out;
}

bool Node::accepts(const Value& key) const {
    Path p;
    Issues scratch;
    check(key, p, scratch);
    return scratch.empty();
}

Schema str() {
    return std::make_shared<TypeNode>([](const Value& v) { return v.is_str(); }, "a string");
}
Schema integer() {
    return std::make_shared<TypeNode>([](const Value& v) { return v.is_int(); }, "an integer");
}
Schema boolean() {
    return std::make_shared<TypeNode>([](const Value& v) { return v.is_bool(); }, "a boolean");
}
Schema dict() {
    return std::make_shared<TypeNode>([](const Value& v) { return v.is_dict(); }, "a mapping");
}
Schema anything() {
    return std::make_shared<TypeNode>([](const Value&) { return true; }, "anything");
}
Schema literal(Value v, std::string message) {
    return std::make_shared<LiteralNode>(std::move(v), std::move(message));
}
Schema range(std::optional<double> min, std::optional<double> max) {
    return std::make_shared<RangeNode>(min, max);
}
Schema length(std::optional<std::size_t> min, std::optional<std::size_t> max) {
    return std::make_shared<LengthNode>(min, max);
}
Schema match(std::string regex, std::string message) {
    return std::make_shared<MatchNode>(std::move(regex), std::move(message));
}
Schema in(std::vector<std::string> choices) {
    return std::make_shared<InNode>(std::move(choices), false, std::string{});
}
Schema not_in(std::vector<std::string> choices, std::string message) {
    return std::make_shared<InNode>(std::move(choices), true, std::move(message));
}
Schema custom(std::string description,
              std::function<std::optional<std::string>(const Value&)> fn) {
    return std::make_shared<CustomNode>(std::move(description), std::move(fn));
}
Schema all(std::vector<Schema> schemas) { return std::make_shared<AllNode>(std::move(schemas)); }
Schema any(std::vector<Schema> alternatives, std::string message) {
    return std::make_shared<AnyNode>(std::move(alternatives), std::move(message));
}
Schema list(std::vector<Schema> item_alternatives) {
    return std::make_shared<ListNode>(std::move(item_alternatives));
}

Key required(std::string name, std::string missing_message) {
    return Key{Key::Presence::kRequired, std::move(name), nullptr, {}, std::move(missing_message)};
}
Key optional(std::string name) {
    return Key{Key::Presence::kOptional, std::move(name), nullptr, {}, {}};
}
Key required(Schema matcher, std::string missing_message) {
    return Key{Key::Presence::kRequired, std::nullopt, std::move(matcher), {},
               std::move(missing_message)};
}
Key optional(Schema matcher) {
    return Key{Key::Presence::kOptional, std::nullopt, std::move(matcher), {}, {}};
}
Key exclusive(std::string name, std::string group) {
    return Key{Key::Presence::kOptional, std::move(name), nullptr, std::move(group), {}};
}

Fields merge(Fields a, const Fields& b) {
    for (const auto& field : b) {
        auto same = std::find_if(a.begin(), a.end(), [&](const Field& f) {
            return f.first.name && field.first.name && *f.first.name == *field.first.name;
        });
        if (same != a.end()) {
            *same = field;
        } else {
            a.push_back(field);
        }
    }
    return a;
}

Schema map(Fields fields, MapOptions options) {
    return std::make_shared<MapNode>(std::move(fields), std::move(options));
}

Issues validate(const Schema& schema, const Value& v) {
    Issues out;
    Path path;
    schema->check(v, path, out);
    return out;
}

}  // namespace lava::common::schema
