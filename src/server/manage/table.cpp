#include "server/manage/table.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace lava::server::manage {
namespace {

nlohmann::ordered_json to_json(const Value& v) {
    return std::visit(
        [](const auto& x) -> nlohmann::ordered_json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) return nullptr;
            else return x;
        },
        v);
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

// Display width in terminal columns: counts UTF-8 code points, not bytes.
std::size_t width(const std::string& s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string header(std::string name) {
    std::replace(name.begin(), name.end(), '_', ' ');
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return name;
}

}  // namespace

std::string to_text(const Value& v) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) return "-";
            else if constexpr (std::is_same_v<T, bool>) return x ? "yes" : "no";
            else if constexpr (std::is_same_v<T, std::int64_t>) return std::to_string(x);
            else if constexpr (std::is_same_v<T, std::string>) return x;
            else {
                std::string out;
                for (const auto& s : x) out += (out.empty() ? "" : ",") + s;
                return out;
            }
        },
        v);
}

void print(std::ostream& out, const Table& table, Format format) {
    switch (format) {
        case Format::kJson: {
            auto arr = nlohmann::ordered_json::array();
            for (const auto& row : table.rows) {
                nlohmann::ordered_json obj = nlohmann::ordered_json::object();
                for (std::size_t i = 0; i < table.columns.size(); ++i) {
                    obj[table.columns[i]] = to_json(row[i]);
                }
                arr.push_back(std::move(obj));
            }
            out << arr.dump(2) << '\n';
            return;
        }
        case Format::kCsv: {
            for (std::size_t i = 0; i < table.columns.size(); ++i) {
                out << (i ? "," : "") << csv_field(table.columns[i]);
            }
            out << '\n';
            for (const auto& row : table.rows) {
                for (std::size_t i = 0; i < row.size(); ++i) {
                    // CSV keeps empty cells empty (the text form shows "-").
                    const std::string cell =
                        std::holds_alternative<std::nullptr_t>(row[i]) ? "" : to_text(row[i]);
                    out << (i ? "," : "") << csv_field(cell);
                }
                out << '\n';
            }
            return;
        }
        case Format::kText: {
            std::vector<std::string> headers;
            std::vector<std::size_t> widths;
            for (const auto& c : table.columns) {
                headers.push_back(header(c));
                widths.push_back(width(headers.back()));
            }
            std::vector<std::vector<std::string>> cells;
            for (const auto& row : table.rows) {
                auto& line = cells.emplace_back();
                for (std::size_t i = 0; i < row.size(); ++i) {
                    line.push_back(to_text(row[i]));
                    widths[i] = std::max(widths[i], width(line.back()));
                }
            }
            auto emit = [&](const std::vector<std::string>& line) {
                std::string text;
                for (std::size_t i = 0; i < line.size(); ++i) {
                    text += line[i];
                    if (i + 1 < line.size()) text += std::string(widths[i] - width(line[i]) + 2, ' ');
                }
                // No trailing blanks when the last cells are empty.
                text.erase(text.find_last_not_of(' ') + 1);
                out << text << '\n';
            };
            emit(headers);
            for (const auto& line : cells) emit(line);
            return;
        }
    }
}

void print(std::ostream& out, const Record& record, Format format) {
    if (format == Format::kJson) {
        nlohmann::ordered_json obj = nlohmann::ordered_json::object();
        for (const auto& [k, v] : record) obj[k] = to_json(v);
        out << obj.dump(2) << '\n';
        return;
    }
    if (format == Format::kCsv) {
        Table t;
        t.rows.emplace_back();
        for (const auto& [k, v] : record) {
            t.columns.push_back(k);
            t.rows.back().push_back(v);
        }
        print(out, t, Format::kCsv);
        return;
    }
    std::size_t w = 0;
    for (const auto& [k, v] : record) w = std::max(w, width(k));
    for (const auto& [k, v] : record) {
        out << k << std::string(w - width(k), ' ') << " : " << to_text(v) << '\n';
    }
}

}  // namespace lava::server::manage
