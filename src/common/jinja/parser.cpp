// Lexer and parser: template source -> Template (ast.hpp), following Jinja2's
// lexer rules as LAVA configures it (trim_blocks on, lstrip_blocks off,
// keep_trailing_newline off) and Jinja2's expression grammar and precedence.

#include "common/base/limits.hpp"
#include "common/base/text.hpp"
#include "common/jinja/ast.hpp"

#include <cstdlib>
#include <cstring>

namespace lava::common::jinja {
namespace {

using data::Value;

// ------------------------------------------------------------------ lexer

enum class Tok { kText, kBlockBegin, kBlockEnd, kVarBegin, kVarEnd, kName, kString, kInt, kFloat, kOp, kEnd };

struct Token {
    Tok type;
    std::string text;  // text, name, operator, or decoded string
    Value number;      // kInt, kFloat
    int line;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Jinja2 splits the source with str.splitlines() and joins with "\n": every
// line break becomes "\n" and one final line break is dropped.
std::string normalize_newlines(const std::string& src) {
    std::string out;
    out.reserve(src.size());
    for (std::size_t i = 0; i < src.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(src[i]);
        if (c == '\r') {
            if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
            out += '\n';
        } else if (c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e) {
            out += '\n';
        } else if (c == 0xC2 && i + 1 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x85) {
            ++i;
            out += '\n';
        } else if (c == 0xE2 && i + 2 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(src[i + 2]) == 0xA8 ||
                    static_cast<unsigned char>(src[i + 2]) == 0xA9)) {
            i += 2;
            out += '\n';
        } else {
            out += static_cast<char>(c);
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}


class Lexer {
public:
    Lexer(const std::string& source, const std::string& name) : src_(normalize_newlines(source)), name_(name) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) {
            const std::size_t open = find_open(pos_);
            std::string text = src_.substr(pos_, open - pos_);
            if (lstrip_next_) {
                std::size_t k = 0;
                while (k < text.size() && is_space(text[k])) ++k;
                text.erase(0, k);
                lstrip_next_ = false;
            }
            if (open == src_.size()) {
                emit_text(text);
                pos_ = open;
                break;
            }
            const char kind = src_[open + 1];
            std::size_t p = open + 2;
            if (p < src_.size() && src_[p] == '-') {
                while (!text.empty() && is_space(text.back())) text.pop_back();
                ++p;
            } else if (p < src_.size() && src_[p] == '+') {
                ++p;  // lstrip_blocks is off: nothing to disable
            }
            emit_text(text);
            advance_to(p);
            if (kind == '#') {
                comment();
            } else if (kind == '%') {
                if (raw_block()) continue;
                push(Tok::kBlockBegin, "", line_);
                tag_body("%}", Tok::kBlockEnd, true);
            } else {
                push(Tok::kVarBegin, "", line_);
                tag_body("}}", Tok::kVarEnd, false);
            }
        }
        push(Tok::kEnd, "", line_);
        return std::move(tokens_);
    }

private:
    [[noreturn]] void fail(const std::string& message) {
        throw TemplateError{name_, line_, message};
    }

    std::size_t find_open(std::size_t from) const {
        for (std::size_t i = from; i + 1 < src_.size(); ++i) {
            if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
                return i;
            }
        }
        return src_.size();
    }

    void advance_to(std::size_t p) {
        for (std::size_t i = pos_; i < p && i < src_.size(); ++i) {
            if (src_[i] == '\n') ++line_;
        }
        pos_ = p;
    }

    void emit_text(const std::string& text) {
        if (text.empty()) return;
        push(Tok::kText, text, text_line_);
    }

    void push(Tok t, std::string text, int line) {
        tokens_.push_back(Token{t, std::move(text), Value(), line});
    }

    // After a block or comment end: "-" strips all following whitespace;
    // otherwise trim_blocks removes one newline.
    void after_block_end(bool minus, bool plus) {
        if (minus) {
            lstrip_next_ = true;
        } else if (!plus && pos_ < src_.size() && src_[pos_] == '\n') {
            advance_to(pos_ + 1);
        }
        text_line_ = line_;
    }

