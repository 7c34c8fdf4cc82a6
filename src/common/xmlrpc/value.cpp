#include "common/xmlrpc/value.hpp"

#include "common/base/base64.hpp"
#include "common/base/text.hpp"

#include <pugixml.hpp>

#include <charconv>
#include <cmath>
#include <cstring>

namespace lava::common::xmlrpc {

const Value* Value::find(std::string_view name) const {
    if (!is_struct()) return nullptr;
    for (const auto& [k, v] : as_struct()) {
        if (k == name) return &v;
    }
    return nullptr;
}

Value& Value::set(std::string name, Value v) {
    if (is_nil()) v_ = Struct{};
    auto& members = as_struct();
    for (auto& [k, old] : members) {
        if (k == name) {
            old = std::move(v);
            return *this;
        }
    }
    members.emplace_back(std::move(name), std::move(v));
    return *this;
}

std::string_view Value::type_name() const {
    switch (kind()) {
        case Kind::kNil: return "NoneType";
        case Kind::kBool: return "bool";
        case Kind::kInt: return "int";
        case Kind::kDouble: return "float";
        case Kind::kString: return "str";
        case Kind::kDateTime: return "DateTime";
        case Kind::kBinary: return "Binary";
        case Kind::kArray: return "list";
        case Kind::kStruct: return "dict";
    }
    return "?";
}

namespace {

// ---------------------------------------------------------------- reading

struct Bad {
    int code;
    std::string message;
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::strchr(" \t\r\n", s.front())) s.remove_prefix(1);
    while (!s.empty() && std::strchr(" \t\r\n", s.back())) s.remove_suffix(1);
    return s;
}

bool xml_char(char32_t cp) {
    return cp == '\t' || cp == '\n' || cp == '\r' ||
           (cp >= 0x20 && !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF);
}

// `s` with invalid UTF-8 and characters XML 1.0 cannot carry replaced by
// U+FFFD (pugixml passes them through): values are clean text from here on,
// so two struct names that differ only in such bytes are the same name.
std::string clean(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        const std::size_t start = i;
        const char32_t cp = next_code_point(s, i);
        if (xml_char(cp) && !(cp == 0xFFFD && i - start == 1)) {
            out.append(s.substr(start, i - start));
        } else {
            append_utf8(out, 0xFFFD);
        }
    }
    return out;
}

// The concatenated character data directly inside `node`, cleaned.
std::string text_of(const pugi::xml_node& node) {
    std::string out;
    for (auto child = node.first_child(); child; child = child.next_sibling()) {
        if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) out += child.value();
    }
    return clean(out);
}

// The element children of `node` (comments and whitespace skipped); text
// that is not whitespace next to elements is an error.
std::vector<pugi::xml_node> elements(const pugi::xml_node& node) {
    std::vector<pugi::xml_node> out;
    bool text = false;
    for (auto child = node.first_child(); child; child = child.next_sibling()) {
        if (child.type() == pugi::node_element) {
            out.push_back(child);
        } else if ((child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) &&
                   !trim(child.value()).empty()) {
            text = true;
        }
    }
    // Text alone is a value's content (an untyped string); next to elements, an error.
    if (text && (!out.empty() || std::strcmp(node.name(), "value") != 0)) {
        throw Bad{kInvalidRequest, std::string("unexpected text in <") + node.name() + ">"};
    }
    return out;
}

pugi::xml_node only_element(const pugi::xml_node& node, const char* name) {
    const auto children = elements(node);
    if (children.size() != 1 || std::strcmp(children[0].name(), name) != 0) {
        throw Bad{kInvalidRequest, std::string("<") + node.name() + "> must hold one <" + name + ">"};
    }
    return children[0];
}

Value read_value(const pugi::xml_node& node, std::size_t depth, const Limits& limits);

