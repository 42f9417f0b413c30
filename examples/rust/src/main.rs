//! textstats: counts the lines, words and bytes of each file named in its
//! arguments, prints one line per file and a total, and writes the total to
//! /outputs/counts/total.txt. Built for wasm32-wasi by the build (Debian's
//! rustc and cargo), it runs as it is under `shoal wasm run`:
//!
//!     shoal wasm run textstats.wasm -i ./notes.txt:/inputs/notes.txt \
//!         -e LABEL=notes -- /inputs/notes.txt
//!
//! `-q` prints only the total. An unreadable file is named on stderr and the
//! exit status is 2; no file given is status 3.

use std::env;
use std::fs;
use std::process;

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: usize,
    words: usize,
    bytes: usize,
}

fn count(text: &[u8]) -> Counts {
    let mut c = Counts { bytes: text.len(), ..Counts::default() };
    let mut in_word = false;
    for &b in text {
        if b == b'\n' {
            c.lines += 1;
        }
        let space = b.is_ascii_whitespace();
        if !space && !in_word {
            c.words += 1;
        }
        in_word = !space;
    }
    c
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let quiet = args.iter().any(|a| a == "-q");
    let files: Vec<&String> = args.iter().filter(|a| a.as_str() != "-q").collect();
    if files.is_empty() {
        eprintln!("textstats: no input files (usage: textstats [-q] FILE...)");
        process::exit(3);
    }
    let label = env::var("LABEL").unwrap_or_else(|_| "total".to_string());
    let mut total = Counts::default();
    let mut failed = false;
    for path in files {
        match fs::read(path) {
            Ok(text) => {
                let c = count(&text);
                if !quiet {
                    println!("{:>8} {:>8} {:>8} {}", c.lines, c.words, c.bytes, path);
                }
                total.lines += c.lines;
                total.words += c.words;
                total.bytes += c.bytes;
            }
            Err(e) => {
                eprintln!("textstats: {}: {}", path, e);
                failed = true;
            }
        }
    }
    let line = format!("{:>8} {:>8} {:>8} {}", total.lines, total.words, total.bytes, label);
    println!("{}", line);
    let written = fs::create_dir_all("/outputs/counts")
        .and_then(|_| fs::write("/outputs/counts/total.txt", format!("{}\n", line)));
    if let Err(e) = written {
        eprintln!("textstats: /outputs/counts/total.txt: {}", e);
        failed = true;
    }
    // process::exit, not an ExitCode returned from main: Rust 1.63's
    // wasm32-wasi runtime turns any failing ExitCode into status 1.
    if failed {
        process::exit(2);
    }
}
