// lisp: a small Scheme-like interpreter. Reads a program from the file
// named by its argument (or stdin), evaluates each top-level form in turn,
// and stops with exit status 1 at the first error, after printing
// "error: ..." on stdout (so that output and error interleave as written).
//
// Values: 64-bit integers (wrapping), strings, symbols, #t/#f, the empty
// list, pairs, primitives and closures. Special forms: quote ('x), if,
// define, set!, lambda (with a rest parameter: (lambda (a . rest) ...)),
// begin, let (and named let), let*, cond (with else), and, or. Calls in tail position
// (if, cond, begin, let bodies, closure bodies) do not grow the C stack,
// so loops written as tail recursion run in constant space. Memory is
// never freed: programs are meant to be short-lived.
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct obj obj;
typedef obj* (*primitive)(obj* args);

enum type { NIL, BOOL, INT, STR, SYM, PAIR, PRIM, LAMBDA };

struct obj {
  enum type type;
  union {
    int64_t i;
    int b;
    const char* s;  // STR, SYM
    struct {
      obj* car;
      obj* cdr;
    } p;
    struct {
      const char* name;
      primitive fn;
    } prim;
    struct {
      obj* params;
      obj* body;
      obj* env;
    } fn;
  } u;
};

static obj nil_obj = {NIL, {0}}, true_obj = {BOOL, {.b = 1}}, false_obj = {BOOL, {.b = 0}};
static obj* const nil = &nil_obj;
static obj* const t = &true_obj;
static obj* const f = &false_obj;

static obj* symbols = &nil_obj;  // every symbol, so that each name is one object
static obj* global;              // the global environment
static obj *s_quote, *s_if, *s_define, *s_set, *s_lambda, *s_begin, *s_let, *s_letstar, *s_cond,
    *s_else, *s_and, *s_or;

// ---- allocation and errors -----------------------------------------------

static _Noreturn void fail(const char* fmt, const char* detail) {
  fflush(stdout);
  printf("error: ");
  printf(fmt, detail);
  printf("\n");
  exit(1);
}

static obj* alloc(enum type type) {
  // Objects come from large blocks: malloc per object would dominate.
  static obj* block;
  static size_t left;
  if (left == 0) {
    left = 1 << 16;
    block = malloc(left * sizeof(obj));
    if (!block) fail("out of memory%s", "");
  }
  --left;
  obj* o = block++;
  o->type = type;
  return o;
}

static char* copy_string(const char* s, size_t n) {
  char* out = malloc(n + 1);
  if (!out) fail("out of memory%s", "");
  memcpy(out, s, n);
  out[n] = 0;
  return out;
}

static obj* make_int(int64_t v) {
  static obj small[512];  // -256..255 are shared
  if (v >= -256 && v < 256) {
    obj* o = &small[v + 256];
    o->type = INT;
    o->u.i = v;
    return o;
  }
  obj* o = alloc(INT);
  o->u.i = v;
  return o;
}

static obj* cons(obj* a, obj* b) {
  obj* o = alloc(PAIR);
  o->u.p.car = a;
  o->u.p.cdr = b;
  return o;
}

static obj* make_string(const char* s, size_t n) {
  obj* o = alloc(STR);
  o->u.s = copy_string(s, n);
  return o;
}

static obj* intern(const char* name, size_t n) {
  for (obj* l = symbols; l != nil; l = l->u.p.cdr) {
    obj* s = l->u.p.car;
    if (strlen(s->u.s) == n && memcmp(s->u.s, name, n) == 0) return s;
  }
  obj* s = alloc(SYM);
  s->u.s = copy_string(name, n);
  symbols = cons(s, symbols);
  return s;
}

static obj* car(obj* x) {
  if (x->type != PAIR) fail("car of a non-pair%s", "");
  return x->u.p.car;
}
static obj* cdr(obj* x) {
  if (x->type != PAIR) fail("cdr of a non-pair%s", "");
  return x->u.p.cdr;
}

// ---- reading -------------------------------------------------------------

