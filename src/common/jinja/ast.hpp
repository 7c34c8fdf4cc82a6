#pragma once
// The parsed form of a template (internal to common/jinja). Immutable after
// parsing; shared between threads by the Environment's cache.

#include "common/data/value.hpp"
#include "common/jinja/jinja.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lava::common::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Args {
    std::vector<ExprPtr> positional;
    std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Expr {
    enum class Kind {
        kLiteral,   // value
        kName,      // name
        kGetattr,   // a.name
        kGetitem,   // a[b]
        kSlice,     // a[b:c]  (b, c may be null)
        kCall,      // a(args)
        kFilter,    // a | name(args)
        kTest,      // a is [not] name(args)
        kUnary,     // op a     (op: "-", "+", "not")
        kBinary,    // a op b   (+ - * / // % ** ~ and or)
        kCompare,   // a op b op c ...
        kCond,      // a if b else c
        kList,
        kTuple,
        kDict,
    };
    Kind kind;
    int line = 0;
    data::Value value;                 // kLiteral
    std::string name;                  // kName, kGetattr attr, kFilter/kTest name, kUnary/kBinary op
    bool negate = false;               // kTest
    ExprPtr a, b, c;                   // operands
    Args args;                         // kCall, kFilter, kTest
    std::vector<ExprPtr> items;        // kList, kTuple, kDict (key, value, key, value...)
    std::vector<std::pair<std::string, ExprPtr>> ops;  // kCompare: (op, operand)
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
    enum class Kind { kText, kPrint, kIf, kFor, kSet, kBlock, kExtends, kInclude, kFilterBlock, kMacro, kImport };
    Kind kind;
    int line = 0;
    std::string text;                     // kText; kBlock, kMacro name; kImport: the alias of
                                          // `import ... as alias` ("" for `from ... import`)
    ExprPtr expr;                         // kPrint, kFor iterable, kSet value, kExtends/kInclude/kImport target,
                                          // kFilterBlock: the filter chain applied to a placeholder
    std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: (condition, body); else has null cond
    std::vector<std::string> targets;     // kFor, kSet
    ExprPtr condition;                    // kFor: inline `if` filter
    Body body;                            // kFor, kBlock, kFilterBlock, kMacro
    Body else_body;                       // kFor
    // kMacro: the parameters, each with its default (or null).
    std::vector<std::pair<std::string, ExprPtr>> params;
    // kImport from `from ... import name as alias, ...`: (name, alias).
    std::vector<std::pair<std::string, std::string>> names;
};

struct Template {
    std::string name;
    Body body;
    // Blocks defined anywhere in this template, by name.
    std::map<std::string, const Node*> blocks;
};

// The variable that holds a {% filter %} block's rendered body while its
// filter chain is evaluated (not a valid template identifier).
const char* filter_body_name();

// Parses template source. Throws TemplateError.
std::shared_ptr<const Template> parse_template(const std::string& source, const std::string& name);

}  // namespace lava::common::jinja
