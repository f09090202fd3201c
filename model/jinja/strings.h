// Python's str operations that chat templates use, on UTF-8 text: code points for length,
// indexing and slicing, Unicode whitespace for strip and split, ASCII case mapping.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::model::jinja {

// The text split into code points (an invalid byte stands alone).
std::vector<std::string> CodePoints(std::string_view s);

// str.strip/lstrip/rstrip: `chars` empty means whitespace.
std::string Strip(std::string_view s, bool left, bool right, std::optional<std::string> chars);
// str.split(sep, maxsplit); no sep splits on whitespace runs and drops empty pieces.
std::vector<std::string> Split(std::string_view s, std::optional<std::string> sep, int64_t maxsplit);
std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to, int64_t count);
std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
std::string Capitalize(std::string_view s);  // str.capitalize
std::string PyTitle(std::string_view s);     // str.title
std::string JinjaTitle(std::string_view s);  // the title filter (words start after -, space, brackets)

// Python's slice indices for a sequence of `n` items.
std::vector<size_t> SliceIndices(size_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                                 int64_t step);

}  // namespace hearth::model::jinja
