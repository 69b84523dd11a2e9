//! How `kwasm` prints, in one place: wasm values (one per line), aligned
//! tables, `key: value` and `INDEX: VALUE` lines, and JSON (through
//! `serde_json`). Errors go to stderr from `main`.

use kwasm_runtime::Val;
use serde::Serialize;
use std::fmt::{self, Write as _};

/// One result per line, as `kwasm run` and `kwasm invoke --kw` print them:
/// `42`, or `i32:42` when `typed`.
pub fn value(v: &Val, typed: bool) {
    if typed {
        println!("{}:{v}", v.ty().name());
    } else {
        println!("{v}");
    }
}

/// A raw 64-bit slot (`kwasm invoke` without `--kw`): `0x000000000000002a`.
pub fn raw_slot(raw: u64) {
    println!("{raw:#018x}");
}

/// `INDEX: VALUE` lines, from index 0 (`kwasm map dump`).
pub fn indexed(values: &[u64]) {
    for (i, v) in values.iter().enumerate() {
        println!("{i}: {v}");
    }
}

/// `value` as one line of compact JSON.
pub fn json<T: Serialize + ?Sized>(value: &T) {
    // Serializing plain structs, numbers and strings cannot fail.
    let s = serde_json::to_string(value).expect("JSON serialization");
    println!("{s}");
}

/// How a table column is aligned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table with a header row; every column as wide as its widest cell,
/// columns two spaces apart, no trailing blanks.
pub struct Table<const N: usize> {
    head: [(&'static str, Align); N],
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    pub fn new(head: [(&'static str, Align); N]) -> Self {
        Table {
            head,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }
}

impl<const N: usize> Table<N> {
    fn line(&self, f: &mut fmt::Formatter<'_>, w: &[usize; N], cells: [&str; N]) -> fmt::Result {
        let mut line = String::new();
        for ((c, width), (_, align)) in cells.iter().zip(w).zip(&self.head) {
            let _ = match align {
                Align::Left => write!(line, "{c:<width$}  "),
                Align::Right => write!(line, "{c:>width$}  "),
            };
        }
        writeln!(f, "{}", line.trim_end())
    }
}

impl<const N: usize> fmt::Display for Table<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = self.head.map(|(h, _)| h.len());
        for r in &self.rows {
            for (w, c) in w.iter_mut().zip(r) {
                *w = (*w).max(c.len());
            }
        }
        self.line(f, &w, self.head.map(|(h, _)| h))?;
        for r in &self.rows {
            self.line(f, &w, r.each_ref().map(String::as_str))?;
        }
        Ok(())
    }
}

/// `key: value` lines with the values aligned in one column. There is
/// always a space after the colon, so `awk '$1 == "drops:"'` works.
#[derive(Default)]
pub struct KeyValues {
    out: String,
}

impl KeyValues {
    pub fn add(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        let _ = writeln!(self.out, "{:<24}{value}", format!("{key}: "));
        self
    }
}

impl fmt::Display for KeyValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.out)
    }
}

/// `(key, value)` pairs serialized as a JSON object in their order (a
/// `serde_json::Map` would sort the keys).
pub struct Ordered<K, V>(pub Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Ordered<K, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}
