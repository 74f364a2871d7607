//! What the lab reads from Linux's `/proc` (proc(5)): the machine it runs on, and a process's CPU time
//! and resident memory.
//!
//! - `/proc/PID/stat`: fields 14 and 15 are `utime` and `stime`, CPU time spent in user and kernel
//!   mode, in clock ticks. The kernel reports them in `USER_HZ`, which is 100 on every Linux
//!   architecture the lab runs on (it is part of the ABI, unlike the kernel's internal `HZ`), so one
//!   tick is 10 ms and a short run's CPU figure has that resolution.
//! - `/proc/PID/status`: `VmRSS:` is the resident set in kB: the memory the process actually has in
//!   RAM, so a difference before and after clients connect is what those clients cost the server.
//! - `/proc/cpuinfo` (`model name`), `/proc/sys/kernel/osrelease` and the available parallelism say
//!   what machine produced the numbers.
//!
//! Field 2 of `stat` is the command name in parentheses and may itself contain spaces or `)`, so the
//! fields are counted after the *last* `)`.

use std::fs;

/// Milliseconds per clock tick of `/proc/PID/stat` (`USER_HZ` = 100).
const MS_PER_TICK: u64 = 10;

/// The machine a run was measured on.
#[derive(Clone, Debug)]
pub struct Machine {
    /// The CPU model name, e.g. `AMD EPYC 7B13`.
    pub cpu_model: String,
    /// Cores available to the lab.
    pub cores: usize,
    /// The kernel release, e.g. `6.1.0-18-amd64`.
    pub kernel: String,
}

impl Machine {
    /// Reads the machine's description; a field that cannot be read says `unknown`.
    pub fn read() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map_or("unknown".to_string(), |(_, model)| model.trim().to_string());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("unknown".to_string(), |text| text.trim().to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Machine {
            cpu_model,
            cores,
            kernel,
        }
    }
}

/// Pins every thread of process `pid` to CPU `core` with `taskset -a -p -c` (util-linux), so that
/// threads it starts later inherit the pin. The lab uses it to keep the load off the server's core.
pub fn pin(pid: u32, core: usize) -> Result<(), String> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("taskset: {e} (install util-linux)"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "taskset could not pin process {pid} to core {core}: {status}"
        ))
    }
}

/// This process's soft limit on open file descriptors (`Max open files` in `/proc/self/limits`).
pub fn max_open_files() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// CPU time (user + system) of process `pid` so far, in milliseconds.
pub fn cpu_time_ms(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks * MS_PER_TICK)
}

/// `utime + stime` from the text of `/proc/PID/stat`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name: field 3 (state) is the first; utime is field 14, stime field 15.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_rss_kib(&status)
}

/// The `VmRSS:` line of `/proc/PID/status`, in KiB.
pub fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_after_the_last_parenthesis() {
        let stat = "4242 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(280));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn rss_line() {
        let status = "Name:\tpushlab\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\n";
        assert_eq!(parse_rss_kib(status), Some(5120));
        assert_eq!(parse_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn this_process_is_visible() {
        let pid = std::process::id();
        assert!(rss_kib(pid).is_some_and(|kib| kib > 0));
        assert!(cpu_time_ms(pid).is_some());
        assert!(max_open_files().is_some_and(|n| n > 0));
    }
}
