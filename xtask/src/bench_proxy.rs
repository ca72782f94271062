//! `cargo xtask bench proxy`: IronClaw's egress proxy against Debian's tinyproxy and
//! squid, configured with the same one-host allowlist, in one run.
//!
//! For each proxy: small-request throughput and latency with `wrk` (absolute-form
//! requests through the proxy to a loopback upstream; added latency is the proxy's
//! percentile minus the direct one), CONNECT tunnel throughput (bytes streamed from a
//! loopback source through a tunnel), and resident memory per idle tunnel (RSS of the
//! proxy process before and after opening idle tunnels). Prints ratios.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::ci::ensure_packages;

/// Seconds each wrk run lasts.
const WRK_SECONDS: u32 = 6;
/// Concurrent connections wrk keeps open.
const WRK_CONNECTIONS: u32 = 16;
/// Bytes streamed through one CONNECT tunnel.
const TUNNEL_BYTES: usize = 512 * 1024 * 1024;
/// Idle tunnels opened to measure memory.
const IDLE_TUNNELS: usize = 500;

pub(crate) fn run(root: &Path) -> Result<()> {
    ensure_packages(&[
        ("wrk", "/usr/bin/wrk"),
        ("tinyproxy", "/usr/bin/tinyproxy"),
        ("squid", "/usr/sbin/squid"),
    ])?;
    let ironclaw = crate::release_cli(root)?;
    let work = std::env::temp_dir().join(format!("ironclaw-bench-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = run_in(&ironclaw, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

struct Measured {
    name: &'static str,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    tunnel_mb_s: f64,
    idle_tunnel_kib: f64,
}

fn run_in(ironclaw: &Path, work: &Path) -> Result<()> {
    let upstream = Upstream::start()?;
    let source = Source::start()?;
    println!(
        "bench proxy: upstream 127.0.0.1:{}, tunnel source 127.0.0.1:{}",
        upstream.port, source.port
    );
    // Throughput with many connections; latency with one, so queueing on this small
    // machine does not hide what the proxy itself adds.
    let direct_load = wrk_direct(upstream.port, WRK_CONNECTIONS)?;
    let direct = wrk_direct(upstream.port, 1)?;
    println!(
        "direct (no proxy): {:.0} req/s at {WRK_CONNECTIONS} connections; one connection: p50 {:.0} µs, p99 {:.0} µs",
        direct_load.0, direct.1, direct.2
    );
    let mut results = Vec::new();
    for name in ["ironclaw", "tinyproxy", "squid"] {
        let proxy = match name {
            "ironclaw" => RunningProxy::ironclaw(ironclaw, work, upstream.port, source.port)?,
            "tinyproxy" => RunningProxy::tinyproxy(work, upstream.port, source.port)?,
            _ => RunningProxy::squid(work, upstream.port, source.port)?,
        };
        let (rps, _, _) = wrk_via(proxy.port, upstream.port, WRK_CONNECTIONS)?;
        let (_, p50, p99) = wrk_via(proxy.port, upstream.port, 1)?;
        let tunnel = tunnel_throughput(proxy.port, source.port)?;
        let idle = idle_tunnel_memory(&proxy, source.port)?;
        let measured = Measured {
            name,
            rps,
            p50_us: (p50 - direct.1).max(0.0),
            p99_us: (p99 - direct.2).max(0.0),
            tunnel_mb_s: tunnel,
            idle_tunnel_kib: idle,
        };
        println!(
            "{:<10} {:>9.0} req/s  added p50 {:>6.0} µs  added p99 {:>6.0} µs  CONNECT {:>7.0} MB/s  idle tunnel {:>6.1} KiB",
            measured.name,
            measured.rps,
            measured.p50_us,
            measured.p99_us,
            measured.tunnel_mb_s,
            measured.idle_tunnel_kib
        );
        results.push(measured);
        drop(proxy);
    }
    let ours = &results[0];
    for peer in &results[1..] {
        println!(
            "ironclaw vs {}: {:.2}x req/s, {:.2}x CONNECT throughput, added p50 {:.0} vs {:.0} µs, idle tunnel {:.1} vs {:.1} KiB",
            peer.name,
            ours.rps / peer.rps.max(1.0),
            ours.tunnel_mb_s / peer.tunnel_mb_s.max(0.001),
            ours.p50_us,
            peer.p50_us,
            ours.idle_tunnel_kib,
            peer.idle_tunnel_kib
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Loopback servers: a keep-alive HTTP upstream and a byte source for tunnels.

struct Upstream {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    /// A small keep-alive HTTP/1.1 server: every request gets `200 ok` (2 bytes).
    fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || serve_keep_alive(stream));
            }
        });
        Ok(Self { port, stop })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_keep_alive(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        // Read one request head (these requests carry no body).
        let mut saw_line = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                if saw_line {
                    break;
                }
                continue;
            }
            saw_line = true;
        }
        let response =
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
        if writer.write_all(response).is_err() {
            return;
        }
    }
}

