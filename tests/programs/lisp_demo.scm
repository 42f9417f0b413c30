; A workout for lisp.c: recursion, closures, tail calls, lists, strings.
(define (show label value)
  (display label) (display ": ") (write value) (newline))

(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(show "fib 22" (fib 22))

(define (fact n) (if (= n 0) 1 (* n (fact (- n 1)))))
(show "fact 20" (fact 20))
(show "fact 25 wraps" (fact 25))

; Tail calls run in constant space.
(define (sum-to n acc) (if (= n 0) acc (sum-to (- n 1) (+ acc n))))
(show "sum to 200000" (sum-to 200000 0))

(define (even? n) (if (= n 0) #t (odd? (- n 1))))
(define (odd? n) (if (= n 0) #f (even? (- n 1))))
(show "even 100001" (even? 100001))

; Primes by trial division against the primes found so far.
(define (primes-below n)
  (let loop ((i 2) (found '()))
    (if (>= i n)
        (reverse found)
        (loop (+ i 1)
              (if (foldl (lambda (ok p) (and ok (not (= 0 (remainder i p))))) #t found)
                  (cons i found)
                  found)))))
(define primes (primes-below 200))
(show "primes below 200" (length primes))
(show "last three" (list (car (reverse primes)) (cadr (reverse primes)) (car (cdr (cdr (reverse primes))))))

; Quicksort on a list, with filter and append.
(define (quicksort l)
  (if (null? l)
      '()
      (let ((p (car l)) (rest (cdr l)))
        (append (quicksort (filter (lambda (x) (< x p)) rest))
                (cons p (quicksort (filter (lambda (x) (>= x p)) rest)))))))
(define (pseudo-random-list n seed)
  (let loop ((i 0) (x seed) (acc '()))
    (if (= i n) acc
        (let ((next (remainder (+ (* x 1103515245) 12345) 2147483648)))
          (loop (+ i 1) next (cons (remainder next 1000) acc))))))
(define sorted (quicksort (pseudo-random-list 400 42)))
(show "sorted head" (list (car sorted) (cadr sorted) (car (cdr (cdr sorted)))))
(show "sorted is ordered"
      (car (foldl (lambda (st x) (list (and (car st) (<= (cadr st) x)) x)) (list #t -1) sorted)))

; Closures keep their own state.
(define (make-counter)
  (let ((n 0)) (lambda () (set! n (+ n 1)) n)))
(define c1 (make-counter))
(define c2 (make-counter))
(c1) (c1) (c2)
(show "counters" (list (c1) (c2)))

(define (compose . fs)
  (if (null? fs) (lambda (x) x)
      (lambda (x) ((car fs) ((apply compose (cdr fs)) x)))))
(show "compose" ((compose (lambda (x) (* x 2)) (lambda (x) (+ x 3))) 10))

(define (ackermann m n)
  (cond ((= m 0) (+ n 1))
        ((= n 0) (ackermann (- m 1) 1))
        (else (ackermann (- m 1) (ackermann m (- n 1))))))
(show "ackermann 2 3" (ackermann 2 3))

; The longest Collatz chain starting below 3000.
(define (collatz-length n)
  (let loop ((n n) (steps 1))
    (cond ((= n 1) steps)
          ((= 0 (remainder n 2)) (loop (quotient n 2) (+ steps 1)))
          (else (loop (+ (* 3 n) 1) (+ steps 1))))))
(define (longest-collatz below)
  (let loop ((i 1) (best 1) (best-len 1))
    (if (>= i below) (list best best-len)
        (let ((len (collatz-length i)))
          (if (> len best-len) (loop (+ i 1) i len) (loop (+ i 1) best best-len))))))
(show "longest collatz below 3000" (longest-collatz 3000))

; N queens: count the placements on a 6x6 board.
(define (safe? col placed)
  (let loop ((rest placed) (distance 1))
    (cond ((null? rest) #t)
          ((or (= (car rest) col)
               (= (car rest) (+ col distance))
               (= (car rest) (- col distance))) #f)
          (else (loop (cdr rest) (+ distance 1))))))
(define (queens n)
  (let place ((row 0) (placed '()))
    (if (= row n) 1
        (foldl (lambda (count col)
                 (if (safe? col placed) (+ count (place (+ row 1) (cons col placed))) count))
               0 (range 0 n)))))
(show "6 queens" (queens 6))

; Association lists, symbols and strings.
(define table '((apple . 3) (pear . 5) (plum . 7)))
(show "pear" (cdr (assoc 'pear table)))
(show "missing" (assoc 'fig table))
(show "symbols" (map car table))
(show "string" (string-append "total " (number->string (foldl + 0 (map cdr table))) " fruit"))
(show "dotted" (cons 1 2))
(show "nested" '(1 (2 "two" (3 . #t)) ()))
(show "quotient and remainder" (list (quotient -17 5) (remainder -17 5)))
(display "done")
(newline)
