//! Server child processes: starting one pinned to a core, reading its memory and CPU time from `/proc`,
//! and stopping it.
//!
//! Pinning uses the `taskset` command (util-linux), so the bench needs no foreign calls: the bench
//! process pins itself (all its threads) with `taskset -a -p`, and starts each server as
//! `taskset -c CORE <program>`.
//!
//! Two kinds of child: a [`ServerChild`] is the bench binary itself with [`ROLE_VAR`] naming one of the
//! servers under comparison (`ws_echo`); a [`BinaryChild`] is the release `pushlab` binary, started as a
//! user starts it (`edges`). Both are read through the same `/proc` functions.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::servers::{Kind, ROLE_VAR};

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Whether processes can be pinned: at least two cores and a `taskset` that runs.
pub fn can_pin() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    cores >= 2 && taskset
}

/// Pins every thread of this process (and so every thread it starts later) to `core`.
pub fn pin_this_process(core: usize) -> io::Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("taskset -p failed: {status}")))
    }
}

/// A running server child.
#[derive(Debug)]
pub struct ServerChild {
    /// Which server it is.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Closing this pipe tells the child to exit.
    stdin: Option<ChildStdin>,
}

impl ServerChild {
    /// Starts server `kind` as a child process, pinned to `core` when given, and waits for its port.
    pub fn start(kind: Kind, core: Option<usize>) -> io::Result<ServerChild> {
        let exe = std::env::current_exe()?;
        let mut child = pinned_command(&exe, core)
            .env(ROLE_VAR, kind.name())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The servers log every connection the load generator drops at the end of a run; a real
            // failure shows on the client side (an echo missing or wrong), which stops the bench.
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take();
        let port = match child.stdout.take().map(read_port) {
            Some(Ok(port)) => port,
            Some(Err(error)) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
            None => return Err(io::Error::other("no stdout pipe")),
        };
        Ok(ServerChild {
            kind,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            stdin,
        })
    }

    /// The child's resident set size in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_bytes(&self) -> io::Result<u64> {
        rss_bytes(self.child.id())
    }

    /// CPU seconds (user + system) the child has used so far (`/proc/<pid>/stat`).
    pub fn cpu_seconds(&self) -> io::Result<f64> {
        cpu_seconds(self.child.id())
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Our own child (by its PID), which did not exit when asked.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the child's `PORT n` line.
fn read_port(stdout: std::process::ChildStdout) -> io::Result<u16> {
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.trim()
        .strip_prefix("PORT ")
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| io::Error::other(format!("server child said {line:?}, not its port")))
}

/// The command that runs `program`, under `taskset -c CORE` when a core is given.
fn pinned_command(program: &Path, core: Option<usize>) -> Command {
    match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// The resident set size of process `pid` in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .ok_or_else(|| io::Error::other("no VmRSS line"))?;
    Ok(kib * 1024)
}

/// CPU seconds (user + system) process `pid` has used so far (`/proc/<pid>/stat`).
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is the first, utime the 12th, stime the 13th (fields 14 and 15 of proc(5)).
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok((user + system) as f64 / CLOCK_TICKS_PER_SECOND),
        _ => Err(io::Error::other("unreadable /proc stat")),
    }
}

/// How many file descriptors process `pid` has open (entries of `/proc/<pid>/fd`): for a server, its
/// listener and poll plus one per connection it still holds.
pub fn open_fds(pid: u32) -> io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// The `pushlab` demo server binary running as a child process, exactly as a user starts it:
/// `pushlab --addr 127.0.0.1:0`, which prints `pushlab listening on http://ADDR/` once it listens.
///
/// It serves until it is killed; dropping a `BinaryChild` kills it (by its own PID) and reaps it.
#[derive(Debug)]
pub struct BinaryChild {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl BinaryChild {
    /// Starts `binary` pinned to `core` when given, and waits for the line that names its address.
    pub fn start(binary: &Path, core: Option<usize>) -> io::Result<BinaryChild> {
        BinaryChild::start_with(binary, core, &[])
    }

    /// Like [`BinaryChild::start`], with more command-line options (a load test from one address raises
    /// the per-address limits, e.g. `--publish-rate 0`).
    pub fn start_with(
        binary: &Path,
        core: Option<usize>,
        options: &[&str],
    ) -> io::Result<BinaryChild> {
        let mut child = pinned_command(binary, core)
            .args(["--addr", "127.0.0.1:0"])
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let addr = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout pipe"))
            .and_then(read_listening_line);
        match addr {
            Ok(addr) => Ok(BinaryChild { addr, child }),
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(error)
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident set size in bytes.
    pub fn rss_bytes(&self) -> io::Result<u64> {
        rss_bytes(self.pid())
    }

    /// CPU seconds (user + system) the server has used so far.
    pub fn cpu_seconds(&self) -> io::Result<f64> {
        cpu_seconds(self.pid())
    }

    /// File descriptors the server has open.
    pub fn open_fds(&self) -> io::Result<usize> {
        open_fds(self.pid())
    }
}

impl Drop for BinaryChild {
    fn drop(&mut self) {
        // Our own child, by its PID: the demo server has no other way to be told to stop.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pushlab listening on http://ADDR/ ...` and returns ADDR. Whatever the server prints later is
/// read and dropped by a small thread, so that the server never blocks on (or dies of) a full or closed
/// pipe; the thread ends when the server does.
fn read_listening_line(stdout: std::process::ChildStdout) -> io::Result<SocketAddr> {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    std::thread::spawn(move || io::copy(&mut reader, &mut io::sink()));
    line.strip_prefix("pushlab listening on http://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .ok_or_else(|| io::Error::other(format!("pushlab said {line:?}, not its address")))
}

/// The machine a bench ran on, for its report: cores, CPU model, kernel, and the load average at the
/// start (other work on the machine moves every number; the load average says how much there was).
pub fn machine_summary(cores: usize) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, {cpu}, Linux {}; load average at start {}",
        kernel.trim(),
        load.join(" ")
    )
}

/// The `pushlab` server binary for the benches that run it as a child: `PUSHLAB_BIN`, or the release
/// build of this checkout (built first, a no-op when it is up to date).
pub fn pushlab_binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PUSHLAB_BIN") {
        return Ok(PathBuf::from(path));
    }
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "pushlab"])
        .current_dir(&manifest_dir)
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "cargo build --release --bin pushlab: {status}"
        )));
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("target"));
    Ok(target_dir.join("release").join("pushlab"))
}