struct Source {
    port: u16,
}

impl Source {
    /// Sends `TUNNEL_BYTES` to whoever connects (after they send one byte), or, for
    /// idle tunnels, just holds the connection open.
    fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut go = [0u8; 1];
                    if stream.read_exact(&mut go).is_err() || go[0] != b'g' {
                        return;
                    }
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut left = TUNNEL_BYTES;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if stream.write_all(&chunk[..n]).is_err() {
                            return;
                        }
                        left -= n;
                    }
                    let _ = stream.shutdown(Shutdown::Write);
                });
            }
        });
        Ok(Self { port })
    }
}

// ---------------------------------------------------------------------------------
// The proxies

struct RunningProxy {
    child: Child,
    port: u16,
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_listening(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("proxy did not listen on port {port}")
}

impl RunningProxy {
    fn ironclaw(binary: &Path, work: &Path, http_port: u16, tunnel_port: u16) -> Result<Self> {
        let port = free_port()?;
        let home = work.join("ironclaw-home");
        std::fs::create_dir_all(&home)?;
        let child = Command::new(binary)
            .args([
                "--home",
                home.to_str().unwrap_or_default(),
                "proxy",
                "serve",
            ])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--allow", &format!("127.0.0.1:{http_port}")])
            .args(["--allow", &format!("127.0.0.1:{tunnel_port}")])
            .arg("--allow-private-for-testing")
            .args(["--requests-per-minute", "0"])
            .args(["--max-tunnels", "100000", "--max-concurrent", "100000"])
            .env_remove("SANDBOX_EXTRA_DOMAINS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start ironclaw proxy serve")?;
        wait_listening(port)?;
        Ok(Self { child, port })
    }

    fn tinyproxy(work: &Path, http_port: u16, tunnel_port: u16) -> Result<Self> {
        let port = free_port()?;
        let filter = work.join("tinyproxy.filter");
        std::fs::write(&filter, "^127\\.0\\.0\\.1$\n")?;
        let conf = work.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 1024\nAllow 127.0.0.1\n\
                 LogLevel Critical\nFilter \"{}\"\nFilterDefaultDeny Yes\nFilterExtended Yes\n\
                 ConnectPort {tunnel_port}\nConnectPort {http_port}\n",
                filter.display()
            ),
        )?;
        let child = Command::new("tinyproxy")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start tinyproxy")?;
        wait_listening(port)?;
        Ok(Self { child, port })
    }

    fn squid(work: &Path, http_port: u16, tunnel_port: u16) -> Result<Self> {
        let port = free_port()?;
        let dir = work.join("squid");
        std::fs::create_dir_all(&dir)?;
        let conf = dir.join("squid.conf");
        std::fs::write(
            &conf,
            format!(
                "http_port 127.0.0.1:{port}\n\
                 pid_filename {pid}\n\
                 cache deny all\ncache_mem 8 MB\n\
                 access_log none\ncache_log /dev/null\ncache_store_log none\n\
                 acl allowed_dst dst 127.0.0.1/32\n\
                 acl allowed_ports port {http_port} {tunnel_port}\n\
                 acl CONNECT method CONNECT\n\
                 http_access allow allowed_dst allowed_ports\n\
                 http_access deny all\n\
                 shutdown_lifetime 0 seconds\n\
                 max_filedescriptors 4096\n",
                pid = dir.join("squid.pid").display()
            ),
        )?;
        let child = Command::new("squid")
            .args(["-N", "-f"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start squid")?;
        wait_listening(port)?;
        Ok(Self { child, port })
    }

    fn rss_kib(&self) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        let kib: f64 = line
            .split_whitespace()
            .nth(1)
            .context("bad VmRSS")?
            .parse()?;
        Ok(kib)
    }
}

