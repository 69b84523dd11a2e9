//! `kwasm-tools udp-send|udp-check`: UDP traffic for the in-VM checks and
//! the demo (busybox `nc` has no UDP mode).

use anyhow::{Context, Result, bail};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct UdpSendArgs {
    /// Destination port on --addr.
    #[arg(long)]
    pub port: u16,
    /// Destination IPv4 address.
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: Ipv4Addr,
    /// Datagrams to send (0: until --seconds have passed).
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Stop after this many seconds (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub seconds: u64,
    /// Payload bytes per datagram.
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Send a DNS query for this name instead (one question, class IN).
    #[arg(long, value_name = "NAME")]
    pub dns: Option<String>,
    /// The query type of --dns (1 = A, 28 = AAAA, ...).
    #[arg(long, default_value_t = 1)]
    pub qtype: u16,
}

/// A DNS query for `name` of type `qtype`: header (id, RD, one question),
/// the name as labels, type and class IN.
fn dns_query(name: &str, qtype: u16) -> Result<Vec<u8>> {
    let mut q = vec![0x4b, 0x57, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            bail!("--dns {name}: label `{label}` is longer than 63 bytes");
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

/// Send datagrams; prints `sent N, failed M`.
pub fn udp_send(a: &UdpSendArgs) -> Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
    let dst = SocketAddrV4::new(a.addr, a.port);
    let payload = match &a.dns {
        Some(name) => dns_query(name, a.qtype)?,
        None => vec![b'k'; a.size],
    };
    let start = Instant::now();
    let (mut sent, mut failed) = (0u64, 0u64);
    loop {
        if a.count != 0 && sent + failed >= a.count {
            break;
        }
        if a.seconds != 0 && start.elapsed() >= Duration::from_secs(a.seconds) {
            break;
        }
        if a.count == 0 && a.seconds == 0 {
            bail!("give --count or --seconds");
        }
        match sock.send_to(&payload, dst) {
            Ok(_) => sent += 1,
            Err(_) => failed += 1,
        }
    }
    println!("sent {sent}, failed {failed}");
    Ok(())
}

#[derive(clap::Args)]
pub struct UdpCheckArgs {
    /// Port on 127.0.0.1 to listen on and send to.
    #[arg(long)]
    pub port: u16,
    /// Datagrams to send.
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Milliseconds to wait for more datagrams after the last one.
    #[arg(long, default_value_t = 500)]
    pub wait_ms: u64,
    /// Exit with status 1 unless exactly this many arrive.
    #[arg(long)]
    pub expect: Option<u64>,
}

/// Bind a receiver on 127.0.0.1:PORT, send COUNT datagrams to it, count what
/// arrives; prints `sent N, failed M, received R`.
pub fn udp_check(a: &UdpCheckArgs) -> Result<bool> {
    let rx = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port))
        .with_context(|| format!("binding 127.0.0.1:{}", a.port))?;
    rx.set_read_timeout(Some(Duration::from_millis(a.wait_ms.max(1))))?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let (mut sent, mut failed, mut received) = (0u64, 0u64, 0u64);
    let mut buf = [0u8; 2048];
    for i in 0..a.count {
        let payload = format!("kwasm datagram {i}");
        match tx.send_to(payload.as_bytes(), rx.local_addr()?) {
            Ok(_) => sent += 1,
            Err(_) => failed += 1,
        }
        // Keep the receive queue short.
        rx.set_nonblocking(true)?;
        while rx.recv(&mut buf).is_ok() {
            received += 1;
        }
        rx.set_nonblocking(false)?;
    }
    while rx.recv(&mut buf).is_ok() {
        received += 1;
    }
    println!("sent {sent}, failed {failed}, received {received}");
    Ok(a.expect.is_none_or(|e| e == received))
}