struct reader {
  const char* at;
  const char* end;
};

static void skip_space(struct reader* r) {
  while (r->at < r->end) {
    if (*r->at == ';') {
      while (r->at < r->end && *r->at != '\n') ++r->at;
    } else if (isspace((unsigned char)*r->at)) {
      ++r->at;
    } else {
      break;
    }
  }
}

static int is_delimiter(char c) {
  return isspace((unsigned char)c) || c == '(' || c == ')' || c == '"' || c == ';' || c == '\'';
}

static obj* read_form(struct reader* r);

static obj* read_list(struct reader* r) {
  obj* head = nil;
  obj** tail = &head;
  for (;;) {
    skip_space(r);
    if (r->at >= r->end) fail("unexpected end of input in a list%s", "");
    if (*r->at == ')') {
      ++r->at;
      return head;
    }
    if (*r->at == '.' && r->at + 1 < r->end && is_delimiter(r->at[1])) {
      ++r->at;
      *tail = read_form(r);
      skip_space(r);
      if (r->at >= r->end || *r->at != ')') fail("expected ) after a dotted tail%s", "");
      ++r->at;
      return head;
    }
    *tail = cons(read_form(r), nil);
    tail = &(*tail)->u.p.cdr;
  }
}

static obj* read_string(struct reader* r) {
  size_t cap = 16, n = 0;
  char* buf = malloc(cap);
  if (!buf) fail("out of memory%s", "");
  ++r->at;  // the opening quote
  for (;;) {
    if (r->at >= r->end) fail("unterminated string%s", "");
    char c = *r->at++;
    if (c == '"') break;
    if (c == '\\' && r->at < r->end) {
      c = *r->at++;
      c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
    }
    if (n + 1 >= cap) {
      char* grown = realloc(buf, cap *= 2);
      if (!grown) fail("out of memory%s", "");
      buf = grown;
    }
    buf[n++] = c;
  }
  obj* s = make_string(buf, n);
  free(buf);
  return s;
}

static obj* read_atom(struct reader* r) {
  const char* start = r->at;
  while (r->at < r->end && !is_delimiter(*r->at)) ++r->at;
  size_t n = (size_t)(r->at - start);
  if (n == 2 && start[0] == '#' && (start[1] == 't' || start[1] == 'f'))
    return start[1] == 't' ? t : f;
  size_t i = (start[0] == '-' || start[0] == '+') && n > 1 ? 1 : 0;
  int numeric = i < n;
  for (size_t j = i; j < n; ++j) numeric &= isdigit((unsigned char)start[j]) != 0;
  if (numeric) {
    uint64_t v = 0;
    for (size_t j = i; j < n; ++j) v = v * 10 + (uint64_t)(start[j] - '0');
    return make_int((int64_t)(start[0] == '-' ? 0 - v : v));
  }
  return intern(start, n);
}

static obj* read_form(struct reader* r) {
  skip_space(r);
  if (r->at >= r->end) fail("unexpected end of input%s", "");
  char c = *r->at;
  if (c == '(') {
    ++r->at;
    return read_list(r);
  }
  if (c == ')') fail("unexpected )%s", "");
  if (c == '\'') {
    ++r->at;
    return cons(s_quote, cons(read_form(r), nil));
  }
  if (c == '"') return read_string(r);
  return read_atom(r);
}

// ---- printing ------------------------------------------------------------

static void print(obj* x, int write) {
  switch (x->type) {
    case NIL:
      printf("()");
      break;
    case BOOL:
      printf(x->u.b ? "#t" : "#f");
      break;
    case INT:
      printf("%" PRId64, x->u.i);
      break;
    case STR:
      if (!write) {
        fputs(x->u.s, stdout);
        break;
      }
      putchar('"');
      for (const char* s = x->u.s; *s; ++s) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if (*s == '\n')
          fputs("\\n", stdout);
        else
          putchar(*s);
      }
      putchar('"');
      break;
    case SYM:
      fputs(x->u.s, stdout);
      break;
    case PRIM:
      printf("#<primitive %s>", x->u.prim.name);
      break;
    case LAMBDA:
      printf("#<lambda>");
      break;
    case PAIR:
      putchar('(');
      for (;;) {
        print(x->u.p.car, write);
        x = x->u.p.cdr;
        if (x->type != PAIR) break;
        putchar(' ');
      }
      if (x != nil) {
        printf(" . ");
        print(x, write);
      }
      putchar(')');
      break;
  }
}