// ---------------------------------------------------------------------------------
// Measurements

fn wrk(args: &[String]) -> Result<(f64, f64, f64)> {
    let output = Command::new("wrk")
        .args(args)
        .output()
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("wrk failed: {text}");
    }
    if text.contains("Non-2xx") {
        bail!("wrk saw error answers: {text}");
    }
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context("wrk printed no Requests/sec")?;
    let percentile = |p: &str| -> Result<f64> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(p))
            .with_context(|| format!("wrk printed no {p} latency"))?;
        parse_duration_us(line.split_whitespace().nth(1).unwrap_or_default())
    };
    Ok((rps, percentile("50%")?, percentile("99%")?))
}

fn parse_duration_us(text: &str) -> Result<f64> {
    let (number, unit) = text.split_at(
        text.find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len()),
    );
    let value: f64 = number
        .parse()
        .with_context(|| format!("bad duration {text}"))?;
    Ok(match unit {
        "us" => value,
        "ms" => value * 1000.0,
        "s" => value * 1_000_000.0,
        _ => bail!("bad duration unit in {text}"),
    })
}

fn wrk_common(connections: u32) -> Vec<String> {
    vec![
        "-t1".into(),
        format!("-c{connections}"),
        format!("-d{WRK_SECONDS}s"),
        "--latency".into(),
    ]
}

fn wrk_direct(upstream: u16, connections: u32) -> Result<(f64, f64, f64)> {
    let mut args = wrk_common(connections);
    args.push(format!("http://127.0.0.1:{upstream}/"));
    wrk(&args)
}

fn wrk_via(proxy: u16, upstream: u16, connections: u32) -> Result<(f64, f64, f64)> {
    let script = std::env::temp_dir().join(format!("ironclaw-wrk-{}.lua", std::process::id()));
    // Absolute-form request lines make wrk speak to a forward proxy.
    std::fs::write(
        &script,
        format!(
            "wrk.path = \"http://127.0.0.1:{upstream}/\"\nwrk.headers[\"Host\"] = \"127.0.0.1:{upstream}\"\n"
        ),
    )?;
    let mut args = wrk_common(connections);
    args.extend(["-s".into(), script.display().to_string()]);
    args.push(format!("http://127.0.0.1:{proxy}/"));
    let result = wrk(&args);
    let _ = std::fs::remove_file(&script);
    result
}

fn open_tunnel(proxy: u16, target: u16) -> Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", proxy))?;
    write!(
        stream,
        "CONNECT 127.0.0.1:{target} HTTP/1.1\r\nHost: 127.0.0.1:{target}\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if !status.contains(" 200") {
        bail!("CONNECT refused: {}", status.trim());
    }
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    Ok(stream)
}

fn tunnel_throughput(proxy: u16, source: u16) -> Result<f64> {
    let mut stream = open_tunnel(proxy, source)?;
    let started = Instant::now();
    stream.write_all(b"g")?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0usize;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n;
    }
    if total != TUNNEL_BYTES {
        bail!("tunnel delivered {total} of {TUNNEL_BYTES} bytes");
    }
    Ok(total as f64 / 1_000_000.0 / started.elapsed().as_secs_f64())
}

fn idle_tunnel_memory(proxy: &RunningProxy, source: u16) -> Result<f64> {
    // Warm up allocator and thread pools with a few tunnels first.
    let warm: Vec<TcpStream> = (0..20)
        .map(|_| open_tunnel(proxy.port, source))
        .collect::<Result<_>>()?;
    std::thread::sleep(Duration::from_millis(300));
    let before = proxy.rss_kib()?;
    let tunnels: Vec<TcpStream> = (0..IDLE_TUNNELS)
        .map(|_| open_tunnel(proxy.port, source))
        .collect::<Result<_>>()?;
    std::thread::sleep(Duration::from_millis(500));
    let after = proxy.rss_kib()?;
    drop(tunnels);
    drop(warm);
    Ok((after - before).max(0.0) / IDLE_TUNNELS as f64)
}