    void comment() {
        const std::size_t end = src_.find("#}", pos_);
        if (end == std::string::npos) fail("missing end of comment tag");
        const bool minus = end > pos_ && src_[end - 1] == '-';
        const bool plus = end > pos_ && src_[end - 1] == '+';
        advance_to(end + 2);
        after_block_end(minus, plus);
    }

    // {% raw %} ... {% endraw %}: text without interpretation.
    bool raw_block() {
        std::size_t p = pos_;
        while (p < src_.size() && is_space(src_[p])) ++p;
        if (src_.compare(p, 3, "raw") != 0) return false;
        p += 3;
        while (p < src_.size() && is_space(src_[p])) ++p;
        bool minus = false;
        if (p < src_.size() && src_[p] == '-') {
            minus = true;
            ++p;
        }
        if (src_.compare(p, 2, "%}") != 0) return false;
        advance_to(p + 2);
        after_block_end(minus, false);
        // Find {% endraw %} (with optional whitespace control).
        std::size_t search = pos_;
        while (true) {
            const std::size_t open = src_.find("{%", search);
            if (open == std::string::npos) fail("missing {% endraw %}");
            std::size_t q = open + 2;
            bool strip_before = false;
            if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) {
                strip_before = src_[q] == '-';
                ++q;
            }
            while (q < src_.size() && is_space(src_[q])) ++q;
            if (src_.compare(q, 6, "endraw") != 0) {
                search = open + 2;
                continue;
            }
            q += 6;
            while (q < src_.size() && is_space(src_[q])) ++q;
            bool end_minus = false;
            if (q < src_.size() && src_[q] == '-') {
                end_minus = true;
                ++q;
            }
            if (src_.compare(q, 2, "%}") != 0) fail("malformed {% endraw %}");
            std::string text = src_.substr(pos_, open - pos_);
            if (lstrip_next_) {
                std::size_t k = 0;
                while (k < text.size() && is_space(text[k])) ++k;
                text.erase(0, k);
                lstrip_next_ = false;
            }
            if (strip_before) {
                while (!text.empty() && is_space(text.back())) text.pop_back();
            }
            emit_text(text);
            advance_to(q + 2);
            after_block_end(end_minus, false);
            return true;
        }
    }