Value read_typed(const pugi::xml_node& type, std::size_t depth, const Limits& limits) {
    const std::string_view name = type.name();
    const auto bad = [&](const std::string& what) {
        return Bad{kInvalidRequest, "bad <" + std::string(name) + "> value: " + what};
    };
    if (name == "string") return text_of(type);
    if (name == "int" || name == "i4" || name == "i8" || name == "i1" || name == "i2") {
        const std::string text = text_of(type);
        auto t = trim(text);
        if (!t.empty() && t.front() == '+') t.remove_prefix(1);
        std::int64_t n = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size()) throw bad("'" + text + "'");
        return n;
    }
    if (name == "boolean") {
        const std::string raw = text_of(type);
        const auto text = trim(raw);
        if (text == "1") return true;
        if (text == "0") return false;
        throw bad("'" + std::string(text) + "' (0 or 1)");
    }
    if (name == "double") {
        const std::string text = text_of(type);
        const auto t = trim(text);
        double d = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size()) throw bad("'" + text + "'");
        return d;
    }
    if (name == "dateTime.iso8601") return DateTime{std::string(trim(text_of(type)))};
    if (name == "base64") {
        auto bytes = base64_decode(text_of(type));
        if (!bytes) throw bad("not base64");
        return Binary{std::move(*bytes)};
    }
    if (name == "nil" || name == "ex:nil") return Nil{};
    if (name == "array" || name == "struct") {
        if (depth >= limits.max_depth) {
            throw Bad{kInvalidRequest, "values nested deeper than " + std::to_string(limits.max_depth)};
        }
    }
    if (name == "array") {
        Array out;
        for (const auto& v : elements(only_element(type, "data"))) {
            if (std::strcmp(v.name(), "value") != 0) throw bad("<data> holds <value> elements only");
            out.push_back(read_value(v, depth + 1, limits));
        }
        return out;
    }
    if (name == "struct") {
        Value out = Struct{};
        for (const auto& member : elements(type)) {
            if (std::strcmp(member.name(), "member") != 0) throw bad("<struct> holds <member> elements only");
            pugi::xml_node key;
            pugi::xml_node value;
            for (const auto& part : elements(member)) {
                if (std::strcmp(part.name(), "name") == 0 && !key) {
                    key = part;
                } else if (std::strcmp(part.name(), "value") == 0 && !value) {
                    value = part;
                } else {
                    throw bad("a <member> holds one <name> and one <value>");
                }
            }
            if (!key || !value) throw bad("a <member> holds one <name> and one <value>");
            out.set(text_of(key), read_value(value, depth + 1, limits));
        }
        return out;
    }
    throw Bad{kInvalidRequest, "unknown type <" + std::string(name) + ">"};
}

Value read_value(const pugi::xml_node& node, std::size_t depth, const Limits& limits) {
    const auto children = elements(node);
    if (children.empty()) return text_of(node);  // untyped: a string
    if (children.size() > 1) throw Bad{kInvalidRequest, "a <value> holds one typed value"};
    return read_typed(children[0], depth, limits);
}

// Parses `xml`; throws Bad{-32700} when it is not well formed.
pugi::xml_node load(pugi::xml_document& doc, std::string_view xml, const char* root) {
    // Whitespace-only text is kept where it is an element's only child
    // (<string> </string> is a space), dropped between elements.
    const auto result = doc.load_buffer(xml.data(), xml.size(),
                                        pugi::parse_default | pugi::parse_ws_pcdata_single, pugi::encoding_utf8);
    if (!result) {
        throw Bad{kParseError, std::string("parse error, not well formed: ") + result.description() +
                                   " at offset " + std::to_string(result.offset)};
    }
    const auto top = elements(doc);
    if (top.size() != 1 || std::strcmp(top[0].name(), root) != 0) {
        throw Bad{kInvalidRequest, std::string("the document is not a <") + root + ">"};
    }
    return top[0];
}

Array read_params(const pugi::xml_node& params, const Limits& limits) {
    Array out;
    if (!params) return out;
    for (const auto& param : elements(params)) {
        if (std::strcmp(param.name(), "param") != 0) throw Bad{kInvalidRequest, "<params> holds <param> elements only"};
        out.push_back(read_value(only_element(param, "value"), 0, limits));
    }
    return out;
}

// ---------------------------------------------------------------- writing

// Text as XML character data: markup escaped, CR kept as a reference (a
// parser would turn a raw one into LF), characters XML 1.0 cannot carry
// (controls, invalid UTF-8) replaced by U+FFFD.
void escape(std::string& out, std::string_view s) {
    for (const char c : clean(s)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '\r': out += "&#13;"; break;
            default: out += c;
        }
    }
}

