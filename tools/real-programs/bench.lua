-- An interpreter-heavy Lua workload: table-heavy algorithms, closures,
-- string building and errors caught by pcall (each one a longjmp in the
-- interpreter). The output is deterministic.
local N = tonumber(arg and arg[1]) or 1

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

local function sieve(n)
  local is, count = {}, 0
  for i = 2, n do is[i] = true end
  for i = 2, n do
    if is[i] then
      count = count + 1
      for j = i * i, n, i do is[j] = false end
    end
  end
  return count
end

local function sort_check(n)
  local t, x = {}, 42
  for i = 1, n do x = (x * 1103515245 + 12345) % 2147483648; t[i] = x end
  table.sort(t)
  local sum = 0
  for i = 1, n, 97 do sum = (sum + t[i]) % 1000000007 end
  return sum
end

local function strings(n)
  local parts = {}
  for i = 1, n do parts[#parts + 1] = string.format("%d:%x", i, i * 31) end
  local s = table.concat(parts, ",")
  local count = 0
  for _ in s:gmatch("%d+:f") do count = count + 1 end
  return #s, count
end

local function errors(n)
  local caught = 0
  for i = 1, n do
    local ok, err = pcall(function(k)
      if k % 3 == 0 then error({code = k}) end
      if k % 3 == 1 then error("bad " .. k) end
      return k
    end, i)
    if not ok then caught = caught + 1 end
  end
  return caught
end

local function objects(n)
  local Point = {}
  Point.__index = Point
  function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
  function Point.__add(a, b) return Point.new(a.x + b.x, a.y + b.y) end
  local acc = Point.new(0, 0)
  for i = 1, n do acc = acc + Point.new(i % 7, i % 11) end
  return acc.x, acc.y
end

for round = 1, N do
  print("round", round)
  print("fib", fib(27))
  print("sieve", sieve(2000000))
  print("sort", sort_check(200000))
  print("strings", strings(200000))
  print("errors", errors(200000))
  print("objects", objects(1000000))
end
