#!/usr/bin/python3
"""Writes a copy of libstdc++ 12's <expected> that clang 14 can compile.

libstdc++ 12 offers std::expected only when __cpp_concepts >= 202002L, and
picks between a defaulted and a constrained destructor (and copy and move
constructor) by their constraints (P0848), which clang learnt in version 16.
The copy drops the defaulted members and the triviality conditions, so the
constrained member is always the one used: std::expected is then never
trivially copyable or destructible, which only the fuzz build sees.

usage: clang14_expected.py /usr/include/c++/12/expected OUT
"""
import re
import sys

source, out = sys.argv[1], sys.argv[2]
text = open(source, encoding="utf-8").read()
patched = text.replace("__cpp_concepts >= 202002L", "__cpp_concepts >= 201907L")
# The defaulted special members: `expected(const expected&) = default;` etc.
patched = re.sub(r"\n\s*(constexpr )?~?expected\((const expected&|expected&&)?\) = default;",
                 "", patched)
# `&& (!is_trivially_X_v<_Tp> || !is_trivially_X_v<_Er>)` in requires clauses.
patched = re.sub(r"\s*&&\s*\(!is_trivially_\w+_v<_\w+>(\s*\|\|\s*!is_trivially_\w+_v<_\w+>)?\)",
                 "", patched)
# `requires (!is_trivially_destructible_v<_Tp>) || (...)` on the destructors.
patched = re.sub(r"requires \(!is_trivially_destructible_v<_\w+>\)"
                 r"(\s*\|\|\s*\(!is_trivially_destructible_v<_\w+>\))?", "", patched)
if patched.count("= default;") != text.count("= default;") - 6 or "is_trivially" in patched:
    sys.exit(f"{source}: not the libstdc++ 12 header this patch expects")
with open(out, "w", encoding="utf-8") as f:
    f.write(patched)