void write_value(std::string& out, const Value& v) {
    out += "<value>";
    switch (v.kind()) {
        case Kind::kNil: out += "<nil/>"; break;
        case Kind::kBool: out += v.as_bool() ? "<boolean>1</boolean>" : "<boolean>0</boolean>"; break;
        case Kind::kInt: {
            const auto n = v.as_int();
            const bool small = n >= -2147483648LL && n <= 2147483647LL;
            out += small ? "<int>" : "<i8>";
            out += std::to_string(n);
            out += small ? "</int>" : "</i8>";
            break;
        }
        case Kind::kDouble: {
            const double d = v.as_double();
            out += "<double>";
            if (std::isnan(d)) {
                out += "nan";
            } else if (std::isinf(d)) {
                out += d < 0 ? "-inf" : "inf";
            } else {
                char buf[32];
                const auto r = std::to_chars(buf, buf + sizeof buf, d);
                out.append(buf, r.ptr);
            }
            out += "</double>";
            break;
        }
        case Kind::kString:
            out += "<string>";
            escape(out, v.as_string());
            out += "</string>";
            break;
        case Kind::kDateTime:
            out += "<dateTime.iso8601>";
            escape(out, v.as_datetime().text);
            out += "</dateTime.iso8601>";
            break;
        case Kind::kBinary: {
            out += "<base64>\n";
            const std::string b64 = base64_encode(v.as_binary().bytes);
            for (std::size_t i = 0; i < b64.size(); i += 76) {  // MIME lines, as Python writes
                out.append(b64, i, 76);
                out += '\n';
            }
            out += "</base64>";
            break;
        }
        case Kind::kArray:
            out += "<array><data>\n";
            for (const auto& item : v.as_array()) {
                write_value(out, item);
                out += '\n';
            }
            out += "</data></array>";
            break;
        case Kind::kStruct:
            out += "<struct>\n";
            for (const auto& [k, item] : v.as_struct()) {
                out += "<member>\n<name>";
                escape(out, k);
                out += "</name>\n";
                write_value(out, item);
                out += "\n</member>\n";
            }
            out += "</struct>";
            break;
    }
    out += "</value>";
}

constexpr std::string_view kProlog = "<?xml version='1.0'?>\n";

}  // namespace

std::variant<MethodCall, Fault> parse_call(std::string_view xml, const Limits& limits) {
    try {
        pugi::xml_document doc;
        const auto call = load(doc, xml, "methodCall");
        MethodCall out;
        pugi::xml_node name;
        pugi::xml_node params;
        for (const auto& child : elements(call)) {
            if (std::strcmp(child.name(), "methodName") == 0 && !name) {
                name = child;
            } else if (std::strcmp(child.name(), "params") == 0 && !params) {
                params = child;
            } else {
                throw Bad{kInvalidRequest, std::string("unexpected <") + child.name() + "> in <methodCall>"};
            }
        }
        if (!name) throw Bad{kInvalidRequest, "<methodCall> without <methodName>"};
        out.method = std::string(trim(text_of(name)));
        if (out.method.empty()) throw Bad{kInvalidRequest, "empty <methodName>"};
        out.params = read_params(params, limits);
        return out;
    } catch (const Bad& bad) {
        return Fault{bad.code, bad.message};
    }
}

std::variant<Value, Fault> parse_response(std::string_view xml, const Limits& limits) {
    try {
        pugi::xml_document doc;
        const auto response = load(doc, xml, "methodResponse");
        const auto children = elements(response);
        if (children.size() != 1) throw Bad{kInvalidRequest, "<methodResponse> holds <params> or <fault>"};
        if (std::strcmp(children[0].name(), "fault") == 0) {
            const Value v = read_value(only_element(children[0], "value"), 0, limits);
            const Value* code = v.find("faultCode");
            const Value* message = v.find("faultString");
            if (!code || !code->is_int() || !message || !message->is_string()) {
                throw Bad{kInvalidRequest, "a fault holds faultCode (int) and faultString (string)"};
            }
            return Fault{static_cast<int>(code->as_int()), message->as_string()};
        }
        if (std::strcmp(children[0].name(), "params") != 0) {
            throw Bad{kInvalidRequest, "<methodResponse> holds <params> or <fault>"};
        }
        Array params = read_params(children[0], limits);
        if (params.size() != 1) throw Bad{kInvalidRequest, "a response holds one value"};
        return std::move(params[0]);
    } catch (const Bad& bad) {
        return Fault{bad.code, bad.message};
    }
}

std::string write_call(const MethodCall& call) {
    std::string out(kProlog);
    out += "<methodCall>\n<methodName>";
    escape(out, call.method);
    out += "</methodName>\n<params>\n";
    for (const auto& p : call.params) {
        out += "<param>\n";
        write_value(out, p);
        out += "\n</param>\n";
    }
    out += "</params>\n</methodCall>\n";
    return out;
}

std::string write_response(const Value& result) {
    std::string out(kProlog);
    out += "<methodResponse>\n<params>\n<param>\n";
    write_value(out, result);
    out += "\n</param>\n</params>\n</methodResponse>\n";
    return out;
}

std::string write_fault(const Fault& fault) {
    Value v;
    v.set("faultCode", fault.code);
    v.set("faultString", fault.message);
    std::string out(kProlog);
    out += "<methodResponse>\n<fault>\n";
    write_value(out, v);
    out += "\n</fault>\n</methodResponse>\n";
    return out;
}

}  // namespace lava::common::xmlrpc
