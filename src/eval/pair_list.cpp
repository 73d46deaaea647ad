#include "eval/pair_list.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"

namespace face {

namespace {

struct Line {
  int number;  // 1-based
  std::string text;
};

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Non-blank lines with their numbers (blank lines still count for numbering).
std::vector<Line> content_lines(const std::string& text) {
  std::vector<Line> lines;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!trim(line).empty()) lines.push_back({number, line});
  }
  return lines;
}

std::vector<std::string> split_whitespace(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    fields.push_back(trim(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return fields;
}

// A positive decimal integer, or -1.
long parse_count(const std::string& s) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    return -1;
  long v = std::stol(s);
  return v > 0 ? v : -1;
}

struct Context {
  const std::string& file;
  [[noreturn]] void error(int line, const std::string& what) const { fail("{}:{}: {}", file, line, what); }
};

int image_number(const Context& ctx, const Line& line, const std::string& field) {
  long n = parse_count(field);
  if (n < 0) ctx.error(line.number, fmt::format("image number '{}' is not a positive integer", field));
  return static_cast<int>(n);
}

ImagePair parse_lfw_pair(const Context& ctx, const Line& line, bool matched, int fold) {
  auto f = split_whitespace(line.text);
  if (matched) {
    if (f.size() != 3)
      ctx.error(line.number, fmt::format("expected a matched pair 'Name<TAB>i<TAB>j', found {} fields: '{}'",
                                         f.size(), line.text));
    return {lfw_image_path(f[0], image_number(ctx, line, f[1])), lfw_image_path(f[0], image_number(ctx, line, f[2])),
            true, fold, line.number};
  }
  if (f.size() != 4)
    ctx.error(line.number,
              fmt::format("expected a mismatched pair 'Name1<TAB>i<TAB>Name2<TAB>j', found {} fields: '{}'", f.size(),
                          line.text));
  return {lfw_image_path(f[0], image_number(ctx, line, f[1])), lfw_image_path(f[2], image_number(ctx, line, f[3])),
          false, fold, line.number};
}

// `folds` blocks of `per_class` matched then `per_class` mismatched lines, after the header.
void read_lfw_blocks(const Context& ctx, const std::vector<Line>& lines, int folds, long per_class, PairList& list) {
  size_t expected = static_cast<size_t>(folds) * 2 * per_class;
  if (lines.size() - 1 < expected)
    ctx.error(lines.back().number + 1,
              fmt::format("file ends after {} pairs; the header (line {}) promises {} ({} folds x {} matched + {} "
                          "mismatched)",
                          lines.size() - 1, lines[0].number, expected, folds, per_class, per_class));
  if (lines.size() - 1 > expected)
    ctx.error(lines[expected + 1].number,
              fmt::format("more pairs than the header (line {}) promises ({})", lines[0].number, expected));
  for (size_t i = 0; i < expected; ++i) {
    int fold = static_cast<int>(i / (2 * per_class));
    bool matched = i % (2 * per_class) < static_cast<size_t>(per_class);
    list.pairs.push_back(parse_lfw_pair(ctx, lines[i + 1], matched, fold));
  }
}

bool parse_same(const std::string& s, bool& value) {
  std::string v = s;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "1" || v == "true" || v == "yes") return value = true, true;
  if (v == "0" || v == "false" || v == "no") return value = false, true;
  return false;
}

void read_csv(const Context& ctx, const std::vector<Line>& lines, PairList& list) {
  for (size_t i = 0; i < lines.size(); ++i) {
    auto f = split_commas(lines[i].text);
    if (f.size() != 3)
      ctx.error(lines[i].number,
                fmt::format("expected 'path1,path2,same', found {} comma-separated fields: '{}'", f.size(), lines[i].text));
    bool same = false;
    if (!parse_same(f[2], same)) {
      if (i == 0) continue;  // column names
      ctx.error(lines[i].number, fmt::format("'same' must be 1/0, true/false or yes/no, found '{}'", f[2]));
    }
    if (f[0].empty() || f[1].empty()) ctx.error(lines[i].number, "an image path is empty");
    list.pairs.push_back({f[0], f[1], same, 0, lines[i].number});
  }
  if (list.pairs.empty()) fail("{}: no pairs (only a header line)", ctx.file);
}

}  // namespace

std::string lfw_image_path(const std::string& name, int number) {
  return fmt::format("{}/{}_{:04d}.jpg", name, name, number);
}

PairList read_pair_list(const std::filesystem::path& file) {
  std::string text = read_file(file);
  PairList list;
  list.path = file.string();
  list.checksum = fingerprint(text);
  Context ctx{list.path};
  std::vector<Line> lines = content_lines(text);
  if (lines.empty()) fail("{}: empty pair list", list.path);

  const Line& header = lines[0];
  auto fields = split_whitespace(header.text);
  bool numeric = !fields.empty() && std::all_of(fields.begin(), fields.end(), [](const std::string& f) {
    return std::all_of(f.begin(), f.end(), [](unsigned char c) { return std::isdigit(c); });
  });
  if (numeric && fields.size() == 2) {
    list.format = "lfw-view2";
    long folds = parse_count(fields[0]), per_class = parse_count(fields[1]);
    if (folds < 1 || per_class < 1 || folds > 1000)
      ctx.error(header.number, fmt::format("header '{}' needs a positive fold count and pairs per class", header.text));
    list.folds = static_cast<int>(folds);
    read_lfw_blocks(ctx, lines, list.folds, per_class, list);
  } else if (numeric && fields.size() == 1) {
    list.format = "lfw-view1";
    long per_class = parse_count(fields[0]);
    if (per_class < 1) ctx.error(header.number, fmt::format("header '{}' needs a positive pair count", header.text));
    read_lfw_blocks(ctx, lines, 1, per_class, list);
  } else if (header.text.find(',') != std::string::npos) {
    list.format = "csv";
    read_csv(ctx, lines, list);
  } else {
    ctx.error(header.number,
              fmt::format("unrecognised pair list header '{}': expected LFW View 2 '10<TAB>300', View 1 '1100', "
                          "or CSV 'path1,path2,same'",
                          header.text));
  }
  return list;
}

}  // namespace face