    void tag_body(const char* closer, Tok end_type, bool is_block) {
        while (true) {
            while (pos_ < src_.size() && is_space(src_[pos_])) advance_to(pos_ + 1);
            if (pos_ >= src_.size()) fail(std::string("unexpected end of template, expected '") + closer + "'");
            const char c = src_[pos_];
            // End of tag: "-%}" / "+%}" / "%}" (and the same for "}}").
            if ((c == '-' || c == '+') && src_.compare(pos_ + 1, 2, closer) == 0) {
                push(end_type, "", line_);
                advance_to(pos_ + 3);
                if (c == '-') {
                    lstrip_next_ = true;
                    text_line_ = line_;
                } else if (is_block) {
                    after_block_end(false, true);
                } else {
                    text_line_ = line_;
                }
                return;
            }
            if (src_.compare(pos_, 2, closer) == 0) {
                push(end_type, "", line_);
                advance_to(pos_ + 2);
                if (is_block) {
                    after_block_end(false, false);
                } else {
                    text_line_ = line_;
                }
                return;
            }
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                std::size_t e = pos_;
                while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
                push(Tok::kName, src_.substr(pos_, e - pos_), line_);
                advance_to(e);
                continue;
            }
            if (std::isdigit(static_cast<unsigned char>(c))) {
                number();
                continue;
            }
            if (c == '\'' || c == '"') {
                string_literal(c);
                continue;
            }
            static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                               "*", "%", "~", "[", "]", "(", ")", "{", "}", ">",
                                               "<", "=", ".", ":", "|", ",", ";"};
            bool matched = false;
            for (const char* op : kOps) {
                const std::size_t len = std::strlen(op);
                if (src_.compare(pos_, len, op) == 0) {
                    push(Tok::kOp, op, line_);
                    advance_to(pos_ + len);
                    matched = true;
                    break;
                }
            }
            if (!matched) fail(std::string("unexpected char '") + c + "'");
        }
    }

    void number() {
        std::size_t e = pos_;
        auto digits = [&](std::size_t& i) {
            const std::size_t start = i;
            while (i < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[i])) ||
                                       (src_[i] == '_' && i > start && i + 1 < src_.size() &&
                                        std::isdigit(static_cast<unsigned char>(src_[i + 1]))))) {
                ++i;
            }
            return i > start;
        };
        std::string clean;
        auto take = [&](std::size_t from, std::size_t to) {
            for (std::size_t i = from; i < to; ++i) {
                if (src_[i] != '_') clean += src_[i];
            }
        };
        // Hex, octal and binary integers.
        if (src_[pos_] == '0' && pos_ + 1 < src_.size() &&
            std::strchr("xXoObB", src_[pos_ + 1]) != nullptr) {
            const char base_char = static_cast<char>(std::tolower(src_[pos_ + 1]));
            const int base = base_char == 'x' ? 16 : base_char == 'o' ? 8 : 2;
            e = pos_ + 2;
            while (e < src_.size() && (std::isxdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
            take(pos_ + 2, e);
            Token t{Tok::kInt, "", Value(std::strtoll(clean.c_str(), nullptr, base)), line_};
            tokens_.push_back(std::move(t));
            advance_to(e);
            return;
        }
        digits(e);
        bool is_float = false;
        std::size_t after_int = e;
        if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
            std::size_t f = e + 1;
            digits(f);
            e = f;
            is_float = true;
        }
        if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
            std::size_t f = e + 1;
            if (f < src_.size() && (src_[f] == '+' || src_[f] == '-')) ++f;
            const std::size_t exp_start = f;
            if (digits(f) && f > exp_start) {
                e = f;
                is_float = true;
            }
        }
        (void)after_int;
        take(pos_, e);
        Token t{is_float ? Tok::kFloat : Tok::kInt, "",
                is_float ? Value(std::strtod(clean.c_str(), nullptr))
                         : Value(std::strtoll(clean.c_str(), nullptr, 10)),
                line_};
        tokens_.push_back(std::move(t));
        advance_to(e);
    }

    void string_literal(char quote) {
        std::string out;
        std::size_t i = pos_ + 1;
        while (true) {
            if (i >= src_.size()) fail("unexpected end of string");
            const char c = src_[i];
            if (c == quote) break;
            if (c != '\\' || i + 1 >= src_.size()) {
                out += c;
                ++i;
                continue;
            }
            const char n = src_[i + 1];
            i += 2;
            switch (n) {
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'v': out += '\v'; break;
                case '\n': break;  // line continuation
                case 'x':
                case 'u':
                case 'U': {
                    const std::size_t len = n == 'x' ? 2 : n == 'u' ? 4 : 8;
                    const std::string hex = src_.substr(i, len);
                    if (hex.size() != len || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
                        fail("truncated \\" + std::string(1, n) + " escape in a string");
                    }
                    append_utf8(out, static_cast<char32_t>(std::strtoul(hex.c_str(), nullptr, 16)));
                    i += len;
                    break;
                }
                default:
                    if (n >= '0' && n <= '7') {
                        unsigned long v = static_cast<unsigned long>(n - '0');
                        for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k) {
                            v = v * 8 + static_cast<unsigned long>(src_[i++] - '0');
                        }
                        append_utf8(out, static_cast<char32_t>(v));
                    } else {
                        out += '\\';  // unknown escapes stay as written
                        out += n;
                    }
            }
        }
        push(Tok::kString, out, line_);
        advance_to(i + 1);
    }

    std::string src_;
    std::string name_;
    std::size_t pos_ = 0;
    int line_ = 1;
    int text_line_ = 1;
    bool lstrip_next_ = false;
    std::vector<Token> tokens_;
};

// ------------------------------------------------------------------ parser

class Parser {
public:
    Parser(std::vector<Token> tokens, std::string name) : t_(std::move(tokens)), name_(std::move(name)) {}

    std::shared_ptr<Template> run() {
        auto tpl = std::make_shared<Template>();
        tpl->name = name_;
        blocks_ = &tpl->blocks;
        tpl->body = body({});
        if (peek().type != Tok::kEnd) fail("unexpected tag '" + stmt_keyword() + "'");
        return tpl;
    }

private:
    [[noreturn]] void fail(const std::string& message) const { throw TemplateError{name_, peek().line, message}; }