// ---- environments --------------------------------------------------------

// An environment is a pair (frame . parent); a frame is a list of
// (symbol . value) bindings.
static obj* find_binding(obj* env, obj* sym) {
  for (; env != nil; env = env->u.p.cdr)
    for (obj* b = env->u.p.car; b != nil; b = b->u.p.cdr)
      if (b->u.p.car->u.p.car == sym) return b->u.p.car;
  return NULL;
}

static void define(obj* env, obj* sym, obj* value) {
  for (obj* b = env->u.p.car; b != nil; b = b->u.p.cdr) {
    if (b->u.p.car->u.p.car == sym) {
      b->u.p.car->u.p.cdr = value;
      return;
    }
  }
  env->u.p.car = cons(cons(sym, value), env->u.p.car);
}

// A new frame binding params (a list, possibly dotted) to args.
static obj* bind(obj* params, obj* args, obj* parent) {
  obj* frame = nil;
  for (; params->type == PAIR; params = params->u.p.cdr) {
    if (args == nil) fail("too few arguments%s", "");
    frame = cons(cons(params->u.p.car, args->u.p.car), frame);
    args = args->u.p.cdr;
  }
  if (params != nil)
    frame = cons(cons(params, args), frame);
  else if (args != nil)
    fail("too many arguments%s", "");
  return cons(frame, parent);
}

// ---- evaluation ----------------------------------------------------------

static obj* eval(obj* x, obj* env);

static obj* eval_list(obj* xs, obj* env) {
  obj* head = nil;
  obj** tail = &head;
  for (; xs->type == PAIR; xs = xs->u.p.cdr) {
    *tail = cons(eval(xs->u.p.car, env), nil);
    tail = &(*tail)->u.p.cdr;
  }
  return head;
}

static int truthy(obj* x) {
  return x != f;
}

static obj* make_lambda(obj* params, obj* body, obj* env) {
  obj* o = alloc(LAMBDA);
  o->u.fn.params = params;
  o->u.fn.body = body;
  o->u.fn.env = env;
  return o;
}

// Evaluates all but the last form of a body; returns the last, for the
// caller to evaluate in tail position.
static obj* body_tail(obj* body, obj* env) {
  if (body == nil) return nil;
  for (; cdr(body) != nil; body = body->u.p.cdr) eval(body->u.p.car, env);
  return body->u.p.car;
}

