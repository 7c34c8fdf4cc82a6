#pragma once
// Small text helpers shared by modules that write quoted strings.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lava {

// `s` as a JSON string literal, quotes included, as Python's
// json.dumps(s, ensure_ascii=False) writes it (non-ASCII kept). The result is
// also a valid YAML double-quoted scalar.
std::string json_quote(std::string_view s);

// `s` as HTML text or attribute value: & < > " ' as MarkupSafe escapes them
// (&amp; &lt; &gt; &#34; &#39;), so our pages match Jinja2's autoescape.
std::string html_escape(std::string_view s);

// Decodes the UTF-8 sequence at s[i] and advances i; an invalid byte decodes
// as U+FFFD and advances one byte.
char32_t next_code_point(std::string_view s, std::size_t& i);

// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, char32_t cp);

// `s` cut at every `sep`; empty parts kept (so "a,,b" has three) unless
// `keep_empty` is false.
std::vector<std::string> split(std::string_view s, char sep, bool keep_empty = true);

// `s` without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);

// A row id as URLs and APIs spell it: 1 to 18 decimal digits (so it fits
// an int64), nothing else; nullopt otherwise.
std::optional<std::int64_t> parse_id(std::string_view text);

// `s` with every invalid UTF-8 byte replaced by U+FFFD (as Python's
// decode(errors="replace") and Django do with request data).
std::string to_valid_utf8(std::string_view s);

}  // namespace lava
