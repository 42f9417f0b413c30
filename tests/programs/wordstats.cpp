// wordstats: statistics of a text read from stdin, in C++ with the
// standard library only (containers, algorithms, iostreams): the most
// frequent words and word pairs, the longest words, a letter histogram and
// line lengths. Output depends only on the input, never on the library's
// implementation (no unordered containers, no floating point).
//
// usage: wordstats [-n TOP] < text
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// A word is a run of letters, digits and inner apostrophes, lower-cased.
std::vector<std::string> words_of(std::string_view line) {
  std::vector<std::string> out;
  std::string current;
  for (size_t i = 0; i <= line.size(); ++i) {
    const unsigned char c = i < line.size() ? static_cast<unsigned char>(line[i]) : ' ';
    const bool inner_apostrophe = c == '\'' && !current.empty() && i + 1 < line.size() &&
                                  std::isalnum(static_cast<unsigned char>(line[i + 1]));
    if (std::isalnum(c) || inner_apostrophe) {
      current += static_cast<char>(std::tolower(c));
    } else if (!current.empty()) {
      out.push_back(std::move(current));
      current.clear();
    }
  }
  return out;
}

// "12.3%": count/total in tenths of a percent, rounded half up.
std::string percent(size_t count, size_t total) {
  if (total == 0) return "0.0%";
  const size_t tenths = (count * 1000 + total / 2) / total;
  std::ostringstream s;
  s << tenths / 10 << '.' << tenths % 10 << '%';
  return s.str();
}

template <typename Key>
std::vector<std::pair<Key, size_t>> most_frequent(const std::map<Key, size_t>& counts, size_t top) {
  std::vector<std::pair<Key, size_t>> v(counts.begin(), counts.end());
  // By count, then by key: a total order, so the result is the same with
  // any sort algorithm.
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (v.size() > top) v.resize(top);
  return v;
}

std::optional<size_t> parse_top(int argc, char** argv) {
  if (argc == 1) return 10;
  if (argc != 3 || std::string_view(argv[1]) != "-n") return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(argv[2], &end, 10);
  if (*end != '\0' || n <= 0) return std::nullopt;
  return static_cast<size_t>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<size_t> top = parse_top(argc, argv);
  if (!top) {
    std::cerr << "usage: wordstats [-n TOP] < text\n";
    return 2;
  }

  std::map<std::string, size_t> words;
  std::map<std::pair<std::string, std::string>, size_t> pairs;
  std::array<size_t, 26> letters{};
  std::vector<size_t> line_lengths;
  size_t word_count = 0, char_count = 0;
  std::string previous;
  for (std::string line; std::getline(std::cin, line);) {
    line_lengths.push_back(line.size());
    char_count += line.size() + 1;
    for (std::string& w : words_of(line)) {
      for (char c : w)
        if (c >= 'a' && c <= 'z') ++letters[static_cast<size_t>(c - 'a')];
      if (!previous.empty()) ++pairs[{previous, w}];
      previous = w;
      ++words[w];
      ++word_count;
    }
  }

  std::cout << "lines " << line_lengths.size() << " words " << word_count << " chars " << char_count
            << " distinct " << words.size() << '\n';

  std::cout << "\ntop words\n";
  for (const auto& [word, count] : most_frequent(words, *top))
    std::cout << "  " << std::left << std::setw(16) << word << std::right << std::setw(7) << count
              << std::setw(8) << percent(count, word_count) << '\n';

  std::cout << "\ntop pairs\n";
  for (const auto& [pair, count] : most_frequent(pairs, std::min<size_t>(*top, 5)))
    std::cout << "  " << std::left << std::setw(24) << (pair.first + ' ' + pair.second)
              << std::right << std::setw(6) << count << '\n';

  std::vector<std::string> longest;
  for (const auto& entry : words) longest.push_back(entry.first);
  // The map gave them in byte order; a stable sort by length keeps it for ties.
  std::stable_sort(longest.begin(), longest.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  if (longest.size() > 5) longest.resize(5);
  std::cout << "\nlongest words\n";
  for (const std::string& w : longest) std::cout << "  " << w << " (" << w.size() << ")\n";

  std::cout << "\nletters\n";
  const size_t most = *std::max_element(letters.begin(), letters.end());
  for (size_t i = 0; i < letters.size(); ++i) {
    const size_t bar = most == 0 ? 0 : (letters[i] * 40 + most - 1) / most;
    std::cout << "  " << static_cast<char>('a' + i) << ' ' << std::setw(7) << letters[i] << ' '
              << std::string(bar, '#') << '\n';
  }

  if (!line_lengths.empty()) {
    std::vector<size_t> sorted = line_lengths;
    std::sort(sorted.begin(), sorted.end());
    const size_t total = std::accumulate(sorted.begin(), sorted.end(), size_t{0});
    std::cout << "\nline length min " << sorted.front() << " median " << sorted[sorted.size() / 2]
              << " max " << sorted.back() << " mean " << total / sorted.size() << '\n';
  }
  return 0;
}