static obj* eval(obj* x, obj* env) {
  for (;;) {
    if (x->type == SYM) {
      obj* b = find_binding(env, x);
      if (!b) fail("unbound symbol %s", x->u.s);
      return b->u.p.cdr;
    }
    if (x->type != PAIR) return x;
    obj* op = x->u.p.car;
    obj* args = x->u.p.cdr;
    if (op == s_quote) return car(args);
    if (op == s_if) {
      obj* rest = cdr(args);
      if (truthy(eval(car(args), env))) {
        x = car(rest);
      } else {
        if (cdr(rest) == nil) return f;
        x = car(cdr(rest));
      }
      continue;
    }
    if (op == s_define) {
      obj* target = car(args);
      if (target->type == PAIR) {  // (define (name . params) body...)
        define(env, car(target), make_lambda(cdr(target), cdr(args), env));
        return car(target);
      }
      define(env, target, eval(car(cdr(args)), env));
      return target;
    }
    if (op == s_set) {
      obj* b = find_binding(env, car(args));
      if (!b) fail("set! of unbound symbol %s", car(args)->u.s);
      b->u.p.cdr = eval(car(cdr(args)), env);
      return b->u.p.cdr;
    }
    if (op == s_lambda) return make_lambda(car(args), cdr(args), env);
    if (op == s_begin) {
      x = body_tail(args, env);
      continue;
    }
    if (op == s_let && car(args)->type == SYM) {
      // Named let: (let name ((var init)...) body...) binds name to a
      // procedure of the vars, visible in its own body, and calls it.
      obj* loop_env = cons(nil, env);
      obj* params = nil;
      obj** tail = &params;
      obj* inits = nil;
      obj** init_tail = &inits;
      for (obj* b = car(cdr(args)); b != nil; b = cdr(b)) {
        *tail = cons(car(car(b)), nil);
        tail = &(*tail)->u.p.cdr;
        *init_tail = cons(eval(car(cdr(car(b))), env), nil);
        init_tail = &(*init_tail)->u.p.cdr;
      }
      obj* fn = make_lambda(params, cdr(cdr(args)), loop_env);
      define(loop_env, car(args), fn);
      env = bind(params, inits, loop_env);
      x = body_tail(fn->u.fn.body, env);
      continue;
    }
    if (op == s_let || op == s_letstar) {
      obj* frame_env = cons(nil, env);
      for (obj* b = car(args); b != nil; b = cdr(b)) {
        obj* value = eval(car(cdr(car(b))), op == s_let ? env : frame_env);
        define(frame_env, car(car(b)), value);
      }
      env = frame_env;
      x = body_tail(cdr(args), env);
      continue;
    }
    if (op == s_cond) {
      obj* chosen = NULL;
      for (obj* c = args; c != nil; c = cdr(c)) {
        obj* clause = car(c);
        if (car(clause) == s_else || truthy(eval(car(clause), env))) {
          chosen = cdr(clause);
          break;
        }
      }
      if (!chosen) return f;
      x = body_tail(chosen, env);
      continue;
    }
    if (op == s_and || op == s_or) {
      if (args == nil) return op == s_and ? t : f;
      for (; cdr(args) != nil; args = args->u.p.cdr) {
        obj* v = eval(args->u.p.car, env);
        if (truthy(v) != (op == s_and)) return v;
      }
      x = args->u.p.car;
      continue;
    }
    obj* fn = eval(op, env);
    obj* values = eval_list(args, env);
    if (fn->type == PRIM) return fn->u.prim.fn(values);
    if (fn->type != LAMBDA) fail("not a procedure%s", "");
    env = bind(fn->u.fn.params, values, fn->u.fn.env);
    x = body_tail(fn->u.fn.body, env);
  }
}

// ---- primitives ----------------------------------------------------------

static int64_t int_arg(obj* x) {
  if (x->type != INT) fail("expected an integer%s", "");
  return x->u.i;
}

