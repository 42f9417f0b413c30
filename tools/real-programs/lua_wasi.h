/* Force-included (-include) when Lua is built for wasm32-wasi: WASI has no
 * temporary-name generator and no shell, so os.tmpname fails and
 * os.execute reports that no shell is present; io.tmpfile fails. */
#include <stdlib.h>
#define LUA_TMPNAMBUFSIZE 32
#define lua_tmpnam(b, e) ((void)(b), (e) = 1)
#define system(cmd) ((cmd) ? -1 : 0)
#include <stdio.h>
#define tmpfile() ((FILE *)0)
