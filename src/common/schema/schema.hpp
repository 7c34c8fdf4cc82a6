#pragma once
// Declarative validation of data::Value trees, with the semantics of the
// voluptuous library that LAVA's schemas are written in, so that what LAVA
// accepts we accept and what it rejects we reject:
//   - types are Python's (bool is an int; a float passes Range(min=1));
//   - a literal matches by Python equality;
//   - in a mapping, a data key is matched against the literal keys first,
//     then the other key schemas in order; once a key matches, its value is
//     validated with no backtracking; unmatched keys are "extra";
//   - Any() accepts the first alternative that validates.
// Unlike voluptuous, validation does not stop at the first error: every issue
// is reported with its path and source position. Schemas are immutable and
// shareable between threads once built.

#include "common/data/value.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava::common::schema {

// One problem: where, what, and the position in the source text.
struct Issue {
    std::string path;     // actions[2].test.definitions[0].name ("" for the document)
    std::string message;  // does not match ^[-_a-zA-Z0-9.]+$
    data::Mark mark;
    // "path: message (line L, column C)"
    std::string to_string() const;
};
using Issues = std::vector<Issue>;

// Every issue's to_string(), separated by `separator`.
std::string join(const Issues& issues, std::string_view separator = "; ");

// A path into a document, built while descending.
class Path {
public:
    void push(std::string key) { segments_.push_back(Segment{std::move(key), -1}); }
    void push(std::size_t index) { segments_.push_back(Segment{{}, static_cast<long>(index)}); }
    void pop() { segments_.pop_back(); }
    std::size_t depth() const { return segments_.size(); }
    std::string str() const;

private:
    struct Segment {
        std::string key;
        long index;
    };
    std::vector<Segment> segments_;
};

class Node {
public:
    virtual ~Node() = default;
    // Appends an Issue to `out` for each problem of `v` (located at `path`).
    virtual void check(const data::Value& v, Path& path, Issues& out) const = 0;
    // What this schema expects, for messages: "a string", "'tmpfs'", "a mapping".
    virtual std::string describe() const = 0;
    // Whether `key` is acceptable as a mapping key of this schema (no issues).
    bool accepts(const data::Value& key) const;
};
using Schema = std::shared_ptr<const Node>;

// ---- scalars and types (Python's isinstance)
Schema str();         // str
Schema integer();     // int (bools included, as in Python)
Schema boolean();     // bool
Schema dict();        // any dict
Schema anything();    // object
Schema literal(data::Value v, std::string message = {});  // == v
Schema range(std::optional<double> min, std::optional<double> max);  // a number in [min, max]
Schema length(std::optional<std::size_t> min, std::optional<std::size_t> max);
Schema match(std::string regex, std::string message = {});  // Python re.match (anchored at start)
Schema in(std::vector<std::string> choices);
Schema not_in(std::vector<std::string> choices, std::string message);
// Runs `fn`; a returned text is an issue at this value.
Schema custom(std::string description,
              std::function<std::optional<std::string>(const data::Value&)> fn);

// ---- combinators
Schema all(std::vector<Schema> schemas);  // each in turn; stops at the first that fails
Schema any(std::vector<Schema> alternatives, std::string message = {});
// A list whose every item matches one of `item_alternatives` ([str], [int, str]).
Schema list(std::vector<Schema> item_alternatives);

// ---- mappings
struct Key {
    enum class Presence { kRequired, kOptional };
    Presence presence = Presence::kOptional;
    std::optional<std::string> name;  // a literal key
    Schema matcher;                   // or a schema that keys must match
    std::string exclusive_group;      // at most one key of a group may be present
    std::string missing_message;      // for a required key that is absent
};
Key required(std::string name, std::string missing_message = {});
Key optional(std::string name);
Key required(Schema matcher, std::string missing_message);
Key optional(Schema matcher);
Key exclusive(std::string name, std::string group);

using Field = std::pair<Key, Schema>;
using Fields = std::vector<Field>;

// {**a, **b}: b's fields replace a's fields with the same literal name.
Fields merge(Fields a, const Fields& b);

struct MapOptions {
    bool allow_extra = false;       // voluptuous extra=ALLOW_EXTRA
    std::string unknown_key_message;  // instead of "extra keys not allowed"
};
Schema map(Fields fields, MapOptions options = {});

// Validates `v` and returns every issue (empty when valid).
Issues validate(const Schema& schema, const data::Value& v);

}  // namespace lava::common::schema