// Arithmetic wraps at 64 bits, as unsigned arithmetic defines it.
static obj* p_add(obj* a) {
  uint64_t s = 0;
  for (; a != nil; a = a->u.p.cdr) s += (uint64_t)int_arg(a->u.p.car);
  return make_int((int64_t)s);
}
static obj* p_mul(obj* a) {
  uint64_t p = 1;
  for (; a != nil; a = a->u.p.cdr) p *= (uint64_t)int_arg(a->u.p.car);
  return make_int((int64_t)p);
}
static obj* p_sub(obj* a) {
  uint64_t v = (uint64_t)int_arg(car(a));
  if (cdr(a) == nil) return make_int((int64_t)(0 - v));
  for (a = cdr(a); a != nil; a = a->u.p.cdr) v -= (uint64_t)int_arg(a->u.p.car);
  return make_int((int64_t)v);
}
static obj* divide(obj* a, int remainder) {
  int64_t x = int_arg(car(a)), y = int_arg(car(cdr(a)));
  if (y == 0) fail("division by zero%s", "");
  if (x == INT64_MIN && y == -1) return make_int(remainder ? 0 : INT64_MIN);
  return make_int(remainder ? x % y : x / y);
}
static obj* p_div(obj* a) {
  return divide(a, 0);
}
static obj* p_mod(obj* a) {
  return divide(a, 1);
}
static obj* compare(obj* a, int want_lt, int want_eq, int want_gt) {
  for (; cdr(a) != nil; a = a->u.p.cdr) {
    int64_t x = int_arg(car(a)), y = int_arg(car(cdr(a)));
    int ok = x < y ? want_lt : x == y ? want_eq : want_gt;
    if (!ok) return f;
  }
  return t;
}
static obj* p_lt(obj* a) {
  return compare(a, 1, 0, 0);
}
static obj* p_le(obj* a) {
  return compare(a, 1, 1, 0);
}
static obj* p_gt(obj* a) {
  return compare(a, 0, 0, 1);
}
static obj* p_ge(obj* a) {
  return compare(a, 0, 1, 1);
}
static obj* p_num_eq(obj* a) {
  return compare(a, 0, 1, 0);
}
static obj* p_cons(obj* a) {
  return cons(car(a), car(cdr(a)));
}
static obj* p_car(obj* a) {
  return car(car(a));
}
static obj* p_cdr(obj* a) {
  return cdr(car(a));
}
static obj* p_list(obj* a) {
  return a;
}
static obj* p_is_null(obj* a) {
  return car(a) == nil ? t : f;
}
static obj* p_is_pair(obj* a) {
  return car(a)->type == PAIR ? t : f;
}
static obj* p_is_number(obj* a) {
  return car(a)->type == INT ? t : f;
}
static obj* p_is_symbol(obj* a) {
  return car(a)->type == SYM ? t : f;
}
static obj* p_is_string(obj* a) {
  return car(a)->type == STR ? t : f;
}
static obj* p_is_procedure(obj* a) {
  return car(a)->type == PRIM || car(a)->type == LAMBDA ? t : f;
}
static int eqv(obj* x, obj* y) {
  return x == y || (x->type == INT && y->type == INT && x->u.i == y->u.i);
}
static int equal(obj* x, obj* y) {
  if (eqv(x, y)) return 1;
  if (x->type != y->type) return 0;
  if (x->type == STR) return strcmp(x->u.s, y->u.s) == 0;
  if (x->type == PAIR) return equal(x->u.p.car, y->u.p.car) && equal(x->u.p.cdr, y->u.p.cdr);
  return 0;
}
static obj* p_eq(obj* a) {
  return eqv(car(a), car(cdr(a))) ? t : f;
}
static obj* p_equal(obj* a) {
  return equal(car(a), car(cdr(a))) ? t : f;
}
static obj* p_not(obj* a) {
  return car(a) == f ? t : f;
}
static obj* p_display(obj* a) {
  print(car(a), 0);
  return nil;
}
static obj* p_write(obj* a) {
  print(car(a), 1);
  return nil;
}
static obj* p_newline(obj* a) {
  (void)a;
  putchar('\n');
  return nil;
}
static obj* p_apply(obj* a) {
  obj* fn = car(a);
  obj* quoted = nil;
  obj** tail = &quoted;
  for (obj* l = car(cdr(a)); l != nil; l = cdr(l)) {
    *tail = cons(cons(s_quote, cons(car(l), nil)), nil);
    tail = &(*tail)->u.p.cdr;
  }
  return eval(cons(cons(s_quote, cons(fn, nil)), quoted), global);
}
static obj* p_string_append(obj* a) {
  size_t n = 0;
  for (obj* l = a; l != nil; l = cdr(l)) {
    if (car(l)->type != STR) fail("string-append of a non-string%s", "");
    n += strlen(car(l)->u.s);
  }
  char* buf = malloc(n + 1);
  if (!buf) fail("out of memory%s", "");
  size_t at = 0;
  for (obj* l = a; l != nil; l = cdr(l)) {
    size_t len = strlen(car(l)->u.s);
    memcpy(buf + at, car(l)->u.s, len);
    at += len;
  }
  obj* s = make_string(buf, n);
  free(buf);
  return s;
}
static obj* p_number_to_string(obj* a) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%" PRId64, int_arg(car(a)));
  return make_string(buf, (size_t)n);
}
static obj* p_error(obj* a) {
  if (car(a)->type != STR) fail("error with a non-string message%s", "");
  fail("%s", car(a)->u.s);
}

