#!/usr/bin/env python3
"""embed_text.py NAME INPUT OUTPUT: writes a C++ header defining
`inline constexpr std::string_view NAME` holding INPUT's bytes."""
import sys

name, src, dest = sys.argv[1:4]
data = open(src, "rb").read()
with open(dest, "w") as f:
    f.write("// Generated from %s by cli/embed_text.py.\n#pragma once\n#include <string_view>\n"
            % src.split("/")[-1])
    f.write("inline constexpr char %s_bytes[] = {" % name)
    f.write(",".join(str(b) for b in data))
    f.write(",0};\ninline constexpr std::string_view %s{%s_bytes, %d};\n" % (name, name, len(data)))
