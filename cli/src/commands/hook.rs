//! `kwasm bench --hook POINT`: the real hook path. UDP datagrams go over
//! `lo` from one socket to another (through LOCAL_OUT, POST_ROUTING,
//! PRE_ROUTING and LOCAL_IN, receive softirq included) with and without the
//! program attached at POINT, in alternating rounds so that drift on a
//! shared machine hits both sides alike. It reports packets per second and
//! the time the program adds per packet.
//!
//! Each packet is sent and received before the measure ends, so every one
//! of them went through the whole path; the program must accept them (a
//! dropped datagram never arrives, and the run fails saying so).

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use crate::output::{self, KeyValues};

/// Datagrams sent before their replies are read: enough to keep the path
/// busy, few enough for the default socket buffer.
const WINDOW: u32 = 32;
/// Alternations of "without" and "with".
pub const ROUNDS: u32 = 10;

/// What to send: UDP payload to 127.0.0.1:`port`.
pub struct Datagram {
    pub port: u16,
    pub payload: Vec<u8>,
}

impl Datagram {
    /// The UDP destination port and payload of an IPv4/UDP packet (what
    /// `--packet`/`--udp` give the test-run bench), so both benches see the
    /// same datagram. Other packets can't be sent through a UDP socket.
    pub fn from_ipv4_udp(p: &[u8]) -> Result<Datagram> {
        let bad = |why: &str| anyhow!("--hook needs an IPv4/UDP packet to send over lo: {why}");
        if p.len() < 28 || p[0] >> 4 != 4 {
            return Err(bad("not IPv4"));
        }
        let ihl = usize::from(p[0] & 0xf) * 4;
        if p[9] != 17 {
            return Err(bad("not UDP"));
        }
        let udp = p
            .get(ihl..)
            .filter(|u| u.len() >= 8)
            .ok_or_else(|| bad("truncated"))?;
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        if ulen < 8 || ulen > udp.len() {
            return Err(bad("bad UDP length"));
        }
        Ok(Datagram {
            port: u16::from_be_bytes([udp[2], udp[3]]),
            payload: udp[8..ulen].to_vec(),
        })
    }
}

/// A program that can be put on the hook and taken off it.
pub trait Hooked {
    fn attach(&mut self) -> Result<()>;
    fn detach(&mut self) -> Result<()>;
}

/// The result, as printed; `--json` serializes it as is.
#[derive(Serialize)]
pub struct HookView {
    pub program: String,
    pub runner: &'static str,
    pub point: String,
    pub priority: i32,
    pub port: u16,
    pub payload_bytes: usize,
    /// Datagrams sent and received with the program attached (as many
    /// without).
    pub packets: u64,
    pub rounds: u32,
    pub pps_without: f64,
    pub pps_with: f64,
    pub ns_per_packet_without: f64,
    pub ns_per_packet_with: f64,
    /// What the program adds per packet (with minus without).
    pub added_ns: f64,
}

impl HookView {
    pub fn print(&self, json: bool) {
        if json {
            return output::json(self);
        }
        let mut kv = KeyValues::default();
        kv.add("program", &self.program)
            .add("runner", self.runner)
            .add("point", &self.point)
            .add("priority", self.priority)
            .add("port", self.port)
            .add("payload_bytes", self.payload_bytes)
            .add("packets", self.packets)
            .add("rounds", self.rounds)
            .add("pps_without", format!("{:.0}", self.pps_without))
            .add("pps_with", format!("{:.0}", self.pps_with))
            .add(
                "ns_per_packet_without",
                format!("{:.1}", self.ns_per_packet_without),
            )
            .add(
                "ns_per_packet_with",
                format!("{:.1}", self.ns_per_packet_with),
            )
            .add("added_ns", format!("{:.1}", self.added_ns));
        print!("{kv}");
    }
}

/// A sender and a receiver on 127.0.0.1.
struct Pair {
    tx: UdpSocket,
    rx: UdpSocket,
}

impl Pair {
    fn new(port: u16) -> Result<Pair> {
        let rx =
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).with_context(|| {
                format!(
                    "--hook: cannot receive on 127.0.0.1:{port} (in use? pick another --udp port)"
                )
            })?;
        rx.set_read_timeout(Some(Duration::from_secs(1)))?;
        let tx = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
        tx.connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
        Ok(Pair { tx, rx })
    }

    /// Sends and receives `n` datagrams; the time it took.
    fn flood(&self, payload: &[u8], n: u64) -> Result<Duration> {
        let mut buf = vec![0u8; payload.len() + 1];
        let t0 = Instant::now();
        let mut left = n;
        while left > 0 {
            let k = left.min(u64::from(WINDOW));
            for _ in 0..k {
                self.tx.send(payload).context("--hook: send over lo")?;
            }
            for i in 0..k {
                self.rx.recv(&mut buf).map_err(|e| {
                    anyhow!(
                        "--hook: datagram {} of {n} did not arrive ({e}): the program must \
                         accept the packets it is timed on",
                        n - left + i + 1
                    )
                })?;
            }
            left -= k;
        }
        Ok(t0.elapsed())
    }
}

/// Runs the A/B measure: `packets` datagrams with the program attached and
/// as many without, in [`ROUNDS`] alternations, after a warm-up.
pub fn measure(prog: &mut dyn Hooked, d: &Datagram, packets: u64) -> Result<(Duration, Duration)> {
    if packets < u64::from(ROUNDS) {
        bail!("--repeat {packets}: the hook bench needs at least {ROUNDS} packets");
    }
    let pair = Pair::new(d.port)?;
    pair.flood(&d.payload, u64::from(WINDOW))?;
    let per_round = packets / u64::from(ROUNDS);
    let (mut without, mut with) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        // Alternate which side goes first, too.
        let attached_first = round % 2 == 1;
        for attached in [attached_first, !attached_first] {
            if attached {
                prog.attach()?;
                let r = pair.flood(&d.payload, per_round);
                prog.detach()?;
                with += r?;
            } else {
                without += pair.flood(&d.payload, per_round)?;
            }
        }
    }
    Ok((without, with))
}

/// The view of a measure of `packets` per side.
pub fn view(
    program: String,
    runner: &'static str,
    point: &str,
    priority: i32,
    d: &Datagram,
    packets: u64,
    (without, with): (Duration, Duration),
) -> HookView {
    let per_round = packets / u64::from(ROUNDS);
    let n = (per_round * u64::from(ROUNDS)) as f64;
    let ns = |t: Duration| t.as_nanos() as f64 / n;
    HookView {
        program,
        runner,
        point: point.to_string(),
        priority,
        port: d.port,
        payload_bytes: d.payload.len(),
        packets: per_round * u64::from(ROUNDS),
        rounds: ROUNDS,
        pps_without: 1e9 / ns(without),
        pps_with: 1e9 / ns(with),
        ns_per_packet_without: ns(without),
        ns_per_packet_with: ns(with),
        added_ns: ns(with) - ns(without),
    }
}

#[cfg(test)]
mod tests {
    use super::Datagram;
    use kwasm::packet::udp_packet;

    #[test]
    fn datagram_of_the_bench_packet() {
        let d = Datagram::from_ipv4_udp(&udp_packet(53, 100).unwrap()).unwrap();
        assert_eq!((d.port, d.payload.len()), (53, 72));
        assert!(Datagram::from_ipv4_udp(&[0x60; 40]).is_err());
        let mut tcp = udp_packet(53, 100).unwrap();
        tcp[9] = 6;
        assert!(Datagram::from_ipv4_udp(&tcp).is_err());
    }
}