static void add_primitive(const char* name, primitive fn) {
  obj* p = alloc(PRIM);
  p->u.prim.name = name;
  p->u.prim.fn = fn;
  define(global, intern(name, strlen(name)), p);
}

// Library procedures written in the language itself.
static const char kPrelude[] =
    "(define (map f l) (if (null? l) '() (cons (f (car l)) (map f (cdr l)))))\n"
    "(define (filter p l) (cond ((null? l) '()) ((p (car l)) (cons (car l) (filter p (cdr l))))"
    " (else (filter p (cdr l)))))\n"
    "(define (foldl f acc l) (if (null? l) acc (foldl f (f acc (car l)) (cdr l))))\n"
    "(define (reverse l) (foldl (lambda (acc x) (cons x acc)) '() l))\n"
    "(define (length l) (foldl (lambda (n x) (+ n 1)) 0 l))\n"
    "(define (append a b) (if (null? a) b (cons (car a) (append (cdr a) b))))\n"
    "(define (range a b) (if (>= a b) '() (cons a (range (+ a 1) b))))\n"
    "(define (assoc k l) (cond ((null? l) #f) ((equal? k (car (car l))) (car l))"
    " (else (assoc k (cdr l)))))\n"
    "(define (cadr l) (car (cdr l)))\n";

static void run(const char* text, size_t len, int echo) {
  struct reader r = {text, text + len};
  for (;;) {
    skip_space(&r);
    if (r.at >= r.end) break;
    obj* value = eval(read_form(&r), global);
    if (echo) {
      print(value, 1);
      putchar('\n');
    }
  }
}

int main(int argc, char** argv) {
  FILE* in = argc > 1 ? fopen(argv[1], "rb") : stdin;
  if (!in) {
    printf("error: cannot open %s\n", argv[1]);
    return 2;
  }
  size_t cap = 1 << 16, len = 0;
  char* text = malloc(cap);
  for (size_t n; text && (n = fread(text + len, 1, cap - len, in)) > 0;) {
    len += n;
    if (len == cap) text = realloc(text, cap *= 2);
  }
  if (!text) fail("out of memory%s", "");

  s_quote = intern("quote", 5);
  s_if = intern("if", 2);
  s_define = intern("define", 6);
  s_set = intern("set!", 4);
  s_lambda = intern("lambda", 6);
  s_begin = intern("begin", 5);
  s_let = intern("let", 3);
  s_letstar = intern("let*", 4);
  s_cond = intern("cond", 4);
  s_else = intern("else", 4);
  s_and = intern("and", 3);
  s_or = intern("or", 2);
  global = cons(nil, nil);
  static const struct {
    const char* name;
    primitive fn;
  } prims[] = {
      {"+", p_add},
      {"-", p_sub},
      {"*", p_mul},
      {"quotient", p_div},
      {"remainder", p_mod},
      {"<", p_lt},
      {"<=", p_le},
      {">", p_gt},
      {">=", p_ge},
      {"=", p_num_eq},
      {"cons", p_cons},
      {"car", p_car},
      {"cdr", p_cdr},
      {"list", p_list},
      {"null?", p_is_null},
      {"pair?", p_is_pair},
      {"number?", p_is_number},
      {"symbol?", p_is_symbol},
      {"string?", p_is_string},
      {"procedure?", p_is_procedure},
      {"eq?", p_eq},
      {"equal?", p_equal},
      {"not", p_not},
      {"display", p_display},
      {"write", p_write},
      {"newline", p_newline},
      {"apply", p_apply},
      {"string-append", p_string_append},
      {"number->string", p_number_to_string},
      {"error", p_error},
  };
  for (size_t i = 0; i < sizeof prims / sizeof *prims; ++i)
    add_primitive(prims[i].name, prims[i].fn);
  run(kPrelude, sizeof kPrelude - 1, 0);
  run(text, len, 0);
  return 0;
}