    // Nesting of statements and expressions: each level is a recursion
    // here and in the renderer, and each link of a chain (a + b + c,
    // a.b.c, a|f|g) one more level of the tree the renderer walks, so both
    // count against jinja_max_depth.
    struct Nest {
        Parser& p;
        int added = 0;
        explicit Nest(Parser& parser, bool enter = true) : p(parser) {
            if (enter) deeper();
        }
        ~Nest() { p.depth_ -= added; }
        Nest(const Nest&) = delete;
        Nest& operator=(const Nest&) = delete;
        void deeper() {
            ++added;
            if (++p.depth_ > p.limits_.jinja_max_depth) {
                p.fail(limit_message("statements or expressions nested deeper than", p.limits_.jinja_max_depth,
                                     "jinja_max_depth"));
            }
        }
    };

    const Token& peek(std::size_t ahead = 0) const {
        const std::size_t i = std::min(pos_ + ahead, t_.size() - 1);
        return t_[i];
    }
    Token next() { return t_[std::min(pos_++, t_.size() - 1)]; }
    bool is_op(const char* op, std::size_t ahead = 0) const {
        return peek(ahead).type == Tok::kOp && peek(ahead).text == op;
    }
    bool is_name(const char* name, std::size_t ahead = 0) const {
        return peek(ahead).type == Tok::kName && peek(ahead).text == name;
    }
    void expect_op(const char* op) {
        if (!is_op(op)) fail(std::string("expected '") + op + "'" + found());
        next();
    }
    std::string expect_name() {
        if (peek().type != Tok::kName) fail("expected a name" + found());
        return next().text;
    }
    void expect_block_end() {
        if (peek().type != Tok::kBlockEnd) fail("expected end of statement block" + found());
        next();
    }
    std::string found() const {
        const Token& t = peek();
        switch (t.type) {
            case Tok::kName: return ", got '" + t.text + "'";
            case Tok::kOp: return ", got '" + t.text + "'";
            case Tok::kString: return ", got a string";
            case Tok::kBlockEnd: return ", got end of statement block";
            case Tok::kVarEnd: return ", got end of print statement";
            case Tok::kEnd: return ", got end of template";
            default: return "";
        }
    }
    // The keyword of the statement at the cursor (a block begin), or "".
    std::string stmt_keyword() const {
        if (peek().type == Tok::kBlockBegin && peek(1).type == Tok::kName) return peek(1).text;
        return "";
    }

    // Parses nodes until a block statement whose keyword is in `end`.
    Body body(const std::vector<std::string>& end) {
        Body out;
        while (true) {
            const Token& t = peek();
            if (t.type == Tok::kEnd) {
                if (!end.empty()) fail("unexpected end of template, expected '" + end.front() + "'");
                return out;
            }
            if (t.type == Tok::kText) {
                auto n = node(Node::Kind::kText, t.line);
                n->text = next().text;
                out.push_back(std::move(n));
            } else if (t.type == Tok::kVarBegin) {
                next();
                auto n = node(Node::Kind::kPrint, t.line);
                n->expr = tuple_expr(true);
                if (peek().type != Tok::kVarEnd) fail("expected end of print statement" + found());
                next();
                out.push_back(std::move(n));
            } else if (t.type == Tok::kBlockBegin) {
                const std::string kw = stmt_keyword();
                for (const auto& e : end) {
                    if (kw == e) return out;
                }
                next();
                out.push_back(statement());
            } else {
                fail("unexpected token");
            }
        }
    }

    NodePtr node(Node::Kind k, int line) {
        auto n = std::make_unique<Node>();
        n->kind = k;
        n->line = line;
        return n;
    }

