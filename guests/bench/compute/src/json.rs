//! JSON (`serde_json`): parse a 64 KiB document into a `Value`, walk it
//! and serialise it again, `n` times.

use crate::{Rng, mix, rounds};
use serde_json::{Map, Value};

const TARGET_LEN: usize = 64 * 1024;

/// A document of records with numbers, floats, strings, escapes, arrays and
/// nested objects.
fn document(rng: &mut Rng) -> String {
    let mut records = Vec::new();
    let mut len = 0;
    let mut id = 0u32;
    while len < TARGET_LEN {
        let mut r = Map::new();
        r.insert("id".into(), Value::from(id));
        let name: String = (0..3 + rng.below(10))
            .map(|_| (b'a' + rng.below(26) as u8) as char)
            .collect();
        r.insert(
            "name".into(),
            Value::from(format!("{name} \"{id}\"\t\u{e9}")),
        );
        r.insert("score".into(), Value::from(rng.signed_unit() * 1000.0));
        r.insert("active".into(), Value::from(rng.below(2) == 1));
        let tags: Vec<Value> = (0..rng.below(6))
            .map(|_| Value::from(rng.below(100_000) as i64 - 50_000))
            .collect();
        r.insert("tags".into(), Value::from(tags));
        let mut pos = Map::new();
        pos.insert("x".into(), Value::from(rng.signed_unit()));
        pos.insert("y".into(), Value::from(rng.signed_unit()));
        pos.insert("label".into(), Value::Null);
        r.insert("pos".into(), Value::Object(pos));
        let r = Value::Object(r);
        len += serde_json::to_string(&r).unwrap().len() + 1;
        records.push(r);
        id += 1;
    }
    let mut doc = Map::new();
    doc.insert("version".into(), Value::from(3));
    doc.insert("records".into(), Value::from(records));
    serde_json::to_string_pretty(&Value::Object(doc)).unwrap()
}

fn walk(v: &Value, h: u64) -> u64 {
    match v {
        Value::Null => mix(h, 1),
        Value::Bool(b) => mix(h, 2 + u64::from(*b)),
        Value::Number(x) => match x.as_i64() {
            Some(i) => mix(h, i as u64),
            None => mix(h, x.as_f64().unwrap_or(0.0).to_bits()),
        },
        Value::String(s) => mix(h, s.len() as u64 ^ u64::from(s.as_bytes()[0])),
        Value::Array(a) => a.iter().fold(mix(h, a.len() as u64), |h, v| walk(v, h)),
        Value::Object(o) => o.iter().fold(mix(h, o.len() as u64), |h, (k, v)| {
            walk(v, mix(h, k.len() as u64))
        }),
    }
}

pub fn run(n: i32) -> i64 {
    let mut rng = Rng::new(0x5a5a_0005);
    let doc = document(&mut rng);
    let mut h = 0u64;
    for _ in 0..rounds(n) {
        let v: Value = serde_json::from_str(&doc).expect("parse");
        h = walk(&v, h);
        let s = serde_json::to_string(&v).unwrap();
        h = mix(h, s.len() as u64);
    }
    h as i64
}
