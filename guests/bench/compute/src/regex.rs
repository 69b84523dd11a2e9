//! Regular expressions (`regex-lite`): four patterns with capture groups
//! over 16 KiB of generated log lines, `n` times.

use crate::{Rng, mix, rounds};
use regex_lite::Regex;
use std::fmt::Write;

const TARGET_LEN: usize = 16 * 1024;
const PATTERNS: &[&str] = &[
    r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})",
    r"user=([a-z]+)(\d*)",
    r"status=(4\d\d|5\d\d)",
    r"(GET|POST|PUT) (/api/v\d+/[a-z]+(?:/\d+)?)",
];

fn log_lines(rng: &mut Rng) -> String {
    const USERS: &[&str] = &["alice", "bob", "carol", "dave", "eve", "mallory"];
    const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
    const THINGS: &[&str] = &["items", "users", "orders", "maps", "stats"];
    let mut s = String::new();
    while s.len() < TARGET_LEN {
        let _ = write!(
            s,
            "2026-11-{:02} {:02}:{:02}:{:02} ",
            1 + rng.below(30),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        );
        let _ = write!(
            s,
            "user={}{} ip={}.{}.{}.{} ",
            USERS[rng.below(USERS.len() as u32) as usize],
            if rng.below(2) == 0 {
                String::new()
            } else {
                rng.below(1000).to_string()
            },
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        );
        let _ = write!(
            s,
            "{} /api/v{}/{}",
            METHODS[rng.below(METHODS.len() as u32) as usize],
            1 + rng.below(3),
            THINGS[rng.below(THINGS.len() as u32) as usize]
        );
        if rng.below(2) == 0 {
            let _ = write!(s, "/{}", rng.below(100_000));
        }
        let _ = writeln!(
            s,
            " status={} bytes={}",
            [200, 201, 304, 404, 500][rng.below(5) as usize],
            rng.below(1 << 20)
        );
    }
    s
}

pub fn run(n: i32) -> i64 {
    let mut rng = Rng::new(0x5a5a_0006);
    let text = log_lines(&mut rng);
    let res: Vec<Regex> = PATTERNS.iter().map(|p| Regex::new(p).unwrap()).collect();
    let mut h = 0u64;
    for round in 0..rounds(n) {
        // Start each round at a different line so rounds differ.
        let start = text[(round as usize * 97) % (TARGET_LEN / 2)..]
            .find('\n')
            .map_or(0, |i| i + 1 + (round as usize * 97) % (TARGET_LEN / 2));
        let hay = &text[start..];
        for re in &res {
            for caps in re.captures_iter(hay) {
                let m = caps.get(0).unwrap();
                h = mix(h, m.start() as u64);
                for g in caps.iter().skip(1).flatten() {
                    h = mix(h, g.len() as u64);
                }
            }
        }
    }
    h as i64
}