    NodePtr statement() {
        Nest nest(*this);
        const Token kw = peek();
        if (kw.type != Tok::kName) fail("tag name expected");
        next();
        const std::string& w = kw.text;
        if (w == "if") return if_stmt(kw.line);
        if (w == "for") return for_stmt(kw.line);
        if (w == "set") return set_stmt(kw.line);
        if (w == "block") return block_stmt(kw.line);
        if (w == "extends") {
            auto n = node(Node::Kind::kExtends, kw.line);
            n->expr = expression(true);
            expect_block_end();
            return n;
        }
        if (w == "include") {
            auto n = node(Node::Kind::kInclude, kw.line);
            n->expr = expression(true);
            if (is_name("ignore") && is_name("missing", 1)) {
                next();
                next();
                n->text = "ignore missing";
            }
            if ((is_name("with") || is_name("without")) && is_name("context", 1)) {
                next();
                next();
            }
            expect_block_end();
            return n;
        }
        if (w == "filter") return filter_stmt(kw.line);
        if (w == "macro") return macro_stmt(kw.line);
        if (w == "import" || w == "from") return import_stmt(kw.line, w == "from");
        fail("encountered unknown tag '" + w + "'");
    }

    NodePtr if_stmt(int line) {
        auto n = node(Node::Kind::kIf, line);
        ExprPtr cond = tuple_expr(false);
        expect_block_end();
        while (true) {
            Body b = body({"elif", "else", "endif"});
            n->branches.emplace_back(std::move(cond), std::move(b));
            next();  // block begin
            const std::string kw = next().text;
            if (kw == "elif") {
                cond = tuple_expr(false);
                expect_block_end();
            } else if (kw == "else") {
                expect_block_end();
                Body e = body({"endif"});
                n->branches.emplace_back(nullptr, std::move(e));
                next();
                next();
                expect_block_end();
                return n;
            } else {
                expect_block_end();
                return n;
            }
        }
    }

    NodePtr for_stmt(int line) {
        auto n = node(Node::Kind::kFor, line);
        n->targets.push_back(expect_name());
        while (is_op(",")) {
            next();
            n->targets.push_back(expect_name());
        }
        if (!is_name("in")) fail("expected 'in'" + found());
        next();
        n->expr = tuple_expr(false, /*stop_at_if=*/true);
        if (is_name("if")) {
            next();
            n->condition = expression(true);
        }
        if (is_name("recursive")) fail("recursive loops are not supported");
        expect_block_end();
        n->body = body({"else", "endfor"});
        next();
        const std::string kw = next().text;
        expect_block_end();
        if (kw == "else") {
            n->else_body = body({"endfor"});
            next();
            next();
            expect_block_end();
        }
        return n;
    }

    NodePtr set_stmt(int line) {
        auto n = node(Node::Kind::kSet, line);
        n->targets.push_back(expect_name());
        if (is_op(".")) fail("assigning to attributes ({% set a.b = ... %}) is not supported");
        while (is_op(",")) {
            next();
            n->targets.push_back(expect_name());
        }
        if (is_op("=")) {
            next();
            n->expr = tuple_expr(true);
            expect_block_end();
            return n;
        }
        // {% set name %}...{% endset %}
        if (n->targets.size() != 1) fail("a block assignment takes one name");
        expect_block_end();
        n->body = body({"endset"});
        next();
        next();
        expect_block_end();
        return n;
    }

    NodePtr block_stmt(int line) {
        auto n = node(Node::Kind::kBlock, line);
        n->text = expect_name();
        while (is_name("scoped") || is_name("required")) next();
        expect_block_end();
        if (blocks_->contains(n->text)) fail("block '" + n->text + "' defined twice");
        n->body = body({"endblock"});
        next();
        next();
        if (peek().type == Tok::kName) {
            if (next().text != n->text) fail("mismatching name of endblock for '" + n->text + "'");
        }
        expect_block_end();
        (*blocks_)[n->text] = n.get();
        return n;
    }

    // {% macro name(a, b=default, ...) %}...{% endmacro %}
    NodePtr macro_stmt(int line) {
        auto n = node(Node::Kind::kMacro, line);
        n->text = expect_name();
        expect_op("(");
        while (!is_op(")")) {
            if (!n->params.empty()) {
                expect_op(",");
                if (is_op(")")) break;
            }
            std::string param = expect_name();
            for (const auto& [existing, unused] : n->params) {
                if (existing == param) fail("duplicate argument '" + param + "' in macro '" + n->text + "'");
            }
            ExprPtr fallback;
            if (is_op("=")) {
                next();
                fallback = expression(true);
            } else if (!n->params.empty() && n->params.back().second) {
                fail("non-default argument follows default argument");
            }
            n->params.emplace_back(std::move(param), std::move(fallback));
        }
        next();
        expect_block_end();
        n->body = body({"endmacro"});
        next();
        next();
        if (peek().type == Tok::kName && next().text != n->text) {
            fail("mismatching name of endmacro for '" + n->text + "'");
        }
        expect_block_end();
        return n;
    }

