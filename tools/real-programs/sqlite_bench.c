/* A SQLite workload over the amalgamation: inserts in transactions, indexes,
 * joins and aggregates on a database file, printing each query's result.
 *
 *   sqlite_bench DB_PATH [SCALE]
 *
 * DB_PATH is created afresh (an existing file is removed first, with its
 * journal). SCALE (default 20) multiplies the rows: 10,000 customers and
 * 100,000 orders per 10. The output depends only on SCALE, so runs under
 * different runtimes compare byte for byte. */
#include "sqlite3.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sqlite3 *db;

static void die(const char *what) {
  fprintf(stderr, "sqlite_bench: %s: %s\n", what, sqlite3_errmsg(db));
  exit(1);
}

static void exec(const char *sql) {
  char *err = 0;
  if (sqlite3_exec(db, sql, 0, 0, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite_bench: %s: %s\n", sql, err);
    exit(1);
  }
}

static int print_row(void *label, int n, char **values, char **names) {
  (void)names;
  printf("%s:", (const char *)label);
  for (int i = 0; i < n; i++)
    printf(" %s", values[i] ? values[i] : "NULL");
  printf("\n");
  return 0;
}

static void query(const char *label, const char *sql) {
  char *err = 0;
  if (sqlite3_exec(db, sql, print_row, (void *)label, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite_bench: %s: %s\n", label, err);
    exit(1);
  }
}

static unsigned rng = 12345;
static unsigned next(void) {
  rng = rng * 1103515245u + 12345u;
  return (rng >> 8) & 0xffffff;
}

static void insert_customers(int n) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO customer VALUES (?1, ?2, ?3, ?4)", -1,
                         &st, 0) != SQLITE_OK)
    die("prepare customer");
  for (int i = 1; i <= n; i++) {
    char name[32];
    snprintf(name, sizeof name, "customer-%06u", next() % 1000000);
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, (int)(next() % 50));
    sqlite3_bind_int(st, 4, (int)(next() % 1000));
    if (sqlite3_step(st) != SQLITE_DONE)
      die("insert customer");
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
}

static void insert_orders(int n, int customers, int batch) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5)",
                         -1, &st, 0) != SQLITE_OK)
    die("prepare orders");
  for (int i = 1; i <= n; i++) {
    if (i % batch == 1)
      exec("BEGIN");
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_int(st, 2, 1 + (int)(next() % (unsigned)customers));
    sqlite3_bind_int(st, 3, (int)(next() % 500));
    sqlite3_bind_int(st, 4, 1 + (int)(next() % 20));
    sqlite3_bind_double(st, 5, (next() % 100000) / 100.0);
    if (sqlite3_step(st) != SQLITE_DONE)
      die("insert order");
    sqlite3_reset(st);
    if (i % batch == 0 || i == n)
      exec("COMMIT");
  }
  sqlite3_finalize(st);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: sqlite_bench DB_PATH [SCALE]\n");
    return 2;
  }
  const int scale = argc > 2 ? atoi(argv[2]) : 20;
  char journal[4096];
  snprintf(journal, sizeof journal, "%s-journal", argv[1]);
  unlink(argv[1]);
  unlink(journal);
  if (sqlite3_open(argv[1], &db) != SQLITE_OK)
    die("open");
  exec("PRAGMA cache_size = -8000");
  exec("CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, region INT, "
       "score INT)");
  exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INT, item INT, "
       "qty INT, price REAL)");
  exec("CREATE TABLE item (id INTEGER PRIMARY KEY, label TEXT)");
  exec("BEGIN");
  insert_customers(1000 * scale);
  exec("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i "
       "< 499) INSERT INTO item SELECT i, 'item-' || (i * 7919 % 1000) FROM n");
  exec("COMMIT");
  insert_orders(10000 * scale, 1000 * scale, 2000);
  exec("CREATE INDEX orders_customer ON orders (customer)");
  exec("CREATE INDEX orders_item ON orders (item, qty)");
  exec("CREATE INDEX customer_region ON customer (region, score)");
  query("count", "SELECT count(*), sum(qty), printf('%.2f', sum(price)) FROM "
                 "orders");
  query("region", "SELECT c.region, count(*), sum(o.qty), printf('%.2f', "
                  "sum(o.price * o.qty)) FROM orders o JOIN customer c ON "
                  "c.id = o.customer GROUP BY c.region ORDER BY c.region LIMIT 10");
  query("top", "SELECT c.name, count(*) AS n, sum(o.qty) FROM customer c JOIN "
               "orders o ON o.customer = c.id WHERE c.score > 900 GROUP BY c.id "
               "ORDER BY n DESC, c.id LIMIT 5");
  query("item", "SELECT i.label, count(DISTINCT o.customer) FROM item i JOIN "
                "orders o ON o.item = i.id WHERE o.qty >= 18 GROUP BY i.id "
                "ORDER BY 2 DESC, i.id LIMIT 5");
  exec("BEGIN");
  exec("UPDATE orders SET price = price * 1.1 WHERE item % 7 = 0");
  exec("DELETE FROM orders WHERE qty = 1 AND item % 3 = 0");
  exec("COMMIT");
  query("after", "SELECT count(*), printf('%.2f', sum(price)) FROM orders");
  query("check", "PRAGMA integrity_check");
  if (sqlite3_close(db) != SQLITE_OK)
    die("close");
  return 0;
}
