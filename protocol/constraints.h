// Bacalhau's `--constraints` node label selector (Kubernetes label selector
// syntax), matched against worker labels. A selector is requirements
// separated by commas, all of which must hold:
//
//   key=value, key==value   the label is present with this value
//   key!=value              the label is absent or has another value
//   key in (a,b)            the label is present with one of the values
//   key notin (a,b)         the label is absent or has none of the values
//   key                     the label is present
//   !key                    the label is absent
//   key>N, key<N            the label is an integer greater (less) than N
//
// An empty selector matches every worker.
#pragma once

#include <expected>
#include <map>
#include <string>
#include <vector>

namespace shoal::jobs {

struct Requirement {
  enum class Op { equals, not_equals, in, not_in, exists, not_exists, greater, less };
  std::string key;
  Op op = Op::exists;
  std::vector<std::string> values;
};

using Selector = std::vector<Requirement>;

// Parses a selector; the error names the part that is wrong.
std::expected<Selector, std::string> parse_selector(const std::string& text);

// Whether `labels` satisfy every requirement.
bool matches(const Selector& selector, const std::map<std::string, std::string>& labels);

// Parses worker labels given as `key=value` (or `key`, an empty value).
std::expected<std::map<std::string, std::string>, std::string> parse_labels(
    const std::vector<std::string>& flags);

}  // namespace shoal::jobs