    // {% import target as alias %} and {% from target import a, b as c %},
    // with or without context (the imported template's macros always see the
    // render's variables).
    NodePtr import_stmt(int line, bool from) {
        auto n = node(Node::Kind::kImport, line);
        n->expr = expression(true);
        const auto context_clause = [this] {
            if ((is_name("with") || is_name("without")) && is_name("context", 1)) {
                next();
                next();
                return true;
            }
            return false;
        };
        if (!from) {
            if (!is_name("as")) fail("expected 'as'" + found());
            next();
            n->text = expect_name();
        } else {
            if (!is_name("import")) fail("expected 'import'" + found());
            next();
            while (true) {
                if (!n->names.empty()) {
                    if (!is_op(",")) break;
                    next();
                }
                if (context_clause()) break;
                std::string name = expect_name();
                std::string alias = name;
                if (is_name("as")) {
                    next();
                    alias = expect_name();
                }
                n->names.emplace_back(std::move(name), std::move(alias));
            }
            if (n->names.empty()) fail("expected a name to import");
        }
        context_clause();
        expect_block_end();
        return n;
    }

    NodePtr filter_stmt(int line) {
        auto n = node(Node::Kind::kFilterBlock, line);
        auto placeholder = std::make_unique<Expr>();
        placeholder->kind = Expr::Kind::kName;
        placeholder->name = kFilterBody;
        placeholder->line = line;
        n->expr = filter_chain(std::move(placeholder), /*first_without_pipe=*/true);
        expect_block_end();
        n->body = body({"endfilter"});
        next();
        next();
        expect_block_end();
        return n;
    }

    // ---------------------------------------------------------- expressions

    ExprPtr make(Expr::Kind k, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line;
        return e;
    }

    // expr (',' expr)* -- a tuple when there is a comma.
    ExprPtr tuple_expr(bool with_condexpr, bool stop_at_if = false) {
        const int line = peek().line;
        std::vector<ExprPtr> items;
        bool comma = false;
        while (true) {
            if (!items.empty()) {
                if (!is_op(",")) break;
                next();
                comma = true;
                if (at_tuple_end()) break;
            }
            if (stop_at_if && is_name("if")) break;
            items.push_back(with_condexpr ? expression(true) : or_expr());
            if (stop_at_if && is_name("if")) break;
        }
        if (!comma && items.size() == 1) return std::move(items.front());
        auto t = make(Expr::Kind::kTuple, line);
        t->items = std::move(items);
        return t;
    }
    bool at_tuple_end() const {
        const Token& t = peek();
        return t.type == Tok::kVarEnd || t.type == Tok::kBlockEnd || (t.type == Tok::kOp && t.text == ")");
    }

    ExprPtr expression(bool with_condexpr) {
        Nest nest(*this);
        ExprPtr e = or_expr();
        if (!with_condexpr) return e;
        while (is_name("if")) {
            const int line = next().line;
            auto c = make(Expr::Kind::kCond, line);
            c->b = or_expr();  // condition
            c->a = std::move(e);  // value when true
            if (is_name("else")) {
                next();
                c->c = expression(true);
            }
            e = std::move(c);
        }
        return e;
    }

    ExprPtr binary(const char* op, ExprPtr l, ExprPtr r, int line) {
        auto b = make(Expr::Kind::kBinary, line);
        b->name = op;
        b->a = std::move(l);
        b->b = std::move(r);
        return b;
    }

