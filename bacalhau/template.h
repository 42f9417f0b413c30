// Bacalhau's job-spec templates (`bacalhau job run -V KEY=VALUE`,
// `--template-envs REGEX`): `{{.KEY}}` in the spec's text replaced by the
// variable's value before the spec is read, as Bacalhau's Go text/template
// does with missingkey=error. shoal reads the one action specs use,
// `{{.KEY}}` (with Go's `{{-`/`-}}` whitespace trimming and `{{/* comments
// */}}`); any other action, an unclosed `{{` and a variable that is not
// given are refused, naming them. Pure and thread-safe.
#pragma once

#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::bacalhau {

using TemplateVars = std::map<std::string, std::string>;

// `text` with every action replaced; fails naming the first that cannot be
// (with its line): "line 4: {{.REGION}}: no variable REGION (give it with
// -V REGION=VALUE)".
std::expected<std::string, std::string> expand_template(std::string_view text,
                                                        const TemplateVars& vars);

// The variables of -V/--template-vars values: each "K=V" or "K=V,K2=V2"
// (a piece without '=' continues the previous value: "-V list=a,b"). Fails
// naming a value with no KEY=.
std::expected<TemplateVars, std::string> template_vars_from_flags(
    const std::vector<std::string>& values);

// The variables of --template-envs: each of `environ` ("NAME=VALUE")
// whose name the regular expression matches somewhere ("*" is ".*"),
// unless `vars` has it already (a -V value wins). Fails naming a pattern
// that is not a regular expression.
std::expected<void, std::string> add_template_envs(const std::string& pattern,
                                                   const std::vector<std::string>& environ,
                                                   TemplateVars& vars);

}  // namespace shoal::bacalhau