    // One left-associative precedence level: operand (op operand)*, where the
    // operators are keywords ("or", "and") or symbols ("+", "-", ...).
    template <class Operand>
    ExprPtr left_assoc(Operand operand, std::initializer_list<const char*> ops, bool keywords) {
        Nest chain(*this, false);
        ExprPtr l = (this->*operand)();
        while (true) {
            const char* matched = nullptr;
            for (const char* op : ops) {
                if (keywords ? is_name(op) : is_op(op)) matched = op;
            }
            if (!matched) return l;
            const int line = next().line;
            chain.deeper();
            l = binary(matched, std::move(l), (this->*operand)(), line);
        }
    }
    ExprPtr or_expr() { return left_assoc(&Parser::and_expr, {"or"}, true); }
    ExprPtr and_expr() { return left_assoc(&Parser::not_expr, {"and"}, true); }
    ExprPtr not_expr() {
        if (is_name("not")) {
            Nest nest(*this);
            const int line = next().line;
            auto u = make(Expr::Kind::kUnary, line);
            u->name = "not";
            u->a = not_expr();
            return u;
        }
        return compare();
    }
    ExprPtr compare() {
        const int line = peek().line;
        ExprPtr first = math1();
        std::vector<std::pair<std::string, ExprPtr>> ops;
        while (true) {
            std::string op;
            if (peek().type == Tok::kOp &&
                (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                 peek().text == ">" || peek().text == "<=" || peek().text == ">=")) {
                op = next().text;
            } else if (is_name("in")) {
                next();
                op = "in";
            } else if (is_name("not") && is_name("in", 1)) {
                next();
                next();
                op = "not in";
            } else {
                break;
            }
            ops.emplace_back(op, math1());
        }
        if (ops.empty()) return first;
        auto c = make(Expr::Kind::kCompare, line);
        c->a = std::move(first);
        c->ops = std::move(ops);
        return c;
    }
    ExprPtr math1() { return left_assoc(&Parser::concat, {"+", "-"}, false); }
    ExprPtr concat() { return left_assoc(&Parser::math2, {"~"}, false); }
    ExprPtr math2() { return left_assoc(&Parser::pow, {"*", "/", "//", "%"}, false); }
    ExprPtr pow() { return left_assoc(&Parser::unary_with_filters, {"**"}, false); }
    ExprPtr unary_with_filters() { return unary(true); }
    // Unary minus binds tighter than filters: -3|abs is abs(-3).
    ExprPtr unary(bool with_filter = true) {
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            Nest nest(*this);
            const Token op = next();
            auto u = make(Expr::Kind::kUnary, op.line);
            u->name = op.text;
            u->a = unary(false);
            e = std::move(u);
        } else {
            e = postfix(primary());
        }
        return with_filter ? filter_chain(std::move(e), false) : std::move(e);
    }

    ExprPtr primary() {
        const Token t = peek();
        if (t.type == Tok::kName) {
            next();
            if (t.text == "true" || t.text == "True") return literal(Value(true), t.line);
            if (t.text == "false" || t.text == "False") return literal(Value(false), t.line);
            if (t.text == "none" || t.text == "None") return literal(Value::none(), t.line);
            auto n = make(Expr::Kind::kName, t.line);
            n->name = t.text;
            return n;
        }
        if (t.type == Tok::kString) {
            std::string s;
            while (peek().type == Tok::kString) s += next().text;  // adjacent literals join
            return literal(Value(s), t.line);
        }
        if (t.type == Tok::kInt || t.type == Tok::kFloat) {
            next();
            return literal(t.number, t.line);
        }
        if (is_op("(")) {
            next();
            if (is_op(")")) {
                next();
                auto e = make(Expr::Kind::kTuple, t.line);
                return e;
            }
            ExprPtr e = tuple_expr(true);
            expect_op(")");
            return e;
        }
        if (is_op("[")) {
            next();
            auto l = make(Expr::Kind::kList, t.line);
            while (!is_op("]")) {
                if (!l->items.empty()) {
                    expect_op(",");
                    if (is_op("]")) break;
                }
                l->items.push_back(expression(true));
            }
            next();
            return l;
        }
        if (is_op("{")) {
            next();
            auto d = make(Expr::Kind::kDict, t.line);
            while (!is_op("}")) {
                if (!d->items.empty()) {
                    expect_op(",");
                    if (is_op("}")) break;
                }
                d->items.push_back(expression(true));
                expect_op(":");
                d->items.push_back(expression(true));
            }
            next();
            return d;
        }
        fail("unexpected" + found().substr(found().empty() ? 0 : 1));
    }

    ExprPtr literal(Value v, int line) {
        auto e = make(Expr::Kind::kLiteral, line);
        e->value = std::move(v);
        return e;
    }

    ExprPtr postfix(ExprPtr e) {
        Nest chain(*this, false);
        while (true) {
            if (is_op(".") || is_op("[") || is_op("(")) chain.deeper();
            if (is_op(".")) {
                const int line = next().line;
                auto g = make(Expr::Kind::kGetattr, line);
                if (peek().type == Tok::kInt) {  // foo.0 is foo[0]
                    g->kind = Expr::Kind::kGetitem;
                    g->b = literal(next().number, line);
                } else {
                    g->name = expect_name();
                }
                g->a = std::move(e);
                e = std::move(g);
            } else if (is_op("[")) {
                const int line = next().line;
                ExprPtr start, stop;
                bool slice = false;
                if (!is_op(":")) start = expression(true);
                if (is_op(":")) {
                    slice = true;
                    next();
                    if (!is_op("]")) stop = expression(true);
                }
                expect_op("]");
                auto g = make(slice ? Expr::Kind::kSlice : Expr::Kind::kGetitem, line);
                g->a = std::move(e);
                g->b = std::move(start);
                g->c = std::move(stop);
                e = std::move(g);
            } else if (is_op("(")) {
                const int line = peek().line;
                auto c = make(Expr::Kind::kCall, line);
                c->args = call_args();
                c->a = std::move(e);
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    Args call_args() {
        expect_op("(");
        Args args;
        while (!is_op(")")) {
            if (!args.positional.empty() || !args.keyword.empty()) {
                expect_op(",");
                if (is_op(")")) break;
            }
            if (peek().type == Tok::kName && is_op("=", 1)) {
                std::string key = next().text;
                next();
                args.keyword.emplace_back(std::move(key), expression(true));
            } else {
                if (!args.keyword.empty()) fail("positional argument after keyword argument");
                args.positional.push_back(expression(true));
            }
        }
        next();
        return args;
    }

    // e | f(args) | g ... and e is [not] test(args), in any order.
    ExprPtr filter_chain(ExprPtr e, bool first_without_pipe) {
        Nest chain(*this, false);
        bool first = first_without_pipe;
        while (true) {
            if (first || is_op("|") || is_name("is")) chain.deeper();
            if (first || is_op("|")) {
                if (!first) next();
                first = false;
                const int line = peek().line;
                auto f = make(Expr::Kind::kFilter, line);
                f->name = expect_name();
                while (is_op(".")) {
                    next();
                    f->name += "." + expect_name();
                }
                if (is_op("(")) f->args = call_args();
                f->a = std::move(e);
                e = std::move(f);
            } else if (is_name("is")) {
                const int line = next().line;
                auto t = make(Expr::Kind::kTest, line);
                if (is_name("not")) {
                    next();
                    t->negate = true;
                }
                t->name = expect_name();
                if (is_op("(")) {
                    t->args = call_args();
                } else if (peek().type == Tok::kString || peek().type == Tok::kInt ||
                           peek().type == Tok::kFloat ||
                           (peek().type == Tok::kName && !is_name("and") && !is_name("or") &&
                            !is_name("if") && !is_name("else") && !is_name("is") && !is_name("in") &&
                            !is_name("not"))) {
                    t->args.positional.push_back(primary());  // `x is sameas none`
                }
                t->a = std::move(e);
                e = std::move(t);
            } else {
                return e;
            }
        }
    }

    std::vector<Token> t_;
    std::size_t pos_ = 0;
    std::string name_;
    std::map<std::string, const Node*>* blocks_ = nullptr;
    const InputLimits& limits_ = input_limits();
    int depth_ = 0;

public:
    static constexpr const char* kFilterBody = "\x01filter-body";
};

}  // namespace

std::shared_ptr<const Template> parse_template(const std::string& source, const std::string& name) {
    const auto& limits = input_limits();
    if (source.size() > static_cast<std::size_t>(limits.jinja_max_template_bytes)) {
        throw TemplateError{name, 1, limit_message("the template is longer than", limits.jinja_max_template_bytes,
                                                   "jinja_max_template_bytes", "bytes")};
    }
    Lexer lexer(source, name);
    Parser parser(lexer.run(), name);
    return parser.run();
}

const char* filter_body_name() { return Parser::kFilterBody; }

}  // namespace lava::common::jinja
